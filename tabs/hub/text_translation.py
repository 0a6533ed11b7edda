"""Every word of the Hugging Face lesson's translation row (an encoder-decoder, Korean to English), in Korean
and English."""
from __future__ import annotations

from core import text

TEXT = text.table("hub_translation", {
    # ---- controls (tab.py)
    "tab": ("번역 (인코더-디코더)", "Translation (encoder-decoder)"),
    "sentence": ("영어로 옮길 한국어 문장", "A Korean sentence to translate into English"),
    "beams": ("빔 수 (1 = 매번 가장 그럴듯한 토큰 하나: 탐욕 탐색)",
              "Beams (1 = the single most likely token each time: greedy)"),
    "run": ("번역하기", "Translate"),
    "examples": ("예시", "Examples"),

    # ---- names of the settings inside notes
    "label_beams": ("빔 수", "beams"),

    # ---- notes
    "not_korean": ("이 모델은 한국어를 영어로 옮기도록 학습했습니다. 문장에 한글이 없어서 번역이 이상할 수 있습니다.",
                   "This model learnt to translate Korean into English. The sentence has no Hangul, so the "
                   "translation may be odd."),
    "unfollowed": ("이 모델의 생성 설정 가운데 {names}은(는) 이 수업의 디코더가 따르지 않습니다. 모델 카드의 "
                   "코드와 답이 다를 수 있습니다.",
                   "This lesson's decoder does not follow the model's generation settings {names}; its answer "
                   "may differ from the model card's code."),

    # ---- the answer (view_translation.py)
    "generate_line": ("transformers 5부터는 translation 파이프라인이 없어졌습니다. 5.x에서 같은 답을 얻는 코드:",
                      "transformers 5 removed the translation pipeline. The same answer with 5.x:"),
    "source_tokens": ("인코더가 한 번에 읽은 조각 {n}개 (`</s>` = 문장 끝): {chips}",
                      "The encoder reads all {n} pieces at once (`</s>` = end of sentence): {chips}"),
    "translation": ("번역: **{text}**", "Translation: **{text}**"),
    "written": ("디코더가 한 토큰씩 쓴 {n}개 (괄호: 그 자리에서 고른 토큰의 확률): {chips}",
                "The decoder wrote {n} tokens, one at a time (in brackets: the chosen token's probability there): "
                "{chips}"),
    "not_first": ("1순위 아님: `{first}` {p}", "not the first choice: `{first}` {p}"),
    "greedy": ("탐욕 탐색: 매 단계 확률이 가장 높은 토큰 하나를 골랐습니다. 문장 전체의 로그 확률 합은 {log_prob}입니다.",
               "Greedy search: each step took the single most likely token. The log-probabilities of the "
               "sentence add up to {log_prob}."),
    "beam": ("빔 탐색 (빔 {beams}개): 매 단계 가장 좋은 부분 번역 {beams}개를 남겨 이어 쓰고, 끝까지 쓴 번역 가운데 "
             "점수(로그 확률의 합 ÷ 길이)가 가장 높은 것을 골랐습니다. 그래서 한 자리에서는 1순위가 아닌 토큰을 고를 "
             "때도 있습니다.",
             "Beam search ({beams} beams): each step it keeps the {beams} best partial translations and writes on; "
             "of the complete ones it takes the best score (the sum of log-probabilities ÷ the length). So at a "
             "single step it may pick a token that is not the first choice."),
    "candidates": ("빔 탐색이 끝까지 쓴 번역 후보", "The complete translations beam search found"),
    "col_rank": ("순위", "rank"),
    "col_text": ("번역", "translation"),
    "col_tokens": ("토큰 수", "tokens"),
    "col_log_prob": ("로그 확률 합", "sum of log-probabilities"),
    "col_score": ("점수", "score"),
    "stopped": ("디코더가 문장 끝 토큰 `</s>`을 써서 {n}개에서 멈췄습니다.",
                "The decoder wrote the end token `</s>` and stopped after {n} tokens."),
    "limit": ("디코더가 끝 토큰을 스스로 쓰지 않아 길이 한도 {limit}개에서 멈췄습니다 (모델 설정에 따라 한도에서는 "
              "끝 토큰을 넣습니다).",
              "The decoder did not write its end token by itself and stopped at the limit of {limit} tokens (at the "
              "limit, the model's settings put the end token in)."),
    "fig_steps": ("디코더가 쓴 토큰마다 그 자리에서의 확률", "Probability of each token the decoder wrote, at its step"),
    "axis_step": ("쓴 순서", "step"),
    "legend_first": ("그 자리의 1순위", "first choice at its step"),
    "legend_other": ("1순위 아님 (문장 전체 점수로 고름)", "not the first choice (picked for the whole sentence)"),
})
