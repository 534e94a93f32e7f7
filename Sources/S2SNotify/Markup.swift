/// The markup of the notification specification: a body is parsed as a small XML-like subset by
/// servers with the `body-markup` capability, so every `&`, `<` and `>` of plain text (a file
/// called `a&b <draft>.txt`) must be written as an entity or the server shows garbage or nothing.
public enum Markup {
    /// `text` as character data that a markup-reading server shows as it is.
    public static func escape(_ text: String) -> String {
        var result = ""
        result.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": result += "&amp;"
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "\"": result += "&quot;"
            case "'": result += "&apos;"
            default: result.append(character)
            }
        }
        return result
    }
}
