/// Escaping of text for XML character data and attribute values: introspection documents, and
/// the markup subset of desktop notification bodies (a file called `a&b <draft>.txt` must reach a
/// markup-reading server as `a&amp;b &lt;draft&gt;.txt`, or it shows garbage or nothing).
public enum XMLText {
    public static func escape(_ text: String) -> String {
        var result = ""
        result.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": result += "&amp;"
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "\"": result += "&quot;"
            default: result.append(character)
            }
        }
        return result
    }
}
