/// The version of s2s, reported by the daemon's `Version` property and `--version`.
public enum S2SVersion {
    public static let current = "0.1.0"
}
