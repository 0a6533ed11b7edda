"""Row 1 of the hub's table, BERT: fill the blank. The sentence's [MASK] is the one token the model guesses;
its output at that position, through a softmax over the whole vocabulary, is the probability of every word.
The same steps as `transformers.pipeline("fill-mask")`, written out (tests/test_hub_lesson.py compares)."""
from __future__ import annotations

import dataclasses

import torch

from tabs.hub import compute
from tabs.hub.text import TEXT

TASK = "fill-mask"
EXAMPLE = "서울은 한국의 [MASK]입니다."
EXAMPLES = [EXAMPLE, "The capital of Korea is [MASK].", "오늘은 [MASK]를 먹었다."]
MASK = "[MASK]"


@dataclasses.dataclass
class Candidate:
    token_id: int
    token: str  # the tokenizer's decoding of the one token
    probability: float
    sequence: str  # the sentence with the blank filled, as the tokenizer decodes it


@dataclasses.dataclass
class FillResult:
    facts: compute.Facts
    tokens: list[str]  # the tokenizer's pieces of the input, special tokens included
    mask_token: str
    candidates: list[Candidate]
    total: float  # the softmax over the whole vocabulary, summed
    notes: list


def _with_model_mask(sentence: str, tokenizer) -> str:
    """The student's [MASK] written as this model's mask token (RoBERTa-like models use <mask>)."""
    mask = tokenizer.mask_token
    return sentence if mask == MASK else sentence.replace(MASK, mask)


def _read(sentence, top_k, notes: list) -> tuple[str, int]:
    sentence = compute.read_text(sentence)
    k = compute.take_settings(notes, top_k=top_k)["top_k"]
    if MASK not in sentence:
        raise TEXT.problem("no_mask")
    if sentence.count(MASK) > 1:
        raise TEXT.problem("many_masks", n=sentence.count(MASK))
    return sentence, k


def fill(sentence, top_k=5, model_name=None) -> FillResult:
    """Fill the [MASK] with the model named `model_name` (the lesson's when empty), loaded through the loader."""
    notes: list = []
    sentence, k = _read(sentence, top_k, notes)
    return _fill(compute.model_for(TASK, model_name), sentence, k, notes)


def fill_with(bundle, sentence, top_k=5) -> FillResult:
    """The same with a model already loaded (the bench: the real architecture, random weights)."""
    notes: list = []
    sentence, k = _read(sentence, top_k, notes)
    return _fill(bundle, sentence, k, notes)


def _fill(bundle, sentence: str, k: int, notes: list) -> FillResult:
    tokenizer = bundle.tokenizer
    encoded = tokenizer(_with_model_mask(sentence, tokenizer), return_tensors="pt", truncation=True)
    ids = encoded["input_ids"][0]
    where = (ids == tokenizer.mask_token_id).nonzero().flatten()
    if len(where) != 1:  # the tokenizer cut the sentence before its blank
        raise TEXT.problem("no_mask")
    with torch.inference_mode():
        logits = bundle.model(**{k_: v.to(bundle.device) for k_, v in encoded.items()}).logits[0, int(where[0])]
    probs = logits.float().softmax(-1).cpu()
    values, indices = probs.topk(min(k, probs.numel()))
    candidates = []
    for p, index in zip(values.tolist(), indices.tolist()):
        filled = ids.clone()
        filled[int(where[0])] = index
        if tokenizer.pad_token_id is not None:
            filled = filled[filled != tokenizer.pad_token_id]
        candidates.append(Candidate(index, tokenizer.decode([index]), p,
                                    tokenizer.decode(filled, skip_special_tokens=True)))
    return FillResult(compute.facts_of(bundle), tokenizer.convert_ids_to_tokens(ids.tolist()), tokenizer.mask_token,
                      candidates, float(probs.double().sum()), notes)
