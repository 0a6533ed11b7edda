"""The Hugging Face lesson's speech row: automatic speech recognition with Whisper.

| spec | task | repository | why this one |
|---|---|---|---|
| hub_speech | automatic-speech-recognition | openai/whisper-base | multilingual Whisper (99 languages, Korean among them), 74 M parameters |

Why base and not tiny: the row is about Korean, and Korean is where the smallest Whisper is weakest (the Whisper
paper's per-language results improve markedly with size); base is still the second smallest Whisper, 290 MB of
float32 weights. Its cost on a 2-core CPU, measured with the bench's random weights (a busy machine: upper
bounds): the encoder about 2 s for the 30-second window, a greedy transcript of 32 tokens about 5 s, five beams
about three times that; whisper-tiny's architecture took about half as long. The model reads a log-mel
spectrogram (80 mel bands, 100 frames a second, always 30 s: shorter audio is padded) and writes tokens after a
prompt of special tokens: <|startoftranscript|> <|ko|> <|transcribe|> <|notimestamps|>.

The test zoo builds the same classes offline: a WhisperForConditionalGeneration of a tiny WhisperConfig
(random weights, seeded) with a generation config that has Whisper's real special tokens (the 99 language
tokens in OpenAI's order, the two tasks, <|notimestamps|>, what to suppress) as `generate` needs them,
and a WhisperProcessor: the real feature extractor (its settings are the real ones: the spectrogram is the
real spectrogram) and a byte-level BPE WhisperTokenizer made here, whose special tokens are Whisper's.
"""
from __future__ import annotations

import functools

from core.zoo import hub

REPO = "openai/whisper-base"
TASK = "automatic-speech-recognition"

# Whisper's special tokens in the order of the real vocabulary (after <|endoftext|>, id 50257 there):
# the start, the 99 languages of the multilingual models before large-v3, the two tasks, then the rest.
START, END = "<|startoftranscript|>", "<|endoftext|>"
TASKS = ("translate", "transcribe")
AFTER_TASKS = ("<|startoflm|>", "<|startofprev|>", "<|nocaptions|>", "<|notimestamps|>")

TINY_WHISPER = dict(d_model=32, encoder_layers=2, decoder_layers=2, encoder_attention_heads=2,
                    decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64)
# Sizes the model's input fixes: 80 mel bands, 3000 frames (30 s) halved by the encoder's convolutions.
WHISPER_SHAPE = dict(num_mel_bins=80, max_source_positions=1500, max_target_positions=448)
# The test zoo's longest answer (prompt included). Not 20: that is GenerationConfig's default, which the
# pipeline would then replace with its own max_new_tokens=256.
TINY_MAX_LENGTH = 16
# The bench's random weights seldom choose the end token either: they write as many tokens as a spoken sentence of
# a few seconds takes (the real model stops there), not the 448 the real generation config allows.
BENCH_MAX_LENGTH = 32
# openai/whisper-base's config.json (the bench builds this with random weights).
REAL_WHISPER_BASE = dict(vocab_size=51865, d_model=512, encoder_layers=6, decoder_layers=6,
                         encoder_attention_heads=8, decoder_attention_heads=8, encoder_ffn_dim=2048,
                         decoder_ffn_dim=2048)


def language_codes() -> list[str]:
    """The 99 language codes of the multilingual Whisper models (large-v3 added Cantonese, 'yue', after them)."""
    from transformers.models.whisper.tokenization_whisper import LANGUAGES

    return [code for code in LANGUAGES if code != "yue"]


def special_tokens() -> list[str]:
    return [END, START, *(f"<|{code}|>" for code in language_codes()), *(f"<|{t}|>" for t in TASKS), *AFTER_TASKS]


@functools.lru_cache(maxsize=1)
def _byte_pieces() -> tuple[dict[str, int], list[tuple[str, str]]]:
    """GPT-2's byte-level alphabet (what Whisper's tokenizer is made of) and merges that make every everyday
    Hangul syllable one piece (its three UTF-8 bytes: the first two, then the third), the same every run."""
    from core.zoo import text as text_zoo

    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    byte_char, extra = {}, 0
    for b in range(256):  # GPT-2's bytes_to_unicode: printable bytes stand for themselves, others move up
        if b in printable:
            byte_char[b] = chr(b)
        else:
            byte_char[b] = chr(256 + extra)
            extra += 1
    vocab = {byte_char[b]: i for i, b in enumerate(sorted(byte_char))}
    merges: list[tuple[str, str]] = []
    for syllable in text_zoo.hangul_syllables():
        first, second, third = (byte_char[b] for b in syllable.encode("utf-8"))
        for left, right in ((first, second), (first + second, third)):
            if left + right not in vocab:
                vocab[left + right] = len(vocab)
                merges.append((left, right))
    return vocab, merges


def tiny_whisper_tokenizer():
    """A byte-level BPE WhisperTokenizer with Whisper's special tokens, made offline."""
    from transformers import WhisperTokenizer

    vocab, merges = _byte_pieces()
    return WhisperTokenizer(vocab=dict(vocab), merges=list(merges), unk_token=END, bos_token=END, eos_token=END,
                            pad_token=END, additional_special_tokens=special_tokens()[1:], model_max_length=1024)


def whisper_processor(tokenizer):
    """Whisper's processor: the real feature extractor's settings (80 mel bands, 16 kHz, 30 s) and `tokenizer`."""
    from transformers import WhisperFeatureExtractor, WhisperProcessor

    extractor = WhisperFeatureExtractor(feature_size=WHISPER_SHAPE["num_mel_bins"], sampling_rate=16_000,
                                        hop_length=160, chunk_length=30, n_fft=400)
    return WhisperProcessor(feature_extractor=extractor, tokenizer=tokenizer)


def generation_config(tokenizer, max_length: int = WHISPER_SHAPE["max_target_positions"]):
    """What Whisper's `generate` reads, as openai/whisper-base's generation_config.json has it, with `tokenizer`'s
    ids: the prompt's tokens, the languages and tasks it may be told, what it may not write."""
    from transformers import GenerationConfig

    ids = tokenizer.convert_tokens_to_ids
    end = ids(END)
    return GenerationConfig(
        decoder_start_token_id=ids(START), bos_token_id=end, eos_token_id=end, pad_token_id=end,
        max_length=max_length, is_multilingual=True, return_timestamps=False,
        lang_to_id={f"<|{code}|>": ids(f"<|{code}|>") for code in language_codes()},
        task_to_id={task: ids(f"<|{task}|>") for task in TASKS},
        no_timestamps_token_id=ids("<|notimestamps|>"), prev_sot_token_id=ids("<|startofprev|>"),
        forced_decoder_ids=[[1, None], [2, ids("<|transcribe|>")]],
        # the first token may not be a space or the end; the special tokens are never written as text
        begin_suppress_tokens=[ids("Ġ"), end],
        suppress_tokens=[ids(t) for t in ("<|startoflm|>", "<|nocaptions|>", "<|startofprev|>", START,
                                          "<|translate|>", "<|transcribe|>")],
        max_initial_timestamp_index=50,
    )


def _model(config_sizes: dict, tokenizer, vocab_size: int, max_length: int):
    from transformers import WhisperConfig, WhisperForConditionalGeneration

    gen = generation_config(tokenizer, max_length)
    config = WhisperConfig(vocab_size=vocab_size, pad_token_id=gen.pad_token_id, bos_token_id=gen.bos_token_id,
                           eos_token_id=gen.eos_token_id, decoder_start_token_id=gen.decoder_start_token_id,
                           begin_suppress_tokens=gen.begin_suppress_tokens, suppress_tokens=gen.suppress_tokens,
                           **{**WHISPER_SHAPE, **config_sizes})
    model = WhisperForConditionalGeneration(config)
    model.generation_config = gen
    return model


def _tiny_speech():
    tokenizer = tiny_whisper_tokenizer()
    # At most TINY_MAX_LENGTH tokens: random weights seldom choose the end token, and 448 steps of 5 beams
    # would make every test wait.
    return _model(TINY_WHISPER, tokenizer, len(tokenizer), TINY_MAX_LENGTH), whisper_processor(tokenizer)


def _real_speech():
    """openai/whisper-base's architecture with random weights; the test zoo's processor (its ids lie inside the
    real vocabulary of 51,865 tokens)."""
    tokenizer = tiny_whisper_tokenizer()
    sizes = {k: v for k, v in REAL_WHISPER_BASE.items() if k != "vocab_size"}
    return (_model(sizes, tokenizer, REAL_WHISPER_BASE["vocab_size"], BENCH_MAX_LENGTH), whisper_processor(tokenizer))


def prepare_library() -> None:
    """Resolve transformers' lazily imported Whisper classes once (the loader's import thread)."""
    from transformers import (AutoModelForSpeechSeq2Seq, AutoProcessor, WhisperFeatureExtractor,  # noqa: F401
                              WhisperForConditionalGeneration, WhisperProcessor, WhisperTokenizer)


SPEECH = hub.add_task(hub.Task(
    TASK, "hub_speech", REPO, "AutoModelForSpeechSeq2Seq", "apache-2.0", 290,
    ("OpenAI Whisper base: 99개 언어(한국어 포함)를 알아듣는 음성 인식 모델 (7천4백만 매개변수)",
     "OpenAI Whisper base: speech recognition in 99 languages, Korean among them (74 M parameters)"),
    # What the loader reads from the repository (the tokenizer's vocab.json, merges.txt and normalizer.json are
    # there too; tokenizer.json holds the same vocabulary and merges).
    hub_files=("config.json", "generation_config.json", ("model.safetensors", "pytorch_model.bin"),
               "preprocessor_config.json", "tokenizer.json", "tokenizer_config.json"),
    tiny_parts=_tiny_speech, real_parts=_real_speech, processor_class="AutoProcessor"))
