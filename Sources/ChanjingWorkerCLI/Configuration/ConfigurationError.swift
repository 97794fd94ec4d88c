/// A configuration the worker refuses to start with: one line saying what to fix.
public struct ConfigurationError: Error, Equatable, CustomStringConvertible {
    public var description: String

    init(_ description: String) {
        self.description = description
    }
}
