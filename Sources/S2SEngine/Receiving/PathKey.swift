/// A path as a dictionary or set key, compared byte for byte, as Linux compares names.
///
/// Swift's `String` equality is canonical equivalence: "café" in NFC and in NFD are equal
/// strings, yet two different names of two different files. Every key built from a path in the
/// engine is a `PathKey` (or a `RelativePath`, which compares bytes too), never a `String`.
struct PathKey: Hashable, Sendable {
    let bytes: [UInt8]

    init(_ path: String) {
        bytes = Array(path.utf8)
    }
}
