"""Every word of the Hugging Face lesson's CLIP row (zero-shot image classification), in Korean and English."""
from __future__ import annotations

from core import text

TEXT = text.table("hub_clip", {
    # ---- controls (tab.py)
    "tab": ("사진에 이름표 붙이기 (CLIP)", "Labels for a photo (CLIP)"),
    "image": ("사진 (올리기, 웹캠, 붙여넣기)", "Photo (upload, webcam, paste)"),
    "labels": ("이름표 (쉼표로 구분, 2개 이상)", "Labels (comma-separated, two or more)"),
    "labels_info": ("예: 고양이, 강아지, 자동차 (한국어 이름표는 한국어를 읽는 CLIP으로: Bingsu/clip-vit-base-patch32-ko)",
                    "e.g. a cat, a dog, a car (Korean labels need a CLIP that reads Korean, such as "
                    "Bingsu/clip-vit-base-patch32-ko)"),
    "template": ("문장 틀 ({}에 이름표가 들어갑니다)", "Prompt template (each label goes into the {})"),
    "run": ("이름표 고르기", "Pick the label"),
    "examples": ("예시", "Examples"),

    # ---- names of the settings inside notes
    "label_template": ("문장 틀", "prompt template"),

    # ---- bad input
    "not_text": ("이름표는 글자로 입력해 주세요 (받은 것: {got}).", "Please type the labels as text (got {got})."),
    "no_labels": ("이름표가 없습니다. 사진에 붙일 이름표를 쉼표로 구분해 두 개 이상 입력해 주세요 (예: 고양이, 강아지).",
                  "There are no labels. Type two or more labels for the photo, separated by commas "
                  "(e.g. a cat, a dog)."),
    "one_label": ("이름표가 하나뿐입니다 ('{label}'). 소프트맥스는 후보끼리 비교하므로 하나면 언제나 100%입니다. "
                  "두 개 이상 입력해 주세요.",
                  "There is only one label ('{label}'). The softmax compares the candidates, so one alone is "
                  "always 100%. Please type two or more."),
    "too_many_labels": ("이름표가 {got}개입니다. 한 번에 {limit}개까지 입력해 주세요.",
                        "There are {got} labels. Please type at most {limit} at a time."),
    "label_too_long": ("이름표 '{label}'이(가) 너무 깁니다 ({got}자). 이름표 하나는 {limit}자까지 입력해 주세요.",
                       "The label '{label}' is too long ({got} characters). Keep each label to {limit}."),
    "labels_text_too_long": ("입력이 너무 깁니다 ({got}자). 이름표 전체를 {limit}자까지 입력해 주세요.",
                             "The labels are too long ({got} characters). Please keep them to {limit} in all."),
    "too_many_tokens": ("'{prompt}'은(는) 토큰 {got}개라서 이 모델이 읽을 수 있는 {limit}개를 넘습니다. "
                        "이름표를 더 짧게 써 주세요.",
                        "'{prompt}' is {got} tokens: more than the {limit} this model reads. Please shorten the label."),
    "not_zero_shot": ("'{name}'은(는) 사진과 글을 함께 읽는 모델(이미지 처리기와 토크나이저)이 아닙니다.",
                      "'{name}' is not a model that reads pictures and text together (an image processor and a "
                      "tokenizer)."),

    # ---- notes
    "duplicates": ("같은 이름표가 두 번 있어 한 번만 썼습니다: {labels}", "Labels typed twice were used once: {labels}"),
    "english_model": ("{repo}은(는) 영어 설명으로 학습한 모델이라 한국어 이름표의 답은 믿기 어렵습니다. 영어 이름표를 쓰거나, "
                      "모델 이름에 한국어 CLIP(예: Bingsu/clip-vit-base-patch32-ko)을 입력해 보세요.",
                      "{repo} learnt from English captions, so its answers for Korean labels are unreliable. Use "
                      "English labels, or type a Korean CLIP (e.g. Bingsu/clip-vit-base-patch32-ko) as the model name."),
    "template_korean": ("이름표는 한국어인데 문장 틀은 영어입니다. 문장 틀 '{better}'을(를) 골라 보세요.",
                        "The labels are Korean but the template is English. Try the template '{better}'."),
    "template_english": ("이름표는 영어인데 문장 틀은 한국어입니다. 문장 틀 '{better}'을(를) 골라 보세요.",
                         "The labels are English but the template is Korean. Try the template '{better}'."),

    # ---- the answer (view_clip.py)
    "fig_probs": ("이름표별 확률 (소프트맥스)", "Probability of each label (softmax)"),
    "fig_probs_sigmoid": ("이름표별 확률 (시그모이드, 이름표마다 따로)", "Probability of each label (sigmoid, each on its own)"),
    "best": ("가장 잘 맞는 이름표: **{label}** ({p})", "Best label: **{label}** ({p})"),
    "how": ("사진 한 장과 문장 {n}개를 각각 {dim}개의 숫자(임베딩)로 바꾸고, 길이를 1로 맞춘 뒤 "
            "코사인 유사도를 잽니다. 유사도에 로짓 배율 **{scale}**을 곱한 값(로짓)을 소프트맥스에 넣으면 확률입니다.",
            "The photo and the {n} sentences each become {dim} numbers (embeddings), scaled to length 1; their "
            "cosine similarity, times the logit scale **{scale}**, is the logit, and a softmax of the logits gives "
            "the probabilities."),
    "how_sigmoid": ("사진 한 장과 문장 {n}개를 각각 {dim}개의 숫자(임베딩)로 바꾸고 코사인 유사도를 잽니다. "
                    "유사도에 로짓 배율 **{scale}**을 곱하고 편향 **{bias}**를 더한 값(로짓)을 이름표마다 따로 시그모이드에 "
                    "넣으면 확률입니다 (SigLIP: 확률의 합이 1이 아닙니다).",
                    "The photo and the {n} sentences each become {dim} numbers (embeddings); their cosine similarity, "
                    "times the logit scale **{scale}**, plus the bias **{bias}**, is the logit, and a sigmoid of each "
                    "logit on its own gives its probability (SigLIP: they need not add up to 1)."),
    "template_used": ("쓴 문장 틀: `{template}`", "Prompt template used: `{template}`"),
    "col_label": ("이름표", "label"),
    "col_prompt": ("모델이 읽은 문장", "sentence the model read"),
    "col_tokens": ("토큰 수", "tokens"),
    "col_similarity": ("코사인 유사도", "cosine similarity"),
    "col_logit": ("로짓", "logit"),
    "col_probability": ("확률", "probability"),
    "picture": ("모델이 본 사진: {width}x{height} 픽셀 ({patches}개 조각)", "The picture the model saw: {width}x{height} "
                "pixels ({patches} patches)"),
    "call": ("같은 답을 주는 호출:", "The call that gives the same answer:"),
})
