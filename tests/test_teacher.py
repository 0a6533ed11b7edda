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

TEACHER_APIS = ("class_start", "class_push", "class_pause", "class_ask", "class_reveal", "class_end",
                "finetune_class_runs")
TEACHER_SERVER_FUNCTIONS = ("class_spotlight", "class_qr")  # the class bar's, called outside the queue


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
        _server_functions_refuse_a_student(url, client.config, named, n_inputs)


def _server_function(url: str, bar: int, name: str, data: dict, session: str):
    body = json.dumps({"session_hash": session, "component_id": bar, "fn_name": name, "data": data}).encode()
    request = urllib.request.Request(f"{url}gradio_api/component_server", body, {"Content-Type": "application/json"})
    return json.loads(urllib.request.urlopen(request, timeout=30).read())


def _server_functions_refuse_a_student(url: str, config: dict, named: dict, n_inputs: dict) -> None:
    """With a class running: the teacher's server functions refuse a student (no key, or a guessed one) and change
    nothing; a student's own report is taken when it is numbers, and refused when it carries a picture or text."""
    for name in ("class_unlock", "class_start"):
        data = [None] * n_inputs[name]
        data[-1] = "4821" if name == "class_unlock" else None
        answer = _join(url, named[name], data, session="the-teacher")
        assert '"success": true' in answer or '"success":true' in answer, (name, answer[-400:])
    bar = next(c["id"] for c in config["components"] if c.get("props", {}).get("elem_id") == "class-bar")
    seat = _server_function(url, bar, "class_wait", {"known": None, "lang": "en"}, "student-page")["seat"]
    assert seat
    for key in (None, "guessed-key"):
        spotlight = {"teacher": key, "seat": 1, "anonymous": False, "lang": "en"}
        answer = _server_function(url, bar, "class_spotlight", spotlight, "student-page")
        assert answer["ok"] is False and "PIN" in answer["message"]
        answer = _server_function(url, bar, "class_qr", {"teacher": key, "address": url, "lang": "ko"}, "student-page")
        assert answer["ok"] is False and "PIN" in answer["message"] and "svg" not in answer
    counts = {"camera": 1, "counts": {"0": 2}}
    assert _server_function(url, bar, "class_report", {"seat": seat, "tab": "yolo_detect", "numbers": counts}, "s")
    for numbers in ({"camera": 1, "counts": {"0": "data:image/png;base64,iVBORw0KGgo="}},
                    {"camera": 1, "counts": {"0": 2}, "name": "Kim"}, {"camera": 1, "frame": [[0, 0, 0]] * 300}):
        report = {"seat": seat, "tab": "yolo_detect", "numbers": numbers}
        assert _server_function(url, bar, "class_report", report, "s") is False, numbers
    run = {"seat": seat, "tab": "finetune", "numbers": {"learning_rate": 0.1}}
    assert _server_function(url, bar, "class_report", run, "s") is False  # a run comes from the server's own event


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


def test_every_lesson_joins_the_class_once(built):
    from tabs import LESSON_IDS

    joined = [record.id for record in built.class_tabs]
    assert len(joined) == len(set(joined))
    assert set(joined) == set(LESSON_IDS)
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


def test_the_yolo_head_proposes_as_many_candidates_as_the_right_choice_says(built):
    """Before the confidence threshold (conf 0: every anchor) and NMS, a 640x640 picture gives one candidate per
    cell of the three grids: 80² + 40² + 20²."""
    import numpy as np

    from core import models
    from tabs.yolo_detect import compute

    picture = np.random.default_rng(0).integers(0, 256, (640, 640, 3), dtype=np.uint8)
    det = compute.detect_array(models.get(compute.zoo.DEFAULT_YOLO), picture, 0.0, 0.7, 640, None)
    assert det.input_hw == (640, 640) and len(det.cand_scores) == 80 ** 2 + 40 ** 2 + 20 ** 2
    assert _right_choice(built, "yolo_detect").replace(",", "") == str(len(det.cand_scores))


# ---------------------------------------------------------------- what the class sends back: numbers only


def test_only_numbers_pass_into_a_report():
    from core.class_results import numbers_only

    good = {"camera": 1, "counts": {"0": 2, "56": 1}, "curve": [0.5, 0.75], "early_stop": True}
    assert numbers_only(good) == good
    for bad in ("text", {"name": "Kim"}, {"frame": "data:image/png;base64,iVBORw0KGgo="}, {"x": float("nan")},
                {"x": float("inf")}, {"x": 10 ** 20}, {"bad key!": 1}, {"x": [1] * 201}, {"a": {"b": {"c": [1]}}},
                {"x": None}, {"x": b"\x89PNG"}, [[[[1]]]]):
        assert numbers_only(bad) is None, bad


@pytest.fixture
def lessons_room(room):
    """The classroom with two lessons that gather results, as the app registers them."""
    from core.class_results import Collect
    from tabs.finetune import compute as finetune, view as finetune_view
    from tabs.finetune.settings import SETTINGS as FINETUNE
    from tabs.yolo_detect import compute as yolo, tab as yolo_tab, view as yolo_view

    room.register("finetune", FINETUNE)
    room.register("yolo_detect", yolo.SETTINGS)
    room.collect("yolo_detect", Collect(yolo.class_report, yolo_view.class_summary, yolo_view.class_one,
                                        fresh_s=yolo_tab.CLASS_FRESH_S, from_page=True))
    room.collect("finetune", Collect(finetune.class_run, finetune_view.class_summary, finetune_view.class_one, keep=3))
    return room


def _run(lr, acc, frozen=12, early=True):
    curve = [acc / 2, acc, acc - 0.05]
    return {"learning_rate": lr, "n_frozen": frozen, "val_acc": curve, "val_loss": [1.0, 0.5, 0.6], "best_epoch": 2,
            "stopped_epoch": 3, "early_stop": early, "best_val_acc": acc}


def test_camera_counts_add_up_on_the_teachers_page_and_a_stopped_camera_drops_out(lessons_room):
    room = lessons_room
    teacher = unlocked(room)
    assert not room.report("nobody", "yolo_detect", {"camera": 1, "counts": {}}, from_page=True)  # no class
    room.start(teacher)
    a, b = room.seat(None), room.seat(None)
    known = room.view(None, "en", teacher["teacher"])["v"]
    assert room.report(a, "yolo_detect", {"camera": 1, "counts": {"0": 2, "2": 1}}, from_page=True)
    assert room._differs(known, teacher=True) and not room._differs(room.view(a, "en")["v"], teacher=False)
    assert room.report(b, "yolo_detect", {"camera": 1, "counts": {"0": 1}}, from_page=True)
    for bad in ({"camera": 1, "counts": {"80": 1}}, {"camera": 1, "counts": {"0": 301}}, {"camera": 2, "counts": {}},
                {"camera": 1, "counts": {"0": 1.5}}, {"counts": {"0": 1}}):
        assert not room.report(a, "yolo_detect", bad, from_page=True), bad
    assert not room.report("guessed", "yolo_detect", {"camera": 1, "counts": {"0": 9}}, from_page=True)
    results = room.view(None, "en", teacher["teacher"])["results"]["yolo_detect"]
    assert results["pages"] == 2 and results["rows"][:2] == [["person", 3, "3"], ["car", 1, "1"]]
    assert results["title"] == "Cameras on in the class: 2 · objects in view now: 4"
    assert "사람" in room.view(None, "ko", teacher["teacher"])["results"]["yolo_detect"]["rows"][0][0]
    assert "results" not in room.view(a, "en")  # a student sees no one's numbers
    n = results["n"]
    assert room.report(a, "yolo_detect", {"camera": 1, "counts": {"0": 2, "2": 1}}, from_page=True)  # the same again
    assert room.view(None, "en", teacher["teacher"])["results"]["yolo_detect"]["n"] == n  # nothing changed
    room.clock.now += 6
    assert room.report(b, "yolo_detect", {"camera": 0, "counts": {}}, from_page=True)  # b's camera stopped
    room.clock.now += 5  # a's last report is 11 s old
    results = room.view(None, "en", teacher["teacher"])["results"]["yolo_detect"]
    assert results["pages"] == 1 and results["rows"] == [] and "class: 0 ·" in results["title"]


def test_runs_come_from_the_servers_event_only_and_reach_the_teacher_alone(lessons_room):
    room = lessons_room
    teacher = unlocked(room)
    room.start(teacher)
    seat = room.seat(None)
    assert not room.report(seat, "finetune", _run(0.01, 0.9), from_page=True)  # a page cannot claim a run
    for k, (lr, acc) in enumerate([(0.001, 0.6), (0.01, 0.9), (0.1, 0.4), (0.3, 0.3)]):
        assert room.report(seat, "finetune", _run(lr, acc))
    assert not room.report(seat, "finetune", dict(_run(0.01, 0.9), val_acc=[0.5] * 51, val_loss=[1.0] * 51))
    assert not room.report(seat, "finetune", dict(_run(0.01, 0.9), learning_rate=5.0))
    with pytest.raises(cls.Refused):
        room.reports_for({}, "finetune")
    runs = room.reports_for(teacher, "finetune")
    assert [r["learning_rate"] for r in runs] == [0.01, 0.1, 0.3]  # the last 3 runs of the seat are kept
    summary = room.view(None, "en", teacher["teacher"])["results"]["finetune"]
    assert summary["rows"] == [["lr 0.01", 90.0, "90%"], ["lr 0.1", 40.0, "40%"], ["lr 0.3", 30.0, "30%"]]


def test_a_spread_gives_each_seat_its_own_value_across_the_range(lessons_room):
    room = lessons_room
    teacher = unlocked(room)
    room.start(teacher)
    seats = [room.seat(None) for _ in range(5)]
    push = room.send(teacher, "finetune", {"learning_rate": 0.003, "epochs": 5}, spread=("learning_rate", 1e-4, 1e-1))
    assert push["spread"] == {"name": "learning_rate", "low": 1e-4, "high": 0.1, "integer": False, "log": True}
    rates = [room.values_for(seat)["learning_rate"] for seat in seats]
    assert rates == [0.0001, 0.00056, 0.0032, 0.018, 0.1]  # evenly on a log scale, 2 significant digits
    assert all(room.values_for(seat)["epochs"] == 5 for seat in seats)
    assert room.view(seats[2], "en")["push"]["values"]["learning_rate"] == 0.0032
    seats += [room.seat(None) for _ in range(3)]
    assert [room.values_for(seat)["learning_rate"] for seat in seats[5:]] == [0.0032, 0.00056, 0.018]  # 1/2, 1/4, 3/4
    assert room.send(teacher, "finetune", {}, spread=("n_frozen", "", " 12 "))["spread"]["low"] == 0  # empty: its own
    room.send(teacher, "finetune", {}, spread=("n_frozen", 0, 12))
    frozen = [room.values_for(seat)["n_frozen"] for seat in seats]
    assert frozen == [0, 2, 3, 5, 7, 9, 10, 12] and all(isinstance(v, int) for v in frozen)
    room.send(teacher, "finetune", {"learning_rate": 0.003})
    assert {room.values_for(seat)["learning_rate"] for seat in seats} == {0.003}  # no spread: all the same
    for spread in (("backbone", None, None), ("snap_class", 0, 4), ("not_a_setting", 0, 1)):
        with pytest.raises(cls.Refused) as refused:
            room.send(teacher, "finetune", {}, spread=spread)
        assert refused.value.key == "no_spread"
    with pytest.raises(cls.Refused):
        room.send({}, "finetune", {}, spread=("learning_rate", 1e-4, 1e-1))


def test_the_teacher_shows_one_students_results_by_nickname_or_anonymously(lessons_room):
    room = lessons_room
    teacher = unlocked(room)
    room.start(teacher)
    a, b = room.seat(None), room.seat(None)
    room.ask(teacher, "sliding_window.class_q1")
    room.answer(a, room.ask_n, 2)
    room.report(a, "yolo_detect", {"camera": 1, "counts": {"0": 2}}, from_page=True)
    room.report(a, "finetune", _run(0.01, 0.9))
    view = room.view(None, "en", teacher["teacher"])
    number = room.seats[a].nickname[2]
    assert [row["id"] for row in view["roster"]] == [number] and view["shown"] is None  # b has nothing to show
    with pytest.raises(cls.Refused):
        room.spotlight({}, number)
    room.spotlight(teacher, number)
    shown = room.view(None, "en", teacher["teacher"])["shown"]
    assert shown["name"] == cls.nickname(room.seats[a].nickname, "en") and not shown["anonymous"]
    choices = room.asked.words("en")[1]
    assert shown["rows"][0] == [room.asked.words("en")[0], choices[2]]
    assert ["Objects the camera finds", "person 2"] in shown["rows"]
    assert ["Settings", "lr 0.01 · frozen 12"] in shown["rows"] and ["Early stopping", "stopped at epoch 3"] in shown["rows"]
    assert "shown" not in room.view(a, "en") and "shown" not in room.view(b, "en")  # on the projector only
    room.spotlight(teacher, number, anonymous=True)
    shown = room.view(None, "ko", teacher["teacher"])["shown"]
    assert shown["name"] == "한 학생" and room.seats[a].nickname[2] == shown["id"]
    with pytest.raises(cls.Refused) as refused:
        room.spotlight(teacher, 999)
    assert refused.value.key == "no_such_seat"
    room.spotlight(teacher, None)
    assert room.view(None, "en", teacher["teacher"])["shown"] is None
    room.spotlight(teacher, number)
    room.end(teacher)
    assert (room.reports, room.shown, room.spread) == ({}, None, None)


def test_the_qr_code_on_the_projector_reads_back_as_the_apps_address():
    """Decoded by OpenCV's QR reader (an implementation independent of segno, which draws it)."""
    import cv2
    import numpy as np
    import segno

    from core import teacher

    address = "http://192.168.0.12:7860/"
    svg = teacher.qr_svg(address)
    assert svg.startswith("<svg") and "<path" in svg and "viewBox" in svg and "width=" not in svg.split(">")[0]
    buffer = __import__("io").BytesIO()
    segno.make(address, error="m").save(buffer, kind="png", scale=8, border=4)
    picture = cv2.imdecode(np.frombuffer(buffer.getvalue(), np.uint8), cv2.IMREAD_GRAYSCALE)
    assert cv2.QRCodeDetector().detectAndDecode(picture)[0] == address
    assert teacher.qr_svg("javascript:alert(1)") == "" and teacher.qr_svg("http://x/" + "a" * 400) == ""


def test_a_following_page_receives_its_own_value_of_a_spread_setting(built):
    """The follow event reads the seat the page sent with it (classroom.js: trigger(name, {seat}))."""
    import gradio as gr

    room, teacher = built.classroom, _teacher_of(built)
    seats = [room.seat(None) for _ in range(3)]
    room.send(teacher, "finetune", {"learning_rate": 0.003}, spread=("learning_rate", 1e-3, 1e-1))
    follow = next(r for r in built.registered if r.name == "class_follow:finetune")
    names = list(next(r for r in built.class_tabs if r.id == "finetune").controls)
    received = []
    for seat in seats:
        tabs, *values = follow.run(gr.EventData(None, {"seat": seat}), lang="en")
        received.append(dict(zip(names, values))["learning_rate"])
    assert received == [0.001, 0.01, 0.1]
    tabs, *values = follow.run(lang="en")  # without a seat: the teacher's own value
    assert dict(zip(names, values))["learning_rate"] == 0.003
    room.end(teacher)


def test_the_teachers_unlock_offers_every_numeric_class_setting_to_spread(built):
    from core import teacher

    actions = teacher.TeacherActions(built.classroom, built.class_tabs)
    choices = dict((value, label) for label, value in actions.spread_choices("en"))
    assert choices[""] == "The same for everyone"
    assert "finetune.learning_rate" in choices and "finetune.n_frozen" in choices and "yolo_detect.conf" in choices
    assert "finetune.source" not in choices and "yolo_detect.model" not in choices  # choices, not numbers
    from tabs.finetune.settings import SETTINGS as FINETUNE

    assert choices["finetune.learning_rate"] == f"{text.say('en', 'finetune.title')} · {FINETUNE['learning_rate'].label.say('en')}"
