"""The Hugging Face lesson (issue 25): each row's time on this CPU with its real-size architecture and random
weights (no download; the cost of a forward pass depends on the sizes, not the values), target <= 5 s for
one student; then 30 identical clicks on each row's worked example at once, in the app (test zoo), target
p95 <= 1 s (it is the class's shared example, computed once at warm-up).

With random weights a decoder rarely writes its end token, so translation and speech are measured for a
fixed number of new tokens (written in each row's name), the length of a real answer to the example.
"""
from __future__ import annotations

import time

from pathlib import Path

from bench.classroom import upload
from bench.common import median_ms, row
from bench.load import browsers, burst
from core.zoo import hub as zoo
from tabs.hub import clip, fill_mask, generate, speech, translation

TAB = "hub"


def _one_student_rows() -> list[dict]:
    out = []
    cases = [
        ("fill-mask", "fill-mask, klue/bert-base size (top-5)",
         lambda b: fill_mask.fill_with(b, fill_mask.EXAMPLE, 5)),
        ("text-generation", "text generation, skt/kogpt2-base-v2 size (8 new tokens)",
         lambda b: generate.generate_with(b, generate.EXAMPLE, 1.0, 5, 8, 0)),
        ("translation", "translation, opus-mt-ko-en size (6 beams, 20 new tokens)",
         lambda b: translation.translate_with(b, translation.EXAMPLE, 6, limit=20)),
        ("zero-shot-image-classification", "zero-shot, clip-vit-base-patch32 size (the example's labels)",
         lambda b: clip.classify_with(b, clip.EXAMPLE[0], clip.EXAMPLE[1], clip.EXAMPLE[2])),
        ("automatic-speech-recognition", "speech, whisper-base size (greedy, the 4-s Korean example)",
         lambda b: speech.transcribe_with(b, speech.recording_of(speech.EXAMPLE))),
    ]
    for task, what, run in cases:
        started = time.perf_counter()
        bundle = zoo.build_real_architecture(task)
        built_s = time.perf_counter() - started
        out.append(row(TAB, f"{what}: one student", median_ms(lambda: run(bundle), runs=3, warmup=1),
                       target="≤ 5000 ms"))
        out.append(row(TAB, f"{what}: building the random real-size model", built_s * 1000))
        del bundle
    return out


CLASS_EXAMPLES = {
    "hub_fill_mask": dict(sentence=fill_mask.EXAMPLE),
    "hub_generate": dict(prompt=generate.EXAMPLE),
    "hub_translate": dict(sentence=translation.EXAMPLE),
    # each page uploads the example's file, as the page does when the example is clicked
    "hub_clip": dict(image=upload(Path(clip.EXAMPLE[0])), labels=clip.EXAMPLE[1], template=clip.EXAMPLE[2]),
    "hub_speech": dict(recording=upload(Path(speech.EXAMPLE))),
}


def _class_rows() -> list[dict]:
    """30 identical clicks on each row's worked example (the app, test zoo)."""
    from tests.conftest import running_app, wait_for_log

    out = []
    with running_app("bench-hub") as (url, _, log_path):
        wait_for_log(log_path, "warm-up:", 600)
        for api_name, kwargs in CLASS_EXAMPLES.items():
            result = burst(url, [(api_name, kwargs)] * 30, clients=browsers(url, 30))
            out.append(row(TAB, f"30 identical {api_name} clicks on the worked example: p95",
                           result.percentile(api_name, 95) * 1000, target="≤ 1000 ms"))
            out.append(row(TAB, f"30 identical {api_name} clicks: failed", len(result.failures), "", "0"))
    return out


def rows() -> list[dict]:
    return _one_student_rows() + _class_rows()
