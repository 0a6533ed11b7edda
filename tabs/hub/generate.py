"""Row 2 of the hub's table, GPT: writing on, one token at a time. The model gives a score to every token
of its vocabulary; divided by the temperature and put through a softmax they are the next-token
probabilities (they add up to 1). Only the top-k candidates are kept, renormalised, and one is drawn;
it is appended and the model is asked again. The same steps as `transformers.pipeline("text-generation",
do_sample=True, temperature=..., top_k=...)` with the same seed (tests/test_hub_lesson.py compares)."""
from __future__ import annotations

import dataclasses

import numpy as np
import torch

from tabs.hub import compute

TASK = "text-generation"
EXAMPLE = "오늘 날씨가 좋아서"
EXAMPLES = [EXAMPLE, "인공지능은", "Once upon a time"]


@dataclasses.dataclass
class Step:
    token_id: int
    token: str  # the tokenizer's own piece (convert_ids_to_tokens)
    probability: float  # of the chosen token among the kept top-k candidates


@dataclasses.dataclass
class GenerateResult:
    facts: compute.Facts
    prompt_tokens: list[str]  # the tokenizer's pieces of the prompt
    prompt_ids: list[int]
    next_probs: np.ndarray  # the first step's next-token probabilities over the whole vocabulary (temperature applied)
    next_top: list[tuple[str, float]]  # its top-k (piece, probability)
    steps: list[Step]
    text: str  # prompt and new tokens, decoded
    stopped: bool  # the model chose its end token
    temperature: float
    top_k: int
    notes: list


def _scores(model, ids: torch.Tensor, past):
    with torch.inference_mode():
        out = model(input_ids=ids, past_key_values=past, use_cache=True)
    return out.logits[0, -1].float(), out.past_key_values


def _pick(scores: torch.Tensor, temperature: float, top_k: int, generator: torch.Generator):
    """Temperature, then top-k, then a draw: transformers' sampling order. Returns (id, p among top-k, probs)."""
    scaled = scores / temperature
    probs = scaled.softmax(-1)
    kept = scaled.clone()
    threshold = torch.topk(scaled, min(top_k, scaled.numel())).values[-1]
    kept[scaled < threshold] = -float("inf")
    kept_probs = kept.softmax(-1)
    chosen = int(torch.multinomial(kept_probs[None], 1, generator=generator)[0, 0])
    return chosen, float(kept_probs[chosen]), probs


def generate(prompt, temperature=1.0, top_k=5, new_tokens=8, seed=0, model_name=None) -> GenerateResult:
    """Write on with the model named `model_name` (the lesson's when empty), loaded through the loader."""
    return generate_with(None, prompt, temperature, top_k, new_tokens, seed, model_name)


def generate_with(bundle, prompt, temperature=1.0, top_k=5, new_tokens=8, seed=0, model_name=None) -> GenerateResult:
    """The same with a model already loaded (`bundle`; the bench: the real architecture, random weights)."""
    notes: list = []
    prompt = compute.read_text(prompt)
    chosen = compute.take_settings(notes, temperature=temperature, top_k=top_k, new_tokens=new_tokens, seed=seed)
    bundle = bundle or compute.model_for(TASK, model_name)
    tokenizer, model = bundle.tokenizer, bundle.model
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    if not prompt_ids:
        raise compute.TEXT.problem("empty")
    generator = torch.Generator().manual_seed(int(chosen["seed"]))
    scores, past = _scores(model, torch.tensor([prompt_ids], device=bundle.device), None)
    first_probs, steps, stopped = None, [], False
    for _ in range(int(chosen["new_tokens"])):
        token_id, p, probs = _pick(scores.cpu(), float(chosen["temperature"]), int(chosen["top_k"]), generator)
        first_probs = probs if first_probs is None else first_probs
        steps.append(Step(token_id, tokenizer.convert_ids_to_tokens(token_id), p))
        if token_id == tokenizer.eos_token_id:
            stopped = True
            break
        scores, past = _scores(model, torch.tensor([[token_id]], device=bundle.device), past)
    next_probs = first_probs.double().numpy()
    order = np.argsort(-next_probs, kind="stable")[: int(chosen["top_k"])]
    next_top = [(tokenizer.convert_ids_to_tokens(int(i)), float(next_probs[i])) for i in order]
    text_ = tokenizer.decode(prompt_ids + [s.token_id for s in steps], skip_special_tokens=True)
    return GenerateResult(compute.facts_of(bundle), tokenizer.convert_ids_to_tokens(prompt_ids), prompt_ids,
                          next_probs, next_top, steps, text_, stopped, float(chosen["temperature"]),
                          int(chosen["top_k"]), notes)
