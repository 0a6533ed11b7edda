"""Every word of the Hugging Face lesson's speech row (Whisper), in Korean and English."""
from __future__ import annotations

from core import text

TEXT = text.table("hub_speech", {
    # ---- controls (tab.py)
    "tab": ("말을 글로 (Whisper)", "Speech to text (Whisper)"),
    "audio": ("녹음하거나 WAV 파일 올리기 (30초까지)", "Record, or upload a WAV file (up to 30 s)"),
    "language": ("언어 (auto: 모델이 알아서 고름)", "Language (auto: the model picks)"),
    "beams": ("빔 수 (1: 매번 가장 그럴듯한 토큰, 5: pipeline 기본값)",
              "Beams (1: always the likeliest token; 5: the pipeline's default)"),
    "run": ("받아쓰기", "Transcribe"),
    "examples": ("예시", "Examples"),

    # ---- names of the settings inside notes
    "name_language": ("언어", "language"),
    "name_beams": ("빔 수", "beams"),

    # ---- bad input
    "no_audio": ("녹음이 없습니다. 마이크로 녹음하거나 WAV 파일을 올려 주세요.",
                 "There is no recording. Record with the microphone or upload a WAV file."),
    "not_audio": ("소리 데이터로 읽을 수 없습니다. 마이크로 녹음하거나 WAV 파일을 올려 주세요.",
                  "This cannot be read as sound. Record with the microphone or upload a WAV file."),
    "not_wav": ("WAV 파일만 읽을 수 있습니다 (MP3·M4A 같은 형식은 이 서버에서 풀 수 없습니다). "
                "마이크 버튼으로 녹음하면 WAV로 저장됩니다.",
                "Only WAV files can be read (formats such as MP3 or M4A cannot be decoded on this server). "
                "The microphone button records WAV."),
    "audio_gone": ("녹음 파일을 찾을 수 없습니다 (녹음은 답을 낸 뒤 서버에서 지웁니다). 다시 녹음하거나 올려 주세요.",
                   "The recording's file is not there (recordings are deleted from the server after the answer). "
                   "Please record or upload it again."),
    "audio_too_big": ("파일이 너무 큽니다 ({mb} MB). {limit} MB까지 올려 주세요.",
                      "The file is too large ({mb} MB). Please keep it to {limit} MB."),
    "audio_too_long": ("녹음이 {seconds}초로 너무 깁니다. Whisper는 한 번에 30초를 읽으니 {limit}초까지 녹음해 주세요.",
                       "The recording is {seconds} s long: too long. Whisper reads 30 seconds at a time, so please "
                       "keep it to {limit} s."),
    "audio_too_short": ("녹음이 {seconds}초로 너무 짧습니다. 한 문장을 말해 주세요.",
                        "The recording is only {seconds} s long. Please say a sentence."),
    "bad_rate": ("샘플링 주파수({rate})가 올바르지 않습니다.", "The sample rate ({rate}) is not valid."),
    "not_whisper": ("'{name}'은(는) Whisper처럼 언어와 작업을 지정할 수 있는 모델이 아닙니다.",
                    "'{name}' is not a model that takes a language and a task as Whisper does."),

    # ---- the answer (view_speech.py)
    "fig_mel": ("모델이 보는 것: 로그-멜 스펙트로그램 (80개 주파수 대역 × 30초)",
                "What the model sees: the log-mel spectrogram (80 frequency bands × 30 s)"),
    "axis_time": ("시간 (초)", "time (s)"),
    "axis_mel": ("멜 대역 (낮은 소리 → 높은 소리)", "mel band (low → high pitch)"),
    "padding": ("여기부터 빈 소리(패딩)", "padding from here"),
    "fig_language": ("첫 토큰에서 본 언어 확률 top-{k}", "Language probabilities at the first token, top {k}"),
    "fig_tokens": ("토큰마다 모델이 준 확률", "The model's probability of each token"),
    "axis_token": ("쓴 순서", "step"),
    "transcript": ("받아쓴 글: **{text}**", "Transcript: **{text}**"),
    "transcript_empty": ("받아쓴 글이 없습니다 (모델이 바로 끝 토큰을 골랐습니다).",
                         "No text (the model chose its end token at once)."),
    "recording": ("녹음: {seconds}초, {rate} Hz, {channels}채널 → 모델에는 16,000 Hz 한 채널로 넣었습니다.",
                  "Recording: {seconds} s, {rate} Hz, {channels} channel(s) → given to the model as 16,000 Hz, "
                  "one channel."),
    "deleted": ("녹음 파일은 읽자마자 서버에서 지웠습니다 (다른 설정으로 해 보려면 다시 녹음하세요).",
                "The recording's file was deleted from the server as soon as it was read (to try other settings, "
                "record again)."),
    "mel_note": ("스펙트로그램은 언제나 30초(3,000프레임, 10ms씩)입니다. 녹음은 앞 {frames}프레임이고 나머지는 "
                 "빈 소리로 채웠습니다.",
                 "The spectrogram is always 30 s (3,000 frames of 10 ms). The recording is the first {frames} "
                 "frames; the rest is padded with silence."),
    "prompt": ("디코더가 처음 받는 토큰: {chips}", "The tokens the decoder starts from: {chips}"),
    "language_told": ("언어 토큰 `{token}`은(는) 요청한 언어입니다 (모델이 가장 그럴듯하다고 본 언어: `{best}` {p}).",
                      "The language token `{token}` is the one requested (the language the model found likeliest: "
                      "`{best}` {p})."),
    "language_picked": ("언어 토큰 `{token}`은(는) 모델이 고른 것입니다 ({p}).",
                        "The language token `{token}` is the model's own pick ({p})."),
    "tokens": ("새로 쓴 토큰 {n}개 (모델이 준 확률, ✱ = 그 자리에서 확률이 가장 높은 토큰은 아니었지만 빔 탐색이 고른 것): "
               "{chips}",
               "{n} tokens written (the model's probability; ✱ = not the likeliest token there, but the one beam "
               "search kept): {chips}"),
    "stopped": ("모델이 `<|endoftext|>`를 골라 멈췄습니다.", "The model chose `<|endoftext|>` and stopped."),
    "not_stopped": ("모델이 끝 토큰을 고르기 전에 최대 길이에 닿았습니다.",
                    "The model reached its maximum length before choosing its end token."),
    "call": ("Colab에서는 이어서 이렇게 부릅니다 (`asr = pipeline(...)`):",
             "In Colab it is then called like this (`asr = pipeline(...)`):"),
    "bytes_note": ("한글 한 글자는 UTF-8로 3바이트라서 토큰 하나가 글자의 일부일 수 있습니다 (�로 보임).",
                   "A Hangul syllable is 3 bytes in UTF-8, so a token may hold part of one (shown as �)."),
})
