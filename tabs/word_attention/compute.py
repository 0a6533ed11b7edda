"""Attention between the words of a sentence, computed step by step and then read from a real encoder.

Part 1, by hand (small numbers you can check):
  1. the sentence becomes tokens: the encoder's own WordPiece tokenizer cuts it into subword pieces;
  2. each token becomes a vector x_i of d numbers: the encoder's learnt input embedding of that token,
     squeezed to d numbers by a fixed random projection (seeded) and scaled to unit size;
  3. three weight matrices turn every vector into a query, a key and a value: Q = X W_q, K = X W_k, V = X W_v;
  4. scores = Q K^T / sqrt(d): how well token i's query matches token j's key;
  5. softmax along each row: the scores of one token become weights that sum to 1;
  6. output = weights V: every token's new vector is the weighted mean of all the values;
  7. multi-head attention: d is split into h heads of d/h numbers, each head does 4-6 on its own slice
     (its own softmax), and the h outputs are put side by side and mixed by W_o.

Part 2, a real multilingual encoder (DistilBERT, 6 layers x 12 heads) through the shared loader: its
attention weights for every layer and head, (layers, heads, tokens, tokens).

No Gradio, no language: notes are `Message`s, bad input raises `TEXT.problem(...)`.
"""
from __future__ import annotations

import dataclasses
import math
import threading
from collections import OrderedDict

import numpy as np
import torch

from core import models, values
from core.models import ModelUnavailable
from core.text import Message
from core.zoo import text as text_zoo
from tabs.word_attention.text import TEXT

MODEL = text_zoo.ENCODER

# The numbers a student sets in part 1, declared once (the API accepts anything: each is clamped with a note).
# The worked token, the layer and the head have the limits of the sentence and of the encoder: checked when
# the request arrives.
SETTINGS = values.settings(
    values.Setting("d", TEXT.msg("label_d"), default=4, low=2, high=16, integer=True),
    values.Setting("heads", TEXT.msg("label_heads"), default=2, low=1, high=4, integer=True),
    # No control on the page (the API's): the page always uses the default.
    values.Setting("seed", TEXT.msg("label_seed"), default=0, low=0, high=2**31 - 1, integer=True, for_class=False),
)
D_DEFAULT = SETTINGS["d"].default
HEADS_DEFAULT = SETTINGS["heads"].default
MAX_CHARS = 1000  # a sentence longer than this is cut before tokenizing (a paste of a whole page)
MAX_STEP_TOKENS = 16  # the step-by-step part: beyond this the matrices stop being readable
MAX_ENCODER_TOKENS = 64  # the encoder part, [CLS] and [SEP] included

EXAMPLE_KO = "그 동물은 너무 피곤해서 길을 건너지 않았다."
EXAMPLE_EN = "The animal didn't cross the street because it was too tired."


# ---------------------------------------------------------------- input


def read_sentence(sentence) -> tuple[str, list[Message]]:
    """The sentence to use (spaces trimmed, cut to MAX_CHARS) and notes; a Problem for non-text or nothing."""
    if not isinstance(sentence, str):
        raise TEXT.problem("not_text", got=type(sentence).__name__)
    notes: list[Message] = []
    cleaned = sentence.strip()
    if not cleaned:
        raise TEXT.problem("empty")
    if len(cleaned) > MAX_CHARS:
        notes.append(TEXT.msg("cut_chars", got=len(cleaned), limit=MAX_CHARS))
        cleaned = cleaned[:MAX_CHARS]
    return cleaned, notes


@dataclasses.dataclass
class Tokens:
    """The pieces of a sentence as the encoder's tokenizer cuts it ('##' marks a piece that continues a word)."""

    pieces: list[str]
    ids: list[int]
    total: int  # pieces before clamping to the maximum


def tokenize(tokenizer, sentence: str, limit: int, notes: list[Message]) -> Tokens:
    """Subword pieces of `sentence`, at most `limit` of them (a note says when some were left out)."""
    pieces = list(tokenizer.tokenize(sentence))
    if not pieces:  # e.g. only control characters, which BERT's normaliser removes
        raise TEXT.problem("no_tokens")
    total = len(pieces)
    if total > limit:
        notes.append(TEXT.msg("cut_tokens", got=total, limit=limit))
        pieces = pieces[:limit]
    return Tokens(pieces, [int(i) for i in tokenizer.convert_tokens_to_ids(pieces)], total)


def load_encoder(tiny: bool | None = None) -> text_zoo.TextEncoder:
    """The encoder through the shared loader, on the CPU: a 6-layer encoder on a sentence of a few dozen
    tokens takes milliseconds there, and one cached copy then serves both parts of the lesson."""
    return models.get(MODEL, device="cpu", tiny=tiny)


# ---------------------------------------------------------------- part 1: attention by hand


def softmax_rows(scores: np.ndarray) -> np.ndarray:
    """Softmax of every row: exp(s - row max) / sum (subtracting the max changes nothing but avoids overflow)."""
    shifted = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


@dataclasses.dataclass
class HeadSteps:
    """Steps 3-6 of one attention head."""

    q: np.ndarray  # n x d_head
    k: np.ndarray
    v: np.ndarray
    dot: np.ndarray  # n x n, Q K^T before scaling
    scores: np.ndarray  # n x n, Q K^T / sqrt(d_head)
    weights: np.ndarray  # n x n, softmax of each row of scores
    output: np.ndarray  # n x d_head, weights V


def attention_head(q: np.ndarray, k: np.ndarray, v: np.ndarray) -> HeadSteps:
    """Scaled dot-product attention, one step at a time."""
    dot = q @ k.T
    scores = dot / math.sqrt(q.shape[1])
    weights = softmax_rows(scores)
    return HeadSteps(q, k, v, dot, scores, weights, weights @ v)


@dataclasses.dataclass
class MultiHead:
    """Step 7: the heads side by side."""

    heads: list[HeadSteps]  # each on its own d/h columns of Q, K and V
    concat: np.ndarray  # n x d, the head outputs side by side
    w_o: np.ndarray  # d x d
    output: np.ndarray  # n x d, concat W_o


@dataclasses.dataclass
class Steps:
    """Everything part 1 computed, in order."""

    tokens: Tokens
    d: int
    num_heads: int
    seed: int
    focus: int  # the token (row, 0-based) the explanation works through
    embeddings: np.ndarray  # n x hidden, the encoder's input vectors of the tokens
    projection: np.ndarray  # hidden x d, the fixed random projection to d numbers
    x: np.ndarray  # n x d, token vectors
    w_q: np.ndarray  # d x d
    w_k: np.ndarray
    w_v: np.ndarray
    single: HeadSteps  # one head over all d numbers
    multi: MultiHead
    torch_max_diff: float  # largest |difference| of single.output from torch's scaled_dot_product_attention
    encoder_source: str  # where the tokenizer and embeddings came from
    real_weights: bool
    unavailable: ModelUnavailable | None  # the real encoder could not be loaded (its message), tiny one used
    notes: list[Message]


def random_weights(d: int, seed: int) -> dict[str, np.ndarray]:
    """W_q, W_k, W_v, W_o: d x d with entries N(0, 1/d), so a vector of unit size keeps about its size."""
    rng = np.random.default_rng(seed)
    return {name: rng.standard_normal((d, d)) / math.sqrt(d) for name in ("w_q", "w_k", "w_v", "w_o")}


def token_vectors(embeddings: np.ndarray, d: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(x, projection): each embedding times a fixed random hidden x d matrix, then scaled so its d numbers
    have a root-mean-square of 1. The same token always gets the same vector."""
    hidden = embeddings.shape[1]
    projection = np.random.default_rng([seed, hidden]).standard_normal((hidden, d)) / math.sqrt(hidden)
    x = embeddings.astype(np.float64) @ projection
    rms = np.sqrt((x**2).mean(axis=1, keepdims=True))
    return x / np.where(rms > 0, rms, 1.0), projection


def multi_head(q: np.ndarray, k: np.ndarray, v: np.ndarray, num_heads: int, w_o: np.ndarray) -> MultiHead:
    """Split the d columns of Q, K, V into num_heads consecutive slices; attention on each; concat; W_o."""
    size = q.shape[1] // num_heads
    heads = [attention_head(q[:, h * size:(h + 1) * size], k[:, h * size:(h + 1) * size],
                            v[:, h * size:(h + 1) * size]) for h in range(num_heads)]
    concat = np.concatenate([head.output for head in heads], axis=1)
    return MultiHead(heads, concat, w_o, concat @ w_o)


def heads_for(d: int, wanted: int, notes: list[Message]) -> int:
    """The number of heads to use: `wanted` when it divides d, else the largest number below it that does."""
    heads = max(h for h in range(1, wanted + 1) if d % h == 0)
    if heads != wanted:
        notes.append(TEXT.msg("heads_divide", wanted=wanted, d=d, used=heads))
    return heads


def run_steps(sentence, d=D_DEFAULT, heads=HEADS_DEFAULT, focus=1, seed=0, tiny: bool | None = None,
              encoder: text_zoo.TextEncoder | None = None) -> Steps:
    """Part 1 for a typed sentence. `focus` is the 1-based token the explanation works through. The
    tokenizer and embeddings come from the shared loader unless an `encoder` is given (the bench)."""
    sentence, notes = read_sentence(sentence)
    d = SETTINGS["d"].take(d, notes)
    wanted = SETTINGS["heads"].take(heads, notes)
    seed = SETTINGS["seed"].take(seed, notes)
    num_heads = heads_for(d, wanted, notes)

    unavailable = None
    if encoder is None:
        try:
            encoder = load_encoder(tiny)
        except ModelUnavailable as exc:  # the steps need only a tokenizer and embeddings: the test zoo's will do
            unavailable = exc
            encoder = load_encoder(tiny=True)
            notes.append(TEXT.msg("steps_tiny_tokenizer"))

    tokens = tokenize(encoder.tokenizer, sentence, MAX_STEP_TOKENS, notes)
    focus = values.keep(notes)(values.clamp(focus, 1, len(tokens.pieces), 1, TEXT.msg("label_focus"), integer=True))

    embeddings = encoder.word_embeddings(tokens.ids)
    x, projection = token_vectors(embeddings, d, seed)
    w = random_weights(d, seed)
    q, k, v = x @ w["w_q"], x @ w["w_k"], x @ w["w_v"]
    single = attention_head(q, k, v)
    multi = multi_head(q, k, v, num_heads, w["w_o"])

    # The same numbers from PyTorch's fused kernel, so the page can show that the hand-made steps agree.
    as_tensor = lambda a: torch.from_numpy(np.ascontiguousarray(a))[None]  # noqa: E731
    reference = torch.nn.functional.scaled_dot_product_attention(as_tensor(q), as_tensor(k), as_tensor(v))[0]
    torch_max_diff = float(np.abs(reference.numpy() - single.output).max())

    return Steps(tokens, d, num_heads, seed, focus - 1, embeddings, projection, x, w["w_q"], w["w_k"], w["w_v"],
                 single, multi, torch_max_diff, encoder.source, encoder.real_weights, unavailable, notes)


# ---------------------------------------------------------------- part 2: the real encoder's attention


@dataclasses.dataclass
class EncoderAttention:
    """A sentence through the encoder: the attention weights of every layer and head."""

    tokens: list[str]  # [CLS], the pieces, [SEP]
    attentions: np.ndarray  # layers x heads x tokens x tokens; every row sums to 1
    source: str
    real_weights: bool
    notes: list[Message]

    @property
    def num_layers(self) -> int:
        return int(self.attentions.shape[0])

    @property
    def num_heads(self) -> int:
        return int(self.attentions.shape[1])


_CACHE: OrderedDict[tuple, EncoderAttention] = OrderedDict()
_CACHE_LOCK = threading.Lock()
_CACHE_SIZE = 16  # the real encoder on 64 tokens: 6 x 12 x 64 x 64 floats, about 1.2 MB an entry


def encoder_attention(sentence: str, encoder: text_zoo.TextEncoder, use_cache: bool = True) -> EncoderAttention:
    """The encoder's own attention weights (eager attention, output_attentions=True) for the sentence,
    kept for the next question about the same sentence (another layer or head)."""
    sentence, notes = read_sentence(sentence)
    key = (id(encoder.model), encoder.source, sentence)
    if use_cache:
        with _CACHE_LOCK:
            if key in _CACHE:
                _CACHE.move_to_end(key)
                return _CACHE[key]
    limit = min(MAX_ENCODER_TOKENS, encoder.max_positions) - 2  # room for [CLS] and [SEP]
    tokens = tokenize(encoder.tokenizer, sentence, limit, notes)
    tokenizer = encoder.tokenizer
    ids = [tokenizer.cls_token_id, *tokens.ids, tokenizer.sep_token_id]
    with torch.inference_mode():
        out = encoder.model(input_ids=torch.tensor([ids], device=encoder.device), output_attentions=True)
    attentions = getattr(out, "attentions", None)
    if not attentions or any(a is None for a in attentions):
        raise TEXT.problem("no_attention", impl=encoder.attn_implementation)
    stacked = torch.stack([a[0] for a in attentions]).float().cpu().numpy()
    result = EncoderAttention([tokenizer.cls_token, *tokens.pieces, tokenizer.sep_token], stacked,
                              encoder.source, encoder.real_weights, notes)
    if use_cache:
        with _CACHE_LOCK:
            _CACHE[key] = result
            while len(_CACHE) > _CACHE_SIZE:
                _CACHE.popitem(last=False)
    return result


@dataclasses.dataclass
class EncoderRun:
    """Part 2 as the page asks for it: the attention, the layer and head to draw, or why there is none."""

    attention: EncoderAttention | None
    layer: int  # 0-based
    head: int | None  # 0-based, or None for every head of the layer at once
    unavailable: ModelUnavailable | None
    notes: list[Message]


def run_encoder(sentence, layer=1, head=0, tiny: bool | None = None, encoder: text_zoo.TextEncoder | None = None,
                use_cache: bool = True) -> EncoderRun:
    """Part 2 for a typed sentence. `layer` is 1-based; `head` is 1-based, 0 meaning every head at once.
    A model that cannot be loaded is not an error here: the run carries the loader's message."""
    sentence, _ = read_sentence(sentence)  # bad input is a Problem before any model is loaded
    if encoder is None:
        try:
            encoder = load_encoder(tiny)
        except ModelUnavailable as exc:
            return EncoderRun(None, 0, None, exc, [])
    attention = encoder_attention(sentence, encoder, use_cache=use_cache)
    notes = list(attention.notes)
    take = values.keep(notes)
    layer = take(values.clamp(layer, 1, attention.num_layers, 1, TEXT.msg("label_layer"), integer=True))
    head = take(values.clamp(head, 0, attention.num_heads, 0, TEXT.msg("label_head"), integer=True))
    return EncoderRun(attention, layer - 1, None if head == 0 else head - 1, None, notes)
