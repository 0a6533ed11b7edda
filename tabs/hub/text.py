"""Every word of the Hugging Face lesson, in Korean and English."""
from __future__ import annotations

from core import text

TEXT = text.table("hub", {
    "title": ("11. Hugging Face 허브", "11. The Hugging Face hub"),

    # ---- controls (tab.py)
    "model": ("모델 이름 (허브 저장소, 같은 작업의 다른 모델도 입력 가능)",
              "Model name (a hub repository; another model of the same task may be typed)"),
    "fill_tab": ("빈칸 채우기 (BERT)", "Fill the blank (BERT)"),
    "gen_tab": ("글 이어 쓰기 (GPT)", "Writing on (GPT)"),
    "sentence": ("[MASK]가 들어간 문장", "A sentence with [MASK] in it"),
    "prompt": ("시작 문장", "Start of the text"),
    "top_k": ("후보 수 (top-k)", "Candidates (top-k)"),
    "temperature": ("온도 (낮을수록 뻔한 단어, 높을수록 뜻밖의 단어)",
                    "Temperature (low: the likely word; high: surprises)"),
    "new_tokens": ("새로 쓸 토큰 수", "New tokens to write"),
    "seed": ("시드 (같은 시드 = 같은 글)", "Seed (same seed = same text)"),
    "run_fill": ("빈칸 채우기", "Fill the blank"),
    "run_gen": ("이어 쓰기", "Write on"),
    "examples": ("예시", "Examples"),

    # ---- names of the settings inside notes
    "label_top_k": ("후보 수", "candidates"),
    "label_temperature": ("온도", "temperature"),
    "label_new_tokens": ("새 토큰 수", "new tokens"),
    "label_seed": ("시드", "seed"),

    # ---- bad input
    "not_text": ("글자로 입력해 주세요 (받은 것: {got}).", "Please type text (got {got})."),
    "empty": ("문장이 비어 있습니다. 한국어나 영어 문장을 입력해 주세요.",
              "The sentence is empty. Type a sentence in Korean or English."),
    "too_long": ("문장이 너무 깁니다 ({got}자). {limit}자까지 입력해 주세요.",
                 "The sentence is too long ({got} characters). Please keep it to {limit}."),
    "no_mask": ("문장에 [MASK]가 없습니다. 맞힐 자리에 [MASK]를 한 번 넣어 주세요.",
                "The sentence has no [MASK]. Put [MASK] once where the model should guess a word."),
    "many_masks": ("[MASK]가 {n}번 있습니다. 이 수업에서는 한 번만 넣어 주세요.",
                   "[MASK] appears {n} times. In this lesson, please use it once."),
    "bad_name": ("'{name}'은(는) 모델 이름이 아닙니다. 허브 저장소 이름을 '조직/모델' 모양으로 입력해 주세요 "
                 "(예: {example}).",
                 "'{name}' is not a model name. Type a hub repository as 'organisation/model' (for example {example})."),
    "offline_name": ("'{name}'은(는) 이 컴퓨터에 없고, 서버가 오프라인이라 내려받을 수 없습니다. "
                     "수업 모델 {default}은(는) 바로 쓸 수 있습니다.",
                     "'{name}' is not on this computer, and the server is offline, so it cannot be downloaded. "
                     "The lesson's model {default} works right away."),
    "unreachable_name": ("'{name}'의 정보를 허브에서 받지 못했습니다 ({reason}). 이름을 확인하거나 수업 모델 {default}을(를) "
                         "써 주세요.",
                         "Could not get '{name}' from the hub ({reason}). Check the name or use the lesson's model "
                         "{default}."),
    "too_big": ("'{name}'은(는) 가중치만 {size}라서 이 서버의 메모리 예산({budget})에 들어가지 않습니다. "
                "더 작은 모델을 골라 주세요.",
                "'{name}' has {size} of weights alone: more than this server's memory budget ({budget}). "
                "Please pick a smaller model."),
    "wrong_task": ("'{name}'은(는) 이 작업({task})에 쓸 수 있는 모델이 아닙니다.",
                   "'{name}' is not a model for this task ({task})."),

    # ---- facts and the pipeline line (view.py)
    "pipeline": ("Colab에서 같은 답을 얻는 한 줄:", "The one line that gives the same answer in Colab:"),
    "facts": ("**{repo}** · 매개변수 {params}개 · 디스크 {disk} · 라이선스 {licence} · 저장 위치 `{folder}`",
              "**{repo}** · {params} parameters · {disk} on disk · licence {licence} · cached in `{folder}`"),
    "facts_tiny": ("**{repo}** (시험용: 같은 구조의 작은 무작위 모델) · 매개변수 {params}개 · 가중치 {disk} (메모리에만 있음)",
                   "**{repo}** (test stand-in: a tiny random model of the same architecture) · {params} parameters · "
                   "{disk} of weights (in memory only)"),
    "unknown": ("알 수 없음", "unknown"),
    "random_note": ("지금 모델은 가중치가 무작위인 시험용이라 답에 뜻이 없습니다. 실제 가중치는 인터넷이 될 때 "
                    "`python app.py --prefetch {spec}`로 한 번 받아 둡니다.",
                    "This is a test model with random weights: its answers mean nothing. Get the real weights once "
                    "while online with `python app.py --prefetch {spec}`."),

    # ---- fill-mask
    "fig_fill": ("[MASK] 자리에 올 단어 top-{k}", "Top {k} words for the [MASK]"),
    "fill_tokens": ("토크나이저가 자른 조각 {n}개 (빈칸 = `{mask}`): {chips}",
                    "The tokenizer's {n} pieces (the blank = `{mask}`): {chips}"),
    "fill_best": ("가장 그럴듯한 문장: **{sequence}** ({p})", "Most likely sentence: **{sequence}** ({p})"),

    # ---- text generation
    "fig_next": ("다음 토큰 확률 top-{k} (온도 {t})", "Next-token probabilities, top {k} (temperature {t})"),
    "fig_steps": ("토큰마다 고른 것의 확률", "Probability of each chosen token"),
    "axis_step": ("쓴 순서", "step"),
    "gen_prompt_tokens": ("시작 문장의 토큰 {n}개: {chips}", "The prompt's {n} tokens: {chips}"),
    "gen_written": ("새로 쓴 토큰 {n}개 (하나씩, 고른 후보 중 확률): {chips}",
                    "{n} new tokens (one at a time, with the chosen candidate's probability): {chips}"),
    "gen_text": ("완성된 글: **{text}**", "The text: **{text}**"),
    "gen_sum": ("다음 토큰 확률을 어휘 {vocab}개 전체에 대해 더하면 {total}입니다.",
                "The next-token probabilities over the whole vocabulary of {vocab} add up to {total}."),
    "gen_stopped": ("모델이 글의 끝 토큰을 골라 {n}개에서 멈췄습니다.", "The model chose its end token and stopped after {n}."),
    # the teacher mode's prediction question (core/teacher.py): the right choice is given in tab.py
    "class_q1": ("fill-mask의 BERT는 [MASK] 자리의 단어를 어느 쪽 단어를 읽고 맞힐까요?",
                 "Fill-mask's BERT guesses the word at [MASK]: from which words?"),
    "class_q1_choices": ("앞 단어만|뒤 단어만|앞뒤 단어 모두|읽지 않고 아무렇게나",
                         "only the words before it|only the words after it|the words on both sides|"
                         "none: it guesses at random"),
})
