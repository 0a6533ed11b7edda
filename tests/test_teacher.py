"""The teacher mode (core/classroom.py, core/teacher.py): the server decides who the teacher is; the class lives
in memory and is forgotten at once; a waiting page costs nothing and wakes when something changes."""
from __future__ import annotations

import asyncio
import json
import time
import urllib.request

import pytest

from core import classroom as cls
from tests.conftest import run_coroutine
from core import text, values
from core.settings import from_args

SETTINGS = values.settings(
    values.Setting("kernel_size", text.Message("sliding_window.name_kernel_size"), default=3, low=1, high=7,
                   integer=True),
    values.Setting("stride", text.Message("sliding_window.name_stride"), default=1, low=1, high=4, integer=True),
    values.Setting("secret", text.Message("sliding_window.name_seed"), default=0, low=0, high=9, for_class=False),
)


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def room():
    import tabs.sliding_window.text  # noqa: F401  (the question's words)

    clock = Clock()
    r = cls.Classroom("4821", clock=clock)
    r.register("sliding_window", SETTINGS, {"class_q1": 0})
    r.clock = clock
    return r


def unlocked(room) -> dict:
    session = {}
    room.unlock(session, "4821")
    return session


def test_the_pin_comes_from_the_command_line_the_environment_or_is_made_here(monkeypatch):
    assert from_args(["--teacher-pin", "4821"]).teacher_pin == "4821"
    monkeypatch.setenv("DLCLASS_TEACHER_PIN", "777777")
    assert from_args([]).teacher_pin == "777777"
    monkeypatch.delenv("DLCLASS_TEACHER_PIN")
    assert from_args([]).teacher_pin is None
    made = {cls.pin_from(None) for _ in range(20)}
    assert all(made_here and len(pin) == 6 and pin.isdigit() for pin, made_here in made) and len(made) > 1
    assert cls.pin_from("4821") == ("4821", False)


def test_every_teacher_action_is_refused_for_a_session_that_did_not_unlock(room):
    teacher = unlocked(room)
    room.start(teacher)
    student, forged = {}, {"teacher": "guessed-key"}
    actions = [lambda s: room.start(s), lambda s: room.send(s, "sliding_window", {"stride": 2}),
               lambda s: room.set_paused(s, True), lambda s: room.ask(s, "sliding_window.class_q1"),
               lambda s: room.reveal(s), lambda s: room.end(s)]
    for session in (student, forged):
        for action in actions:
            with pytest.raises(cls.Refused) as refused:
                action(session)
            assert refused.value.key == "not_teacher"
            assert "PIN" in refused.value.say("en") and "PIN" in refused.value.say("ko")
    assert room.push is None and not room.paused and room.asked is None and room.running


def test_five_wrong_pins_make_that_session_wait_60_s_and_others_are_not_affected(room):
    session = {}
    for left in (4, 3, 2, 1, 0):
        with pytest.raises(cls.Refused) as refused:
            room.unlock(session, "0000")
        assert refused.value.key == "wrong_pin" and refused.value.message.params["left"] == left
    with pytest.raises(cls.Refused) as refused:
        room.unlock(session, "4821")  # the right PIN, but this session waits
    assert refused.value.key == "locked" and 55 <= refused.value.message.params["seconds"] <= 61
    assert room.unlock({}, "4821")  # another session is not locked
    room.clock.now += 61
    key = room.unlock(session, " 4821 ")
    assert room.is_teacher(session) and session["teacher"] == key


def test_a_push_keeps_only_class_settings_read_through_the_tabs_declaration(room):
    teacher = unlocked(room)
    with pytest.raises(cls.Refused):
        room.send(teacher, "sliding_window", {"stride": 2})  # no class yet
    room.start(teacher)
    push = room.send(teacher, "sliding_window", {"kernel_size": 5, "stride": 99, "secret": 3, "photo": "/etc/x"})
    assert push["tab"] == "sliding_window" and push["values"] == {"kernel_size": 5, "stride": 4}
    with pytest.raises(cls.Refused):
        room.send(teacher, "not_a_tab", {})


def test_students_get_nicknames_in_their_language_and_answer_a_question(room):
    assert room.seat(None) is None  # no class: no seat
    teacher = unlocked(room)
    room.start(teacher)
    seats = [room.seat(None) for _ in range(3)]
    assert len(set(seats)) == 3 and room.present() == 3
    ko, en = room.view(seats[0], "ko"), room.view(seats[0], "en")
    adjectives_ko = cls.TEXT.say("ko", "adjectives").split("|")
    # an adjective may be two words ("호기심 많은"): the nickname starts with one of them and ends with a number
    assert any(ko["nickname"].startswith(a + " ") for a in adjectives_ko) and ko["nickname"].split(" ")[-1].isdigit()
    assert any(en["nickname"].startswith(a + " ") for a in cls.TEXT.say("en", "adjectives").split("|"))
    assert "count" not in ko and "histogram" not in ko  # a student sees no one else's numbers
    room.ask(teacher, "sliding_window.class_q1")
    n = room.ask_n
    assert room.answer(seats[0], n, 0) and room.answer(seats[1], n, 0) and room.answer(seats[2], n, 2)
    assert not room.answer("unknown", n, 1) and not room.answer(seats[0], n, 9) and not room.answer(seats[0], n - 1, 1)
    view = room.view(None, "en", teacher["teacher"])
    assert view["histogram"] == [2, 0, 1, 0] and view["count"] == 3 and view["question"]["answer"] is None
    assert room.reveal(teacher) == 0 and room.view(seats[2], "en")["question"]["answer"] == 0
    assert not room.answer(seats[2], n, 0)  # after the reveal, answers are closed
    room.clock.now += cls.PRESENT_S + 1
    assert room.present() == 0  # pages that stopped asking are not "in"


def test_end_and_four_idle_hours_forget_everything(room):
    teacher = unlocked(room)
    room.start(teacher)
    seat = room.seat(None)
    room.send(teacher, "sliding_window", {"stride": 2})
    room.set_paused(teacher, True)
    room.end(teacher)
    assert (room.code, room.seats, room.push, room.paused, room.asked, room.answers) == (None, {}, None, False, None, {})
    assert room.seat(seat) is None and room.is_teacher(teacher)  # the teacher stays unlocked
    room.start(teacher)
    room.seat(None)
    room.clock.now += cls.IDLE_END_S + 1
    assert room.seat(None) is None and not room.running and room.seats == {}


def test_a_waiting_page_wakes_when_the_teacher_acts_and_not_before(room):
    teacher = unlocked(room)
    room.start(teacher)

    async def scenario():
        known = room.view(None, "ko")["v"]
        started = time.perf_counter()
        await room.wait(known, teacher=False, timeout=0.3)  # nothing changed: waits the whole time
        idle = time.perf_counter() - started
        waiter = asyncio.ensure_future(room.wait(known, teacher=False, timeout=10))
        await asyncio.sleep(0.05)
        assert not waiter.done()
        loop = asyncio.get_running_loop()
        sent = time.perf_counter()
        await loop.run_in_executor(None, room.send, teacher, "sliding_window", {"stride": 2})  # a worker thread
        await asyncio.wait_for(waiter, 2)
        return idle, time.perf_counter() - sent

    idle, woke = run_coroutine(scenario())
    assert idle >= 0.29 and woke < 0.5
    assert room._waiters == []  # nothing left behind


def test_a_student_page_does_not_wake_for_a_join_and_the_teacher_does(room):
    teacher = unlocked(room)
    room.start(teacher)
    known_student = room.view(None, "ko")["v"]
    known_teacher = room.view(None, "ko", teacher["teacher"])["v"]
    room.seat(None)
    assert not room._differs(known_student, teacher=False) and room._differs(known_teacher, teacher=True)


# ---------------------------------------------------------------- through a running app

TEACHER_APIS = ("class_start", "class_push", "class_pause", "class_ask", "class_reveal", "class_end")


def _join(url: str, fn_index: int, data: list, session: str) -> str:
    """A raw queue call by fn_index (what a client can do even for events missing from the API page):
    the text of the event stream that answers it."""
    body = json.dumps({"data": data, "fn_index": fn_index, "session_hash": session, "event_data": None}).encode()
    request = urllib.request.Request(f"{url}gradio_api/queue/join", body, {"Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=20).read()
    with urllib.request.urlopen(f"{url}gradio_api/queue/data?session_hash={session}", timeout=60) as stream:
        return stream.read().decode()


def test_a_student_calling_each_teacher_function_through_the_api_is_refused():
    from gradio_client import Client

    from tests.conftest import running_app

    with running_app("teacher-api", args=("--teacher-pin", "4821", "--no-warm-up")) as (url, _, _):
        client = Client(url, verbose=False)
        named = {d.get("api_name"): i for i, d in enumerate(client.config["dependencies"])}
        assert set(TEACHER_APIS) <= set(named) and "class_unlock" in named
        assert not set(TEACHER_APIS) & set(client.view_api(return_format="dict", print_info=False)["named_endpoints"])
        n_inputs = {name: len(client.config["dependencies"][i]["inputs"]) for name, i in named.items() if name}
        for name in ("class_unlock",) + TEACHER_APIS:
            data = [None] * n_inputs[name]
            if name == "class_unlock":
                data[-1] = "0000"
            answer = _join(url, named[name], data, session=f"student-{name}")
            assert '"success": false' in answer or '"success":false' in answer, (name, answer[-400:])
            assert "PIN" in answer, (name, answer[-400:])


def test_a_request_that_woke_without_a_seat_takes_none_and_the_next_one_does(room):
    """A page left behind (the teacher's own page before it unlocked) is not counted as a student."""
    teacher = unlocked(room)
    room.start(teacher)
    assert room.seat(None, create=False) is None and room.seats == {}
    token = room.seat(None)
    assert room.seat(token, create=False) == token and room.present() == 1


# ---------------------------------------------------------------- every lesson in the class

@pytest.fixture(scope="module")
def built():
    """The app as it is built (test zoo), with a known PIN: its page lists the lessons that joined the class."""
    import app

    return app.build_app(from_args(["--teacher-pin", "4821"]))[1]


def _teacher_of(built) -> dict:
    session = {}
    built.classroom.unlock(session, "4821")
    built.classroom.start(session)
    return session


def test_every_lesson_but_the_detector_joins_the_class_once(built):
    from tabs import LESSON_IDS

    joined = [record.id for record in built.class_tabs]
    assert len(joined) == len(set(joined))
    assert set(LESSON_IDS) - {"yolo_detect"} <= set(joined) <= set(LESSON_IDS)
    assert set(built.classroom.tabs) == set(joined)
    for record in built.class_tabs:
        assert record.controls and record.show is not None, record.id


def _reads(built, dependency, control) -> bool:
    return any(built.blocks.blocks[i] is control for i in dict(dependency)["inputs"])


def test_every_class_control_is_a_declared_class_setting_that_the_result_it_shows_reads(built):
    """A sent setting changes what the following page shows, or waits for the run the student starts there (a
    training or a benchmark: 30 of them at once would queue the class behind one slot)."""
    own_runs = [r.dependency for r in built.registered if r.kind.name in ("training", "bench") and r.dependency]
    for record in built.class_tabs:
        for name, control in record.controls.items():
            assert name in record.settings and record.settings[name].for_class, (record.id, name)
            assert _reads(built, record.show, control) or any(_reads(built, d, control) for d in own_runs), \
                (record.id, name)
        assert any(_reads(built, record.show, control) for control in record.controls.values()) \
            or record.id == "precision", record.id  # precision shows the bits view; its settings are the benchmark's


def test_a_push_of_each_lessons_starting_values_arrives_unchanged_on_a_following_page(built):
    from core.page import initial_input

    room, teacher = built.classroom, _teacher_of(built)
    follow = {r.name: r for r in built.registered if r.name.startswith("class_follow:")}
    for record in built.class_tabs:
        declared = {name: record.settings[name].default for name in record.controls}
        assert room.send(teacher, record.id, declared)["values"] == declared, record.id
        starting = {name: initial_input(control) for name, control in record.controls.items()}
        assert room.send(teacher, record.id, starting)["values"] == starting, record.id  # nothing clamped
        tabs, *values = follow[f"class_follow:{record.id}"].run(lang="ko")
        assert tabs.selected == record.id and dict(zip(record.controls, values)) == starting, record.id
    room.end(teacher)


def test_every_lesson_asks_a_prediction_question_in_both_languages(built):
    from core import teacher

    assert {f"{record.id}.class_q1" for record in built.class_tabs} <= set(teacher.question_keys(list(built.classroom.tabs)))
    for record in built.class_tabs:
        question = built.classroom.question(f"{record.id}.class_q1")
        (ko, ko_choices), (en, en_choices) = question.words("ko"), question.words("en")
        assert ko.strip() and en.strip() and ko != en, record.id
        assert len(ko_choices) == len(en_choices) >= 2 and all(c.strip() for c in ko_choices + en_choices), record.id
        assert 0 <= question.answer < len(en_choices), record.id


# ---------------------------------------------------------------- each right answer is what the lesson's model shows

def _right_choice(built, tab_id: str, lang: str = "en") -> str:
    question = built.classroom.question(f"{tab_id}.class_q1")
    return question.words(lang)[1][question.answer]


def test_precision_70000_overflows_fp16_and_fits_bf16_as_the_bits_view_shows(built):
    from tabs.precision import compute

    kinds = {row.fmt.key: row.kind for row in compute.float_bits("70000").rows}
    fits = tuple(kinds[key] not in ("inf", "nan") for key in ("fp16", "bf16"))
    assert fits == (False, True)
    # choices: both | FP16 only | BF16 only | neither
    assert built.classroom.question("precision.class_q1").answer == {(True, True): 0, (True, False): 1,
                                                                     (False, True): 2, (False, False): 3}[fits]


def test_the_vit_reads_as_many_tokens_as_the_right_choice_says(built):
    from tabs.vit_attention import compute

    forward = compute.forward_of(compute.load_vit(None), str(compute.FIRST_EXAMPLE))
    assert forward.num_patches == 196
    assert _right_choice(built, "vit_attention") == str(forward.num_tokens)


def test_the_cnns_last_stage_has_the_size_the_right_choice_says(built):
    from tabs.cnn_features import compute

    facts = compute.facts(compute.load(None)[0])
    _, height, width = facts.shapes[facts.cam_layer]
    assert _right_choice(built, "cnn_features") == f"{height}×{width}"


def test_attention_weights_of_a_word_add_up_to_the_right_choice(built):
    from tabs.word_attention import compute

    steps = compute.run_steps(compute.EXAMPLE_EN)
    sums = [steps.single.weights.sum(axis=1)] + [head.weights.sum(axis=1) for head in steps.multi.heads]
    assert all(abs(s - float(_right_choice(built, "word_attention"))).max() < 1e-6 for s in sums)


def test_with_every_stage_frozen_only_the_new_output_layer_learns(built):
    from tabs.finetune import compute
    from tabs.finetune.settings import SETTINGS as FINETUNE

    cnn, _ = compute.pretrained(FINETUNE["backbone"].default)
    n_stages = len(compute.body_stages(cnn))
    summary = compute.freeze_summary(cnn, n_stages, 3)
    assert summary.trainable_body == 0 and summary.head > 0 and summary.frozen > 0
    assert _right_choice(built, "finetune") == "only the new output layer"


def test_fill_mask_reads_the_words_on_both_sides_of_the_mask(built):
    from tabs.hub import fill_mask

    def probabilities(sentence):  # the test zoo's BERT is random: nearly even, yet every word counts
        return [c.probability for c in fill_mask.fill(sentence, 5).candidates]

    base = probabilities("서울은 한국의 [MASK]입니다.")
    before = probabilities("부산은 한국의 [MASK]입니다.")
    after = probabilities("서울은 한국의 [MASK]였습니다.")
    assert base != before and base != after  # a left-to-right model would not change for the words after
    assert _right_choice(built, "hub") == "the words on both sides"


def test_the_right_answers_of_the_trained_lessons_name_what_their_tests_show(built):
    """The trainings themselves are tested in their lessons' tests (shuffled pixels cost the CNN, not the MLP:
    tests/test_nn_types.py; the residual network learns at depth 30 and the plain one stalls:
    tests/test_resnet_skip.py; the same seed draws the same picture: tests/test_diffusion.py)."""
    from tabs.nn_types.text import TEXT as NN

    for lang in ("ko", "en"):
        assert _right_choice(built, "nn_types", lang) == NN.say(lang, "arch_cnn")
    assert _right_choice(built, "resnet_skip").startswith("the residual network")
    assert _right_choice(built, "diffusion") == "all the same"
