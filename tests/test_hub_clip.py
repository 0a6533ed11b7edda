"""The Hugging Face lesson's CLIP row (zero-shot image classification): against `transformers.pipeline` on the
same model, photo, labels and hypothesis_template (an independent path), the similarities and logits recomputed
from the two encoders, a SigLIP model as the pipeline treats it, bad input in both languages, a typed model name
refused at once, the facts, the tiny repository written and loaded back, and the row's view (test zoo:
DLCLASS_MODELS=tiny, offline)."""
from __future__ import annotations

import re
import string
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import pipeline

from core import images, models
from core.text import Problem
from core.zoo import hub as zoo
from core.zoo import hub_clip as zoo_clip
from tabs.hub import clip, compute, view_clip
from tabs.hub.text_clip import TEXT

CAT = clip.PHOTOS / "cat.jpg"


@pytest.fixture(scope="module")
def bundle():
    return models.get(zoo_clip.SPEC)


def _key(problem: Problem) -> str:
    return problem.message.key


def _pipeline_of(bundle):
    processor = bundle.tokenizer
    return pipeline("zero-shot-image-classification", model=bundle.model, tokenizer=processor.tokenizer,
                    image_processor=processor.image_processor)


def _labels(typed: str) -> list[str]:
    return [label.strip() for label in typed.split(",")]


# ---------------------------------------------------------------- the answer against the pipeline


@pytest.mark.parametrize("photo,labels,template", clip.EXAMPLES)
def test_the_examples_equal_the_pipeline(bundle, photo, labels, template):
    ours = clip.classify(photo, labels, template)
    theirs = _pipeline_of(bundle)(images.load_image(photo), candidate_labels=_labels(labels),
                                  hypothesis_template=template)
    assert ours.labels == [t["label"] for t in theirs]
    np.testing.assert_allclose([s.probability for s in ours.scores], [t["score"] for t in theirs], rtol=1e-5,
                               atol=1e-7)
    assert sum(s.probability for s in ours.scores) == pytest.approx(1.0, abs=1e-5)
    assert ours.template == template and not ours.sigmoid


@pytest.mark.parametrize("template", clip.TEMPLATES)
def test_every_template_equals_the_pipeline(bundle, template):
    labels = "a cat, a dog, 고양이"
    ours = clip.classify(str(CAT), labels, template)
    theirs = _pipeline_of(bundle)(images.load_image(CAT), candidate_labels=_labels(labels),
                                  hypothesis_template=template)
    assert ours.labels == [t["label"] for t in theirs]
    np.testing.assert_allclose([s.probability for s in ours.scores], [t["score"] for t in theirs], rtol=1e-5)
    assert [s.prompt for s in ours.scores] == [template.format(s.label) for s in ours.scores]


def test_similarities_and_logits_from_the_two_encoders(bundle):
    """Independently: each encoder alone, the embeddings normalised in float64, times exp(logit_scale)."""
    labels = ["a cat", "a dog", "a rocket"]
    result = clip.classify(str(CAT), ", ".join(labels), clip.ENGLISH)
    processor, model = bundle.tokenizer, bundle.model
    prompts = [clip.ENGLISH.format(label) for label in labels]
    with torch.inference_mode():
        pixels = processor.image_processor(images=[images.load_image(CAT)], return_tensors="pt")["pixel_values"]
        image = model.get_image_features(pixel_values=pixels).pooler_output[0].double()
        text = model.get_text_features(**processor.tokenizer(prompts, padding=True, return_tensors="pt"))
    text = text.pooler_output.double()
    cosine = (text / text.norm(dim=-1, keepdim=True)) @ (image / image.norm())
    scale = float(model.logit_scale.double().exp())
    by_label = {s.label: s for s in result.scores}
    np.testing.assert_allclose([by_label[label].similarity for label in labels], cosine.numpy(), atol=1e-5)
    np.testing.assert_allclose([by_label[label].logit for label in labels], (scale * cosine).numpy(), atol=1e-4)
    np.testing.assert_allclose([by_label[label].probability for label in labels],
                               (scale * cosine).softmax(-1).numpy(), atol=1e-5)
    assert result.logit_scale == pytest.approx(scale) and result.logit_bias == 0.0
    assert result.embed_dim == model.config.projection_dim
    side = model.config.vision_config.image_size
    assert result.picture == (side, side)
    assert result.patches == (side // model.config.vision_config.patch_size) ** 2
    counts = [len(ids) for ids in processor.tokenizer(prompts)["input_ids"]]
    assert [by_label[label].tokens for label in labels] == counts


def test_a_webcam_snapshot_as_bytes_gives_the_uploads_answer():
    uploaded = clip.classify(str(CAT), clip.LABELS)
    snapped = clip.classify(Path(CAT).read_bytes(), clip.LABELS)  # components.Image hands a webcam frame as bytes
    assert [(s.label, s.probability) for s in snapped.scores] == [(s.label, s.probability) for s in uploaded.scores]


def test_a_siglip_model_is_run_as_the_pipeline_runs_it():
    """SigLIP (also a zero-shot-image-classification model): sentences padded to 64 tokens, a bias, a sigmoid."""
    from transformers import CLIPProcessor, SiglipConfig, SiglipImageProcessor, SiglipModel

    tokenizer = zoo_clip.tiny_clip_tokenizer()
    torch.manual_seed(0)
    config = SiglipConfig(text_config=dict(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64,
                                           num_hidden_layers=2, num_attention_heads=4, max_position_embeddings=64),
                          vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                             num_attention_heads=4, image_size=32, patch_size=8))
    model = SiglipModel(config).eval()
    processor = CLIPProcessor(image_processor=SiglipImageProcessor(size={"height": 32, "width": 32}),
                              tokenizer=tokenizer)
    siglip = zoo.HubModel("siglip_tiny", "google/siglip-tiny-test", clip.TASK, model, processor, False, "test", "",
                          "", 0)
    ours = clip.classify_with(siglip, str(CAT), "a cat, a dog, a rocket", clip.ENGLISH)
    theirs = pipeline("zero-shot-image-classification", model=model, tokenizer=tokenizer,
                      image_processor=processor.image_processor)(
        images.load_image(CAT), candidate_labels=["a cat", "a dog", "a rocket"], hypothesis_template=clip.ENGLISH)
    assert ours.sigmoid and ours.labels == [t["label"] for t in theirs]
    np.testing.assert_allclose([s.probability for s in ours.scores], [t["score"] for t in theirs], rtol=1e-5)
    for s in ours.scores:
        assert s.logit == pytest.approx(s.similarity * ours.logit_scale + ours.logit_bias, abs=1e-4)


# ---------------------------------------------------------------- bad input, notes


@pytest.mark.parametrize("labels,key", [
    ("", "no_labels"), (" , ,, ", "no_labels"), ("고양이", "one_label"), ("cat, cat", "one_label"),
    (", ".join(f"label {i}" for i in range(clip.MAX_LABELS + 1)), "too_many_labels"),
    ("a cat, " + "a" * (clip.MAX_LABEL_CHARS + 1), "label_too_long"), (123, "not_text"),
    ("a, " * 200, "labels_text_too_long"),
])
def test_bad_labels_are_refused_in_both_languages(labels, key):
    with pytest.raises(Problem) as caught:
        clip.classify(str(CAT), labels, clip.ENGLISH, "not a name!")  # refused before the (bad) model name
    assert _key(caught.value) == f"hub_clip.{key}"
    ko, en = caught.value.say("ko"), caught.value.say("en")
    typed = labels if isinstance(labels, str) else ""
    assert re.search("[가-힣]", ko) and ko != en and not re.search("[가-힣]", en.replace(typed, ""))
    assert "Traceback" not in en and "/" not in en


def test_a_sentence_longer_than_the_text_encoder_reads_is_refused():
    long_korean = "가" * clip.MAX_LABEL_CHARS  # 3 bytes a syllable: 90 byte-level tokens, past 77 positions
    with pytest.raises(Problem) as caught:
        clip.classify(str(CAT), f"고양이, {long_korean}", "{}")
    assert _key(caught.value) == "hub_clip.too_many_tokens"
    assert "77" in caught.value.say("en") and "77" in caught.value.say("ko")


@pytest.mark.parametrize("image,key", [(None, "images.missing"), (b"not a picture", "images.not_image"),
                                       ("", "images.missing")])
def test_a_missing_or_broken_photo_is_refused(image, key):
    with pytest.raises(Problem) as caught:
        clip.classify(image, clip.LABELS)
    assert _key(caught.value) == key


def test_the_notes_say_what_was_changed_or_is_doubtful():
    typed_twice = clip.classify(str(CAT), "a cat, a dog, a cat")
    assert typed_twice.labels.count("a cat") == 1 and len(typed_twice.labels) == 2
    assert [n.key for n in typed_twice.notes] == ["hub_clip.duplicates"]
    korean = clip.classify(str(CAT), clip.LABELS_KO, clip.ENGLISH)
    assert [n.key for n in korean.notes] == ["hub_clip.english_model", "hub_clip.template_korean"]
    assert "openai/clip-vit-base-patch32" in korean.notes[0].say("ko")
    english = clip.classify(str(CAT), clip.LABELS, clip.KOREAN)
    assert [n.key for n in english.notes] == ["hub_clip.template_english"]
    unknown = clip.classify(str(CAT), clip.LABELS, "a drawing of {}")  # not a choice: the default, said
    assert unknown.template == clip.ENGLISH and [n.key for n in unknown.notes] == ["values.not_allowed"]


# ---------------------------------------------------------------- the name is the model


def test_a_typed_name_is_refused_at_once_offline():
    assert models.offline()
    with pytest.raises(Problem) as caught:
        clip.classify(str(CAT), clip.LABELS_KO, clip.KOREAN, "Bingsu/clip-vit-base-patch32-ko")
    assert _key(caught.value) == "hub.offline_name"
    assert zoo_clip.REPO in caught.value.say("en") and re.search("[가-힣]", caught.value.say("ko"))
    assert not [s for s in models.specs("hub") if "Bingsu" in s.name]


def test_a_typed_repository_becomes_a_spec_of_the_family(monkeypatch):
    monkeypatch.setenv("DLCLASS_OFFLINE", "0")
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    result = clip.classify(str(CAT), clip.LABELS, clip.ENGLISH, "openai/clip-vit-base-patch16")  # tiny stands in
    assert result.facts.pipeline_line == 'pipeline("zero-shot-image-classification", model="openai/clip-vit-base-patch16")'
    typed = models.spec("hub:zero-shot-image-classification:openai/clip-vit-base-patch16")
    assert typed.family == "hub" and not typed.prefetch_default


def test_a_model_without_an_image_processor_is_no_clip(bundle):
    text_only = zoo.HubModel("x", "someone/text-only", clip.TASK, bundle.model, bundle.tokenizer.tokenizer, False,
                             "test", "", "", 0)
    with pytest.raises(Problem) as caught:
        clip.classify_with(text_only, str(CAT), clip.LABELS)
    assert _key(caught.value) == "hub_clip.not_zero_shot" and "someone/text-only" in caught.value.say("ko")


def test_the_facts_are_read_from_the_model(bundle):
    facts = clip.classify(str(CAT), clip.LABELS).facts
    assert facts.parameters == sum(p.numel() for p in bundle.model.parameters())
    assert facts.disk_bytes == sum(p.numel() * p.element_size() for p in bundle.model.parameters())
    assert facts.pipeline_line == 'pipeline("zero-shot-image-classification", model="openai/clip-vit-base-patch32")'
    assert type(bundle.model).__name__ == "CLIPModel" and type(bundle.tokenizer).__name__ == "CLIPProcessor"


def test_the_tiny_repository_has_the_real_file_names_and_loads_back(tmp_path, bundle):
    """What the hub mirror serves: the repository's own names (the image processor in preprocessor_config.json,
    as in openai/clip-vit-base-patch32, no processor_config.json), read back by the loader's Auto classes."""
    import transformers

    task = zoo.TASKS[clip.TASK]
    zoo.write_tiny_repo(task.repo, tmp_path)
    written = {p.name for p in tmp_path.iterdir()}
    for wanted in task.hub_files:
        assert written & set((wanted,) if isinstance(wanted, str) else wanted), wanted
    assert "processor_config.json" not in written
    assert zoo._licence_of(tmp_path) == "mit"
    model = getattr(transformers, task.auto_model).from_pretrained(tmp_path, local_files_only=True).eval()
    processor = getattr(transformers, task.processor_class).from_pretrained(tmp_path, local_files_only=True)
    loaded = zoo.HubModel(task.spec, task.repo, clip.TASK, model, processor, False, "tiny repo", "", "", 0)
    again = clip.classify_with(loaded, str(CAT), clip.LABELS)
    first = clip.classify_with(bundle, str(CAT), clip.LABELS)
    assert again.labels == first.labels
    np.testing.assert_allclose([s.probability for s in again.scores], [s.probability for s in first.scores],
                               rtol=1e-5)


def test_the_real_architecture_has_clip_vit_b32s_size():
    real = zoo.build_real_architecture(clip.TASK)
    assert 150_000_000 < real.parameters < 152_000_000  # ViT-B/32 CLIP: 151.3 M
    result = clip.classify_with(real, str(CAT), clip.LABELS)
    assert result.picture == (224, 224) and result.patches == 49 and result.embed_dim == 512


# ---------------------------------------------------------------- the view and the tab


def test_every_text_has_both_languages_with_the_same_placeholders():
    from core.text import EN, KO

    for full in [k for k in KO if k.startswith("hub_clip.")]:
        ko_fields = {f for _, f, _, _ in string.Formatter().parse(KO[full]) if f}
        en_fields = {f for _, f, _, _ in string.Formatter().parse(EN[full]) if f}
        assert ko_fields == en_fields, full
        assert KO[full] != EN[full], full


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_the_view_in_both_languages(lang):
    result = clip.classify(*clip.EXAMPLE)
    facts, chart, words = view_clip.clip_outputs(result, lang)
    assert 'pipeline("zero-shot-image-classification", model="openai/clip-vit-base-patch32")' in facts
    assert chart.layout.title.text == TEXT.say(lang, "fig_probs")
    assert list(chart.data[0].y)[::-1] == result.labels
    np.testing.assert_allclose(list(chart.data[0].x)[::-1], [100 * s.probability for s in result.scores])
    assert f"`{clip.ENGLISH}`" in words and view_clip.call_line(result) in words
    assert 'hypothesis_template="a photo of {}."' in words and "a photo of a cat." in words
    for s in result.scores:
        assert f"{s.similarity:+.4f}" in words and f"{100 * s.probability:.2f}%" in words
    assert (re.search("[가-힣]{3}", words.split("|")[0]) is not None) == (lang == "ko")


def test_the_tab_runs_the_row_and_registers_its_worked_example():
    import app
    from tabs.hub import tab

    facts, chart, words = tab.hub_clip(*clip.EXAMPLE, "", lang="en")
    assert "openai/clip-vit-base-patch32" in facts and len(chart.data[0].y) == 5
    _, page = app.build_app()
    assert "hub_clip" in {r.name for r in page.registered}
    photo, labels, template, name = dict(page.warmed())["on_open:hub_clip"]
    assert Path(photo).name == "cat.jpg" and (labels, template) == clip.EXAMPLE[1:] and name == zoo_clip.REPO
