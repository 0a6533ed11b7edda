"""A row of the hub's table, Whisper: speech to text. Read top to bottom, as a recording goes through it:

1. the recording: a WAV file (the browser's recorder makes one; other formats would need ffmpeg, which this
   server may not have) or a (sample rate, samples) pair, checked: at most MAX_BYTES and MAX_SECONDS, not
   empty; made mono, float in [-1, 1], and resampled to the 16 kHz Whisper was trained on (`recording_of`).
   A page's uploaded file is deleted from the server as soon as it is read (`take`): only the answer stays.
2. what the model sees: the feature extractor turns the audio into a log-mel spectrogram, 80 mel bands by
   3,000 frames of 10 ms: always 30 seconds (shorter audio is padded with silence).
3. the language: after <|startoftranscript|> the model gives every language token a probability; the one it
   is told (<|ko|> for "korean") or, left to itself ("auto"), the most likely one goes into the prompt.
4. the tokens: `model.generate` writes after <|startoftranscript|> <|ko|> <|transcribe|> <|notimestamps|>
   until <|endoftext|>, one likeliest token at a time (beams=1), or keeping the 5 best sequences (beam search,
   the pipeline's default); each token's probability is the model's own, read in one pass over the sequence.
5. the transcript: the text tokens decoded, as `transformers.pipeline("automatic-speech-recognition")` gives
   it for the same audio and generate_kwargs (tests/test_hub_speech.py compares).
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import os
from pathlib import Path

import numpy as np
import torch

from core import values
from core.zoo import hub as zoo
from core.zoo import hub_speech  # noqa: F401 - registers this row's Task (zoo.TASKS) before the loader is asked
from tabs.hub import compute
from tabs.hub.text_speech import TEXT

TASK = "automatic-speech-recognition"
SAMPLE_RATE = 16_000  # what Whisper was trained on
MAX_SECONDS = 30  # Whisper reads 30 s at a time; longer audio would need chunking
MIN_SECONDS = 0.1
MAX_BYTES = 12 * 2**20  # 30 s of 48 kHz stereo 16-bit WAV is 5.8 MB; 32-bit float twice that
EXAMPLE = str(Path(__file__).resolve().parents[2] / "assets" / "examples" / "speech_ko.wav")
EXAMPLES = [EXAMPLE, str(Path(EXAMPLE).with_name("speech_en.wav"))]
LANGUAGES = ("korean", "english", "auto")
TOP_LANGUAGES = 5

SETTINGS = values.settings(
    values.Setting("language", TEXT.msg("name_language"), default="korean", choices=LANGUAGES),
    # Greedy by default: on a 2-core CPU five beams cost about three times as much (the pipeline's own default is 5,
    # one click away, and the call line then says so).
    values.Setting("beams", TEXT.msg("name_beams"), default=1, low=1, high=5, integer=True),
)


@dataclasses.dataclass
class Step:
    token_id: int
    piece: str  # the tokenizer's own piece (byte-level: a Hangul syllable's bytes may span two pieces)
    text: str  # the piece decoded alone ("�" where it holds part of a character)
    probability: float  # the model's probability of this token after the ones before it
    first_choice: bool  # the most likely token there (beam search may keep another)


@dataclasses.dataclass
class SpeechResult:
    facts: compute.Facts
    transcript: str
    prompt: list[str]  # the special tokens the decoder starts from
    language_token: str  # the prompt's language token, e.g. "<|ko|>"
    language_told: bool  # True: the request named the language; False: the model picked it
    languages: list[tuple[str, float]]  # the most likely language tokens at the first step, probability
    steps: list[Step]
    stopped: bool  # the model wrote <|endoftext|>
    mel: np.ndarray  # (80, 3000) the log-mel spectrogram the model reads
    seconds: float  # of the recording
    rate_in: int  # the recording's sample rate
    channels_in: int
    language: str  # as requested: "korean", "english" or "auto"
    beams: int
    notes: list
    deleted: bool = False  # the recording's file was deleted from the server once read

    @property
    def audio_frames(self) -> int:
        """The spectrogram's frames that hold the recording (the rest of the 30 s is padding)."""
        return min(self.mel.shape[1], -(-round(self.seconds * SAMPLE_RATE) // 160))

    @property
    def call_line(self) -> str:
        """The pipeline call that gives this answer, as a student writes it in Colab."""
        kwargs = ({"language": self.language} if self.language != "auto" else {}) | {"task": "transcribe"}
        if self.beams != 5:
            kwargs["num_beams"] = self.beams
        return f"asr(\"recording.wav\", generate_kwargs={kwargs!r})"


# ---------------------------------------------------------------- 1. the recording


def read_wav(path: str) -> tuple[int, np.ndarray]:
    """A WAV file's (sample rate, samples), checked for size first. Any PCM or float WAV: scipy reads it."""
    from scipy.io import wavfile

    try:
        size = os.path.getsize(path)
    except OSError:
        raise TEXT.problem("audio_gone") from None
    if size > MAX_BYTES:
        raise TEXT.problem("audio_too_big", mb=f"{size / 2**20:.1f}", limit=MAX_BYTES // 2**20)
    try:
        rate, data = wavfile.read(path)
    except (ValueError, EOFError, OSError) as exc:  # not a RIFF WAV, a cut file, a codec scipy does not read
        raise TEXT.problem("not_wav") from exc
    return int(rate), np.asarray(data)


def _path_of(value) -> str | None:
    """The file a Gradio audio value or an API call names (a path, or a dict with one), else None."""
    if isinstance(value, dict):
        value = value.get("path") or value.get("name")
    return value if isinstance(value, (str, os.PathLike)) else None


def _as_float(data: np.ndarray) -> np.ndarray:
    """Samples as float32 in [-1, 1], one channel (the channels' mean)."""
    if data.dtype.kind == "i":
        data = data.astype(np.float32) / float(2 ** (8 * data.dtype.itemsize - 1))
    elif data.dtype.kind == "u":  # 8-bit WAV is unsigned around 128
        data = (data.astype(np.float32) - 128.0) / 128.0
    elif data.dtype.kind == "f":
        data = np.nan_to_num(data.astype(np.float32), nan=0.0, posinf=1.0, neginf=-1.0)
    else:
        raise TEXT.problem("not_audio")
    return (data.mean(axis=1) if data.ndim == 2 else data).astype(np.float32)


def resample(samples: np.ndarray, rate: int) -> np.ndarray:
    """To 16 kHz with a polyphase filter (scipy's resample_poly: low-pass, then up and down by whole ratios)."""
    if rate == SAMPLE_RATE:
        return samples
    from math import gcd

    from scipy.signal import resample_poly

    g = gcd(rate, SAMPLE_RATE)
    return resample_poly(samples, SAMPLE_RATE // g, rate // g).astype(np.float32)


@dataclasses.dataclass
class Recording:
    samples: np.ndarray  # float32, mono, 16 kHz
    rate_in: int
    channels_in: int
    deleted: bool = False  # its uploaded file was deleted from the server once read (`take`)

    @property
    def seconds(self) -> float:
        return len(self.samples) / SAMPLE_RATE


def recording_of(value) -> Recording:
    """The audio Whisper reads: a WAV path or a (sample rate, samples) pair, checked, mono, 16 kHz."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise TEXT.problem("no_audio")
    path = _path_of(value)
    if path is not None:
        rate, data = read_wav(os.fspath(path))
    elif isinstance(value, (tuple, list)) and len(value) == 2:
        rate, data = value
        data = np.asarray(data)
    else:
        raise TEXT.problem("not_audio")
    if isinstance(rate, (float, np.floating)) and float(rate).is_integer():  # 16000.0 from a JSON caller
        rate = int(rate)
    if isinstance(rate, bool) or not isinstance(rate, (int, np.integer)) or not 1_000 <= int(rate) <= 384_000:
        raise TEXT.problem("bad_rate", rate=str(rate)[:20])
    if data.ndim not in (1, 2):
        raise TEXT.problem("not_audio")
    if data.size == 0:
        raise TEXT.problem("no_audio")
    channels = 1 if data.ndim == 1 else min(data.shape)
    if data.ndim == 2 and data.shape[0] < data.shape[1]:  # (channels, samples) from an API caller
        data = data.T
    seconds = data.shape[0] / int(rate)
    if seconds > MAX_SECONDS + 0.05:
        raise TEXT.problem("audio_too_long", seconds=f"{seconds:.1f}", limit=MAX_SECONDS)
    if seconds < MIN_SECONDS:
        raise TEXT.problem("audio_too_short", seconds=f"{seconds:.2f}")
    return Recording(resample(_as_float(data), int(rate)), int(rate), int(channels))


@functools.lru_cache(maxsize=1)
def _examples() -> dict[int, str]:
    """The worked examples' (size: content digest)."""
    return {os.path.getsize(p): _digest(p) for p in EXAMPLES if os.path.isfile(p)}


def _digest(path: str) -> str:
    with open(path, "rb") as handle:
        return hashlib.blake2b(handle.read(), digest_size=16).hexdigest()


def forget(value) -> bool:
    """Delete an uploaded recording once it has been read (or refused): the server keeps the answer, not the
    voice. The worked examples, and their copies in Gradio's cache that the page plays, stay. True when deleted."""
    path = _path_of(value)
    if path is None or not os.path.isfile(path):
        return False
    path = os.fspath(path)
    example = _examples().get(os.path.getsize(path))
    if example is not None and _digest(path) == example:
        return False
    try:
        os.unlink(path)
    except OSError:  # already gone (another request read the same upload): nothing is kept either way
        return False
    return True


def take(value) -> Recording:
    """The recording of a page's request: read, and its upload deleted whatever the answer."""
    try:
        recording = recording_of(value)
    except BaseException:
        forget(value)
        raise
    recording.deleted = forget(value)
    return recording


# ---------------------------------------------------------------- 2-5. the model


def features_of(processor, samples: np.ndarray) -> dict:
    """The log-mel spectrogram (and its attention mask) exactly as the pipeline asks the feature extractor."""
    return processor.feature_extractor(samples, sampling_rate=SAMPLE_RATE, return_tensors="pt",
                                       return_attention_mask=True)


def generate_kwargs(language: str, beams: int) -> dict:
    """What the row passes to `generate`, the same as `pipeline(...)(audio, generate_kwargs=...)`."""
    return ({"language": language} if language != "auto" else {}) | {"task": "transcribe", "num_beams": beams}


def _language_probabilities(model, encoded, generation_config) -> dict[int, float]:
    """After <|startoftranscript|>, the model's probability of each language token (softmax over those
    tokens only: what Whisper's language detection compares)."""
    start = torch.tensor([[generation_config.decoder_start_token_id]], device=model.device)
    logits = model(encoder_outputs=encoded, decoder_input_ids=start).logits[0, -1].float()
    ids = list(generation_config.lang_to_id.values())
    probs = logits[ids].softmax(-1).cpu()
    return dict(zip(ids, probs.tolist()))


def _prompt(generation_config, language_id: int) -> list[int]:
    """<|startoftranscript|> <|xx|> <|transcribe|> <|notimestamps|>: the tokens `generate` starts from."""
    return [generation_config.decoder_start_token_id, language_id, generation_config.task_to_id["transcribe"],
            generation_config.no_timestamps_token_id]


def _steps(model, encoded, prompt: list[int], written: list[int], tokenizer) -> list[Step]:
    """Each written token's probability under the model, in one pass over prompt + written tokens."""
    if not written:
        return []
    ids = torch.tensor([prompt + written], device=model.device)
    logits = model(encoder_outputs=encoded, decoder_input_ids=ids).logits[0].float()
    probs = logits[len(prompt) - 1:-1].softmax(-1).cpu()
    pieces = tokenizer.convert_ids_to_tokens(written)
    return [Step(t, piece, tokenizer.decode([t]), float(row[t]), int(row.argmax()) == t)
            for t, piece, row in zip(written, pieces, probs)]


def _text_ids(ids: list[int], tokenizer, generation_config) -> list[int]:
    """The tokens that are text: not special, not timestamps (ids after <|notimestamps|>), as the pipeline keeps."""
    special = set(tokenizer.all_special_ids)
    timestamp_begin = generation_config.no_timestamps_token_id + 1
    return [t for t in ids if t not in special and t < timestamp_begin]


def _generate(bundle: zoo.HubModel, inputs: dict, encoded, language: str, beams: int) -> list[int]:
    """`generate` as the pipeline calls it, but from the encoder's output we computed already instead of the
    spectrogram (the encoder is most of the cost; running it again would give the same numbers)."""
    try:
        out = bundle.model.generate(encoder_outputs=encoded, attention_mask=inputs["attention_mask"],
                                    **generate_kwargs(language, beams))
    except ValueError as exc:  # a typed repository whose generation config lacks Whisper's languages
        raise TEXT.problem("not_whisper", name=bundle.repo) from exc
    sequences = out["sequences"] if isinstance(out, dict) else out
    return sequences[0].tolist()


def transcribe_with(bundle: zoo.HubModel, recording: Recording, language: str = "korean", beams: int = 1,
                    notes: list | None = None) -> SpeechResult:
    """Steps 2-5 for a loaded model: spectrogram, language, tokens, transcript."""
    processor, model = bundle.tokenizer, bundle.model
    tokenizer, config = processor.tokenizer, model.generation_config
    features = features_of(processor, recording.samples)
    inputs = {k: v.to(bundle.device, dtype=model.dtype if v.is_floating_point() else v.dtype)
              for k, v in features.items()}
    with torch.inference_mode():
        encoded = model.get_encoder()(inputs["input_features"])
        written = _generate(bundle, inputs, encoded, language, beams)
        by_language = _language_probabilities(model, encoded, config)
        told = language != "auto"
        language_id = (config.lang_to_id[f"<|{language_code(language)}|>"] if told
                       else max(by_language, key=by_language.get))  # generate's detection: the most likely
        prompt = _prompt(config, language_id)
        steps = _steps(model, encoded, prompt, written, tokenizer)
    top = sorted(by_language.items(), key=lambda item: -item[1])[:TOP_LANGUAGES]
    return SpeechResult(
        compute.facts_of(bundle), tokenizer.decode(_text_ids(written, tokenizer, config)),
        tokenizer.convert_ids_to_tokens(prompt), tokenizer.convert_ids_to_tokens(language_id), told,
        [(tokenizer.convert_ids_to_tokens(i), p) for i, p in top], steps,
        bool(written) and written[-1] == config.eos_token_id, features["input_features"][0].float().numpy(),
        recording.seconds, recording.rate_in, recording.channels_in, language, beams, list(notes or []),
        recording.deleted)


def language_code(language: str) -> str:
    """"korean" -> "ko": the code of a language Whisper knows by name."""
    from transformers.models.whisper.tokenization_whisper import TO_LANGUAGE_CODE

    return TO_LANGUAGE_CODE[language]


def transcribe(recording, language="korean", beams=1, model_name=None) -> SpeechResult:
    """A recording (a Recording, a WAV path, or a (sample rate, samples) pair) -> what Whisper writes."""
    notes: list = []
    language = SETTINGS["language"].take(language, notes)
    beams = SETTINGS["beams"].take(beams, notes)
    recording = recording if isinstance(recording, Recording) else recording_of(recording)
    bundle = compute.model_for(TASK, model_name)
    return transcribe_with(bundle, recording, language, beams, notes)
