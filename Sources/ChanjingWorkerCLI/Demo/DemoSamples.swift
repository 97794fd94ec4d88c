/// The requests the demo sends: valid ones of every shape, and invalid ones that show how
/// each rule is reported.
enum DemoSamples {
    static let requests: [(key: String?, json: String)] = [
        ("demo-1", #"{"request_id":"demo-1","ref_prompt":"A paper boat drifting down a rainy city street, cinematic"}"#),
        ("demo-2", #"{"request_id":"demo-2","ref_prompt":"The cat in the photo turns and looks at the camera","ref_img_url":["https://example.com/cat.jpg"],"aspect_ratio":"9:16","quality_mode":"pro","video_duration":10}"#),
        ("demo-3", #"{"request_id":"demo-3","ref_prompt":"机甲在城市夜景中奔跑,镜头跟拍,强节奏感","creation_type":4,"aspect_ratio":"16:9","quality_mode":"std","video_duration":5,"model_code":"kling-v2-5-turbo-normal"}"#),
        ("demo-4", #"{"request_id":"demo-4","ref_prompt":"Slow dolly shot over a misty pine forest at dawn","aspect_ratio":"1:1"}"#),
        (nil, #"{"ref_prompt":"A hummingbird hovering over a red flower, macro, slow motion"}"#),
        ("demo-6", #"{"request_id":"demo-6","ref_prompt":"Waves crashing on black volcanic sand","quality_mode":null}"#),
        ("demo-7", #"{"request_id":"demo-7","ref_prompt":"A typo in a field name","video_durration":10}"#),
        ("demo-8", #"{"request_id":"demo-8","ref_prompt":"Duration written as a string","video_duration":"5"}"#),
        ("demo-9", #"{"request_id":"demo-9","ref_prompt":"　"}"#),
        (nil, "this is not JSON"),
        ("demo-11", #"{"request_id":"demo-11","ref_prompt":"Reference over FTP","ref_img_url":["ftp://example.com/a.jpg"]}"#),
        ("demo-12", #"{"request_id":"demo-12","ref_prompt":"Another model","model_code":"kling-v1"}"#),
    ]
}
