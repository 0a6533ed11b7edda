"""A class of 30 on one small server, as browsers use it (every output picture downloaded and decoded):
no failed request and no incomplete picture in any scenario of issue 12. Latencies are the bench's job
(`python -m bench.run --only classroom`); these tests assert what must hold whatever the machine."""
from __future__ import annotations

import threading

import pytest

from bench import classroom
from bench.load import burst, jpeg_frames, model_loads_in_log, run_classroom, webcams
from tests.conftest import SCREENSHOTS, running_app

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def class_app():
    with running_app("classroom-server") as (url, proc, log_path):
        yield url, proc, log_path


def _report(name: str, result) -> None:
    lines = [f"{api:16s} n={n:3d} p50={p50:7.0f} ms p95={p95:7.0f} ms max={top:7.0f} ms"
             for api, n, p50, p95, top in result.summary()]
    lines.append(f"{result.files_checked} files decoded, {len(result.incomplete)} incomplete, "
                 f"{len(result.failures)} failed; generator CPU {result.generator_cpu_s:.1f} s")
    report = "\n".join(lines)
    (SCREENSHOTS / f"classroom_{name}.txt").write_text(report + "\n" + "\n".join(result.failures[:20]))
    print(f"\n[{name}]\n{report}")


@pytest.mark.parametrize("api_name", list(classroom.first_examples()))
def test_thirty_identical_clicks_on_a_tabs_first_example(class_app, api_name):
    url, _, _ = class_app
    kwargs = classroom.first_examples()[api_name]
    result = burst(url, [(api_name, kwargs)] * 30)
    _report(f"a_{api_name}", result)
    assert not result.failures, result.failures[:3]
    assert not result.incomplete, result.incomplete[:3]
    assert len(result.latencies[api_name]) == 30


@pytest.mark.parametrize("api_name", ["cnn_features", "vit_attention", "yolo_detect"])
def test_thirty_different_photos_at_once(class_app, api_name):
    url, _, _ = class_app
    result = burst(url, classroom.distinct_photo_calls(api_name, 30))
    _report(f"b_{api_name}", result)
    assert not result.failures, result.failures[:3]
    assert not result.incomplete, result.incomplete[:3]
    assert len(result.latencies[api_name]) == 30 and result.files_checked >= 30


def test_webcams_on_the_server_path_never_block_clicks(class_app):
    """Four webcams stream frames to the server path while 20 students click: every click is answered,
    and the webcams get pictures back (or are told at once that a frame was dropped)."""
    url, _, _ = class_app
    stop = threading.Event()
    frames = jpeg_frames(classroom.EXAMPLES)
    streamed = {}

    def stream():
        streamed["result"] = webcams(url, "yolo_detect_webcam", frames, count=4, fps=10, seconds=40, stop=stop)

    thread = threading.Thread(target=stream, daemon=True)
    thread.start()
    try:
        calls = [(api, make()) for api, make in classroom.CLICKS] * 10
        result = burst(url, calls)
    finally:
        stop.set()
        thread.join(timeout=120)
    _report("c_clicks_with_4_webcams", result)
    assert not result.failures, result.failures[:3]
    assert not result.incomplete
    cams = streamed["result"]
    assert not cams.errors, cams.errors[:3]
    assert cams.sent > 0 and cams.answered > 0


def test_a_class_of_thirty_for_a_minute(class_app):
    url, proc, log_path = class_app
    result = run_classroom(url, classroom.jobs(), students=30, seconds=60, server_pid=proc.pid)
    _report("d_mixed_class", result)
    assert not result.failures, result.failures[:5]
    assert not result.incomplete, result.incomplete[:5]
    assert result.total >= 30, "the class barely got any answers"
    assert set(result.latencies) == {name for name, _ in classroom.jobs()}, "every endpoint must have answered"
    loads = model_loads_in_log(log_path)
    assert loads and all(count == 1 for count in loads.values()), f"duplicate model loads: {loads}"
    # Memory stops growing: the last quarter's peak is within 10% (+100 MB) of the peak before it.
    samples = result.rss_samples
    cut = samples[-1][0] * 0.75
    before = max(mb for t, mb in samples if t <= cut)
    after = max(mb for t, mb in samples if t > cut)
    assert after <= before * 1.10 + 100, f"memory still growing: {before:.0f} MB -> {after:.0f} MB"
