/// The names a received entry tries in turn when its own is taken: `name`, then `name (1)`,
/// `name (2)`, ... with the suffix before the extension (`photo (1).jpg`; a leading dot does not
/// start an extension, so `.profile (1)`). Every candidate stays within 255 bytes: the stem is
/// shortened at a character boundary when the suffix would not fit.
enum CollisionName {
    /// How many suffixes are tried before giving up (with a write error).
    static let maximumSuffix = 9_999

    /// The candidate for `attempt` (0: the name itself).
    static func candidate(_ name: String, attempt: Int) -> String {
        guard attempt > 0 else { return name }
        var stem = Substring(name)
        var ext = Substring("")
        if let dot = name.lastIndex(of: "."), dot != name.startIndex {
            stem = name[..<dot]
            ext = name[dot...]
        }
        let suffix = " (\(attempt))"
        let budget = ReceivePath.maximumComponentLength - suffix.utf8.count - ext.utf8.count
        if budget < 1 {
            // An extension too long to keep: suffix the shortened whole name instead.
            return shorten(Substring(name), to: ReceivePath.maximumComponentLength - suffix.utf8.count) + suffix
        }
        return shorten(stem, to: budget) + suffix + ext
    }

    /// `text` cut to at most `limit` UTF-8 bytes without splitting a character.
    private static func shorten(_ text: Substring, to limit: Int) -> String {
        guard text.utf8.count > limit else { return String(text) }
        var result = ""
        var used = 0
        for character in text {
            let size = character.utf8.count
            if used + size > limit { break }
            result.append(character)
            used += size
        }
        return result
    }
}
