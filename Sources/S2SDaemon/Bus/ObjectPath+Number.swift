import S2SBus

extension ObjectPath {
    /// `self/N`: the object of a numbered endpoint or transfer.
    func child(_ number: Int64) -> ObjectPath {
        appending(String(number)) ?? self
    }

    /// N of `self/N` below `parent`, written canonically (no sign, no leading zero); nil for any
    /// other path.
    func number(below parent: ObjectPath) -> Int64? {
        guard let elements = elements(below: parent), elements.count == 1, let number = Int64(elements[0]),
            String(number) == elements[0]
        else { return nil }
        return number
    }
}

/// A bus object named by a number below a parent path, `parent/N`: endpoints and transfers.
protocol NumberedObject {
    static var parent: ObjectPath { get }
}

extension NumberedObject {
    /// The object of number `number`.
    static func path(_ number: Int64) -> ObjectPath {
        parent.child(number)
    }

    /// N of `parent/N`, written canonically; nil for any other path.
    static func number(of path: ObjectPath) -> Int64? {
        path.number(below: parent)
    }
}
