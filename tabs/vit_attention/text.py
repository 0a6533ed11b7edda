"""Every word of the ViT-attention lesson, in Korean and English."""
from core import text

TEXT = text.table("vit_attention", {
    # ---- the tab (static labels, translated in the browser)
    "title": ("6. ViT 어텐션", "6. ViT attention"),
    "image": ("사진", "Photo"),
    "model": ("ViT 모델", "ViT model"),
    "run": ("패치로 나누고 어텐션 보기", "Split into patches and show attention"),
    "examples": ("예시 사진", "Example photos"),
    "patches": ("### 1. 패치로 자른 입력 (패치를 클릭하면 그 패치를 고릅니다)",
                "### 1. The input cut into patches (click a patch to choose it)"),
    "strip": ("### 2. 한 줄로 펼친 패치: 맨 앞에 [CLS] 토큰, 그 뒤로 패치 0, 1, 2, ...",
              "### 2. The patches flattened into one sequence: [CLS] first, then patch 0, 1, 2, ..."),
    "pos_header": ("### 3. 위치 임베딩", "### 3. Position embeddings"),
    "pos_one": ("고른 패치의 위치 임베딩과 모든 위치의 코사인 유사도 (보라 -1 … 노랑 +1)",
                "Cosine similarity of the chosen patch's position embedding to every position "
                "(purple -1 … yellow +1)"),
    "pos_all": ("모든 패치의 유사도 지도 (작은 그림 하나 = 패치 하나)",
                "The similarity map of every patch (one small picture = one patch)"),
    "attn_header": ("### 4. 어텐션: 어디를 보는가", "### 4. Attention: where does it look?"),
    "layer": ("층 (layer)", "Layer"),
    "head": ("헤드 (head)", "Head"),
    "patch": ("고른 패치 번호", "Chosen patch number"),
    "cls_attn": ("[CLS] 토큰이 각 패치를 보는 정도", "How much the [CLS] token attends to each patch"),
    "rollout": ("어텐션 롤아웃 (1층부터 고른 층까지 누적)", "Attention rollout (layers 1 to the chosen one)"),
    "patch_attn": ("고른 패치(노란 칸)가 보는 곳 (사진을 클릭해 바꾸기)",
                   "Where the chosen patch (yellow) attends (click the photo to change it)"),
    "heads": ("이 층의 모든 헤드가 본 [CLS] 어텐션 (번호 없는 첫 그림: 헤드 평균, 번호: 그 헤드)",
              "[CLS] attention of every head of this layer (first, unnumbered: the mean of the heads; "
              "numbered: that head)"),
    "pred_header": ("### 5. 예측: Transformer 와 CNN 비교", "### 5. Prediction: Transformer versus CNN"),
    "top5": ("ViT 상위 5개 예측", "ViT top-5 predictions"),
    "gradcam": ("같은 사진에 대한 CNN의 Grad-CAM", "The CNN's Grad-CAM for the same photo"),
    "cnn_top": ("CNN 상위 5개 예측", "CNN top-5 predictions"),

    # ---- the head picker
    "head_mean": ("헤드 평균", "Mean of the heads"),

    # ---- the numbers of the ViT pipeline (view.info_markdown)
    "weights_real": ("진짜 가중치, {source}", "real weights, {source}"),
    "weights_random": ("무작위 가중치: 테스트용", "random weights: test zoo"),
    "pipeline": (
        "**{name}** ({weights})\n\n"
        "- 입력 {iw}×{ih} 픽셀 → {pw}×{ph} 패치 {cols}×{rows} = **{n}개**\n"
        "- 패치 하나 = {pw}×{ph}×3 = {numbers}개 숫자 → 선형 투영(Linear Projection) → {d}차원 벡터\n"
        "- 맨 앞에 [CLS] 토큰을 붙여 **{tokens}개 토큰**, 각 토큰에 위치 임베딩({tokens}×{d})을 더함\n"
        "- Transformer 인코더 {layers}층 × 헤드 {heads}개: 층마다 헤드마다 {tokens}×{tokens} 어텐션 행렬",
        "**{name}** ({weights})\n\n"
        "- input {iw}×{ih} pixels → {pw}×{ph} patches, {cols}×{rows} = **{n} patches**\n"
        "- one patch = {pw}×{ph}×3 = {numbers} numbers → linear projection → a {d}-dimensional vector\n"
        "- a [CLS] token in front makes **{tokens} tokens**; each gets a position embedding added ({tokens}×{d})\n"
        "- Transformer encoder: {layers} layers × {heads} heads, each a {tokens}×{tokens} attention matrix",
    ),
    "extra_prefix": ("(이 모델은 [CLS] 말고도 {extra}개의 특별한 토큰을 패치 앞에 둡니다.)",
                     "(This model puts {extra} more special token(s) besides [CLS] before the patches.)"),

    # ---- prediction (view.top5_figure) and the CNN beside it
    "top5_title": ("{model}: 상위 5개", "{model}: top 5"),
    "cnn_which": ("CNN: **{which}**, 가장 높은 클래스의 Grad-CAM", "CNN: **{which}**, Grad-CAM of its top class"),

    # ---- bad input and models that cannot show attention
    "unknown_model": ("ViT 모델은 {names} 중에서 골라 주세요 (받은 값: {got}).",
                      "Choose a ViT model among {names} (got {got})."),
    "no_attention_title": ("어텐션 없음", "No attention weights"),
    "no_attention": (
        "모델 '{name}'이(가) 어텐션 가중치를 내보내지 않습니다 (attention 구현: {impl}). SDPA·flash 같은 빠른 "
        "구현은 가중치를 계산만 하고 돌려주지 않으므로, eager attention 으로 불러온 모델이 필요합니다.",
        "Model '{name}' does not return its attention weights (attention implementation: {impl}). Fast kernels "
        "such as SDPA or flash compute the weights without handing them back, so the model must be loaded with "
        "eager attention.",
    ),
    # the teacher mode's prediction question (core/teacher.py): the right choice is given in tab.py
    "class_q1": ("ViT는 224×224 사진을 16×16 패치로 자릅니다. 트랜스포머에 들어가는 토큰은 몇 개일까요?",
                 "The ViT cuts a 224×224 photo into 16×16 patches. How many tokens go into the transformer?"),
    "class_q1_choices": ("196|197|224|256",
                         "196|197|224|256"),
})
