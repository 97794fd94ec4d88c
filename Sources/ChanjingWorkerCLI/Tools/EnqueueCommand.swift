import ArgumentParser
import Foundation
import Kafka
import Logging
import VideoContract

/// `chanjing-worker enqueue`: produces video requests, checked with the worker's own rules
/// first so that nothing the worker would reject is sent; with `--wait`, prints their results.
struct EnqueueCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "enqueue",
        abstract: "Validate and produce video requests; optionally wait for their results or their videos.",
        discussion: """
            Requests come from the arguments (one JSON object each), from --file (a JSON array, one object, or NDJSON), \
            or from standard input as NDJSON. Refused requests are listed on standard error and not sent; the exit status is \
            then 65. With --wait, each result is printed on standard output as one JSON line. With --wait completed, each \
            submitted request's completion follows (one JSON line; its video URL, or why there is none, on standard error) \
            once the worker has followed the task to its end (the worker runs with --track on).
            """
    )

    @OptionGroup var cluster: ClusterOptions
    @Option(help: "Requests topic (env REQUESTS_TOPIC, default chanjing.video.requests).") var requestsTopic: String?
    @Option(help: "Results topic, for --wait (env RESULTS_TOPIC, default chanjing.video.results).") var resultsTopic: String?
    @Option(help: "Completions topic, for --wait completed (env COMPLETIONS_TOPIC, default chanjing.video.completions).") var completionsTopic: String?
    @Option(help: "A file of requests: a JSON array, one object, or NDJSON; - for standard input.") var file: String?
    @Option(help: "Kafka key for every request (requests sharing a key keep their order with --ordering key); by default each request's request_id.")
    var key: String?
    @Flag(help: "Wait for each request's result and print it; `--wait completed` waits for the videos too.") var wait = false
    @Option(help: "Seconds --wait waits for the last result (or completion).") var waitTimeout: Double = 600
    @Argument(help: "Requests as JSON objects.") var arguments: [String] = []

    /// What `--wait` waits for: `--wait completed` is the flag and the word (a request is a JSON
    /// object, never a bare word, so the word may stand anywhere among the arguments).
    private var waitsForCompletions: Bool { wait && arguments.contains("completed") }
    /// The requests given as arguments, without the word of `--wait completed` (or `--wait result`).
    private var requests: [String] { wait ? arguments.filter { $0 != "completed" && $0 != "result" } : arguments }

    func run() async throws {
        try await runTool("enqueue") {
            LogSetup.bootstrap(level: .warning)
            let logger = Logger(label: "enqueue")
            let properties = try cluster.properties()
            let requestsTopic = setting("--requests-topic", given: requestsTopic)
            let resultsTopic = setting("--results-topic", given: resultsTopic)

            let (valid, refused) = Self.validate(try readInputs(), requireRequestID: wait)
            for (input, rejection) in refused {
                printError("refused \(input.origin): \(rejection.field.map { "\($0): " } ?? "")\(rejection.message) [\(rejection.code.rawValue)]")
            }
            let watcher = wait && !valid.isEmpty
                ? try await ResultWatcher.results(topic: resultsTopic, properties: properties, timeout: cluster.callTimeout, logger: logger)
                : nil
            let completionsWatcher = waitsForCompletions && !valid.isEmpty
                ? try await ResultWatcher.completions(
                    topic: setting("--completions-topic", given: completionsTopic), properties: properties, timeout: cluster.callTimeout, logger: logger
                )
                : nil
            do {
                // Keyed by request_id, so that requests spread over the partitions (librdkafka's
                // sticky partitioner puts a burst of unkeyed records on one partition, which one
                // worker then serves alone) and copies of one request share a partition, where
                // the ledger recognises them.
                let messages = valid.map { OutgoingMessage(topic: requestsTopic, key: (key ?? $0.requestID).map { Array($0.utf8) }, value: $0.bytes) }
                try await produceAcknowledged(messages, properties: properties, logger: logger)
            } catch {
                await watcher?.stop()
                await completionsWatcher?.stop()
                throw error
            }
            printError("sent \(valid.count) request(s) to \(requestsTopic); refused \(refused.count)")
            if let watcher {
                let deadline = ContinuousClock.now + .seconds(waitTimeout)
                var submitted: Set<String> = []
                let missing = await watcher.waitFor(Set(valid.compactMap(\.requestID)), within: deadline - .now) { record in
                    printLine(record.json)
                    if record.message.status == .submitted { submitted.insert(record.requestID) }
                }
                await watcher.stop()
                var unfinished: Set<String> = []
                if let completionsWatcher {
                    // Only submitted requests have a task to follow.
                    unfinished = await completionsWatcher.waitFor(submitted, within: deadline - .now) { record in
                        printLine(record.json)
                        let completion = record.message
                        printError("\(completion.requestID): \(completion.status.rawValue) \(completion.videoURLs.first ?? completion.error?.message ?? "")")
                    }
                    await completionsWatcher.stop()
                }
                if !missing.isEmpty || !unfinished.isEmpty {
                    if !missing.isEmpty {
                        printError("no result within \(Int(waitTimeout)) s for \(missing.count) request(s): \(missing.sorted().prefix(10).joined(separator: ", "))")
                    }
                    if !unfinished.isEmpty {
                        printError("no completion within \(Int(waitTimeout)) s for \(unfinished.count) request(s): \(unfinished.sorted().prefix(10).joined(separator: ", "))")
                    }
                    throw ExitCode.failure
                }
            }
            if !refused.isEmpty { throw ExitCode(65) }
        }
    }

    private func readInputs() throws(ConfigurationError) -> [RequestInput] {
        var inputs = requests.enumerated().map { RequestInput(origin: "argument \($0.offset + 1)", bytes: Array($0.element.utf8)) }
        if let file, file != "-" {
            guard let data = FileManager.default.contents(atPath: file) else { throw ConfigurationError("cannot read --file \(file)") }
            inputs += RequestInput.parse(data, name: file)
        } else if file == "-" || requests.isEmpty {
            inputs += RequestInput.parse(FileHandle.standardInput.readDataToEndOfFile(), name: "stdin")
        }
        guard !inputs.isEmpty else { throw ConfigurationError("no requests given: pass JSON objects, --file, or NDJSON on standard input") }
        return inputs
    }

    /// Splits inputs into those the worker would accept (with their request IDs, nil for none) and
    /// those it would reject. Duplicate request IDs in one batch are refused too (the worker would
    /// submit both), and so is a request without `request_id` when its result is awaited (the
    /// worker would name it by its offset, which is not known here).
    static func validate(_ inputs: [RequestInput], requireRequestID: Bool) -> (valid: [(requestID: String?, bytes: [UInt8])], refused: [(RequestInput, RequestRejection)]) {
        let decoder = RequestDecoder()
        var valid: [(requestID: String?, bytes: [UInt8])] = []
        var refused: [(RequestInput, RequestRejection)] = []
        var seen: Set<String> = []
        for input in inputs {
            switch decoder.decode(input.bytes, fallbackRequestID: "") {
            case .valid(let request) where request.requestID.isEmpty:
                if requireRequestID {
                    refused.append((input, RequestRejection(code: .missingField, field: "request_id", message: "is needed to wait for the result (--wait)")))
                } else {
                    valid.append((nil, input.bytes))
                }
            case .valid(let request):
                if seen.insert(request.requestID).inserted {
                    valid.append((request.requestID, input.bytes))
                } else {
                    refused.append((input, RequestRejection(code: .invalidField, field: "request_id", message: "'\(request.requestID)' appears twice in this batch")))
                }
            case .invalid(let rejection, _):
                refused.append((input, rejection))
            }
        }
        return (valid, refused)
    }
}
