"""The Hugging Face lesson's speech row (Whisper) in real Chromium, in Korean and English, with the test zoo:
the worked example when the sub-tab opens (the model's name, the pipeline line, the spectrogram, the language
and token charts equal to what the same tiny model computes here); the microphone, through Chromium's fake
capture device playing a WAV (recorded once, answered once, the recording deleted from the server and the box
emptied); an uploaded WAV (48 kHz stereo: resampled, answered, deleted); an uploaded copy of a worked example
(kept); a recording longer than 30 s refused in the page's language."""
from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from tabs.hub import speech
from tabs.hub.text_speech import TEXT
from tests.browser.test_hub_browser import expect_toast, text_of, wait_until
from tests.conftest import launch_chromium, open_tab, shot

pytestmark = pytest.mark.browser

TAB = "hub"
ROW = "#hub-speech"


@pytest.fixture
def mic_browser(playwright_instance):
    """Chromium whose microphone plays the Korean worked example (its fake capture device, granted at once)."""
    browser = launch_chromium(playwright_instance, [
        "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
        f"--use-file-for-fake-audio-capture={speech.EXAMPLE}",
    ])
    yield browser
    browser.close()


def mic_page(browser, app_url: str, locale: str):
    context = browser.new_context(locale=locale, viewport={"width": 1500, "height": 1100},
                                  extra_http_headers={"Accept-Language": locale})
    context.grant_permissions(["microphone"])
    context.add_init_script(KEEP_UPLOADS_JS)
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(app_url)
    page.wait_for_selector("#app-header", timeout=60_000)
    page.on("console", lambda message: message.type == "error" and print(f"[console] {message.text[:300]}"))
    return page


def plot(page, elem_id: str) -> dict:
    """The title and first trace's y values of the Plotly chart under #elem_id (what the browser drew)."""
    return page.evaluate("(sel) => { const g = document.querySelector(sel + ' .js-plotly-plot');"
                         " if (!g || !g.data) return {title: '', y: []};"
                         " const y = g.data[0].y; return {title: g.layout.title ? g.layout.title.text : '',"
                         " y: y ? Array.from(y) : []}; }", f"#{elem_id}")


def shows(page, result: speech.SpeechResult, lang: str) -> bool:
    """The page shows `result`: the words' recording line, and the token chart's bars (the probabilities)."""
    tokens = plot(page, "hub-speech-tokens")
    line = TEXT.say(lang, "recording", seconds=f"{result.seconds:.1f}", rate=f"{result.rate_in:,}",
                    channels=result.channels_in)
    return (line.split("→")[0].strip() in text_of(page, "hub-speech-words")
            and len(tokens["y"]) == len(result.steps)
            and np.allclose(tokens["y"], [100 * s.probability for s in result.steps], atol=1e-3))


def write_wav(path: Path, samples: np.ndarray, rate: int) -> Path:
    channels = 1 if samples.ndim == 1 else samples.shape[1]
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.round(np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return path


# Chromium does not hand Playwright the body of a multipart upload of a recorded blob (post_data_buffer is None),
# so the page keeps a copy of each file it uploads (base64), read back by `uploaded_wav`.
KEEP_UPLOADS_JS = """
window.__uploads = [];
const pageFetch = window.fetch;
window.fetch = async function (resource, options) {
  const url = String(resource && resource.url ? resource.url : resource);
  if (url.includes('/upload') && options && options.body instanceof FormData) {
    for (const [, value] of options.body.entries()) {
      if (value instanceof Blob) {
        const bytes = new Uint8Array(await value.arrayBuffer());
        let text = '';
        for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
        window.__uploads.push(btoa(text));
      }
    }
  }
  return pageFetch.apply(this, arguments);
};
"""


def uploaded_wav(page) -> bytes:
    """The last file the page uploaded (the recorder's WAV), as the page sent it."""
    import base64

    return base64.b64decode(page.evaluate("window.__uploads[window.__uploads.length - 1]"))


def upload(page, path: Path) -> str:
    """Upload `path` into the row's audio box; returns where the server stored it. Switching the box's source
    there and back empties it (Gradio clears the value on a change of source)."""
    page.locator(f"{ROW}-audio button[aria-label='Record audio']").click()
    page.locator(f"{ROW}-audio button[aria-label='Upload file']").click()
    with page.expect_response(lambda r: "/gradio_api/upload" in r.url and r.request.method == "POST") as sent:
        page.locator(f"{ROW}-audio input[type=file]").set_input_files(str(path))
    return sent.value.json()[0]


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_speech_row(mic_browser, app_url, lang, screenshots, tmp_path):
    page = mic_page(mic_browser, app_url, f"{lang}-KR" if lang == "ko" else "en-US")
    open_tab(page, TAB)
    page.locator(f"{ROW}-button").click()

    # the worked example, when the sub-tab opens: the same tiny model here gives the same answer
    example = speech.transcribe(speech.EXAMPLE)
    wait_until(page, lambda: 'model="openai/whisper-base")' in text_of(page, "hub-speech-facts"), "the facts")
    wait_until(page, lambda: shows(page, example, lang), "the worked example's answer")
    assert plot(page, "hub-speech-mel")["title"] == TEXT.say(lang, "fig_mel")
    assert plot(page, "hub-speech-languages")["title"] == TEXT.say(lang, "fig_language", k=speech.TOP_LANGUAGES)
    words = text_of(page, "hub-speech-words")
    assert "<|startoftranscript|>" in words and "<|ko|>" in words and example.call_line in words
    assert TEXT.say(lang, "mel_note", frames=f"{example.audio_frames:,}") in words  # in the page's language
    shot(page, screenshots, f"hub_speech_{lang}")

    # the microphone: Chromium's fake device plays the Korean example; one recording, one answer
    page.locator(f"{ROW}-audio button[aria-label='Upload file']").click()  # empties the box
    page.locator(f"{ROW}-audio button[aria-label='Record audio']").click()
    page.locator(f"{ROW}-audio button.record-button").click()
    page.wait_for_timeout(2500)
    with page.expect_request(lambda r: "/gradio_api/upload" in r.url and r.method == "POST") as sent:
        page.locator(f"{ROW}-audio button.stop-button").click()
    recorded = tmp_path / "recorded.wav"
    recorded.write_bytes(uploaded_wav(page))
    with wave.open(str(recorded)) as w:
        assert w.getframerate() == speech.SAMPLE_RATE and w.getsampwidth() == 2  # the recorder's WAV, at 16 kHz
    expected = speech.transcribe(str(recorded))
    assert 1.5 < expected.seconds < 10
    wait_until(page, lambda: shows(page, expected, lang), "the recording's answer")
    assert TEXT.say(lang, "deleted") in text_of(page, "hub-speech-words")
    stored = sent.value.response().json()[0]
    assert not Path(stored).exists()  # the server keeps the answer, not the voice
    shot(page, screenshots, f"hub_speech_mic_{lang}")

    # an uploaded WAV at 48 kHz, two channels: resampled, answered, deleted
    t = np.arange(96_000) / 48_000
    chirp = np.stack([0.4 * np.sin(2 * np.pi * (200 + 800 * t) * t), 0.3 * np.sin(2 * np.pi * 3000 * t)], axis=1)
    mine = write_wav(tmp_path / "mine.wav", chirp, 48_000)
    stored = upload(page, mine)
    expected = speech.transcribe(str(mine))
    wait_until(page, lambda: shows(page, expected, lang), "the uploaded WAV's answer")
    assert "48,000 Hz" in text_of(page, "hub-speech-words") and not Path(stored).exists()

    # a copy of the English worked example, language left to the model: answered and kept (it is no one's voice)
    page.locator("#hub-speech-language input[value='auto']").check()
    stored = upload(page, Path(speech.EXAMPLES[1]))
    expected = speech.transcribe(speech.EXAMPLES[1], "auto")
    wait_until(page, lambda: shows(page, expected, lang), "the English example's answer")
    picked = TEXT.say(lang, "language_picked", token=expected.language_token,
                      p=f"{100 * expected.languages[0][1]:.1f}%")
    assert picked.replace("`", "") in text_of(page, "hub-speech-words")
    assert Path(stored).exists()

    # longer than 30 s: refused in the page's language, and not kept either
    too_long = write_wav(tmp_path / "long.wav", np.zeros(31 * 8_000), 8_000)
    stored = upload(page, too_long)
    expect_toast(page, lang, TEXT.say(lang, "audio_too_long", seconds="31.0", limit=speech.MAX_SECONDS))
    wait_until(page, lambda: not Path(stored).exists(), "the refused recording deleted")
    shot(page, screenshots, f"hub_speech_refused_{lang}")
    page.context.close()
