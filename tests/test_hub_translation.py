"""The Hugging Face lesson's translation row (MarianMT, Korean -> English), test zoo (DLCLASS_MODELS=tiny, offline).

transformers 5 has no translation pipeline any more (a test below shows it); the pipeline was
`model.generate(**tokenizer(text))` and a decode of the ids with the model's generation config, so the row's
hand-written decoder is compared with `generate` on the same model and input: the same tokens, the same
probability at every step (`compute_transition_scores`), the same score, for greedy search and beam search,
for translations that end by themselves and ones that reach the length limit, and for the other stopping rules
of beam search. Then: the tokens shown are the tokenizer's own, bad input in both languages, a typed model
name refused at once offline, the facts, the tiny repository written with the real file names and read back,
and the view in both languages."""
from __future__ import annotations

import copy
import json
import math
import re

import pytest
import torch
from transformers import pipeline

from core import models
from core.text import Problem
from core.zoo import hub as zoo
from core.zoo import hub_translation as zoo_translation
from tabs.hub import compute, translation, view_translation
from tabs.hub.text_translation import TEXT

# MarianTokenizer's request for sacremoses (core/zoo/hub_translation.py filters it in the app; pytest resets filters)
pytestmark = pytest.mark.filterwarnings("ignore:Recommended. pip install sacremoses")
SHORT = 24  # tokens: the tiny random model never ends by itself; a short limit keeps the comparisons quick


@pytest.fixture(scope="module")
def marian():
    return models.get(zoo_translation.SPEC)


def _generate(model, tokenizer, sentence: str, limit: int, **kwargs):
    """What transformers' translation pipeline did: tokenize, `generate` with the model's generation config."""
    encoded = tokenizer(sentence, return_tensors="pt")
    with torch.inference_mode():
        return model.generate(**encoded, max_new_tokens=limit, output_scores=True, return_dict_in_generate=True,
                              **kwargs)


def _probabilities(model, out, beams: int) -> list[float]:
    if beams > 1:
        scores = model.compute_transition_scores(out.sequences, out.scores, out.beam_indices)
    else:
        scores = model.compute_transition_scores(out.sequences, out.scores, normalize_logits=True)
    return [math.exp(s) for s in scores[0].tolist()]


def _assert_same_as_generate(bundle, sentence: str, beams: int, limit: int, **kwargs) -> translation.TranslateResult:
    ours = translation.translate_with(bundle, sentence, beams, limit=limit)
    theirs = _generate(bundle.model, bundle.tokenizer, sentence, limit, **kwargs)
    assert ours.output_ids == theirs.sequences[0].tolist()
    assert [s.probability for s in ours.steps] == pytest.approx(_probabilities(bundle.model, theirs, beams),
                                                                rel=1e-5, abs=1e-7)
    if beams > 1:
        assert ours.finished[0].score == pytest.approx(float(theirs.sequences_scores[0]), rel=1e-6)
    assert ours.translation == bundle.tokenizer.decode(theirs.sequences[0], skip_special_tokens=True,
                                                       clean_up_tokenization_spaces=False)
    return ours


def _key(problem: Problem) -> str:
    return problem.message.key.split(".", 1)[1]


# ---------------------------------------------------------------- the same answer as transformers


def test_the_translation_pipeline_is_gone_from_transformers_5(marian):
    """Why the row is compared with `generate`: when this fails, transformers has the pipeline again, and the
    row's answer should be compared with `pipeline("translation")` itself."""
    with pytest.raises(KeyError, match="removed"):
        pipeline("translation", model=marian.model, tokenizer=marian.tokenizer)


@pytest.mark.parametrize("sentence", translation.EXAMPLES)
@pytest.mark.parametrize("beams", [1, 2, 6])
def test_the_translation_equals_generate(marian, sentence, beams):
    _assert_same_as_generate(marian, sentence, beams, SHORT, num_beams=beams)


def test_the_worked_example_equals_generate_with_the_models_own_settings(marian):
    """The answer the page shows on open: the default beams are the model's own (generate is given no
    num_beams), with the default limit."""
    assert translation.SETTINGS["beams"].default == marian.model.generation_config.num_beams == 6
    ours = _assert_same_as_generate(marian, translation.EXAMPLE, 6, translation.NEW_TOKENS_LIMIT)
    assert ours.model_beams == 6 and ours.stopped and ours.output_ids[-1] == 0  # the tiny model ends by itself
    assert translation.translate(translation.EXAMPLE).output_ids == ours.output_ids


@pytest.fixture(scope="module")
def end_bias(marian):
    """The tiny model with another bias on its end token's logit (core.zoo.hub_translation.TINY_END_BIAS):
    its random logits differ by about 0.25 from the first choice to the end token, so 0 never ends a sentence
    (it writes to the limit), about 0.2 ends after a token or two, and 1 ends at once. `generation`: other
    entries of its generation config."""
    def make(bias: float, **generation):
        model = copy.deepcopy(marian.model)
        model.final_logits_bias[0, model.generation_config.eos_token_id] = bias
        for name, value in generation.items():
            setattr(model.generation_config, name, value)
        return zoo.HubModel(marian.name, marian.repo, marian.task, model, marian.tokenizer, False, "test", "", "", 0)

    return make


@pytest.mark.parametrize("beams", [1, 2, 6])
def test_a_translation_that_reaches_the_limit_equals_generate(end_bias, beams):
    ours = _assert_same_as_generate(end_bias(0.0), translation.EXAMPLE, beams, SHORT, num_beams=beams)
    assert not ours.stopped and len(ours.steps) == SHORT
    assert ours.steps[-1].token == "</s>" and ours.steps[-1].probability == 1.0  # the rule at the limit


@pytest.mark.parametrize("bias", [0.1, 0.2, 1.0])
@pytest.mark.parametrize("beams", [1, 3, 6])
def test_translations_that_end_sooner_or_later_equal_generate(end_bias, bias, beams):
    ours = _assert_same_as_generate(end_bias(bias), translation.EXAMPLE, beams, SHORT, num_beams=beams)
    assert ours.stopped and ours.output_ids[-1] == 0 and ours.steps[-1].token == "</s>"


@pytest.mark.parametrize("generation", [dict(length_penalty=0.3), dict(length_penalty=2.0),
                                        dict(early_stopping=True), dict(early_stopping="never"),
                                        dict(renormalize_logits=False), dict(no_repeat_ngram_size=2),
                                        dict(min_length=5)])
@pytest.mark.parametrize("bias", [0.15, 0.2])
def test_beam_searchs_other_rules_equal_generate(end_bias, generation, bias):
    bundle = end_bias(bias, **generation)
    ours = _assert_same_as_generate(bundle, translation.EXAMPLES[1], 4, SHORT, num_beams=4)
    assert len(ours.finished) >= 1 and ours.finished == sorted(ours.finished, key=lambda f: -f.score)


def test_greedy_takes_the_first_choice_every_step(marian):
    result = translation.translate_with(marian, translation.EXAMPLE, 1, limit=SHORT)
    assert all(s.token == s.first_choice and s.probability == s.first_probability for s in result.steps)
    assert len(result.finished) == 1 and result.finished[0].log_prob == pytest.approx(
        sum(math.log(s.probability) for s in result.steps), rel=1e-6)


def test_beam_search_scores_are_log_probabilities_over_the_length(end_bias):
    result = translation.translate_with(end_bias(0.2), translation.EXAMPLE, 6, limit=SHORT)
    for done in result.finished:
        written = len(done.token_ids) - 1  # the start token is not written
        assert done.score == pytest.approx(done.log_prob / written ** result.length_penalty, rel=1e-6)
    best = result.finished[0]
    assert best.token_ids == result.output_ids
    assert best.log_prob == pytest.approx(sum(math.log(s.probability) for s in result.steps), rel=1e-5)


def test_the_pad_token_is_never_written(marian):
    pad = marian.model.generation_config.pad_token_id
    for beams in (1, 6):
        assert pad not in translation.translate_with(marian, translation.EXAMPLE, beams, limit=SHORT).output_ids[1:]


# ---------------------------------------------------------------- what the row shows


def test_the_tokens_shown_are_the_tokenizers_own(marian):
    tokenizer = marian.tokenizer
    result = translation.translate_with(marian, translation.EXAMPLE, 6, limit=SHORT)
    ids = tokenizer(translation.EXAMPLE)["input_ids"]
    assert result.source_ids == ids and ids[-1] == tokenizer.eos_token_id
    assert result.source_tokens == tokenizer.convert_ids_to_tokens(ids)
    assert result.source_tokens == tokenizer.tokenize(translation.EXAMPLE) + ["</s>"]
    assert result.source_tokens[:2] == ["▁딥러닝", "은"]  # SentencePiece: '▁' starts a word
    assert [s.token for s in result.steps] == tokenizer.convert_ids_to_tokens(result.output_ids[1:])
    assert result.output_ids[0] == marian.model.generation_config.decoder_start_token_id


def test_an_english_sentence_gets_a_note_for_the_korean_model(marian):
    result = translation.translate_with(marian, "Deep learning learns patterns from data.", 1, limit=4)
    assert [n.key for n in result.notes] == ["hub_translation.not_korean"]
    assert not translation.translate_with(marian, translation.EXAMPLE, 1, limit=4).notes


@pytest.mark.parametrize("sentence,key", [("", "empty"), ("   ", "empty"), (None, "empty"), (123, "not_text"),
                                          ("가" * (compute.MAX_CHARS + 1), "too_long")])
def test_bad_input_in_both_languages(sentence, key):
    with pytest.raises(Problem) as caught:
        translation.translate(sentence)
    assert _key(caught.value) == key
    ko, en = caught.value.say("ko"), caught.value.say("en")
    assert re.search("[가-힣]", ko) and ko != en and not re.search("[가-힣]", en)
    assert "Traceback" not in en and "/" not in en


@pytest.mark.parametrize("beams,note", [(99, "values.clamped"), (0, "values.clamped"), ("many", "values.not_number"),
                                        (2.6, "values.rounded")])
def test_the_beams_are_read_with_a_note(marian, beams, note):
    result = translation.translate_with(marian, translation.EXAMPLE, beams, limit=4)
    assert [n.key for n in result.notes] == [note]
    assert 1 <= result.beams <= 8
    assert "빔 수" in result.notes[0].say("ko") and "beams" in result.notes[0].say("en").lower()


@pytest.mark.parametrize("name,key", [("not a name!", "bad_name"), ("facebook/m2m100_418M", "offline_name")])
def test_a_typed_name_is_refused_at_once_in_both_languages(name, key):
    assert models.offline()
    with pytest.raises(Problem) as caught:
        translation.translate(translation.EXAMPLE, 6, name)
    assert _key(caught.value) == key
    assert zoo_translation.REPO in caught.value.say("en") and re.search("[가-힣]", caught.value.say("ko"))
    assert not [s for s in models.specs("hub") if name in s.name]


def test_a_typed_marian_repository_becomes_a_spec_of_the_row(monkeypatch):
    monkeypatch.setenv("DLCLASS_OFFLINE", "0")
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    result = translation.translate(translation.EXAMPLE, 2, "Helsinki-NLP/opus-mt-tc-big-en-ko")  # tiny stands in
    assert result.facts.repo == "Helsinki-NLP/opus-mt-tc-big-en-ko"
    assert result.facts.pipeline_line == 'pipeline("translation", model="Helsinki-NLP/opus-mt-tc-big-en-ko")'
    assert not result.notes  # the Korean-input note belongs to the lesson's Korean model
    typed = models.spec("hub:translation:Helsinki-NLP/opus-mt-tc-big-en-ko")
    assert typed.family == "hub" and not typed.prefetch_default


def test_the_facts_are_read_from_the_model(marian):
    facts = translation.translate_with(marian, translation.EXAMPLE, 1, limit=2).facts
    assert facts.parameters == sum(p.numel() for p in marian.model.parameters())
    assert facts.pipeline_line == 'pipeline("translation", model="Helsinki-NLP/opus-mt-ko-en")'
    assert facts.spec == "hub_translation" and not facts.real_weights


def test_the_tiny_repository_has_the_real_file_names_and_reads_back(marian, tmp_path):
    """What the hub mirror serves the loader: every file the real loader reads (hub_files), under the real
    names, read by the Auto classes as the loader reads them, giving the same translation."""
    import transformers

    task = zoo.TASKS[translation.TASK]
    zoo.write_tiny_repo(task.repo, tmp_path)
    names = {p.name for p in tmp_path.iterdir()}
    for wanted in task.hub_files:
        assert ({wanted} if isinstance(wanted, str) else set(wanted)) & names, wanted
    assert names == {"config.json", "generation_config.json", "model.safetensors", "source.spm", "target.spm",
                     "vocab.json", "tokenizer_config.json", "README.md"}
    vocab = json.loads((tmp_path / "vocab.json").read_text(encoding="utf-8"))
    assert vocab["</s>"] == 0 and vocab["<unk>"] == 1 and vocab["<pad>"] == len(vocab) - 1  # the real layout
    model = getattr(transformers, task.auto_model).from_pretrained(tmp_path, local_files_only=True)
    tokenizer = getattr(transformers, task.processor_class).from_pretrained(tmp_path, local_files_only=True)
    assert type(model).__name__ == "MarianMTModel" and type(tokenizer).__name__ == "MarianTokenizer"
    assert model.generation_config.num_beams == 6 and model.generation_config.renormalize_logits is True
    loaded = zoo.HubModel(marian.name, marian.repo, marian.task, model.eval(), tokenizer, False, "mirror", "", "", 0)
    assert (translation.translate_with(loaded, translation.EXAMPLE, 6, limit=SHORT).output_ids
            == translation.translate_with(marian, translation.EXAMPLE, 6, limit=SHORT).output_ids)


def test_the_tiny_tokenizer_is_the_same_every_run():
    pieces = zoo_translation.tiny_pieces()
    assert pieces == zoo_translation.tiny_pieces() and len(pieces) == len(set(pieces))
    assert {"▁딥러닝", "▁데이터에서", "▁learning"} <= set(pieces)
    assert zoo_translation._spm_model(pieces) == zoo_translation._spm_model(pieces)


def test_the_bench_builds_the_real_architecture():
    bundle = zoo.build_real_architecture(translation.TASK)
    assert abs(bundle.parameters * 4 / 1e6 - zoo.TASKS[translation.TASK].approx_mb) < 4  # float32, as on disk
    assert bundle.model.generation_config.num_beams == 6
    result = translation.translate_with(bundle, translation.EXAMPLE, 2, limit=3)
    assert len(result.steps) == 3


# ---------------------------------------------------------------- the view


def test_every_text_has_both_languages_with_the_same_placeholders():
    import string

    from core.text import EN, KO

    keys = [k for k in KO if k.startswith("hub_translation.")]
    assert len(keys) > 20
    for full in keys:
        fields = [{f for _, f, _, _ in string.Formatter().parse(words) if f} for words in (KO[full], EN[full])]
        assert fields[0] == fields[1] and KO[full] != EN[full], full


@pytest.mark.parametrize("lang", ["ko", "en"])
@pytest.mark.parametrize("beams", [1, 6])
def test_the_view_in_both_languages(marian, lang, beams):
    result = translation.translate_with(marian, translation.EXAMPLE, beams, limit=SHORT)
    facts, chart, words = view_translation.translate_outputs(result, lang)
    assert 'pipeline("translation", model="Helsinki-NLP/opus-mt-ko-en")' in facts
    assert f'model.generate(**tokenizer("{translation.EXAMPLE}", return_tensors="pt")' in facts
    assert ("num_beams=1" in facts) == (beams == 1)
    assert chart.layout.title.text == TEXT.say(lang, "fig_steps")
    assert sum(len(trace.y) for trace in chart.data) == len(result.steps)
    assert "`▁딥러닝`" in words and TEXT.say(lang, "stopped", n=len(result.steps)) in words
    assert (TEXT.say(lang, "candidates") in words) == (beams > 1)
    prose = re.sub(r"`[^`]*`|\*\*[^*]*\*\*|\|[^\n]*", "", words)
    assert bool(re.search("[가-힣]{2}", prose)) == (lang == "ko")
