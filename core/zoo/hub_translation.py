"""The Hugging Face lesson's translation row: a MarianMT encoder-decoder that writes English from Korean.

| spec | task | repository | why this one |
|---|---|---|---|
| hub_translation | translation (ko -> en) | Helsinki-NLP/opus-mt-ko-en | OPUS-MT: a 6+6-layer Transformer, 78 M parameters |

OPUS-MT is trained on open parallel text (Apache-2.0). Its architecture writes a 15-token English sentence
with beam search of 6 (its generation_config.json's choice) in about 0.7 s of one CPU core. The repository's
main branch holds config.json, generation_config.json, pytorch_model.bin (the safetensors copy lives only on the
conversion bot's pull-request branches; transformers reads the .bin with weights_only), the two SentencePiece
models source.spm (Korean) and target.spm (English), vocab.json (one vocabulary of 65,001 pieces shared by both
sides: the token ids), tokenizer_config.json and the model card. MarianTokenizer reads them with the
`sentencepiece` package. No English -> Korean model of this size and family is one we can vouch for, so the
row goes one way; a student may type another MarianMT repository (the same code loads it).

The test zoo builds the same classes: a tiny MarianMT with random weights, and a real MarianTokenizer over
SentencePiece models made here (a unigram model written directly as a model file: every printable ASCII
character and common Hangul syllable, alone and starting a word, plus word pieces learnt from a few Korean and
English sentences; the same every run, no training run, no download). Its files carry the real repository's
names, so the hub mirror serves the loader exactly the files the real one downloads.
"""
from __future__ import annotations

import atexit
import functools
import json
import re
import shutil
import tempfile
import warnings
from pathlib import Path

from core.zoo import hub
from core.zoo import text as text_zoo

TASK = "translation"
REPO = "Helsinki-NLP/opus-mt-ko-en"
SPEC = "hub_translation"

# config.json of the repository (the architecture), for the bench: the real sizes with random weights.
REAL_CONFIG = dict(
    vocab_size=65001, decoder_vocab_size=65001, d_model=512, encoder_layers=6, decoder_layers=6,
    encoder_attention_heads=8, decoder_attention_heads=8, encoder_ffn_dim=2048, decoder_ffn_dim=2048,
    activation_function="swish", max_position_embeddings=512, scale_embedding=True,
    share_encoder_decoder_embeddings=True, pad_token_id=65000, eos_token_id=0, bos_token_id=0,
    decoder_start_token_id=65000, forced_eos_token_id=0,
)
# generation_config.json of the repository: how `generate` (and so the translation pipeline) decodes.
REAL_GENERATION = dict(bad_words_ids=[[65000]], bos_token_id=0, decoder_start_token_id=65000, eos_token_id=0,
                       forced_eos_token_id=0, max_length=512, num_beams=6, pad_token_id=65000,
                       renormalize_logits=True)
TINY_SIZES = dict(d_model=16, encoder_layers=2, decoder_layers=2, encoder_attention_heads=2,
                  decoder_attention_heads=2, encoder_ffn_dim=32, decoder_ffn_dim=32)
TOKENIZER_CONFIG = dict(source_lang="kor", target_lang="eng")  # the repository's tokenizer_config.json

# Sentences the tiny tokenizer learns its word pieces from, with the word-attention lesson's ones.
TINY_CORPUS = """
딥러닝은 데이터에서 패턴을 배웁니다.
Deep learning learns patterns from data.
오늘 수업에서 트랜스포머를 배웠어요.
Today we learned about Transformers in class.
번역 모델은 한 번에 한 토큰씩 문장을 씁니다.
A translation model writes a sentence one token at a time.
""".strip()
TINY_MERGES = 200
# The tiny model's bias on its end token's logit. Random weights give every token nearly the same score, so
# without it the tiny model would never end a sentence and always write to the limit; with it, its
# translations end by themselves after about 20 tokens, as a trained model's do.
TINY_END_BIAS = 0.15

# MarianTokenizer asks for sacremoses on every load, for a punctuation normaliser that transformers 5 never calls
# (its `normalize` is used nowhere): the warning says nothing about the answers, and would repeat in every log.
warnings.filterwarnings("ignore", message="Recommended: pip install sacremoses", category=UserWarning)


def prepare_library() -> None:
    """Resolve transformers' lazily imported classes once, in the loader's one import thread."""
    from transformers import (AutoModelForSeq2SeqLM, GenerationConfig, MarianConfig, MarianMTModel,  # noqa: F401
                              MarianTokenizer)


# ---------------------------------------------------------------- the test zoo's tokenizer


def _words(corpus: str) -> dict[str, int]:
    words: dict[str, int] = {}
    for word in re.findall(r"\w+|[^\w\s]", corpus):
        words[word] = words.get(word, 0) + 1
    return words


def tiny_pieces() -> list[str]:
    """The tiny SentencePiece vocabulary: '▁' starts a word (as in the real models); every character alone
    and after '▁', then the learnt pieces (text_zoo.learn_pieces marks a continuation '##': here it is a
    piece without '▁')."""
    alphabet = [chr(c) for c in range(0x21, 0x7F)] + text_zoo.hangul_syllables()
    learnt = text_zoo.learn_pieces(_words(text_zoo.TINY_CORPUS + "\n" + TINY_CORPUS), TINY_MERGES)
    pieces = ["▁", *alphabet, *("▁" + c for c in alphabet),
              *(p[2:] if p.startswith("##") else "▁" + p for p in learnt)]
    return list(dict.fromkeys(pieces))


def _spm_model(pieces: list[str]) -> bytes:
    """A unigram SentencePiece model file. Scores: a character -10, a learnt piece -5, so the Viterbi split
    takes the fewest pieces, learnt ones first."""
    from sentencepiece import sentencepiece_model_pb2 as spm_pb

    model = spm_pb.ModelProto()
    for piece, kind in (("<unk>", spm_pb.ModelProto.SentencePiece.UNKNOWN),
                        ("<s>", spm_pb.ModelProto.SentencePiece.CONTROL),
                        ("</s>", spm_pb.ModelProto.SentencePiece.CONTROL)):
        model.pieces.add(piece=piece, score=0.0, type=kind)
    for piece in pieces:
        single = len(piece) == 1 or (piece.startswith("▁") and len(piece) == 2)
        model.pieces.add(piece=piece, score=-10.0 if single else -5.0, type=spm_pb.ModelProto.SentencePiece.NORMAL)
    model.trainer_spec.model_type = spm_pb.TrainerSpec.UNIGRAM
    model.trainer_spec.vocab_size = len(model.pieces)
    model.trainer_spec.unk_id, model.trainer_spec.bos_id, model.trainer_spec.eos_id = 0, 1, 2
    model.trainer_spec.pad_id = -1
    model.normalizer_spec.name = "identity"
    model.normalizer_spec.add_dummy_prefix = True
    model.normalizer_spec.remove_extra_whitespaces = True
    model.normalizer_spec.escape_whitespaces = True
    return model.SerializeToString()


@functools.lru_cache(maxsize=2)
def _tiny_tokenizer_folder(vocab_size: int | None) -> Path:
    """The tiny tokenizer's files, under the real repository's names, written once per process. MarianTokenizer
    reads its SentencePiece models from files (and again from them when it is copied), so they stay until exit.
    `vocab_size`: the vocabulary padded with unused pieces to the real model's size (<pad> last, as there)."""
    folder = Path(tempfile.mkdtemp(prefix="dlclass-tiny-marian-"))
    atexit.register(shutil.rmtree, folder, True)
    pieces = tiny_pieces()
    spm = _spm_model(pieces)
    (folder / "source.spm").write_bytes(spm)
    (folder / "target.spm").write_bytes(spm)
    # The real vocab.json's layout: </s> 0, <unk> 1, the pieces, <pad> last (the decoder's start token).
    vocab = {"</s>": 0, "<unk>": 1, **{p: i + 2 for i, p in enumerate(pieces)}}
    vocab.update({f"<unused{i}>": i for i in range(len(vocab), (vocab_size or 0) - 1)})
    vocab["<pad>"] = len(vocab)
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    (folder / "tokenizer_config.json").write_text(json.dumps(TOKENIZER_CONFIG), encoding="utf-8")
    return folder


def tiny_tokenizer(vocab_size: int | None = None):
    """A MarianTokenizer (SentencePiece pieces, '</s>' appended) over the tiny vocabulary."""
    from transformers import MarianTokenizer

    return MarianTokenizer.from_pretrained(_tiny_tokenizer_folder(vocab_size), model_max_length=512)


# ---------------------------------------------------------------- the models


def _generation_config(pad: int):
    from transformers import GenerationConfig

    return GenerationConfig(**{**REAL_GENERATION, "bad_words_ids": [[pad]], "decoder_start_token_id": pad,
                               "pad_token_id": pad})


def _marian(sizes: dict, vocab_size: int):
    from transformers import MarianConfig, MarianMTModel

    pad = vocab_size - 1
    config = MarianConfig(**{**REAL_CONFIG, **sizes, "vocab_size": vocab_size, "decoder_vocab_size": vocab_size,
                             "pad_token_id": pad, "decoder_start_token_id": pad})
    model = MarianMTModel(config)
    model.generation_config = _generation_config(pad)
    return model


def _tiny_translation():
    tokenizer = tiny_tokenizer()
    model = _marian(TINY_SIZES, len(tokenizer))
    model.final_logits_bias[0, REAL_CONFIG["eos_token_id"]] = TINY_END_BIAS
    return model, tokenizer


def _real_translation():
    """The real sizes; the tiny tokenizer padded to the real vocabulary (every id the model writes has a piece)."""
    return _marian({}, REAL_CONFIG["vocab_size"]), tiny_tokenizer(REAL_CONFIG["vocab_size"])


hub.add_task(hub.Task(
    TASK, SPEC, REPO, "AutoModelForSeq2SeqLM", "apache-2.0", 312,
    ("Helsinki-NLP OPUS-MT 한국어→영어: 인코더 6층 + 디코더 6층 번역 트랜스포머 (7,800만 매개변수)",
     "Helsinki-NLP OPUS-MT Korean→English: a translation Transformer, 6 encoder + 6 decoder layers (78 M parameters)"),
    hub_files=("config.json", ("model.safetensors", "pytorch_model.bin"), "generation_config.json", "source.spm",
               "target.spm", "vocab.json", "tokenizer_config.json"),
    tiny_parts=_tiny_translation, real_parts=_real_translation))
