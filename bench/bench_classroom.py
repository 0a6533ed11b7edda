"""Issue 12's figures: a class of 30 on this 2-core machine, every output downloaded and decoded.

The load generator runs in this process and shares the 2 cores with the server: its own CPU time is
measured and printed per scenario (the clients connect before each clock starts), so the figures can be
read with it in mind. Latencies are p50 / p95 / max per endpoint of one run.
"""
from __future__ import annotations

import statistics
import threading
import time

from bench import classroom
from bench.common import row
from bench.load import burst, jpeg_frames, run_classroom, student, webcams
from tests.conftest import running_app

TAB = "classroom"


def _rows_of(result, label: str, target_p95: str = "") -> list[dict]:
    out = []
    for api, n, p50, p95, top in result.summary():
        out.append(row(TAB, f"{label}: {api} p50 (n={n})", p50))
        out.append(row(TAB, f"{label}: {api} p95", p95, target=target_p95))
        out.append(row(TAB, f"{label}: {api} max", top))
    out.append(row(TAB, f"{label}: failed + incomplete pictures ({result.files_checked} files)",
                   len(result.failures) + len(result.incomplete), "", "0"))
    out.append(row(TAB, f"{label}: load generator CPU (of {result.wall_s:.1f} s wall)", result.generator_cpu_s, "s"))
    return out


def _alone_ms(url: str, api_name: str, kwargs: dict, runs: int = 7) -> float:
    client = student(url)
    samples = []
    for _ in range(runs + 1):
        started = time.perf_counter()
        client.predict(api_name=f"/{api_name}", **kwargs)
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples[1:])


def _in_process_ms(api_name: str) -> float:
    """The work of one request in this process (the event function and its outputs prepared, no cache)."""
    import gradio as gr  # noqa: F401

    import app
    from core import events

    _, page = app.build_app()
    record = next(r for r in events.REGISTERED if r.name == api_name)
    args = next(a for r, a in page.warm_calls if r.fn is record.fn)
    record.compute(*args)
    samples = []
    for _ in range(7):
        started = time.perf_counter()
        record.compute(*args)
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def rows() -> list[dict]:
    out = []
    with running_app("bench-classroom") as (url, proc, _):
        time.sleep(20)  # the warm-up computes every tab's first example behind the server
        # end to end (one request alone, outputs downloaded) vs the same work in-process
        for api_name, kwargs in (("conv_steps", {}), ("cnn_features", classroom.first_examples()["cnn_features"])):
            alone = _alone_ms(url, api_name, kwargs)
            work = _in_process_ms(api_name)
            out.append(row(TAB, f"one {api_name} request end to end (uncached work in-process = baseline)", alone,
                           target="≤ 1.5x", baseline=work, baseline_what="in-process"))
        # (a) 30 identical clicks at once, per tab
        for api_name, kwargs in classroom.first_examples().items():
            out += _rows_of(burst(url, [(api_name, kwargs)] * 30), f"(a) 30 identical", "≤ 1000 ms")
        # (b) 30 different photos at once
        for api_name in ("cnn_features", "vit_attention", "yolo_detect"):
            target = "≤ 3000 ms" if api_name == "cnn_features" else ""
            out += _rows_of(burst(url, classroom.distinct_photo_calls(api_name, 30)), "(b) 30 photos", target)
        # (c) a click alone, then with 4 and 10 webcams streaming to the server path, while 20 students click
        click_api, make = classroom.CLICKS[0]
        alone = _alone_ms(url, click_api, make())
        frames = jpeg_frames(classroom.EXAMPLES)
        for cams in (4, 10):
            stop = threading.Event()
            streamed = {}
            thread = threading.Thread(target=lambda: streamed.update(r=webcams(
                url, "yolo_detect_webcam", frames, count=cams, fps=10, seconds=60, stop=stop)), daemon=True)
            thread.start()
            time.sleep(3)
            others = burst(url, [(api, mk()) for api, mk in classroom.CLICKS] * 10)
            with_cams = _alone_ms(url, click_api, make())
            stop.set()
            thread.join(timeout=120)
            cam = streamed.get("r")
            out.append(row(TAB, f"(c) {click_api} click with {cams} webcams streaming (alone = baseline)", with_cams,
                           target="≤ 2x alone", baseline=alone, baseline_what="alone"))
            out += _rows_of(others, f"(c) 20 clicks with {cams} webcams")
            if cam is not None:
                out.append(row(TAB, f"(c) {cams} webcams: frames answered with a picture / sent", cam.answered, "frames",
                               baseline=cam.sent, baseline_what="sent"))
        # (d) the 60-second mixed class
        result = run_classroom(url, classroom.jobs(), students=30, seconds=60, server_pid=proc.pid)
        out += _rows_of(result, "(d) 60-s class")
        out.append(row(TAB, "(d) peak server memory (RSS)", result.peak_mb, "MB"))
    return out
