import S2SBus
import S2SCore

/// A bus object named by its owner and its number below a parent path, `parent/UID_N`: endpoints
/// and transfers. The grammar is `ObjectNumber`'s (S2SCore), which clients read too.
protocol NumberedObject {
    static var parent: ObjectPath { get }
}

extension NumberedObject {
    /// The object that `number` names.
    static func path(_ number: ObjectNumber) -> ObjectPath {
        ObjectPath(number.path(below: parent.rawValue)) ?? parent
    }

    /// The owner and number of `parent/UID_N`, written canonically; nil for any other path.
    static func number(of path: ObjectPath) -> ObjectNumber? {
        ObjectNumber(path: path.rawValue, below: parent.rawValue)
    }
}
