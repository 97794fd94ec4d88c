/// The body of `POST /open/v1/ai_creation/task/page`.
struct TaskPageRequest: Sendable, Encodable {
    var uniqueIDs: [String]
    var type: Int
    var page: Int
    var pageSize: Int
    var isSuccess: Bool

    enum CodingKeys: String, CodingKey {
        case uniqueIDs = "unique_ids"
        case type, page
        case pageSize = "page_size"
        case isSuccess = "is_success"
    }
}

/// One page of tasks. Only `list` is relied on; the totals are optional.
public struct TaskPage: Sendable, Decodable, Equatable {
    public var list: [CreationTask]
    public var total: Int?

    public init(list: [CreationTask], total: Int? = nil) {
        self.list = list
        self.total = total
    }

    enum CodingKeys: String, CodingKey {
        case list, total
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        list = try container.decodeIfPresent([CreationTask].self, forKey: .list) ?? []
        total = try container.decodeIfPresent(Int.self, forKey: .total)
    }
}
