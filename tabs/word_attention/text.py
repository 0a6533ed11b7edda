"""Every word of the word-attention lesson, in Korean and English."""
from __future__ import annotations

from core import text

TEXT = text.table("word_attention", {
    "title": ("5. 단어 사이 어텐션", "5. Attention between words"),

    # ---- controls and headers (tab.py)
    "part1": ("### 1부 · 셀프 어텐션을 손으로 따라가기\n"
              "작은 숫자로 한 단계씩 계산합니다. 칸 안의 숫자를 직접 곱하고 더해 확인해 보세요.",
              "### Part 1 · Self-attention, one step at a time\n"
              "Small numbers, one step after another. Multiply and add the numbers in the cells yourself to check."),
    "part2": ("### 2부 · 진짜 다국어 인코더의 어텐션\n"
              "같은 문장을 사전 학습된 인코더에 넣고, 층과 헤드마다 단어가 어느 단어를 보는지 봅니다. "
              "헤드 뷰에서는 왼쪽 토큰이 오른쪽 토큰을 보는 정도가 선으로 그려집니다: 선이 굵고 진할수록 더 많이 봅니다 "
              "(색 = 헤드). 행렬에서는 행이 보는 토큰, 열이 보이는 토큰이고, 행마다 합이 1입니다.",
              "### Part 2 · A real multilingual encoder\n"
              "The same sentence through a pretrained encoder: which words each word looks at, layer by layer and "
              "head by head. In the head view a line joins a token on the left to each token on the right it looks "
              "at: the thicker and darker the line, the more attention (colour = head). In the matrix a row is the "
              "looking token and a column the looked-at one; every row sums to 1."),
    "sentence": ("문장 (한국어 또는 영어)", "Sentence (Korean or English)"),
    "examples": ("예시 문장", "Example sentences"),
    "d": ("벡터 크기 d (토큰 하나당 숫자 개수)", "Vector size d (numbers per token)"),
    "heads": ("헤드 수 h (d를 나누어떨어지게)", "Number of heads h (must divide d)"),
    "focus": ("풀이를 볼 토큰 번호", "Token number to work through"),
    "run": ("어텐션 계산하기", "Compute attention"),
    "layer": ("층 (layer)", "Layer"),
    "head": ("헤드 (0 = 모든 헤드를 색으로 겹쳐 보기)", "Head (0 = every head, one colour each)"),

    # ---- names of the controls inside notes (core.values.clamp)
    "label_d": ("벡터 크기 d", "vector size d"),
    "label_heads": ("헤드 수", "number of heads"),
    "label_seed": ("시드", "seed"),
    "label_focus": ("풀이할 토큰 번호", "token to work through"),
    "label_layer": ("층", "layer"),
    "label_head": ("헤드", "head"),

    # ---- bad input and notes (compute.py)
    "not_text": ("문장은 글자로 입력해야 합니다 (받은 것: {got}).", "The sentence must be text (got {got})."),
    "empty": ("문장이 비어 있습니다. 한국어나 영어 문장을 입력해 주세요.",
              "The sentence is empty. Type a sentence in Korean or English."),
    "cut_chars": ("문장이 너무 깁니다 ({got}자): 앞의 {limit}자만 씁니다.",
                  "The sentence is too long ({got} characters): using the first {limit}."),
    "no_tokens": ("이 문장에서는 토큰이 하나도 나오지 않습니다. 글자가 들어 있는 문장을 입력해 주세요.",
                  "This sentence gives no tokens at all. Type a sentence with letters in it."),
    "cut_tokens": ("토큰이 {got}개로 너무 많습니다: 앞의 {limit}개만 씁니다.",
                   "{got} tokens are too many: using the first {limit}."),
    "heads_divide": ("헤드 수는 d를 나누어떨어지게 해야 합니다 (d = {d}, 헤드 {wanted}개): 헤드 {used}개로 계산합니다.",
                     "The number of heads must divide d (d = {d}, {wanted} heads asked): using {used} heads."),
    "steps_tiny_tokenizer": ("실제 인코더를 쓸 수 없어서, 1부는 작은 시험용 토크나이저와 임베딩으로 계산했습니다.",
                             "The real encoder is not available, so part 1 used the small test tokenizer and embeddings."),
    "no_attention": ("이 모델은 어텐션 가중치를 돌려주지 않습니다 (어텐션 구현: {impl}). "
                     "가중치를 돌려주는 eager attention 으로 불러온 모델이 필요합니다.",
                     "This model does not return its attention weights (attention implementation: {impl}). "
                     "It must be loaded with eager attention, which hands the weights back."),

    # ---- part 1: figures
    "hover_cell": ("{row} → {col}: {value}", "{row} → {col}: {value}"),
    "dim": ("{i}번째 수", "no. {i}"),
    "dim_head": ("헤드{head}·{i}", "head {head}·{i}"),
    "dim_out": ("출력·{i}", "out·{i}"),
    "fig_vectors": ("2단계 · 토큰 벡터 X와 가중치 행렬 W_q, W_k, W_v",
                    "Step 2 · The token vectors X and the weight matrices W_q, W_k, W_v"),
    "title_x": ("X: 토큰 {n}개 × 숫자 {d}개", "X: {n} tokens × {d} numbers"),
    "title_wq": ("W_q ({d}×{d}, 쿼리용)", "W_q ({d}×{d}, for queries)"),
    "title_wk": ("W_k ({d}×{d}, 키용)", "W_k ({d}×{d}, for keys)"),
    "title_wv": ("W_v ({d}×{d}, 값용)", "W_v ({d}×{d}, for values)"),
    "fig_qkv": ("3단계 · Q = X·W_q, K = X·W_k, V = X·W_v (행 = 토큰)",
                "Step 3 · Q = X·W_q, K = X·W_k, V = X·W_v (one row per token)"),
    "title_q": ("Q (쿼리: 무엇을 찾는가)", "Q (queries: what I look for)"),
    "title_k": ("K (키: 무엇을 가졌는가)", "K (keys: what I offer)"),
    "title_v": ("V (값: 건네줄 내용)", "V (values: what I pass on)"),
    "fig_scores": ("4–5단계 · 점수 QKᵀ/√d 와 행마다 소프트맥스 (행 = 보는 토큰, 열 = 보이는 토큰)",
                   "Steps 4–5 · Scores QKᵀ/√d and their softmax, row by row (row = looking, column = looked at)"),
    "title_scores": ("점수 QKᵀ/√{d} (√{d} = {root})", "Scores QKᵀ/√{d} (√{d} = {root})"),
    "title_softmax": ("소프트맥스 가중치 (행마다 합 = 1)", "Softmax weights (each row sums to 1)"),
    "axis_query": ("보는 토큰 (쿼리)", "Looking token (query)"),
    "axis_key": ("보이는 토큰 (키)", "Looked-at token (key)"),
    "fig_output": ("6단계 · 가중치로 V를 섞으면 토큰마다 새 벡터가 나옵니다",
                   "Step 6 · Mixing V with the weights gives every token a new vector"),
    "title_output": ("출력 = 가중치 × V", "Output = weights × V"),
    "fig_heads": ("7단계 · 멀티 헤드 어텐션: 헤드 {h}개, 헤드마다 따로 소프트맥스",
                  "Step 7 · Multi-head attention: {h} heads, each with its own softmax"),
    "title_head": ("헤드 {head} (숫자 {size}개씩)", "Head {head} ({size} numbers)"),
    "title_concat": ("헤드 {h}개의 출력을 옆으로 이어 붙임 (왼쪽 {d}열) → × W_o = 최종 출력 (오른쪽 {d}열)",
                     "The {h} head outputs side by side (left {d} columns) → × W_o = the final output (right {d} columns)"),

    # ---- part 1: words
    "tokens_md": ("**1단계 · 토큰**: 인코더의 토크나이저가 문장을 조각 {n}개로 잘랐습니다. "
                  "`##`으로 시작하는 조각은 앞 조각에 이어지는 단어의 일부입니다.\n\n{chips}",
                  "**Step 1 · Tokens**: the encoder's tokenizer cut the sentence into {n} pieces. "
                  "A piece starting with `##` continues the word of the piece before it.\n\n{chips}"),
    "explain_source": ("벡터는 {source}의 입력 임베딩(토큰마다 숫자 {hidden}개)을 고정된 무작위 행렬로 d개 숫자로 줄이고 "
                       "크기를 1로 맞춘 것입니다. 실제 모델은 여기에 위치 임베딩도 더하지만, 이 손 계산에서는 뺐습니다. "
                       "가중치 행렬 W_q, W_k, W_v, W_o는 시드로 만든 무작위 값입니다 (학습된 모델에서는 학습으로 정해집니다).",
                       "The vectors are the input embeddings of {source} ({hidden} numbers per token), squeezed to d "
                       "numbers by a fixed random matrix and scaled to size 1. A real model also adds a position "
                       "embedding; this hand calculation leaves it out. The weight matrices W_q, W_k, W_v, W_o are "
                       "random numbers from a seed (a trained model learns them)."),
    "explain_x": ("**2단계 · 토큰 벡터**: {r}번 토큰 '{token}'의 벡터 x = {x} (숫자 {d}개).",
                  "**Step 2 · Token vectors**: token {r} '{token}' is the vector x = {x} ({d} numbers)."),
    "explain_qkv": ("**3단계 · Q, K, V**: 같은 x에 서로 다른 세 행렬을 곱합니다. "
                    "q = x·W_q = {q}, k = x·W_k = {k}, v = x·W_v = {v}. "
                    "쿼리 q는 '내가 찾는 것', 키 k는 '내가 가진 것', 값 v는 '나를 보는 토큰에게 건네줄 내용'입니다 ({r}번 토큰).",
                    "**Step 3 · Q, K, V**: the same x times three different matrices. "
                    "q = x·W_q = {q}, k = x·W_k = {k}, v = x·W_v = {v}. "
                    "The query q says what a token looks for, the key k what it offers, the value v what it passes "
                    "on to the tokens that look at it (token {r})."),
    "explain_scores": ("**4–5단계 · 점수와 소프트맥스**: {r}번 '{token}'의 쿼리를 모든 토큰의 키와 내적하고 √d로 나눈 뒤 "
                       "(d가 클수록 내적이 커지므로 나눠서 크기를 맞춥니다), 소프트맥스로 0과 1 사이의 가중치로 바꿉니다.\n\n"
                       "{terms}\n\n가중치의 합 = {total}",
                       "**Steps 4–5 · Scores and softmax**: the query of token {r} '{token}' is multiplied (dot "
                       "product) with the key of every token and divided by √d (dot products grow with d; dividing "
                       "keeps them in range), then the softmax turns the scores into weights between 0 and 1.\n\n"
                       "{terms}\n\nSum of the weights = {total}"),
    "explain_score_row": ("- {j}번 '{token}': q·k = {dot}, ÷ {root} = {score} → 가중치 {weight}",
                          "- {j} '{token}': q·k = {dot}, ÷ {root} = {score} → weight {weight}"),
    "explain_output": ("**6단계 · 가중합**: 출력 = Σ 가중치 × v = {out}. {r}번 토큰이 가장 많이 본 토큰은 "
                       "{j}번 '{best}' (가중치 {weight})입니다. 중요한 토큰의 값이 더 많이 섞입니다.",
                       "**Step 6 · Weighted sum**: output = Σ weight × v = {out}. Token {r} looks most at "
                       "token {j} '{best}' (weight {weight}): the values of the tokens that matter are mixed in more."),
    "explain_heads": ("**7단계 · 멀티 헤드**: d = {d}개의 숫자를 헤드 {h}개가 {size}개씩 나눠 갖고, 헤드마다 따로 "
                      "점수·소프트맥스·가중합을 계산합니다. {r}번 토큰이 가장 많이 본 토큰: {per_head}. 헤드들의 출력을 "
                      "옆으로 이어 붙이고 W_o를 곱한 것이 최종 출력입니다. 헤드마다 다른 관계를 볼 수 있는 것이 여러 헤드를 "
                      "쓰는 이유입니다.",
                      "**Step 7 · Several heads**: the d = {d} numbers are shared out, {size} to each of {h} heads, "
                      "and every head computes its own scores, softmax and weighted sum. Where token {r} looks most: "
                      "{per_head}. The head outputs are put side by side and multiplied by W_o to give the final "
                      "output. Different heads can pick up different relations: that is why there are several."),
    "explain_head_best": ("헤드 {head} → '{token}' ({weight})", "head {head} → '{token}' ({weight})"),
    "explain_torch": ("검산: 같은 Q, K, V를 PyTorch의 `scaled_dot_product_attention`에 넣은 결과와 "
                      "가장 큰 차이는 {diff}입니다.",
                      "Check: PyTorch's `scaled_dot_product_attention` on the same Q, K, V differs from these "
                      "steps by at most {diff}."),

    # ---- part 2
    "fig_head_view": ("헤드 뷰 · {layer}층 · {head}", "Head view · layer {layer} · {head}"),
    "legend_head": ("헤드 {head}", "head {head}"),
    "all_heads": ("모든 헤드", "every head"),
    "mean_heads": ("헤드 평균", "mean of the heads"),
    "col_from": ("보는 토큰", "looking"),
    "col_to": ("보이는 토큰", "looked at"),
    "hover_top": ("{token} → 가장 많이 보는 토큰: {top}", "{token} → looks most at: {top}"),
    "fig_matrix": ("어텐션 행렬 · {layer}층 · {head}", "Attention matrix · layer {layer} · {head}"),
    "fig_heads_grid": ("{layer}층의 헤드 {heads}개를 나란히 (모두 같은 색 척도)",
                       "The {heads} heads of layer {layer} side by side (one colour scale for all)"),
    "encoder_source": ("모델: {source} · {layers}층 × 헤드 {heads}개 · 토큰 {n}개 (맨 앞 [CLS], 맨 끝 [SEP] 포함)",
                       "Model: {source} · {layers} layers × {heads} heads · {n} tokens ([CLS] first and [SEP] "
                       "last included)"),
    "encoder_random": ("지금 모델은 가중치가 무작위인 작은 시험용 모델이라 어텐션 모양에 뜻이 없습니다. 실제 가중치는 인터넷이 "
                       "될 때 `python app.py --prefetch distilbert_multilingual` 로 한 번 받아 두면 됩니다.",
                       "This is the small test model with random weights: its attention patterns mean nothing. "
                       "Get the real weights once while online with "
                       "`python app.py --prefetch distilbert_multilingual`."),
    "encoder_rows": ("확인: 모든 층과 헤드에서 각 행의 합은 1입니다 (1과의 가장 큰 차이 {worst}).",
                     "Check: every row of every layer and head sums to 1 (largest difference from 1: {worst})."),
    "encoder_unavailable": ("1부의 단계별 계산은 그대로 됩니다. 실제 인코더의 어텐션은 모델을 받은 뒤에 볼 수 있습니다.",
                            "Part 1 works as it is; the real encoder's attention appears once the model is there."),
    "no_encoder": ("실제 인코더를 불러오지 못했습니다", "The real encoder could not be loaded"),
    # The ViT lesson's tab by its title, as its tab shows it (tests/test_word_attention.py checks they agree).
    "vit_title": ("6. ViT 어텐션", "6. ViT attention"),
    "vit_link": ("같은 어텐션이 **{vit}** 탭에도 있습니다: 단어 대신 이미지 패치 사이의 어텐션입니다. "
                 "ViT는 사진을 패치로 잘라 단어처럼 한 줄로 세우고, 똑같이 Q·K·V와 소프트맥스로 패치끼리 서로 봅니다.",
                 "The same attention is in the **{vit}** tab, between image patches instead of words: "
                 "a ViT cuts a photo into patches, lines them up like the words of a sentence, and lets them look "
                 "at each other with the same Q, K, V and softmax."),
    # the teacher mode's prediction question (core/teacher.py): the right choice is given in tab.py
    "class_q1": ("한 단어가 모든 단어에 주는 어텐션 가중치(softmax의 한 줄)를 모두 더하면?",
                 "One word's attention weights over all the words (one row of the softmax): what do they add up to?"),
    "class_q1_choices": ("0|1|단어의 수|d",
                         "0|1|the number of words|d"),
})
