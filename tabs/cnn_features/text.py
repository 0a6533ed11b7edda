"""Every word of the CNN feature-map lesson, in Korean and English."""
from core import text

TEXT = text.table("cnn_features", {
    # the tab
    "title": ("3. CNN 특징 맵", "3. CNN feature maps"),
    "image": ("사진", "Photo"),
    "model": ("CNN 모델", "CNN model"),
    "layer": ("층 (출력 크기: 높이x너비x채널)", "Layer (output: height x width x channels)"),
    "layer_auto": ("자동 (추천 층)", "auto (suggested layer)"),
    "layer_auto_named": ("자동: {layer} (추천 층)", "auto: {layer} (suggested layer)"),
    "n_maps": ("보여 줄 특징 맵 개수 (가장 강하게 반응한 순)", "Feature maps to show (most active first)"),
    "scale": ("색 범위", "Colour scale"),
    "scale_each": ("맵마다 따로", "Per map"),
    "scale_shared": ("모든 맵 공통", "Shared by all maps"),
    "cam_class": ("Grad-CAM 클래스", "Grad-CAM class"),
    "run": ("분석하기", "Analyse"),
    "examples": ("예시 사진", "Example photos"),
    "top5": ("상위 5개 예측", "Top-5 predictions"),
    "grid": ("특징 맵 (클릭하면 크게 보기)", "Feature maps (click one to enlarge)"),
    "zoom": ("선택한 특징 맵을 사진 위에 겹쳐 보기", "The chosen feature map over the photo"),
    "zoom_channel": ("크게 볼 채널 번호", "Channel to enlarge"),
    "cam": ("Grad-CAM: 모델이 이 클래스를 고를 때 본 곳", "Grad-CAM: where the model looked for this class"),
    "layers_tab": ("층 표 (모델 복잡도)", "Layer table (model complexity)"),
    "compare_tab": ("대표 CNN 비교하기", "Compare the classic CNNs"),
    "compare_run": ("측정하기 (처음 한 번은 1~2분)", "Measure (the first time takes 1-2 minutes)"),
    "compare_again": ("캐시 무시하고 다시 측정", "Ignore the cache and measure again"),
    "compare_help": (
        "가중치 없이 진짜 구조(무작위 초기화)로 이 컴퓨터에서 직접 잽니다. 계산량은 가중치 값과 상관이 없기 때문입니다. "
        "정확도는 torchvision 가중치의 공개 값(EfficientNet-Lite0 은 모델 카드 값)입니다.",
        "Measured here on the real architectures with random weights (compute cost does not depend on the weight values). "
        "Accuracy is the published figure of torchvision's weights (EfficientNet-Lite0: its model card).",
    ),
    # the Grad-CAM class picker: the network's k-th guess, then the 1000 classes
    "rank_1": ("1위 예측", "top-1 guess"),
    "rank_2": ("2위 예측", "2nd guess"),
    "rank_3": ("3위 예측", "3rd guess"),
    "rank_4": ("4위 예측", "4th guess"),
    "rank_5": ("5위 예측", "5th guess"),
    # the model picker
    "lite0_choice": ("EfficientNet-Lite0 · 오프라인", "EfficientNet-Lite0 · offline"),
    # the info line above the results
    "model_in_use": ("**사용 중인 모델:** {name}, {weights}", "**Model in use:** {name}, {weights}"),
    "real_weights": ("ImageNet 으로 학습된 진짜 가중치 ({source})", "real ImageNet weights ({source})"),
    "random_weights": ("무작위 가중치 (테스트용 모델): 예측에 의미가 없습니다",
                       "random weights (test model): its predictions mean nothing"),
    "summary": ("**{layer}**: {h}x{w} 크기의 특징 맵 {c}장 중 평균 반응이 큰 {n}장. "
                "Grad-CAM 층: **{cam_layer}**, 클래스 **{label}** ({index}).",
                "**{layer}**: the {n} most active of {c} feature maps of {h}x{w}. "
                "Grad-CAM layer: **{cam_layer}**, class **{label}** ({index})."),
    "summary_1x1": (" 이 층의 맵은 1x1 이라 채널마다 숫자 하나입니다.",
                    " This layer's maps are 1x1: each channel is a single number."),
    "other_layer": ("{model} 에는 '{asked}' 층이 없어 추천 층 {layer} 을 보여 줍니다.",
                    "{model} has no layer '{asked}', so its suggested layer {layer} is shown."),
    "n_maps_label": ("맵 개수", "The number of maps"),
    "scale_label": ("색 범위", "The colour scale"),
    # bad input
    "channel_range": ("채널 번호는 0부터 {last} 사이여야 합니다 (받은 값: {got}).",
                      "The channel must be from 0 to {last} (got {got})."),
    "channel_whole": ("채널 번호는 정수여야 합니다 (받은 값: {got}).", "The channel must be a whole number (got {got})."),
    "analyse_first": ("먼저 사진을 분석해 주세요.", "Please analyse a photo first."),
    # the layer table
    "col_layer": ("층", "layer"),
    "col_type": ("종류", "type"),
    "col_kernel": ("커널 / 스트라이드", "kernel / stride"),
    "col_output": ("출력 (HxWxC)", "output (HxWxC)"),
    "col_params": ("파라미터", "parameters"),
    "total": ("합계", "total"),
    # the comparison
    "compare_starting": ("측정을 시작합니다...", "Starting to measure..."),
    "compare_progress": ("{done}/{total}: {name} ({device}) {ms} ms", "{done}/{total}: {name} ({device}) {ms} ms"),
    "compare_done": ("**{total}개 측정 완료** (결과는 저장해 두고 다시 쓰입니다).",
                     "**{total} measurements done** (kept and reused)."),
    "compare_title": ("지연 시간 대 정확도 (원 크기 = 파라미터 수)", "Latency vs accuracy (bubble size = parameters)"),
    "compare_x": ("이미지 1장 처리 시간 (ms, 로그 축, 이 컴퓨터)", "Time per image (ms, log axis, this machine)"),
    "compare_y": ("ImageNet top-1 정확도 (%)", "ImageNet top-1 accuracy (%)"),
    "compare_hover": ("{name}<br>{ms} ms · top-1 {top1}%<br>파라미터 {params}개 · {gflops} GFLOPs",
                      "{name}<br>{ms} ms · top-1 {top1}%<br>{params} parameters · {gflops} GFLOPs"),
    "col_model": ("모델", "model"),
    "col_device": ("장치", "device"),
    "col_params_m": ("파라미터 (백만)", "parameters (M)"),
    "col_gflops": ("GFLOPs @224", "GFLOPs @224"),
    "col_top1": ("ImageNet top-1 (%)", "ImageNet top-1 (%)"),
    "col_latency": ("지연 시간 (ms)", "latency (ms)"),
    # the teacher mode's prediction question (core/teacher.py): the right choice is given in tab.py
    "class_q1": ("224×224 사진이 CNN을 지나갑니다. 마지막 합성곱 단계의 특징 맵 한 장은 몇 칸일까요?",
                 "A 224×224 photo goes through the CNN. How big is one feature map of its last convolution stage?"),
    "class_q1_choices": ("112×112|56×56|28×28|7×7",
                         "112×112|56×56|28×28|7×7"),
})
