/// The JSON shapes the simulator answers with, as Chanjing documents them.
struct Envelope<Payload: Encodable>: Encodable {
    var traceID: String
    var code: Int
    var msg: String
    var data: Payload?

    enum CodingKeys: String, CodingKey {
        case traceID = "trace_id"
        case code, msg, data
    }
}

struct TokenData: Encodable {
    var accessToken: String
    var expireIn: Int64

    enum CodingKeys: String, CodingKey {
        case accessToken = "access_token"
        case expireIn = "expire_in"
    }
}

struct TaskData: Encodable {
    struct MotionInfo: Encodable {
        var refPrompt: String
        var qualityMode: String
        var videoDuration: Int
        var aspectRatio: String

        enum CodingKeys: String, CodingKey {
            case refPrompt = "ref_prompt"
            case qualityMode = "quality_mode"
            case videoDuration = "video_duration"
            case aspectRatio = "aspect_ratio"
        }
    }

    var uniqueID: String
    var createTime: Int64
    var type: Int
    var progressDesc: String
    var errMsg: String
    var outputURL: [String]
    var modelCode: String
    var aspectRatio: String
    var refImgURL: [String]
    var motionInfo: MotionInfo

    enum CodingKeys: String, CodingKey {
        case uniqueID = "unique_id"
        case createTime = "create_time"
        case type
        case progressDesc = "progress_desc"
        case errMsg = "err_msg"
        case outputURL = "output_url"
        case modelCode = "model_code"
        case aspectRatio = "aspect_ratio"
        case refImgURL = "ref_img_url"
        case motionInfo = "motion_info"
    }
}

struct TaskPageData: Encodable {
    struct PageInfo: Encodable {
        var page: Int
        var size: Int
        var totalCount: Int
        var totalPage: Int

        enum CodingKeys: String, CodingKey {
            case page, size
            case totalCount = "total_count"
            case totalPage = "total_page"
        }
    }

    var list: [TaskData]
    var total: Int
    var pageInfo: PageInfo

    enum CodingKeys: String, CodingKey {
        case list, total
        case pageInfo = "page_info"
    }
}
