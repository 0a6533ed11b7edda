"""The Hugging Face lesson: every row against `transformers.pipeline` on the same model and input (an
independent path), the tokens and probabilities of text generation, a typed model name refused at once,
bad input in both languages, and the tab's events (test zoo: DLCLASS_MODELS=tiny, offline)."""
from __future__ import annotations

import re
import string

import numpy as np
import pytest
import torch
from transformers import pipeline

from core import models
from core.text import Problem
from core.zoo import hub as zoo
from tabs.hub import compute, fill_mask, generate, tab, view
from tabs.hub.text import TEXT


@pytest.fixture(scope="module")
def bert():
    return models.get(zoo.TASKS["fill-mask"].spec)


@pytest.fixture(scope="module")
def gpt():
    return models.get(zoo.TASKS["text-generation"].spec)


def _key(problem: Problem) -> str:
    return problem.message.key.split(".", 1)[1]


# ---------------------------------------------------------------- row 1: fill-mask


@pytest.mark.parametrize("sentence", fill_mask.EXAMPLES)
@pytest.mark.parametrize("k", [1, 5])
def test_fill_mask_equals_the_pipeline(bert, sentence, k):
    ours = fill_mask.fill(sentence, k)
    theirs = pipeline("fill-mask", model=bert.model, tokenizer=bert.tokenizer)(sentence, top_k=k)
    assert [c.token_id for c in ours.candidates] == [t["token"] for t in theirs]
    assert [c.token for c in ours.candidates] == [t["token_str"] for t in theirs]
    assert [c.sequence for c in ours.candidates] == [t["sequence"] for t in theirs]
    np.testing.assert_allclose([c.probability for c in ours.candidates], [t["score"] for t in theirs], rtol=1e-5)
    assert ours.total == pytest.approx(1.0, abs=1e-5)
    assert ours.tokens == bert.tokenizer.convert_ids_to_tokens(bert.tokenizer(sentence)["input_ids"])
    assert ours.tokens.count("[MASK]") == 1


def test_fill_mask_bad_input_in_both_languages():
    cases = [("", "empty"), ("서울은 한국의 수도입니다.", "no_mask"), ("[MASK] 그리고 [MASK]", "many_masks"),
             (123, "not_text"), ("가" * (compute.MAX_CHARS + 1), "too_long")]
    for sentence, key in cases:
        with pytest.raises(Problem) as caught:
            fill_mask.fill(sentence)
        assert _key(caught.value) == key
        ko, en = caught.value.say("ko"), caught.value.say("en")
        assert re.search("[가-힣]", ko) and ko != en and not re.search("[가-힣]", en.replace("가", ""))
        assert "Traceback" not in en and "/" not in en.replace("[MASK]", "")


def test_top_k_is_clamped_with_a_note():
    result = fill_mask.fill(fill_mask.EXAMPLE, 999)
    assert len(result.candidates) == compute.SETTINGS["top_k"].high
    assert [n.key for n in result.notes] == ["values.clamped"]


# ---------------------------------------------------------------- row 2: text generation


@pytest.mark.parametrize("prompt", generate.EXAMPLES)
@pytest.mark.parametrize("temperature,top_k,seed", [(1.0, 5, 0), (0.7, 20, 3), (2.0, 1, 7)])
def test_generation_equals_the_pipeline_with_the_same_seed(gpt, prompt, temperature, top_k, seed):
    ours = generate.generate(prompt, temperature, top_k, 8, seed)
    torch.manual_seed(seed)
    theirs = pipeline("text-generation", model=gpt.model, tokenizer=gpt.tokenizer)(
        prompt, do_sample=True, temperature=temperature, top_k=top_k, max_new_tokens=8, return_tensors=True)
    ids = list(theirs[0]["generated_token_ids"])
    assert ids[:len(ours.prompt_ids)] == ours.prompt_ids
    assert ids[len(ours.prompt_ids):] == [s.token_id for s in ours.steps]


def test_the_tokens_shown_are_the_tokenizers_own_output(gpt):
    result = generate.generate(generate.EXAMPLE)
    assert result.prompt_tokens == gpt.tokenizer.tokenize(generate.EXAMPLE)
    assert result.prompt_ids == gpt.tokenizer(generate.EXAMPLE)["input_ids"]
    assert [s.token for s in result.steps] == gpt.tokenizer.convert_ids_to_tokens([s.token_id for s in result.steps])
    assert result.text == gpt.tokenizer.decode(result.prompt_ids + [s.token_id for s in result.steps])


@pytest.mark.parametrize("temperature", [0.1, 1.0, 2.0])
def test_next_token_probabilities_sum_to_one_over_the_vocabulary(gpt, temperature):
    result = generate.generate(generate.EXAMPLE, temperature, 5, 1, 0)
    assert result.next_probs.shape == (gpt.model.config.vocab_size,)
    assert result.next_probs.sum() == pytest.approx(1.0, abs=1e-5)
    # independently: the model's last logits, divided by the temperature, softmaxed in float64
    ids = torch.tensor([gpt.tokenizer(generate.EXAMPLE)["input_ids"]])
    with torch.inference_mode():
        logits = gpt.model(ids).logits[0, -1].double()
    np.testing.assert_allclose(result.next_probs, (logits / temperature).softmax(-1).numpy(), atol=1e-6)
    top = [p for _, p in result.next_top]
    assert top == sorted(top, reverse=True) and len(top) == 5


def test_a_low_temperature_sharpens_the_next_token_distribution():
    cold = generate.generate(generate.EXAMPLE, 0.1, 5, 1, 0).next_probs
    hot = generate.generate(generate.EXAMPLE, 2.0, 5, 1, 0).next_probs
    entropy = lambda p: float(-(p * np.log(np.clip(p, 1e-300, None))).sum())  # noqa: E731
    assert cold.max() > hot.max() and entropy(cold) < entropy(hot)


def test_top_k_one_always_takes_the_most_likely_token(gpt):
    result = generate.generate(generate.EXAMPLE, 1.0, 1, 6, 0)
    ids = gpt.tokenizer(generate.EXAMPLE)["input_ids"]
    with torch.inference_mode():
        greedy = gpt.model.generate(torch.tensor([ids]), do_sample=False, max_new_tokens=6,
                                    pad_token_id=gpt.tokenizer.pad_token_id)[0, len(ids):].tolist()
    assert [s.token_id for s in result.steps] == greedy
    assert all(s.probability == pytest.approx(1.0) for s in result.steps)


# ---------------------------------------------------------------- the name is the model


@pytest.mark.parametrize("name,key", [("not a name!", "bad_name"), ("a/b/c", "bad_name"),
                                      ("google-bert/bert-base-multilingual-cased", "offline_name")])
def test_a_typed_name_is_refused_at_once_in_both_languages(name, key):
    assert models.offline()  # the tests' environment
    with pytest.raises(Problem) as caught:
        fill_mask.fill(fill_mask.EXAMPLE, 5, name)
    assert _key(caught.value) == key
    assert "klue/bert-base" in caught.value.say("en") and re.search("[가-힣]", caught.value.say("ko"))
    assert not [s for s in models.specs("hub") if name in s.name]  # nothing registered for a refused name


def test_an_empty_name_box_means_the_lessons_model():
    assert fill_mask.fill(fill_mask.EXAMPLE, 3, "  ").facts.repo == "klue/bert-base"


def test_a_typed_repository_becomes_a_spec_of_the_family(monkeypatch):
    monkeypatch.setenv("DLCLASS_OFFLINE", "0")
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    result = generate.generate(generate.EXAMPLE, 1.0, 3, 2, 0, "openai-community/gpt2")  # tiny zoo stands in
    assert result.facts.repo == "openai-community/gpt2"
    assert result.facts.pipeline_line == 'pipeline("text-generation", model="openai-community/gpt2")'
    typed = models.spec("hub:text-generation:openai-community/gpt2")
    assert typed.family == "hub" and typed.hub_repos == ("openai-community/gpt2",) and not typed.prefetch_default


def test_the_facts_are_read_from_the_model(bert):
    facts = compute.facts_of(bert)
    assert facts.parameters == sum(p.numel() for p in bert.model.parameters())
    assert facts.disk_bytes == sum(p.numel() * p.element_size() for p in bert.model.parameters())
    assert facts.pipeline_line == 'pipeline("fill-mask", model="klue/bert-base")'


def test_every_spec_has_a_tiny_repo_transformers_reads(tmp_path):
    """The repository written for the hub mirror, read by transformers' Auto classes as the loader does."""
    import transformers

    for task in zoo.TASKS.values():
        folder = tmp_path / task.repo
        zoo.write_tiny_repo(task.repo, folder)
        assert "license: " + task.licence in (folder / "README.md").read_text()
        model = getattr(transformers, task.auto_model).from_pretrained(folder, local_files_only=True)
        processor = getattr(transformers, task.processor_class).from_pretrained(folder, local_files_only=True,
                                                                                **dict(task.tokenizer_kwargs))
        tiny = models.get(task.spec)
        assert sum(p.numel() for p in model.parameters()) == tiny.parameters
        tokenizer, tiny_tokenizer = (getattr(t, "tokenizer", t) for t in (processor, tiny.tokenizer))  # a processor's
        assert tokenizer.tokenize("서울은 한국의 수도") == tiny_tokenizer.tokenize("서울은 한국의 수도")
        assert zoo._licence_of(folder) == task.licence


# ---------------------------------------------------------------- the views and the tab


def test_every_text_has_both_languages_with_the_same_placeholders():
    from core.text import EN, KO

    for full in [k for k in KO if k.startswith("hub.")]:
        ko_fields = {f for _, f, _, _ in string.Formatter().parse(KO[full]) if f}
        en_fields = {f for _, f, _, _ in string.Formatter().parse(EN[full]) if f}
        assert ko_fields == en_fields, full
        assert KO[full] != EN[full] or full == "hub.title", full


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_the_rows_in_both_languages(lang):
    facts, chart, words = tab.hub_fill_mask(fill_mask.EXAMPLE, 5, "klue/bert-base", lang=lang)
    assert 'pipeline("fill-mask", model="klue/bert-base")' in facts
    assert TEXT.say(lang, "fig_fill", k=5) == chart.layout.title.text
    assert "`[MASK]`" in words and (re.search("[가-힣]{3}", words.split("`")[0]) is not None) == (lang == "ko")
    facts, next_fig, steps_fig, words = tab.hub_generate(generate.EXAMPLE, 1.0, 5, 8, 0, "", lang=lang)
    assert 'pipeline("text-generation", model="skt/kogpt2-base-v2")' in facts
    assert len(next_fig.data[0].y) == 5 and len(steps_fig.data[0].x) == 8
    assert "1.000000" in words


def test_the_tab_registers_its_events_and_worked_examples():
    import app

    _, page = app.build_app()
    names = {r.name for r in page.registered}
    assert {"hub_fill_mask", "hub_generate"} <= names
    warmed = dict(page.warmed())
    assert warmed["on_open:hub_fill_mask"][0] == fill_mask.EXAMPLE
    assert warmed["on_open:hub_generate"][0] == generate.EXAMPLE
    assert view.facts_md(compute.facts_of(models.get("hub_fill_mask")), "en").count("```") == 2
