/// Formatting shared by validation messages: user-supplied text is quoted, escaped and
/// shortened so a result message stays small and printable whatever the input was.
enum ContractText {
    /// The longest piece of user input echoed in a message.
    static let maxEchoedCharacters = 64

    /// `text` in double quotes with control characters escaped, cut to ``maxEchoedCharacters``.
    static func quoted(_ text: String) -> String {
        var out = "\""
        var count = 0
        for scalar in text.unicodeScalars {
            if count == maxEchoedCharacters {
                out += "…"
                break
            }
            count += 1
            if scalar.value < 0x20 || scalar.value == 0x7F || scalar == "\"" || scalar == "\\" {
                out += scalar.escaped(asASCII: true)
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
