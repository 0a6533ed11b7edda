"""Row 3 of the hub's table, translation: an encoder-decoder writes English from Korean.

The encoder reads the whole Korean sentence once (the tokenizer's SentencePiece pieces, '</s>' at the end).
The decoder then writes the English one token at a time: it starts from its start token, looks at the
encoder's output and at the tokens written so far, and gives every token of its vocabulary a probability.
Greedy decoding (1 beam) takes the most likely token each time. Beam search keeps the `beams` best partial
translations, ranked by the sum of their tokens' log-probabilities; a translation that writes the end token is
complete, scored by that sum divided by its length; the best complete one wins. The rules are the model's own
(its generation_config.json): <pad> is never written, the end token is forced at the length limit, and with
`renormalize_logits` the probabilities are over the tokens allowed.

transformers 5 removed the translation pipeline (`pipeline("translation")` raises KeyError: its migration guide
sends translation to chat models); that pipeline was `model.generate(**tokenizer(text))` and a decode of the
ids, with the model's generation config (opus-mt-ko-en: beam search of 6). The decoding is written out here, and
tests/test_hub_translation.py compares it with `generate` on the same model and input: the same tokens, the
same probabilities (`compute_transition_scores`) and the same score.
"""
from __future__ import annotations

import dataclasses
import math
import re

import torch

from core import values
from core.zoo import hub_translation as zoo_translation
from tabs.hub import compute
from tabs.hub.text_translation import TEXT

TASK = zoo_translation.TASK
EXAMPLE = "딥러닝은 데이터에서 패턴을 배웁니다."
EXAMPLES = [EXAMPLE, "오늘 수업에서 트랜스포머를 배웠어요.", "번역 모델은 한 번에 한 토큰씩 문장을 씁니다."]
# The most tokens the decoder writes. A trained model ends a sentence long before (a 300-character Korean
# sentence is well under 200 English tokens); only a model that never writes its end token reaches it.
NEW_TOKENS_LIMIT = 200
SENTINEL = -1.0e9  # transformers' "never": a score no real candidate reaches
HANGUL = re.compile("[\uac00-\ud7a3]")
# transformers' values for the generation-config entries a model leaves unset (applied by `generate`)
UNSET_DEFAULTS = {"length_penalty": 1.0, "early_stopping": False, "min_length": 0, "no_repeat_ngram_size": 0,
                  "renormalize_logits": False}
# generation-config entries this decoder does not follow (their value when unused): a model that sets one gets a note
NOT_FOLLOWED = {"do_sample": False, "repetition_penalty": 1.0, "encoder_no_repeat_ngram_size": 0,
                "min_new_tokens": None, "suppress_tokens": None, "begin_suppress_tokens": None,
                "sequence_bias": None, "exponential_decay_length_penalty": None, "num_beam_groups": 1}

SETTINGS = values.settings(
    values.Setting("beams", TEXT.msg("label_beams"), default=zoo_translation.REAL_GENERATION["num_beams"],
                   low=1, high=8, integer=True),
)


@dataclasses.dataclass
class Step:
    token_id: int
    token: str  # the tokenizer's own piece
    probability: float  # of the chosen token at this step, among the tokens allowed
    first_choice: str  # the decoder's most likely token at this step (after the same tokens)
    first_probability: float


@dataclasses.dataclass
class Finished:
    """A complete translation beam search found (greedy: the one)."""

    token_ids: list[int]  # the decoder's tokens, start token first, end token last (when it wrote one)
    text: str
    log_prob: float  # the sum of its tokens' log-probabilities
    score: float  # log_prob / (number of tokens written) ** length_penalty


@dataclasses.dataclass
class TranslateResult:
    facts: compute.Facts
    sentence: str
    source_tokens: list[str]  # the tokenizer's pieces of the sentence, '</s>' included
    source_ids: list[int]
    steps: list[Step]  # the chosen translation, token by token
    output_ids: list[int]  # what `generate` returns: start token, the tokens, end token
    translation: str
    beams: int
    model_beams: int  # the model's own choice (its generation config): what `generate` does unless told
    finished: list[Finished]  # best first
    stopped: bool  # it wrote its end token by itself (False: it reached the limit, where the end token is forced)
    limit: int
    length_penalty: float
    notes: list


@dataclasses.dataclass
class _Hypothesis:
    tokens: list[int]
    history: list[tuple[int, float, int, float]]  # per step: (token, log-prob, first choice, its log-prob)


class _Decoder:
    """The model's decoder for one sentence: the encoder's output (for `rows` hypotheses at once), its cache,
    and the rules of the model's generation config."""

    def __init__(self, model, hidden, mask, rows: int, max_length: int, notes: list):
        from transformers.modeling_outputs import BaseModelOutput

        self.model, self.cache = model, None
        self.encoded = BaseModelOutput(last_hidden_state=hidden.repeat_interleave(rows, 0))
        self.mask = mask.repeat_interleave(rows, 0)
        config = model.generation_config
        self.eos = _as_list(config.eos_token_id if config.eos_token_id is not None else model.config.eos_token_id)
        self.rules = _rules(config, self.eos, max_length)
        unfollowed = [k for k, unused in NOT_FOLLOWED.items() if getattr(config, k, unused) not in (unused, None)]
        if unfollowed:
            notes.append(TEXT.msg("unfollowed", names=", ".join(unfollowed)))

    def scores(self, sequences: torch.Tensor, fresh: torch.Tensor) -> torch.Tensor:
        """The next-token scores of each row (float32), the model's rules applied."""
        with torch.inference_mode():
            out = self.model(encoder_outputs=self.encoded, attention_mask=self.mask, decoder_input_ids=fresh,
                             past_key_values=self.cache, use_cache=True)
        self.cache = out.past_key_values
        return out.logits[:, -1, :].to(dtype=torch.float32)

    def reorder(self, rows: torch.Tensor) -> None:
        self.cache.reorder_cache(rows)


def _setting(config, name: str):
    """A generation-config entry as `generate` uses it: the model's value, else transformers' default."""
    value = getattr(config, name, None)
    return UNSET_DEFAULTS[name] if value is None else value


def _as_list(ids) -> list[int]:
    return [int(i) for i in ids] if isinstance(ids, (list, tuple)) else [int(ids)]


def _rules(config, eos: list[int], max_length: int):
    """The logits processors `generate` builds from these generation-config entries, in its order."""
    from transformers import (ForcedBOSTokenLogitsProcessor, ForcedEOSTokenLogitsProcessor, LogitNormalization,
                              LogitsProcessorList, MinLengthLogitsProcessor, NoBadWordsLogitsProcessor,
                              NoRepeatNGramLogitsProcessor)

    rules = LogitsProcessorList()
    if _setting(config, "no_repeat_ngram_size") > 0:
        rules.append(NoRepeatNGramLogitsProcessor(config.no_repeat_ngram_size))
    if config.bad_words_ids is not None:
        rules.append(NoBadWordsLogitsProcessor(config.bad_words_ids, eos))
    if _setting(config, "min_length") > 0:
        rules.append(MinLengthLogitsProcessor(config.min_length, eos))
    if config.forced_bos_token_id is not None:
        rules.append(ForcedBOSTokenLogitsProcessor(config.forced_bos_token_id))
    if config.forced_eos_token_id is not None:
        rules.append(ForcedEOSTokenLogitsProcessor(max_length, config.forced_eos_token_id))
    if _setting(config, "renormalize_logits") is True:
        rules.append(LogitNormalization())  # always last
    return rules


def _greedy(decoder: _Decoder, start: int, limit: int) -> list[tuple[float, float, _Hypothesis]]:
    """The most likely token each time, until the end token or the limit."""
    sequence = torch.tensor([[start]], device=decoder.mask.device)
    history = []
    for _ in range(limit):
        scores = decoder.rules(sequence, decoder.scores(sequence, sequence[:, -1:]))
        log_probs = scores.log_softmax(-1)[0]
        chosen = int(scores[0].argmax())
        history.append((chosen, float(log_probs[chosen]), chosen, float(log_probs[chosen])))
        sequence = torch.cat([sequence, sequence.new_tensor([[chosen]])], dim=1)
        if chosen in decoder.eos:
            break
    log_prob = sum(h[1] for h in history)
    return [(log_prob, log_prob, _Hypothesis(sequence[0].tolist(), history))]


class _FinishedList:
    """Beam search's complete translations: `beams` slots, best first, each (log_prob, hypothesis) with its
    score; a slot not yet filled scores SENTINEL (transformers' `_update_finished_beams`, one sentence)."""

    def __init__(self, beams: int, device):
        self.items: list = [None] * beams
        self.scores = torch.full((1, beams), SENTINEL, device=device)
        self.done = torch.zeros((1, beams), dtype=torch.bool, device=device)

    def offer(self, top_scores, ends, grown, length: int, length_penalty: float, closed: bool) -> None:
        """The top `beams` continuations that ended join the list when they beat what is there; none joins
        once the list is `closed`."""
        beams, keep = self.scores.shape[1], top_scores.shape[1]
        just_done = ends & (torch.arange(keep, device=ends.device) < beams)[None]
        candidate = top_scores / (length ** length_penalty)  # `length` tokens written, the end token included
        candidate += float(closed) * SENTINEL
        candidate += (~just_done) * SENTINEL
        merged_scores = torch.cat([self.scores, candidate], dim=1)
        order = merged_scores.topk(beams)[1][0].tolist()
        merged = self.items + [(float(top_scores[0, j]), grown(j)) if just_done[0, j] else None for j in range(keep)]
        self.items = [merged[i] for i in order]
        self.scores = merged_scores[:, order]
        self.done = torch.cat([self.done, just_done], dim=1)[:, order]

    def beaten_by(self, best_possible: torch.Tensor) -> bool:
        """Whether a running beam could still beat a finished one (any slot still empty: yes)."""
        worst = torch.where(self.done, self.scores.min(dim=1, keepdim=True)[0], SENTINEL)
        return bool((best_possible > worst).any())

    def best_first(self) -> list[tuple[float, float, _Hypothesis]]:
        return [(self.items[i][0], float(self.scores[0, i]), self.items[i][1])
                for i in range(self.scores.shape[1]) if bool(self.done[0, i])]


def _beam_search(decoder: _Decoder, start: int, beams: int, limit: int, length_penalty: float,
                 early_stopping) -> list[tuple[float, float, _Hypothesis]]:
    """Beam search as transformers runs it (generation/utils.py `_beam_search`, one sentence): each step the
    2 x beams best continuations of all beams; those that end (end token, or the limit) may join the finished
    list (score / length ** length_penalty), the others become the next beams; it stops when no beam can
    beat the finished ones any more. Returns the finished (log_prob, score, hypothesis), best first."""
    max_length, keep = 1 + limit, max(2, 1 + len(decoder.eos)) * beams
    device = decoder.mask.device
    running = [_Hypothesis([start], []) for _ in range(beams)]
    running_scores = torch.zeros((1, beams), device=device)
    running_scores[:, 1:] = SENTINEL  # only the first beam starts: the others would repeat it
    finished, improvable, length = _FinishedList(beams, device), True, 1
    while True:
        # every continuation of every beam, by the beam's score plus the token's log-probability
        sequences = torch.tensor([h.tokens for h in running], device=device)
        log_probs = decoder.rules(sequences, decoder.scores(sequences, sequences[:, -1:]).log_softmax(-1))
        first_scores, first_ids = log_probs.max(-1)
        vocab = log_probs.shape[-1]
        top_scores, top_index = (log_probs[None] + running_scores[:, :, None]).reshape(1, -1).topk(keep)
        parents, tokens = (top_index // vocab)[0].tolist(), (top_index % vocab)[0].tolist()
        ends = torch.tensor([[t in decoder.eos or length + 1 >= max_length for t in tokens]], device=device)

        def grown(j: int) -> _Hypothesis:
            parent, token = running[parents[j]], tokens[j]
            step = (token, float(log_probs[parents[j], token]), int(first_ids[parents[j]]),
                    float(first_scores[parents[j]]))
            return _Hypothesis(parent.tokens + [token], parent.history + [step])

        # the next beams: the best continuations that did not end
        not_ended = top_scores + ends.to(torch.float32) * SENTINEL
        kept = not_ended.topk(beams)[1][0].tolist()
        full = bool(finished.done.all()) and early_stopping is True
        finished.offer(top_scores, ends, grown, length, length_penalty, closed=full or not improvable)
        running, running_scores = [grown(j) for j in kept], not_ended[:, kept]
        decoder.reorder(torch.tensor([parents[j] for j in kept], device=device))  # the cache follows the beams
        length += 1
        # stop when no running beam can beat the finished list any more (transformers' heuristic)
        best_length = (max_length - 1) if (early_stopping == "never" and length_penalty > 0.0) else (length - 1)
        improvable = improvable and finished.beaten_by(running_scores[:, :1] / (best_length ** length_penalty))
        if not improvable or (bool(finished.done.all()) and early_stopping is True) or bool(ends.all()):
            break
    return finished.best_first() or [(float(running_scores[0, 0]), float(running_scores[0, 0]), running[0])]


def _steps(tokenizer, hypothesis: _Hypothesis) -> list[Step]:
    ids = [h[0] for h in hypothesis.history]
    firsts = [h[2] for h in hypothesis.history]
    pieces, first_pieces = tokenizer.convert_ids_to_tokens(ids), tokenizer.convert_ids_to_tokens(firsts)
    return [Step(token, piece, math.exp(lp), first_piece, math.exp(first_lp))
            for (token, lp, _, first_lp), piece, first_piece in zip(hypothesis.history, pieces, first_pieces)]


def translate_with(bundle, sentence, beams=SETTINGS["beams"].default, limit: int = NEW_TOKENS_LIMIT) -> TranslateResult:
    """Translate `sentence` with an already loaded model (`core.zoo.hub.HubModel`)."""
    notes: list = []
    sentence = compute.read_text(sentence)
    beams = SETTINGS["beams"].take(beams, notes)
    tokenizer, model = bundle.tokenizer, bundle.model
    if bundle.repo == zoo_translation.REPO and not HANGUL.search(sentence):
        notes.append(TEXT.msg("not_korean"))
    encoded = tokenizer(sentence, return_tensors="pt")
    ids, mask = encoded["input_ids"].to(bundle.device), encoded["attention_mask"].to(bundle.device)
    config = model.generation_config
    start = config.decoder_start_token_id if config.decoder_start_token_id is not None else \
        model.config.decoder_start_token_id
    with torch.inference_mode():
        hidden = model.get_encoder()(input_ids=ids, attention_mask=mask, return_dict=True).last_hidden_state
    decoder = _Decoder(model, hidden, mask, beams, 1 + limit, notes)
    length_penalty = float(_setting(config, "length_penalty"))
    if beams == 1:
        found = _greedy(decoder, int(start), limit)
    else:
        found = _beam_search(decoder, int(start), beams, limit, length_penalty, _setting(config, "early_stopping"))
    finished = [Finished(h.tokens, tokenizer.decode(h.tokens, skip_special_tokens=True,
                                                    clean_up_tokenization_spaces=False), log_prob, score)
                for log_prob, score, h in found]
    best = found[0][2]
    return TranslateResult(
        compute.facts_of(bundle), sentence, tokenizer.convert_ids_to_tokens(ids[0].tolist()), ids[0].tolist(),
        _steps(tokenizer, best), best.tokens, finished[0].text, beams, int(config.num_beams or 1), finished,
        bool(best.tokens[-1] in decoder.eos and len(best.history) < limit), limit, length_penalty, notes)


def translate(sentence, beams=SETTINGS["beams"].default, model_name=None) -> TranslateResult:
    """Translate `sentence` with the lesson's model or a typed repository of the same task."""
    compute.read_text(sentence)  # bad input is refused before a model is loaded
    return translate_with(compute.model_for(TASK, model_name), sentence, beams)
