"""The Hugging Face lesson's speech row (Whisper): the transcript against `transformers.pipeline(
"automatic-speech-recognition")` on the same model, audio and generate_kwargs (an independent path); the
spectrogram against OpenAI's recipe (torch.stft); the tokens' probabilities against `generate`'s own logits;
the language against Whisper's own detection; the recording read without ffmpeg, resampled, limited and
deleted once read; bad input in both languages; a typed name refused offline; the facts; the tiny repository
written with the real file names and loaded back (test zoo: DLCLASS_MODELS=tiny, offline)."""
from __future__ import annotations

import os
import re
import shutil
import string
import wave

import numpy as np
import pytest
import torch
from transformers import pipeline

from core import models
from core.text import Problem
from core.zoo import hub as zoo
from core.zoo import hub_speech
from tabs.hub import speech, view_speech
from tabs.hub.text_speech import TEXT


@pytest.fixture(scope="module")
def whisper():
    return models.get(zoo.TASKS[speech.TASK].spec)


@pytest.fixture(scope="module")
def asr(whisper):
    return pipeline("automatic-speech-recognition", model=whisper.model, tokenizer=whisper.tokenizer.tokenizer,
                    feature_extractor=whisper.tokenizer.feature_extractor)


def _key(problem: Problem) -> str:
    return problem.message.key.split(".", 1)[1]


def write_wav(path, samples: np.ndarray, rate: int) -> str:
    """A 16-bit PCM WAV, as the browser's recorder in Gradio writes one (its channels interleaved)."""
    samples = np.asarray(samples)
    channels = 1 if samples.ndim == 1 else samples.shape[1]
    pcm = np.clip(np.round(samples * 32767), -32768, 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return str(path)


def tone(freq: float, seconds: float, rate: int, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(round(seconds * rate))) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def chirp_stereo(rate: int = 48_000, seconds: float = 2.0) -> np.ndarray:
    """A rising tone on the left, a falling one on the right: something of a spectrogram to read."""
    t = np.arange(int(seconds * rate)) / rate
    left = 0.4 * np.sin(2 * np.pi * (200 + 800 * t) * t)
    right = 0.3 * np.sin(2 * np.pi * (3000 - 600 * t) * t)
    return np.stack([left, right], axis=1).astype(np.float32)


# ---------------------------------------------------------------- the answer equals the pipeline's


@pytest.mark.parametrize("which,language,beams", [
    ("example_ko", "korean", 5), ("example_ko", "auto", 1), ("example_en", "english", 1), ("example_en", "auto", 5),
    ("chirp_48k_stereo", "korean", 1), ("chirp_48k_stereo", "auto", 5)])
def test_transcript_equals_the_pipeline(whisper, asr, tmp_path, which, language, beams):
    source = {"example_ko": speech.EXAMPLES[0], "example_en": speech.EXAMPLES[1],
              "chirp_48k_stereo": write_wav(tmp_path / "chirp.wav", chirp_stereo(), 48_000)}[which]
    ours = speech.transcribe(source, language, beams)
    audio = speech.recording_of(source).samples  # 16 kHz mono: the pipeline would need torchaudio to resample
    kwargs = speech.generate_kwargs(language, beams)
    if beams == 5:
        del kwargs["num_beams"]  # the pipeline's own default is 5 beams: the line a student writes leaves it out
    theirs = asr(audio.copy(), generate_kwargs=kwargs, return_language=True)
    assert ours.transcript == theirs["text"]
    # the language token in the prompt is the one the pipeline reports
    from transformers.models.whisper.tokenization_whisper import LANGUAGES

    assert LANGUAGES[ours.language_token[2:-2]] == theirs["chunks"][0]["language"]
    assert ours.prompt[0] == "<|startoftranscript|>" and ours.prompt[2:] == ["<|transcribe|>", "<|notimestamps|>"]
    if language != "auto":
        assert ours.language_token == f"<|{speech.language_code(language)}|>" and ours.language_told


def test_the_written_tokens_are_generates_with_the_models_probabilities(whisper):
    """Greedy decoding: the tokens and each one's probability from generate's own raw logits (a KV-cached
    step at a time) equal ours (one pass over the finished sequence)."""
    recording = speech.recording_of(speech.EXAMPLE)
    result = speech.transcribe_with(whisper, recording, "korean", 1)
    features = speech.features_of(whisper.tokenizer, recording.samples)
    with torch.inference_mode():
        out = whisper.model.generate(**features, language="korean", task="transcribe", num_beams=1,
                                     return_dict_in_generate=True, output_logits=True)
    ids = out["sequences"][0].tolist()
    tokenizer = whisper.tokenizer.tokenizer
    assert tokenizer.convert_ids_to_tokens(ids[:4]) == result.prompt
    written = ids[4:]
    assert [s.token_id for s in result.steps] == written
    expected = [float(step[0].double().softmax(-1)[t]) for step, t in zip(out["logits"], written)]
    np.testing.assert_allclose([s.probability for s in result.steps], expected, atol=2e-5)
    assert [s.piece for s in result.steps] == tokenizer.convert_ids_to_tokens(written)
    assert result.stopped == (written[-1] == tokenizer.eos_token_id)


def test_the_language_is_whispers_own_detection(whisper):
    recording = speech.recording_of(speech.EXAMPLES[1])
    result = speech.transcribe_with(whisper, recording, "auto", 1)
    features = speech.features_of(whisper.tokenizer, recording.samples)
    detected = whisper.model.detect_language(features["input_features"])
    assert result.language_token == whisper.tokenizer.tokenizer.convert_ids_to_tokens(int(detected[0]))
    assert not result.language_told and result.language_token == result.languages[0][0]
    probs = [p for _, p in result.languages]
    assert probs == sorted(probs, reverse=True) and len(probs) == speech.TOP_LANGUAGES and sum(probs) <= 1 + 1e-6
    assert all(re.fullmatch(r"<\|[a-z]{2,3}\|>", token) for token, _ in result.languages)


def test_the_spectrogram_is_whispers_log_mel(whisper):
    """OpenAI's recipe, written with torch.stft: pad to 30 s, |STFT|^2 (Hann 400, hop 160), the mel filters,
    log10, floor at max - 8, scaled (x + 4) / 4."""
    recording = speech.recording_of(speech.EXAMPLE)
    result = speech.transcribe_with(whisper, recording, "korean", 1)
    extractor = whisper.tokenizer.feature_extractor
    audio = torch.zeros(speech.SAMPLE_RATE * 30, dtype=torch.float64)
    audio[:len(recording.samples)] = torch.from_numpy(recording.samples.astype(np.float64))
    stft = torch.stft(audio, 400, 160, window=torch.hann_window(400, dtype=torch.float64), return_complex=True)
    power = stft[..., :-1].abs() ** 2
    mel = torch.from_numpy(extractor.mel_filters.T.astype(np.float64)) @ power
    log_spec = mel.clamp(min=1e-10).log10()
    log_spec = torch.maximum(log_spec, log_spec.max() - 8.0)
    expected = ((log_spec + 4.0) / 4.0).numpy()
    assert result.mel.shape == (80, 3000)
    np.testing.assert_allclose(result.mel, expected, atol=1e-4)
    assert result.audio_frames == -(-len(recording.samples) // 160)  # frames of 10 ms that hold the recording
    assert np.allclose(result.mel[:, result.audio_frames + 2:], result.mel[:, -1:], atol=1e-6)  # the padding


# ---------------------------------------------------------------- the recording


def test_a_wav_is_read_without_ffmpeg_in_every_sample_format(tmp_path):
    from scipy.io import wavfile

    signal = tone(440, 1.0, 16_000)
    cases = {"int16": (signal * 32767).astype(np.int16), "int32": (signal * 2**31 * 0.999).astype(np.int32),
             "uint8": np.round(signal * 127 + 128).astype(np.uint8), "float32": signal}
    for name, data in cases.items():
        path = tmp_path / f"{name}.wav"
        wavfile.write(path, 16_000, data)
        recording = speech.recording_of(str(path))
        np.testing.assert_allclose(recording.samples, signal, atol=0.01, err_msg=name)
        assert recording.rate_in == 16_000 and recording.channels_in == 1


def test_gradios_audio_input_hands_over_the_wav_untouched_and_needs_no_ffmpeg(tmp_path, monkeypatch):
    """The adapter's assumption: gr.Audio(type="filepath") passes the uploaded file's path on (no conversion
    without `format`); type="numpy" would decode it with pydub first (WAV without ffmpeg too, but before our
    size and length checks, and any other format fails there in English alone)."""
    import gradio as gr
    from gradio.data_classes import FileData

    path = write_wav(tmp_path / "audio.wav", chirp_stereo(), 48_000)
    monkeypatch.setenv("PATH", str(tmp_path))  # no ffmpeg or ffprobe to be found, as on CI
    assert shutil.which("ffmpeg") is None and shutil.which("ffprobe") is None
    as_path = gr.Audio(type="filepath", sources=["microphone", "upload"]).preprocess(FileData(path=path))
    assert as_path == path
    rate, data = gr.Audio(type="numpy").preprocess(FileData(path=path))
    assert rate == 48_000 and data.shape == (96_000, 2) and data.dtype == np.int16
    ours = speech.recording_of(as_path)
    np.testing.assert_allclose(ours.samples, speech.recording_of((rate, data)).samples, atol=1e-6)


def test_resampled_to_16_khz_mono_without_aliasing():
    rate = 44_100
    left, right = tone(1000, 1.0, rate), tone(1000, 1.0, rate, amplitude=0.1)
    recording = speech.recording_of((rate, np.stack([left, right], axis=1)))
    assert recording.rate_in == rate and recording.channels_in == 2
    assert len(recording.samples) == int(np.ceil(rate * 1.0 * 16_000 / rate))
    spectrum = np.abs(np.fft.rfft(recording.samples))
    assert np.argmax(spectrum) * speech.SAMPLE_RATE / len(recording.samples) == pytest.approx(1000, abs=2)
    middle = recording.samples[2000:-2000]
    assert middle.max() == pytest.approx(0.3, abs=0.01)  # the two channels' mean
    # 10 kHz cannot exist at 16 kHz (its limit is 8 kHz): filtered out, not folded down to 6 kHz
    high = speech.recording_of((48_000, tone(10_000, 1.0, 48_000))).samples
    assert np.abs(high[1000:-1000]).max() < 0.01
    # (channels, samples) from an API caller is read the same way
    flipped = speech.recording_of((rate, np.stack([left, right], axis=0)))
    np.testing.assert_allclose(flipped.samples, recording.samples)


@pytest.mark.parametrize("value,key", [
    (None, "no_audio"), ("", "no_audio"), (12, "not_audio"), ((16_000, np.array([], dtype=np.int16)), "no_audio"),
    ((16_000, np.zeros(31 * 16_000, dtype=np.int16)), "audio_too_long"),
    ((16_000, np.zeros(100, dtype=np.int16)), "audio_too_short"),
    ((0, np.zeros(16_000, dtype=np.int16)), "bad_rate"), (("abc", np.zeros(16_000)), "bad_rate"),
    ((16_000, np.array(["a"] * 16_000)), "not_audio"), ((16_000, np.zeros((2, 2, 16_000))), "not_audio"),
])
def test_bad_recordings_in_both_languages(value, key):
    with pytest.raises(Problem) as caught:
        speech.transcribe(value)
    assert _key(caught.value) == key
    ko, en = caught.value.say("ko"), caught.value.say("en")
    assert re.search("[가-힣]", ko) and ko != en and not re.search("[가-힣]", en)
    assert "Traceback" not in en and "/" not in en and "ndarray" not in en


def test_bad_files_in_both_languages(tmp_path):
    text_file = tmp_path / "notes.wav"
    text_file.write_text("this is not a recording")
    mp3 = tmp_path / "song.mp3"
    mp3.write_bytes(b"ID3\x04\x00\x00\x00\x00\x00\x00" + bytes(2000))
    big = tmp_path / "big.wav"
    with open(big, "wb") as handle:
        handle.truncate(speech.MAX_BYTES + 1)
    long_wav = write_wav(tmp_path / "long.wav", np.zeros(31 * 8_000), 8_000)
    for path, key in [(text_file, "not_wav"), (mp3, "not_wav"), (big, "audio_too_big"),
                      (long_wav, "audio_too_long"), (tmp_path / "missing.wav", "audio_gone")]:
        with pytest.raises(Problem) as caught:
            speech.transcribe(str(path))
        assert _key(caught.value) == key, path
        ko, en = caught.value.say("ko"), caught.value.say("en")
        assert re.search("[가-힣]", ko) and not re.search("[가-힣]", en) and str(tmp_path) not in ko + en


def test_a_recording_is_deleted_once_read_and_the_examples_stay(tmp_path):
    mine = write_wav(tmp_path / "audio.wav", chirp_stereo(), 48_000)
    recording = speech.take(mine)
    assert recording.seconds == pytest.approx(2.0) and not (tmp_path / "audio.wav").exists()
    refused = write_wav(tmp_path / "long.wav", np.zeros(31 * 8_000), 8_000)
    with pytest.raises(Problem):
        speech.take(refused)
    assert not (tmp_path / "long.wav").exists()  # refused, and not kept either
    copy = tmp_path / "gradio-cache" / "speech_ko.wav"  # the worked example as Gradio's cache holds it
    copy.parent.mkdir()
    shutil.copy(speech.EXAMPLE, copy)
    speech.take(str(copy))
    speech.take({"path": speech.EXAMPLE})
    assert copy.exists() and all(os.path.isfile(p) for p in speech.EXAMPLES)
    assert speech.forget(str(tmp_path / "never-there.wav")) is False


def test_settings_are_checked_with_notes():
    result = speech.transcribe(speech.EXAMPLE, "klingon", 99)
    assert result.language == "korean" and result.beams == 5
    assert [n.key for n in result.notes] == ["values.not_allowed", "values.clamped"]


# ---------------------------------------------------------------- the name is the model, the facts


def test_a_typed_name_is_refused_at_once_offline():
    assert models.offline()
    with pytest.raises(Problem) as caught:
        speech.transcribe(speech.EXAMPLE, "korean", 1, "openai/whisper-small")
    assert _key(caught.value) == "offline_name"
    assert "openai/whisper-base" in caught.value.say("en") and re.search("[가-힣]", caught.value.say("ko"))
    assert not [s for s in models.specs("hub") if "whisper-small" in s.name]


def test_the_facts_are_read_from_the_model(whisper):
    facts = speech.transcribe(speech.EXAMPLE, "korean", 1).facts
    assert facts.parameters == sum(p.numel() for p in whisper.model.parameters())
    assert facts.pipeline_line == 'pipeline("automatic-speech-recognition", model="openai/whisper-base")'
    assert facts.repo == hub_speech.REPO and not facts.real_weights


def test_the_tiny_model_has_whispers_special_tokens(whisper):
    tokenizer, config = whisper.tokenizer.tokenizer, whisper.model.generation_config
    assert len(config.lang_to_id) == 99 and config.lang_to_id["<|ko|>"] == tokenizer.convert_tokens_to_ids("<|ko|>")
    assert list(config.lang_to_id)[:6] == ["<|en|>", "<|zh|>", "<|de|>", "<|es|>", "<|ru|>", "<|ko|>"]
    assert tokenizer.convert_ids_to_tokens(config.no_timestamps_token_id) == "<|notimestamps|>"
    assert set(config.task_to_id) == {"translate", "transcribe"} and config.is_multilingual
    # the real vocabulary's layout: the specials in one run, <|endoftext|> first, <|notimestamps|> last
    ids = [tokenizer.convert_tokens_to_ids(t) for t in hub_speech.special_tokens()]
    assert ids == list(range(ids[0], ids[0] + 107)) and whisper.model.config.vocab_size == len(tokenizer)
    assert tokenizer.decode(tokenizer("서울은 한국의 수도", add_special_tokens=False)["input_ids"]) == "서울은 한국의 수도"


def test_the_real_architecture_is_whisper_base():
    bundle = zoo.build_real_architecture(speech.TASK)
    assert 72e6 < bundle.parameters < 74e6  # openai/whisper-base: 72.6 M (the model card rounds to 74 M)
    assert bundle.model.config.vocab_size == 51_865 and bundle.model.config.max_target_positions == 448


def test_the_tiny_repo_has_the_real_file_names_and_loads_back(whisper, tmp_path):
    """The repository written for the hub mirror holds every file Task.hub_files names, and transformers'
    Auto classes read it, as the loader does, into the same model and processor."""
    import transformers

    task = zoo.TASKS[speech.TASK]
    zoo.write_tiny_repo(task.repo, tmp_path)
    for wanted in task.hub_files:
        choices = (wanted,) if isinstance(wanted, str) else wanted
        assert any((tmp_path / name).is_file() for name in choices), f"{wanted} missing: {sorted(tmp_path.iterdir())}"
    assert zoo._licence_of(tmp_path) == "apache-2.0"
    model = getattr(transformers, task.auto_model).from_pretrained(tmp_path, local_files_only=True).eval()
    processor = getattr(transformers, task.processor_class).from_pretrained(tmp_path, local_files_only=True)
    assert type(processor).__name__ == "WhisperProcessor"
    loaded = zoo.HubModel("loaded", task.repo, task.task, model, processor, False, "test", "", "", 0)
    recording = speech.recording_of(speech.EXAMPLE)
    again = speech.transcribe_with(loaded, recording, "korean", 5)
    assert again.transcript == speech.transcribe_with(whisper, recording, "korean", 5).transcript
    assert model.generation_config.lang_to_id == whisper.model.generation_config.lang_to_id


# ---------------------------------------------------------------- the words and the views


def test_every_text_has_both_languages_with_the_same_placeholders():
    from core.text import EN, KO

    keys = [k for k in KO if k.startswith("hub_speech.")]
    assert len(keys) > 30
    for full in keys:
        ko_fields = {f for _, f, _, _ in string.Formatter().parse(KO[full]) if f}
        en_fields = {f for _, f, _, _ in string.Formatter().parse(EN[full]) if f}
        assert ko_fields == en_fields, full
        assert KO[full] != EN[full] and re.search("[가-힣]", KO[full]), full


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_the_views_in_both_languages(lang):
    result = speech.transcribe(speech.EXAMPLE, "korean", 5)
    facts, mel, languages, tokens, words = view_speech.speech_outputs(result, lang)
    assert 'pipeline("automatic-speech-recognition", model="openai/whisper-base")' in facts
    heatmap = mel.data[0]
    assert np.asarray(heatmap.z).shape == (80, 1000) and mel.layout.title.text == TEXT.say(lang, "fig_mel")
    assert mel.layout.shapes[0].x0 == pytest.approx(result.audio_frames / 100)
    assert languages.layout.title.text == TEXT.say(lang, "fig_language", k=speech.TOP_LANGUAGES)
    assert len(tokens.data[0].y) == len(result.steps)
    assert "<|ko|>" in words and result.call_line in words and "&lt;" not in words
    assert result.call_line == "asr(\"recording.wav\", generate_kwargs={'language': 'korean', 'task': 'transcribe'})"
    assert (re.search("[가-힣]{3}", words.split("**")[0]) is not None) == (lang == "ko")
    import plotly.io as pio

    assert len(pio.to_json(mel)) < 200_000  # one byte per cell, sent as base64


# ---------------------------------------------------------------- the tab (tabs/hub/tab.py's speech row)


def test_the_tab_registers_the_row_and_shows_the_worked_example():
    import app
    from tabs.hub import tab

    _, page = app.build_app()
    assert "hub_speech" in {r.name for r in page.registered}
    args = dict(page.warmed())["on_open:hub_speech"]
    recording, language, beams, name = args
    with open(recording, "rb") as cached, open(speech.EXAMPLE, "rb") as example:
        assert cached.read() == example.read()  # Gradio's copy of the worked example
    facts, mel, languages, tokens, words = tab.hub_speech(*args, lang="en")
    assert (language, beams, name) == ("korean", 1, "openai/whisper-base")
    assert speech.transcribe(speech.EXAMPLE).transcript in words and TEXT.say("en", "deleted") not in words
    assert os.path.isfile(recording)  # the example stays


def test_the_tab_deletes_a_recording_once_answered(tmp_path):
    from tabs.hub import tab

    path = write_wav(tmp_path / "audio.wav", chirp_stereo(), 48_000)
    expected = speech.transcribe(path, "korean", 1)
    *_, words = tab.hub_speech(path, "korean", 1, "", lang="ko")
    assert expected.transcript in words and TEXT.say("ko", "deleted") in words
    assert not os.path.exists(path)
    with pytest.raises(Problem) as caught:  # the same box clicked again: the file is gone, and it says so
        tab.hub_speech(path, "korean", 5, "", lang="en")
    assert _key(caught.value) == "audio_gone"
