"""Every word of the YOLO lesson, in Korean and English: the tab, the messages computed on the server, and the
words of the in-browser webcam view (keys "live_...", handed to the page by the tab)."""
from core import classnames, text

MAX_VIDEO_SECONDS = 30  # said in the labels below; compute.py checks it

TEXT = text.table("yolo_detect", {
    # ---- the tab (static labels, translated in the browser)
    "title": ("7. YOLO 객체 탐지", "7. YOLO detection"),
    "model": ("모델", "Model"),
    "conf": ("신뢰도 임계값 (이보다 낮은 후보는 버림)", "Confidence threshold (weaker candidates are dropped)"),
    "iou": ("NMS IoU 임계값 (이보다 많이 겹치면 지움)", "NMS IoU threshold (boxes overlapping more are removed)"),
    "imgsz": ("입력 크기 (픽셀, 작을수록 빠름)", "Input size (pixels, smaller is faster)"),
    "grid": ("격자 보기", "Grid to show"),
    "grid_32": ("32픽셀 격자 (큰 물체 담당)", "32-pixel grid (large objects)"),
    "grid_16": ("16픽셀 격자 (중간 물체)", "16-pixel grid (medium objects)"),
    "grid_8": ("8픽셀 격자 (작은 물체)", "8-pixel grid (small objects)"),
    "grid_v1": ("YOLO v1 의 7x7 격자", "YOLO v1's 7x7 grid"),
    "track": ("추적 켜기 (웹캠·동영상: 같은 물체에 같은 번호)", "Tracking (webcam, video: same object keeps its number)"),
    "classes": ("찾을 클래스 (COCO 80종)", "Classes to find (COCO, 80)"),
    "all": ("모두 선택", "Select all"),
    "none": ("모두 해제", "Clear all"),
    "people_vehicles": ("사람·탈것만", "People and vehicles"),
    "webcam_tab": ("웹캠 (실시간)", "Webcam (live)"),
    "webcam": ("내 웹캠: 'Record' 를 누르면 서버에서 실시간 탐지", "My webcam: press 'Record' to detect live on the server"),
    "where": ("탐지를 어디서 돌릴까요?", "Where does detection run?"),
    "where_browser": ("이 브라우저에서 (카메라 화면이 이 컴퓨터를 떠나지 않음)",
                      "In this browser (the camera picture stays on this computer)"),
    "where_server": ("서버에서 (프레임을 서버로 보냄)", "On the server (frames are sent to it)"),
    "photo_tab": ("사진", "Photo"),
    "photo": ("사진 올리기", "Upload a photo"),
    "run": ("탐지하기", "Detect"),
    "examples": ("예시 사진", "Example photos"),
    "video_tab": ("동영상", "Video"),
    "video": (f"동영상 올리기 ({MAX_VIDEO_SECONDS}초 이하)", f"Upload a video (up to {MAX_VIDEO_SECONDS} s)"),
    "run_video": ("동영상 전체 탐지하기", "Detect through the whole video"),
    "video_out": ("탐지 결과 동영상", "Annotated video"),
    "annotated": ("탐지 결과", "Detections"),
    "counts": ("클래스별 개수", "Count per class"),
    "inside": ("YOLO 속 들여다보기: 격자와 NMS", "Inside YOLO: the grid and NMS"),
    "grid_img": ("격자와 담당 칸", "Grid and responsible cells"),
    "before": ("NMS 전: 모든 후보", "Before NMS: all candidates"),
    "after": ("NMS 후: 남은 상자", "After NMS: boxes kept"),
    "inside_help": (
        "**왼쪽**: 흰 점은 상자의 중심, 색칠된 칸은 그 중심이 들어 있어 물체를 맡은 칸입니다. "
        "**가운데**: 신뢰도를 넘은 모든 후보 상자입니다. 같은 색 상자들은 NMS 가 하나로 합칠 무리입니다 (왼쪽 위 숫자 = 후보 수). "
        "**오른쪽**: NMS 가 남긴 상자입니다 (왼쪽 위 숫자 = 남은 상자 수).",
        "**Left**: white dots are box centres; a filled cell holds a centre, so it is responsible for that object. "
        "**Middle**: every candidate box above the confidence; boxes of one colour are a group NMS merges into one "
        "(top-left number = candidates). **Right**: the boxes NMS keeps (top-left number = boxes kept).",
    ),

    # ---- controls named in notes (core.values.clamp says "<label>: ...")
    "label_model": ("모델", "Model"),
    "label_conf": ("신뢰도 임계값", "Confidence threshold"),
    "label_iou": ("NMS IoU 임계값", "NMS IoU threshold"),
    "label_imgsz": ("입력 크기", "Input size"),
    "label_grid": ("격자 보기", "Grid to show"),
    "label_track": ("추적", "Tracking"),
    "imgsz_multiple": ("입력 크기: YOLO 의 가장 성긴 격자가 32픽셀이라 32의 배수인 {used}(으)로 맞췄습니다.",
                       "Input size: YOLO's coarsest grid has 32-pixel cells, so it must be a multiple of 32; "
                       "using {used}."),
    "unknown_classes": ("모르는 클래스는 빼고 찾았습니다: {names}", "Unknown classes were left out: {names}"),
    "unknown_model": ("알 수 없는 모델입니다: {got}. 고를 수 있는 모델: {choices}",
                      "Unknown model {got}. Choose one of: {choices}"),

    # ---- the info lines under the picture (view.info_markdown)
    "no_class": ("선택한 클래스가 없어 아무것도 찾지 않았습니다. 찾을 클래스를 골라 주세요.",
                 "No class is selected, so nothing was searched for. Pick the classes to find."),
    "time_line": ("**시간** 전처리 {pre} ms · 추론 {infer} ms · 후처리(NMS) {post} ms · 그리기 {draw} ms · "
                  "합계 {total} ms → 처리 속도 {fps} FPS",
                  "**Time** pre-process {pre} ms · inference {infer} ms · post-process (NMS) {post} ms · "
                  "drawing {draw} ms · total {total} ms → {fps} FPS of processing"),
    "received_line": ("**받는 프레임** {fps} FPS (브라우저 ↔ 서버 왕복 포함)",
                      "**Frames received** {fps} FPS (browser ↔ server round trip included)"),
    "nms_info": ("**NMS** 후보 {before}개 (신뢰도 > {conf}) → 남은 상자 {after}개 "
                 "(IoU > {iou} 로 겹친 같은 클래스 상자 제거)",
                 "**NMS** {before} candidates (confidence > {conf}) → {after} boxes remain "
                 "(same-class boxes overlapping by IoU > {iou} removed)"),
    "input_info": ("**입력** {frame} 프레임 → 네트워크 입력 {net} · 모델 {model}",
                   "**Input** {frame} frame → network input {net} · model {model}"),
    "tracks_info": ("**추적** ByteTrack: 지금 번호가 붙은 물체 {numbered}개 (새 물체는 두 번째 프레임부터 번호를 받습니다)",
                    "**Tracking** ByteTrack: {numbered} objects numbered now (a new object gets its number "
                    "from its second frame)"),
    "note": ("⚠️ {note}", "⚠️ {note}"),

    # ---- the counts tables (view.counts_table, view.video_table)
    "col_class": ("클래스", "class"),
    "col_count": ("개수", "count"),
    "col_most": ("한 프레임 최대", "most in one frame"),
    "col_tracked": ("추적한 개수", "tracked objects"),

    # ---- the video (compute.process_video, view.video_info)
    "video_missing": ("동영상을 먼저 올려 주세요.", "Please upload a video first."),
    "video_not_found": ("동영상 파일을 찾을 수 없습니다.", "The video file could not be found."),
    "video_empty": ("빈 파일(0바이트)입니다.", "The file is empty (0 bytes)."),
    "video_too_large": ("동영상이 너무 큽니다 ({mb} MB). {limit} MB 이하로 올려 주세요.",
                        "The video is too large ({mb} MB). Please keep it under {limit} MB."),
    "not_video": ("동영상 파일이 아니거나 읽을 수 없는 형식입니다. MP4, WEBM, MOV, AVI 동영상을 올려 주세요.",
                  "This is not a video, or its format cannot be read. Please upload an MP4, WEBM, MOV or AVI video."),
    "single_frame": ("프레임이 하나뿐인 파일입니다 (사진?). 사진은 '사진' 탭에서 올려 주세요.",
                     "This file has a single frame (a photo?). Please upload photos in the 'Photo' tab."),
    "video_too_long": ("동영상이 너무 깁니다 ({seconds}초). {limit}초 이하로 잘라서 올려 주세요.",
                       "The video is too long ({seconds} s). Please cut it to {limit} s or less."),
    "video_no_frames": ("동영상에서 프레임을 하나도 읽지 못했습니다.", "No frame could be read from the video."),
    "video_done": ("**{frames}개 프레임** ({fps} FPS 동영상)을 {seconds}초에 처리했습니다 → 초당 {rate} 프레임.",
                   "**{frames} frames** (a {fps} FPS video) processed in {seconds} s → {rate} frames per second."),
    "video_per_frame": ("프레임당 전처리 {pre} ms · 추론 {infer} ms · 후처리 {post} ms",
                        "Per frame: pre-process {pre} ms · inference {infer} ms · post-process {post} ms"),
    "video_step": ("원본 {fps} FPS 중 {step}장마다 1장을 처리했습니다.",
                   "The original is {fps} FPS; one frame in {step} was processed."),
    "video_progress": ("{done}개 프레임", "{done} frames"),

    # ---- the in-browser webcam view (assets/js/yolo_live.mjs shows them in the page's language)
    "live_start": ("카메라 켜고 브라우저에서 탐지하기", "Start the camera and detect in this browser"),
    "live_stop": ("카메라 끄기", "Stop the camera"),
    "live_snapshot": ("지금 프레임으로 'YOLO 속 들여다보기'", "Look inside YOLO with this frame"),
    "live_privacy": ("이 방식에서는 탐지가 이 브라우저 안에서 돌아가서 카메라 화면이 이 컴퓨터를 떠나지 않습니다. "
                     "'YOLO 속 들여다보기' 버튼을 누를 때만 그 한 장이 서버로 갑니다.",
                     "In this mode detection runs inside this browser, so the camera picture never leaves this "
                     "computer. Only when you press 'Look inside YOLO' is that one frame sent to the server."),
    "live_loading_library": ("브라우저용 추론 라이브러리(onnxruntime-web)를 준비하는 중…",
                             "Getting the in-browser inference library (onnxruntime-web) ready…"),
    "live_loading_model": ("모델 {model} 을 불러오는 중… (처음에는 서버가 ONNX 파일로 바꾸느라 몇 초 걸립니다)",
                           "Loading the model {model}… (the first time, the server takes a few seconds to export it "
                           "to ONNX)"),
    "live_starting_camera": ("카메라를 켜는 중…", "Starting the camera…"),
    "live_camera_denied": ("카메라를 쓸 수 없습니다 ({reason}). 브라우저의 카메라 권한을 확인하거나, 사진·동영상 탭을 써 보세요.",
                           "The camera cannot be used ({reason}). Check the browser's camera permission, or use the "
                           "Photo and Video tabs."),
    "live_backend_webgpu": ("실행: WebGPU (그래픽 카드)", "Running on: WebGPU (graphics card)"),
    "live_backend_wasm": ("실행: WebAssembly SIMD (CPU, 스레드 {threads}개)",
                          "Running on: WebAssembly SIMD (CPU, {threads} thread(s))"),
    "live_fps": ("초당 프레임 (FPS)", "frames per second (FPS)"),
    "live_stages": ("전처리 {pre} ms · 추론 {infer} ms · NMS {nms} ms · 추적 {track} ms · 그리기 {draw} ms",
                    "pre-process {pre} ms · inference {infer} ms · NMS {nms} ms · tracking {track} ms · "
                    "drawing {draw} ms"),
    "live_nms_line": ("NMS 전 후보 {before}개 (신뢰도 > {conf}) → NMS 후 {after}개 (IoU > {iou} 로 겹친 같은 클래스 상자 제거)",
                      "Before NMS {before} candidates (confidence > {conf}) → after NMS {after} boxes (same-class "
                      "boxes overlapping by IoU > {iou} removed)"),
    "live_input_line": ("입력 {frame} 프레임 → 네트워크 입력 {net} · 모델 {model}",
                        "Input {frame} frame → network input {net} · model {model}"),
    "live_counts": ("지금 보이는 것", "In view now"),
    "live_none_found": ("찾은 물체가 없습니다", "Nothing found"),
    "live_snapshot_sent": ("이 프레임을 서버로 보냈습니다. 아래 'YOLO 속 들여다보기' 에 격자와 NMS 그림이 나옵니다.",
                           "This frame was sent to the server; the grid and NMS pictures appear under 'Inside YOLO' "
                           "below."),
    "live_frame_failed": ("이 프레임을 처리하지 못했습니다 ({detail}).", "This frame could not be processed ({detail})."),
    "live_fallback_no_simd": ("이 브라우저는 WebAssembly SIMD 를 지원하지 않아 서버에서 탐지합니다.",
                              "This browser has no WebAssembly SIMD, so detection runs on the server."),
    "live_fallback_library": ("브라우저용 라이브러리를 불러오지 못해 서버에서 탐지합니다: {detail}",
                              "The in-browser library could not be loaded, so detection runs on the server: {detail}"),
    "live_fallback_model": ("모델 파일을 불러오지 못해 서버에서 탐지합니다 ({detail}).",
                            "The model file could not be loaded, so detection runs on the server ({detail})."),
    "live_fallback_page": ("페이지 코드를 불러오지 못해 서버에서 탐지합니다 ({detail}).",
                           "The page code could not be loaded, so detection runs on the server ({detail})."),
    "export_failed": ("모델을 ONNX 파일로 바꾸지 못했습니다 ({detail}).", "The model could not be exported to ONNX ({detail})."),
    "bad_frame": ("페이지가 보낸 프레임을 읽을 수 없습니다.", "The frame sent by the page could not be read."),

    # ---- the class (core/teacher.py): the prediction question and what the cameras of the class found
    "class_q1": ("640×640 사진 한 장에 YOLO11의 머리(Detect)는 신뢰도와 NMS로 거르기 전에 후보 상자를 몇 개 내놓을까요?",
                 "For one 640×640 picture, how many candidate boxes does YOLO11's head (Detect) give before the "
                 "confidence threshold and NMS?"),
    "class_q1_choices": ("80개|400개|8400개|409600개 (픽셀마다 하나)",
                         "80|400|8400|409,600 (one per pixel)"),
    "class_totals": ("반 전체에서 켜진 카메라 {cameras}대 · 지금 찾은 물체 {boxes}개",
                     "Cameras on in the class: {cameras} · objects in view now: {boxes}"),
    "class_counts": ("카메라가 찾은 물체", "Objects the camera finds"),
    "class_nothing": ("없음", "nothing"),

    # ---- the 80 COCO classes as the class picker shows them ("사람 (person)" / "person"), from core.classnames
    **{f"class_{i}": (classnames.coco_label("ko", i), classnames.coco_label("en", i))
       for i in range(len(classnames.coco("en")))},
})

LIVE_PREFIX = "live_"


def live_words(lang: str) -> dict[str, str]:
    """The in-browser view's words in `lang`, by the names the page uses ("start", "fallback_model", ...)."""
    prefix = f"{TEXT.name}.{LIVE_PREFIX}"
    return {key[len(prefix):]: text.say(lang, key) for key in text.KO if key.startswith(prefix)}
