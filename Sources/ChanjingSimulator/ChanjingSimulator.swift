import Foundation
import Synchronization

/// A Chanjing look-alike: the token, submit, task and task-page endpoints with Chanjing's
/// envelope, codes and token semantics (fetching a new token invalidates the previous one).
/// This type is the logic; ``SimulatorServer`` puts it on HTTP.
public final class ChanjingSimulator: Sendable {
    /// An answer: HTTP status and the JSON body.
    public struct Reply: Sendable {
        public var status: Int
        /// The JSON envelope.
        public var body: Data
    }

    private struct State {
        var configuration: SimulatorConfiguration
        var currentToken: String?
        var issuedTokens: [String] = []
        var tokenExpiresAt = Date.distantPast
        var tasks: [SimulatedTask] = []
        /// Each task's index in `tasks`, by its ID.
        var taskIndex: [String: Int] = [:]
        var stats = SimulatorStats()
        var bucketTokens: Double = 0
        var bucketUpdated = ContinuousClock.now
    }
    private let state: Mutex<State>

    public init(configuration: SimulatorConfiguration = SimulatorConfiguration()) {
        var initial = State(configuration: configuration)
        initial.bucketTokens = configuration.qpsLimit ?? 0
        state = Mutex(initial)
    }

    /// Changes the behaviour while running.
    public func configure(_ change: (inout SimulatorConfiguration) -> Void) {
        state.withLock { state in
            let previousLimit = state.configuration.qpsLimit
            change(&state.configuration)
            // A new limit starts with a full burst.
            if state.configuration.qpsLimit != previousLimit { state.bucketTokens = state.configuration.qpsLimit ?? 0 }
        }
    }

    public var configuration: SimulatorConfiguration { state.withLock { $0.configuration } }
    public var stats: SimulatorStats { state.withLock { $0.stats } }
    /// Every access token issued, oldest first.
    public var issuedTokens: [String] { state.withLock { $0.issuedTokens } }
    /// Every task created, oldest first.
    public var tasks: [SimulatedTask] { state.withLock { $0.tasks } }

    // MARK: Endpoints

    /// `POST /open/v1/access_token`
    public func accessToken(body: [UInt8]) -> Reply {
        guard let json = Self.object(body), let appID = json["app_id"] as? String, let secret = json["secret_key"] as? String else {
            return Self.envelope(code: 400, message: "参数格式错误")
        }
        return state.withLock { state in
            guard appID == state.configuration.appID, secret == state.configuration.secretKey else {
                return Self.envelope(code: 40000, message: "app_id或secret_key错误")
            }
            // A new token replaces, and so invalidates, the previous one.
            let token = Self.hex(32)
            let lifetime = Double(state.configuration.tokenLifetime.components.seconds)
            state.currentToken = token
            state.issuedTokens.append(token)
            // `expire_in` is whole Unix seconds: the token lives until that second, as reported.
            state.tokenExpiresAt = Date(timeIntervalSince1970: (Date().timeIntervalSince1970 + lifetime).rounded(.up))
            state.stats.tokenFetches += 1
            return Self.envelope(code: 0, data: TokenData(accessToken: token, expireIn: Int64(state.tokenExpiresAt.timeIntervalSince1970)))
        }
    }

    /// `POST /open/v1/access_token` as the server answers it: the token is issued (invalidating
    /// the previous one) at once, and the answer waits ``SimulatorConfiguration/tokenLatency``.
    public func answerAccessToken(body: [UInt8]) async -> Reply {
        let reply = accessToken(body: body)
        let latency = configuration.tokenLatency
        if latency > .zero { try? await Task.sleep(for: latency) }
        return reply
    }

    /// `POST /open/v1/ai_creation/task/submit`. Waits the configured latency before answering.
    public func submit(token: String?, body: [UInt8]) async -> Reply {
        defer { state.withLock { $0.stats.submitsInProgress -= 1 } }
        let latency = state.withLock { state -> Double in
            state.stats.submitCalls += 1
            state.stats.submitsInProgress += 1
            state.stats.peakConcurrentSubmits = max(state.stats.peakConcurrentSubmits, state.stats.submitsInProgress)
            if let override = state.configuration.latencyForPrompt,
                let prompt = Self.object(body)?["ref_prompt"] as? String,
                let latency = override(prompt)
            {
                return latency
            }
            return Double.random(in: state.configuration.submitLatency)
        }
        if latency > 0 { try? await Task.sleep(for: .seconds(latency)) }
        let fault = state.withLock { Self.pickFault($0.configuration.faults) }
        switch fault {
        case .http500?:
            state.withLock { $0.stats.injectedFailures += 1 }
            return Self.html(status: 500)
        case .notJSON?:
            state.withLock { $0.stats.injectedFailures += 1 }
            return Self.html(status: 200)
        default:
            break
        }
        let reply = acceptSubmit(token: token, body: body)
        switch fault {
        case .http502AfterCreating?:
            state.withLock { $0.stats.injectedFailures += 1 }
            return Self.html(status: 502)
        case .hangAfterCreating?:
            state.withLock { $0.stats.injectedFailures += 1 }
            try? await Task.sleep(for: .seconds(state.withLock { $0.configuration.faults.hangSeconds }))
            return reply
        default:
            return reply
        }
    }

    private enum Fault {
        case http500, http502AfterCreating, notJSON, hangAfterCreating
    }

    private static func pickFault(_ faults: SimulatedFaults) -> Fault? {
        var roll = Double.random(in: 0..<1)
        for (fault, rate) in [(Fault.http500, faults.http500), (.http502AfterCreating, faults.http502AfterCreating), (.notJSON, faults.notJSON), (.hangAfterCreating, faults.hangAfterCreating)] {
            if roll < rate { return fault }
            roll -= rate
        }
        return nil
    }

    private static func html(status: Int) -> Reply {
        Reply(status: status, body: Data("<html><body><h1>\(status)</h1>upstream trouble</body></html>".utf8))
    }

    /// The submit's own rules, once any injected fault has been decided.
    private func acceptSubmit(token: String?, body: [UInt8]) -> Reply {
        state.withLock { state in
            if let refusal = Self.checkToken(token, in: &state) { return refusal }
            if let limit = state.configuration.qpsLimit, !Self.takeBucketToken(limit: limit, state: &state) {
                state.stats.throttled += 1
                return Self.envelope(code: 40001, message: "超出QPS限制")
            }
            guard let json = Self.object(body) else {
                state.stats.invalidParameters += 1
                return Self.envelope(code: 400, message: "参数格式错误")
            }
            var task: SimulatedTask
            switch Self.parseTask(json) {
            case .success(let parsed): task = parsed
            case .failure(let reply):
                state.stats.invalidParameters += 1
                return reply.reply
            }
            if Double.random(in: 0..<1) < state.configuration.failureRate {
                state.stats.injectedFailures += 1
                return Self.envelope(code: 50000, message: "系统内部错误")
            }
            if let balance = state.configuration.balance {
                guard balance > 0 else {
                    state.stats.balanceRefusals += 1
                    return Self.envelope(code: 10003, message: "蝉豆不足,请充值")
                }
                state.configuration.balance = balance - 1
            }
            let configuration = state.configuration
            task.renderSeconds = Double.random(in: configuration.renderTime)
            let roll = Double.random(in: 0..<1)
            if roll < configuration.renderFailureRate {
                task.ending = Bool.random()
                    ? .failure(progress: "Error", message: "视频生成失败") : .failure(progress: "Fail", message: "内容审核未通过")
            } else if roll < configuration.renderFailureRate + configuration.renderWithoutOutputRate {
                task.ending = .successWithoutOutput
            }
            state.taskIndex[task.uniqueID] = state.tasks.count
            state.tasks.append(task)
            state.stats.tasksCreated += 1
            return Self.envelope(code: 0, data: task.uniqueID)
        }
    }

    /// `GET /open/v1/ai_creation/task?unique_id=…`
    public func task(token: String?, uniqueID: String?) -> Reply {
        state.withLock { state in
            if let refusal = Self.checkToken(token, in: &state) { return refusal }
            guard let uniqueID, let index = state.taskIndex[uniqueID] else {
                return Self.envelope(code: 40000, message: "任务不存在")
            }
            return Self.envelope(code: 0, data: Self.taskObject(state.tasks[index], now: Date()))
        }
    }

    /// `POST /open/v1/ai_creation/task/page`: newest first, filtered by `unique_ids` when given.
    public func taskPage(token: String?, body: [UInt8]) -> Reply {
        state.withLock { state in
            if let refusal = Self.checkToken(token, in: &state) { return refusal }
            if state.configuration.taskListDown { return Self.envelope(code: 50000, message: "系统繁忙") }
            guard let json = Self.object(body) else { return Self.envelope(code: 400, message: "参数格式错误") }
            let ids = (json["unique_ids"] as? [String]) ?? []
            guard ids.count <= 50 else { return Self.envelope(code: 40000, message: "unique_ids最多50个") }
            let page = max(1, (json["page"] as? Int) ?? 1)
            let size = min(50, max(1, (json["page_size"] as? Int) ?? 10))
            var matching: [SimulatedTask]
            if ids.isEmpty {
                matching = state.tasks.reversed()
            } else {
                state.stats.taskQueries += 1
                state.stats.mostIDsQueried = max(state.stats.mostIDsQueried, ids.count)
                // Newest first, as for the whole list.
                matching = Set(ids).compactMap { state.taskIndex[$0] }.sorted(by: >).map { state.tasks[$0] }
            }
            if let type = json["type"] as? Int, type != 4 { matching = [] }
            let now = Date()
            let objects = matching.map { Self.taskObject($0, now: now) }
            let onlySuccess = (json["is_success"] as? Bool) ?? false
            let filtered = onlySuccess ? objects.filter { $0.progressDesc == "Success" } : objects
            let slice = Array(filtered.dropFirst((page - 1) * size).prefix(size))
            let info = TaskPageData.PageInfo(page: page, size: size, totalCount: filtered.count, totalPage: (filtered.count + size - 1) / size)
            return Self.envelope(code: 0, data: TaskPageData(list: slice, total: filtered.count, pageInfo: info))
        }
    }

    // MARK: Rules

    private static func checkToken(_ token: String?, in state: inout State) -> Reply? {
        guard let token, token == state.currentToken, Date() < state.tokenExpiresAt else {
            state.stats.rejectedToken += 1
            return envelope(code: 10400, message: "AccessToken已失效")
        }
        return nil
    }

    private static func takeBucketToken(limit: Double, state: inout State) -> Bool {
        let now = ContinuousClock.now
        let elapsed = now - state.bucketUpdated
        state.bucketUpdated = now
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        state.bucketTokens = min(limit, state.bucketTokens + seconds * limit)
        guard state.bucketTokens >= 1 else { return false }
        state.bucketTokens -= 1
        return true
    }

    private struct Refusal: Error {
        var reply: Reply
    }

    private static func parseTask(_ json: [String: Any]) -> Result<SimulatedTask, Refusal> {
        func refuse(_ code: Int, _ message: String) -> Result<SimulatedTask, Refusal> {
            .failure(Refusal(reply: envelope(code: code, message: message)))
        }
        guard let prompt = json["ref_prompt"] as? String, !prompt.isEmpty else { return refuse(40000, "ref_prompt不能为空") }
        guard (json["creation_type"] as? Int) == 4 else { return refuse(40000, "creation_type错误") }
        // Chanjing answers an unknown model with an internal error, not a parameter error.
        guard (json["model_code"] as? String) == "kling-v2-5-turbo-normal" else { return refuse(50000, "系统内部错误") }
        let quality = json["quality_mode"] as? String ?? "std"
        guard ["std", "pro"].contains(quality) else { return refuse(40000, "quality_mode错误") }
        let duration = json["video_duration"] as? Int ?? 5
        guard [5, 10].contains(duration) else { return refuse(40000, "video_duration错误") }
        let aspect = json["aspect_ratio"] as? String ?? "16:9"
        guard ["16:9", "9:16", "1:1"].contains(aspect) else { return refuse(40000, "aspect_ratio错误") }
        let images = json["ref_img_url"] as? [String] ?? []
        return .success(
            SimulatedTask(
                uniqueID: UUID().uuidString.lowercased(),
                createdAt: Date(),
                prompt: prompt,
                referenceImageURLs: images,
                aspectRatio: aspect,
                qualityMode: quality,
                videoDuration: duration,
                modelCode: "kling-v2-5-turbo-normal",
                renderSeconds: 0,
                ending: .success
            )
        )
    }

    private static func taskObject(_ task: SimulatedTask, now: Date) -> TaskData {
        let progress = task.progress(at: now)
        var errorMessage = ""
        if case .failure(let ending, let message) = task.ending, progress == ending { errorMessage = message }
        return TaskData(
            uniqueID: task.uniqueID,
            createTime: Int64(task.createdAt.timeIntervalSince1970),
            type: 4,
            progressDesc: progress,
            errMsg: errorMessage,
            outputURL: task.outputURLs(at: now),
            modelCode: task.modelCode,
            aspectRatio: task.aspectRatio,
            refImgURL: task.referenceImageURLs,
            motionInfo: .init(refPrompt: task.prompt, qualityMode: task.qualityMode, videoDuration: task.videoDuration, aspectRatio: task.aspectRatio)
        )
    }

    // MARK: Encoding

    static func envelope(code: Int, message: String = "success") -> Reply {
        envelope(code: code, message: message, data: String?.none)
    }

    static func envelope(code: Int, message: String = "success", data: (some Encodable)?) -> Reply {
        let envelope = Envelope(traceID: hex(32), code: code, msg: code == 0 ? "success" : message, data: data)
        let encoder = JSONEncoder()
        encoder.outputFormatting = .withoutEscapingSlashes
        // Plain strings, numbers and arrays of them: encoding cannot fail.
        return Reply(status: 200, body: try! encoder.encode(envelope))
    }

    private static func object(_ body: [UInt8]) -> [String: Any]? {
        (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any]
    }

    static func hex(_ count: Int) -> String {
        String((0..<count).map { _ in "0123456789abcdef".randomElement()! })
    }
}
