"""The multilingual text-encoder family (core/zoo/text.py): the test zoo's tokenizer and model, the
repository layout written for the local hub mirror, and the real loader run offline on that layout."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import unicodedata

import pytest
import torch

from tests.conftest import ROOT
from core import models
import core.zoo.text as text_zoo  # imported by name too: core.models may not list it in ZOO_MODULES yet

KOREAN = "그 동물은 너무 피곤해서 길을 건너지 않았다."
ENGLISH = "The animal didn't cross the street because it was too tired."
REPO_FILES = {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "vocab.txt"}


def _is_hangul_syllable(char: str) -> bool:
    return "\uac00" <= char <= "\ud7a3"


@pytest.fixture(scope="module")
def tiny():
    return models.ModelLoader(tiny=True).get(text_zoo.ENCODER, device="cpu")


def test_spec_is_registered_with_its_hub_repository():
    spec = models.spec(text_zoo.ENCODER)
    assert spec.family == "text"
    assert spec.is_cached is not None and spec.download_url is not None
    assert spec.hub_repos == ("distilbert/distilbert-base-multilingual-cased",)
    assert spec.write_tiny_repo is not None
    assert spec.approx_mb <= 600


@pytest.mark.parametrize("sentence", [KOREAN, ENGLISH, "오늘 날씨가 정말 좋네요!", "Attention is all you need."])
def test_tiny_tokenizer_pieces_rebuild_the_sentence(sentence):
    """Korean and English split into pieces that, joined back ('##' continues a word), give the words of the
    sentence exactly: nothing lost, no [UNK], Hangul syllables kept whole (no lower-casing / accent stripping)."""
    pieces = text_zoo.tiny_tokenizer().tokenize(sentence)
    assert pieces and "[UNK]" not in pieces
    rebuilt = "".join(p[2:] if p.startswith("##") else " " + p for p in pieces).split()
    assert "".join(rebuilt) == "".join(sentence.split())
    for piece in pieces:
        for char in piece.removeprefix("##"):
            assert unicodedata.category(char) != "Lo" or _is_hangul_syllable(char)


def test_tiny_tokenizer_splits_words_into_subwords_and_keeps_case():
    tokenizer = text_zoo.tiny_tokenizer()
    korean = tokenizer.tokenize(KOREAN)
    assert any(p.startswith("##") for p in korean), korean  # particles and endings come off the stems
    assert len(korean) > len(KOREAN.split())
    assert tokenizer.tokenize("Apple") != tokenizer.tokenize("apple")  # cased, like the real model


def test_tiny_vocabulary_is_the_same_in_every_process():
    """The vocabulary (and so every token id and embedding row of the test zoo) must not depend on hash
    seeds: two fresh interpreters with different PYTHONHASHSEED build the same list."""
    script = "import hashlib, core.zoo.text as z; print(hashlib.sha256('\\n'.join(z.tiny_vocab()).encode()).hexdigest())"
    digests = set()
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                             timeout=300)
        assert out.returncode == 0, out.stderr[-2000:]
        digests.add(out.stdout.strip().splitlines()[-1])
    assert len(digests) == 1
    vocab = text_zoo.tiny_vocab()
    assert vocab[:5] == ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
    assert len(set(vocab)) == len(vocab)


def test_tiny_model_has_the_tiny_shape_and_eager_attention(tiny):
    assert (tiny.num_layers, tiny.num_heads) == text_zoo.model_shape(tiny=True)
    assert tiny.attn_implementation == "eager"
    assert not tiny.real_weights
    assert tiny.model.get_input_embeddings().weight.shape[0] == len(text_zoo.tiny_vocab())
    ids = tiny.tokenizer(KOREAN, return_tensors="pt")
    with torch.inference_mode():
        out = tiny.model(**ids, output_attentions=True)
    n = ids["input_ids"].shape[1]
    assert len(out.attentions) == tiny.num_layers
    assert out.attentions[0].shape == (1, tiny.num_heads, n, n)


def test_tiny_model_is_the_same_every_build():
    a = text_zoo._build_tiny(torch.device("cpu"), torch.float32)
    b = text_zoo._build_tiny(torch.device("cpu"), torch.float32)
    for (name, pa), (_, pb) in zip(a.model.state_dict().items(), b.model.state_dict().items()):
        assert torch.equal(pa, pb), name


def test_real_config_has_the_model_card_size():
    """6 layers x 12 heads, 768 dimensions, 119,547 pieces: about 134 M parameters, as the model card says
    (counted on the meta device, without allocating or downloading anything)."""
    from transformers import DistilBertConfig, DistilBertModel

    config = DistilBertConfig(**text_zoo.REAL_CONFIG)
    assert (config.n_layers, config.n_heads, config.dim, config.vocab_size) == (6, 12, 768, 119547)
    assert text_zoo.model_shape(tiny=False) == (6, 12)
    with torch.device("meta"):
        model = DistilBertModel(config)
    parameters = sum(p.numel() for p in model.parameters())
    assert 130e6 < parameters < 140e6
    assert parameters * 4 / 1e6 < text_zoo.APPROX_MB + 20  # float32 bytes, the spec's size


def test_write_tiny_repo_has_the_real_layout_and_loads_with_from_pretrained(tmp_path):
    from safetensors.torch import load_file
    from transformers import DistilBertModel, DistilBertTokenizer

    text_zoo.write_tiny_repo(text_zoo.REPO, tmp_path)
    assert {p.name for p in tmp_path.iterdir()} == REPO_FILES
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["model_type"] == "distilbert" and config["architectures"] == ["DistilBertForMaskedLM"]
    assert json.loads((tmp_path / "tokenizer_config.json").read_text())["do_lower_case"] is False

    model = DistilBertModel.from_pretrained(tmp_path, attn_implementation="eager", local_files_only=True)
    tokenizer = DistilBertTokenizer.from_pretrained(tmp_path, local_files_only=True)  # no override: the files say cased
    assert tokenizer.tokenize(KOREAN) == text_zoo.tiny_tokenizer().tokenize(KOREAN)
    saved = load_file(str(tmp_path / "model.safetensors"))
    assert torch.equal(model.embeddings.word_embeddings.weight, saved["distilbert.embeddings.word_embeddings.weight"])
    assert torch.equal(model.transformer.layer[1].attention.q_lin.weight,
                       saved["distilbert.transformer.layer.1.attention.q_lin.weight"])
    vocab_lines = (tmp_path / "vocab.txt").read_text(encoding="utf-8").splitlines()
    assert tuple(vocab_lines) == text_zoo.tiny_vocab() and len(vocab_lines) == config["vocab_size"]


def test_write_tiny_repo_refuses_another_repository(tmp_path):
    with pytest.raises(ValueError):
        text_zoo.write_tiny_repo("google-bert/bert-base-uncased", tmp_path)


def test_real_loader_reads_the_repository_from_the_hub_cache_offline(tmp_path):
    """The real `load` on an empty Hugging Face cache raises WeightsMissing; on a cache holding the tiny
    repository (same repo id, same files) it loads a working encoder, without any network."""
    cache = tmp_path / "hub"
    script = textwrap.dedent(f"""
        import pathlib, torch
        import core.zoo.text as z
        from core.models import WeightsMissing
        assert not z._is_cached()
        try:
            z._load(torch.device("cpu"), torch.float32, False)
            raise SystemExit("loaded from an empty cache")
        except WeightsMissing as exc:
            print("missing:", exc)
        repo = pathlib.Path({str(cache)!r}) / ("models--" + z.REPO.replace("/", "--"))
        commit = "0" * 40
        z.write_tiny_repo(z.REPO, repo / "snapshots" / commit)
        (repo / "refs").mkdir(parents=True)
        (repo / "refs" / "main").write_text(commit)
        assert z._is_cached()
        encoder = z._load(torch.device("cpu"), torch.float32, False)
        assert encoder.real_weights and encoder.attn_implementation == "eager"
        assert (encoder.num_layers, encoder.num_heads) == z.model_shape(tiny=True)
        pieces = encoder.tokenizer.tokenize({KOREAN!r})
        assert pieces == z.tiny_tokenizer().tokenize({KOREAN!r}), pieces
        ids = encoder.tokenizer({KOREAN!r}, return_tensors="pt")
        out = encoder.model(**ids, output_attentions=True)
        assert out.attentions[0].shape[-1] == ids["input_ids"].shape[1]
        print("loaded", encoder.source)
    """)
    env = {**os.environ, "HF_HUB_CACHE": str(cache), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    assert "missing:" in out.stdout and "loaded Hugging Face distilbert/distilbert-base-multilingual-cased" in out.stdout


def test_loader_says_model_unavailable_when_offline_and_not_cached():
    if models.is_cached(text_zoo.ENCODER):
        pytest.skip("the real weights are in this machine's Hugging Face cache")
    with pytest.raises(models.ModelUnavailable) as caught:
        models.ModelLoader(tiny=False).get(text_zoo.ENCODER, device="cpu")
    assert "--prefetch distilbert_multilingual" in caught.value.say("en")
