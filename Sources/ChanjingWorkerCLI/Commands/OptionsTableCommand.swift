import ArgumentParser

/// `chanjing-worker options-table`: prints the README's options table (hidden; for maintainers).
struct OptionsTableCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "options-table",
        abstract: "Print the options table in Markdown, as the README holds it.",
        shouldDisplay: false
    )

    func run() {
        print(OptionCatalog.markdownTable)
    }
}
