"""core/text.py and core/values.py: one way of writing words; one way of clamping a number with a note."""
from __future__ import annotations

import pickle

import pytest

from core import text, values

WORDS = text.table("test_text", {
    "greeting": ("{name}님, 안녕하세요", "Hello, {name}"),
    "count": ("사진 {n}장", "{n} photos"),
    "label": ("커널 크기", "kernel size"),
})


class Request:
    def __init__(self, header):
        self.headers = {"accept-language": header}


def test_a_message_is_said_in_one_language_at_a_time():
    message = WORDS.msg("greeting", name="수지")
    assert message.say("ko") == "수지님, 안녕하세요" and message.say("en") == "Hello, 수지"
    assert str(message) == "Hello, 수지"  # logs and test failures read English


def test_messages_inside_messages_follow_the_outer_language():
    note = values.TEXT.msg("clamped", label=text.Capitalized(WORDS.msg("label")), low=1, high=7, used=7)
    assert note.say("ko") == "커널 크기: 1~7 사이여야 해서 7(으)로 맞췄습니다."
    assert note.say("en") == "Kernel size must be from 1 to 7; using 7."


def test_a_key_registered_twice_with_other_words_is_refused_and_unknown_keys_fail_loudly():
    text.table("test_text", {"label": ("커널 크기", "kernel size")})  # the same words again: fine
    with pytest.raises(ValueError):
        text.table("test_text", {"label": ("다른 말", "other words")})
    with pytest.raises(KeyError):
        WORDS.msg("missing")
    with pytest.raises(KeyError):
        text.say("ko", "nowhere.at_all")


def test_the_language_of_a_request():
    assert text.lang_of(None) == "ko"
    assert text.lang_of(Request("en-US,en;q=0.9,ko;q=0.8")) == "en"
    assert text.lang_of(Request("ko-KR,ko;q=0.9,en-US;q=0.8")) == "ko"
    assert text.lang_of(Request("de-DE,en;q=0.5")) == "en"
    assert text.lang_of(Request("")) == "ko" and text.lang_of(Request("ja")) == "ko"


def test_problems_survive_a_trip_to_another_process():
    """ZeroGPU runs events in another process: a Problem raised there must arrive whole."""
    problem = WORDS.problem("count", n=3)
    again = pickle.loads(pickle.dumps(problem))
    assert again.say("ko") == "사진 3장" and again.title.say("en") == "Check the input"


@pytest.mark.parametrize("n, ko, en", [(11_689_512, "1,169만", "11.7 M"), (138_357_544, "1.4억", "138.4 M"),
                                       (9_500, "9,500", "9.5 k"), (42, "42", "42"), (200_000_000, "2억", "200.0 M")])
def test_large_counts_as_a_korean_student_reads_them(n, ko, en):
    assert text.count("ko", n) == ko and text.count("en", n) == en


@pytest.mark.parametrize("value, used, note", [
    (5, 5, None), ("5", 5, None), (1e400, 10, "must be from 1 to 10"), (-3, 1, "must be from 1 to 10"),
    (float("nan"), 4, "was not a number"), ("abc", 4, "was not a number"), (None, 4, "was not a number"),
    (3.6, 4, "rounded to 4"),
])
def test_clamp_whole_numbers(value, used, note):
    got, message = values.clamp(value, 1, 10, 4, WORDS.msg("label"), integer=True)
    assert got == used and isinstance(got, int)
    assert (message is None) if note is None else (note in message.say("en"))


def test_clamp_real_numbers_and_choices():
    assert values.clamp(0.55, 0.01, 0.99, 0.25, WORDS.msg("label")) == (0.55, None)
    used, note = values.clamp(2.5, 0.01, 0.99, 0.25, WORDS.msg("label"))
    assert used == 0.99 and "0.01~0.99" in note.say("ko")
    assert values.choice("max", ("conv", "max"), "conv", WORDS.msg("label")) == ("max", None)
    used, note = values.choice("median", ("conv", "max"), "conv", WORDS.msg("label"))
    assert used == "conv" and "one of conv, max" in note.say("en")


def test_only_the_labels_of_the_page_travel_to_the_browser():
    """Messages said on the server stay there; the browser's translations hold the labels made with `ui`."""
    import gradio as gr

    words = text.table("test_in_page", {"label": ("이름표", "A label"), "said": ("서버의 말", "Said on the server")})
    with gr.Blocks():
        gr.Textbox(label=words.ui("label"))
    words.say("ko", "said")
    i18n = text.build_i18n()
    assert i18n.translations["ko"]["test_in_page.label"] == "이름표"
    assert i18n.translations["en"]["test_in_page.label"] == "A label"
    assert "test_in_page.said" not in i18n.translations["ko"]
    assert "test_in_page.said" not in i18n.translations["en"]
