"""Issue 21's soak: a class for many minutes, with one student who misbehaves, on this 2-core machine.

    python -m bench.run --only soak            # 5 min of the class alone, then 30 min with the misbehaver
    DLCLASS_SOAK_MINUTES=10 python -m bench.run --only soak   # a shorter soak (the slope over its last 2/3)

Two phases on one server (the test zoo, loopback, each student behind its own forwarded address as on a
Space):
1. the class alone (the baseline): 30 well-behaved students for DLCLASS_SOAK_BASELINE_MINUTES;
2. the soak: the same 30 students plus one misbehaving client for DLCLASS_SOAK_MINUTES.

A well-behaved student clicks a random lesson (bench.classroom.MIX), thinks 1-4 s, clicks again; one
photo click in ten sends a photo of their own (never sent before, so never cached); every few minutes they
reload the page (a new Gradio session). Every answer's files are downloaded as a browser does; one
answer in ten has its pictures decoded to the last pixel (decoding them all would make the generator, which
shares the 2 cores, the bottleneck), and the files are then deleted from the generator's disk.

The misbehaving client does, at once and over and over, what issue 21 found one student could do: the
longest fine-tuning run (every stage unfrozen, most epochs, batch 1) clicked twice from one page; the
benchmarks with "measure again"; a script of 200 slow jobs from fresh sessions; distinct float_bits calls
that would evict the worked examples; a 100,000-character prompt; bad payloads (too few inputs, a path
where a picture goes); a 60 MB upload; two webcams held open at 2 frames/s.

Measured from outside the server: its resident memory (process tree) every 5 s, its CPU seconds per phase
(read from the server's process), the output and upload folders' sizes, every request's latency.
"""
from __future__ import annotations

import os
import random
import shutil
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil
from PIL import Image

from bench import classroom
from bench.common import row
from bench.load import BrowserClient, LoadResult, check_files, endpoints, jpeg_frames, tree_rss_mb, webcams
from tests.conftest import running_app, wait_for_log

TAB = "soak"
STUDENTS = 30
MINUTES = float(os.environ.get("DLCLASS_SOAK_MINUTES") or 30)
BASELINE_MINUTES = float(os.environ.get("DLCLASS_SOAK_BASELINE_MINUTES") or 5)
THINK_S = (1.0, 4.0)  # a student reads the answer before the next click
RELOAD_EVERY_S = (120.0, 360.0)  # and reloads the page now and then (a new Gradio session)
OWN_PHOTO_SHARE = 0.10
DECODE_SHARE = 0.10
SAMPLE_EVERY_S = 5.0
PHOTO_APIS = ("cnn_features", "vit_attention", "yolo_detect")


# ---------------------------------------------------------------- what the server holds


@dataclass
class Samples:
    """(seconds since the soak began, value) series read from outside the server."""

    rss_mb: list[tuple[float, float]] = field(default_factory=list)
    outputs_mb: list[tuple[float, float]] = field(default_factory=list)
    uploads_mb: list[tuple[float, float]] = field(default_factory=list)


def folder_mb(folder: Path) -> float:
    total = 0
    for path in folder.rglob("*"):
        try:
            if path.is_file():
                total += path.stat().st_size
        except OSError:  # swept while we looked
            pass
    return total / 1e6


def slope_mb_per_min(series: list[tuple[float, float]], from_s: float) -> float:
    """The least-squares slope of the samples at or after `from_s`, in MB per minute."""
    points = [(t, v) for t, v in series if t >= from_s]
    if len(points) < 3:
        return float("nan")
    mean_t = statistics.fmean(t for t, _ in points)
    mean_v = statistics.fmean(v for _, v in points)
    num = sum((t - mean_t) * (v - mean_v) for t, v in points)
    den = sum((t - mean_t) ** 2 for t, _ in points)
    return num / den * 60.0


def sample(pid: int, outputs: Path, uploads: Path, samples: Samples, started: float, stop: threading.Event):
    while not stop.is_set():
        now = time.perf_counter() - started
        samples.rss_mb.append((now, tree_rss_mb(pid)))
        samples.outputs_mb.append((now, folder_mb(outputs)))
        samples.uploads_mb.append((now, folder_mb(uploads)))
        stop.wait(SAMPLE_EVERY_S)


def server_cpu_s(pid: int) -> float:
    proc = psutil.Process(pid)
    total = 0.0
    for p in [proc] + proc.children(recursive=True):
        try:
            times = p.cpu_times()
            total += times.user + times.system
        except psutil.Error:
            pass
    return total


# ---------------------------------------------------------------- the well-behaved class


def own_photo(rng: random.Random, folder: Path) -> Path:
    """A photo no one sent before: an example, cropped, turned and brightened at random."""
    img = Image.open(rng.choice(classroom.EXAMPLES)).convert("RGB")
    w, h = img.size
    left, top = rng.randint(0, w // 4), rng.randint(0, h // 4)
    img = img.crop((left, top, left + w * 3 // 4, top + h * 3 // 4)).rotate(rng.uniform(-15, 15))
    path = folder / f"own_{rng.getrandbits(48):012x}.jpg"
    img.save(path, quality=88)
    return path


def forwarded(client: BrowserClient, address: str) -> BrowserClient:
    """This client's requests come from its own address, as a Space's proxy reports each student."""
    client.http.headers["X-Forwarded-For"] = address
    return client


def take_answer(files: list[str], result: LoadResult, rng: random.Random) -> None:
    """Decode some answers' pictures (a browser would decode them all, on the student's own computer), then
    delete the downloads so that a long soak does not fill the generator's disk."""
    if rng.random() < DECODE_SHARE:
        check_files(files, result)
    for folder in {Path(f).parent for f in files}:
        shutil.rmtree(folder, ignore_errors=True)


def well_behaved(url: str, api: dict, index: int, result: LoadResult, deadline: float, photos: Path,
                 seed: int) -> None:
    rng = random.Random(seed * 1000 + index)
    lang = "ko" if index % 3 else "en"
    address = f"10.0.{index // 250}.{index % 250 + 1}"
    jobs = classroom.jobs()

    def new_page() -> BrowserClient:
        client = forwarded(BrowserClient(url, lang, api), address)
        try:
            started = time.perf_counter()
            take_answer(client.open_page(), result, rng)
            result.add("open the page", time.perf_counter() - started)
        except Exception as exc:
            result.fail(f"open the page: {exc!r}")
        return client

    client = new_page()
    reload_at = time.perf_counter() + rng.uniform(*RELOAD_EVERY_S)
    while time.perf_counter() < deadline:
        if time.perf_counter() > reload_at:
            client.http.close()
            client = new_page()
            reload_at = time.perf_counter() + rng.uniform(*RELOAD_EVERY_S)
        api_name, make_args = rng.choice(jobs)
        kwargs = make_args(rng)
        if api_name in PHOTO_APIS and rng.random() < OWN_PHOTO_SHARE:
            kwargs = dict(kwargs, image=classroom.upload(own_photo(rng, photos)))
        started = time.perf_counter()
        try:
            files = client.predict(api_name, **kwargs)
        except Exception as exc:
            result.fail(f"{api_name}: {exc!r}")
        else:
            result.add(api_name, time.perf_counter() - started)
            take_answer(files, result, rng)
        time.sleep(rng.uniform(*THINK_S))
    client.http.close()


def run_class(url: str, api: dict, seconds: float, photos: Path, seed: int) -> LoadResult:
    result = LoadResult()
    deadline = time.perf_counter() + seconds
    threads = [threading.Thread(target=well_behaved, args=(url, api, i, result, deadline, photos, seed),
                                daemon=True) for i in range(STUDENTS)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + 600)
    result.wall_s = time.perf_counter() - started
    return result


# ---------------------------------------------------------------- the misbehaving client


@dataclass
class Mischief:
    """What the misbehaving client got: answers, and refusals (a clear message, the server still serving)."""

    answered: dict[str, int] = field(default_factory=dict)
    refused: dict[str, int] = field(default_factory=dict)
    refusals: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def note(self, what: str, ok: bool, text: str = "") -> None:
        with self.lock:
            tally = self.answered if ok else self.refused
            tally[what] = tally.get(what, 0) + 1
            if not ok and len(self.refusals) < 40:
                self.refusals.append(f"{what}: {text}"[:200])


ADDRESS = "10.9.9.9"


def _try(mischief: Mischief, what: str, call) -> None:
    try:
        call()
        mischief.note(what, True)
    except Exception as exc:
        mischief.note(what, False, repr(exc))


def check_names(api: dict, api_name: str, kwargs: dict) -> dict:
    """`kwargs` if the endpoint has every one of these parameters (a renamed setting must not turn the
    misbehaver's longest run into a default one without anyone noticing)."""
    names = {name for name, _ in api[api_name][1] if name is not None}
    missing = set(kwargs) - names
    if missing:
        raise KeyError(f"{api_name} has no parameter {sorted(missing)} (it has {sorted(names)})")
    return kwargs


def longest_training(url: str, api: dict, stop: threading.Event, mischief: Mischief) -> None:
    """One page clicks the longest fine-tuning run twice, over and over."""
    page = forwarded(BrowserClient(url, "ko", api), ADDRESS)
    slow = check_names(api, "finetune", dict(n_frozen=0, epochs=50, per_class=100, batch_size=1, patience=20,
                                             min_delta=0.0))
    while not stop.is_set():
        both = [threading.Thread(target=_try, args=(mischief, "finetune (longest, twice per page)",
                                                     lambda: page.predict("finetune", **slow)))
                for _ in range(2)]
        for thread in both:
            thread.start()
        for thread in both:
            thread.join()


def benchmarks_again(url: str, api: dict, stop: threading.Event, mischief: Mischief) -> None:
    again = check_names(api, "cnn_features_compare", dict(again=True))
    page = forwarded(BrowserClient(url, "en", api), ADDRESS)
    while not stop.is_set():
        _try(mischief, "precision_compare", lambda: page.predict("precision_compare"))
        _try(mischief, "cnn_features_compare (again)", lambda: page.predict("cnn_features_compare", **again))


def script_of_slow_jobs(url: str, api: dict, stop: threading.Event, mischief: Mischief) -> None:
    """200 fresh sessions at once, then distinct float_bits calls that would evict the class's cache."""
    counter = 0
    while not stop.is_set():
        pages = [forwarded(BrowserClient(url, "ko", api), ADDRESS) for _ in range(200)]
        threads = [threading.Thread(target=_try, args=(mischief, "script: 200 slow jobs at once",
                                                       lambda p=p: p.predict("sd_generate", prompt="x", steps=4)))
                   for p in pages]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=600)
        for p in pages:
            p.http.close()
        page = forwarded(BrowserClient(url, "ko", api), ADDRESS)
        for _ in range(300):
            counter += 1
            _try(mischief, "distinct float_bits", lambda: page.predict("float_bits", text=f"{counter}.{counter % 97}"))
            if stop.is_set():
                break
        page.http.close()


def junk(url: str, api: dict, stop: threading.Event, mischief: Mischief, big: Path) -> None:
    """A 100,000-character prompt, payloads of the wrong shape, a 60 MB upload: every 30 s."""
    base, page = url.rstrip("/"), forwarded(BrowserClient(url, "ko", api), ADDRESS)
    fn_index = api["sd_generate"][0]
    while not stop.is_set():
        _try(mischief, "100,000-character prompt",
             lambda: page.predict("sd_generate", prompt="고양이 " * 25_000, steps=1, size=256))
        for data in ([1], [{"path": "/etc/passwd", "meta": {"_type": "gradio.FileData"}}] * 9):
            response = page.http.post(f"{base}/gradio_api/queue/join",
                                      json={"data": data, "fn_index": fn_index, "session_hash": page.session})
            mischief.note("bad payload", response.status_code == 200, response.text[:120])
        with open(big, "rb") as handle:
            response = page.http.post(f"{base}/gradio_api/upload", files={"files": ("big.bin", handle)})
        mischief.note("60 MB upload", response.status_code == 200, f"{response.status_code} {response.text[:120]}")
        stop.wait(30)


def held_webcams(url: str, stop: threading.Event, mischief: Mischief) -> None:
    frames = jpeg_frames(classroom.EXAMPLES[:2])
    while not stop.is_set():
        webcams(url, "yolo_detect_webcam", frames, count=2, fps=2, seconds=120, stop=stop)
        mischief.note("two webcams held 2 min", True)


def misbehave(url: str, api: dict, stop: threading.Event, mischief: Mischief, workdir: Path) -> None:
    """Everything at once, until `stop`."""
    big = workdir / "sixty.bin"
    big.write_bytes(os.urandom(60 * 1024 * 1024))
    jobs = [(longest_training, (url, api, stop, mischief)), (benchmarks_again, (url, api, stop, mischief)),
            (script_of_slow_jobs, (url, api, stop, mischief)), (junk, (url, api, stop, mischief, big)),
            (held_webcams, (url, stop, mischief))]
    threads = [threading.Thread(target=job, args=args, daemon=True) for job, args in jobs]
    for thread in threads:
        thread.start()
    stop.wait()
    for thread in threads:
        thread.join(timeout=120)


# ---------------------------------------------------------------- the figures


def p95_ms(result: LoadResult) -> dict[str, float]:
    return {name: result.percentile(name, 95) * 1000 for name in result.latencies}


def rows() -> list[dict]:
    workdir = Path(tempfile.mkdtemp(prefix="dlclass-soak-"))
    outputs, uploads, photos = workdir / "outputs", workdir / "uploads", workdir / "photos"
    outputs.mkdir(mode=0o700)
    uploads.mkdir(mode=0o700)
    photos.mkdir()
    env = {"DLCLASS_OUTPUT_DIR": str(outputs), "GRADIO_TEMP_DIR": str(uploads),
           # the guard's real limit: every student has an address of their own here
           "DLCLASS_MAX_NEW_SESSIONS": "240"}
    out = []
    try:
        with running_app("bench-soak", extra_env=env) as (url, proc, log_path):
            wait_for_log(log_path, "warm-up:", 600)
            api = endpoints(url)
            samples, stop_sampling = Samples(), threading.Event()
            started = time.perf_counter()
            sampler = threading.Thread(target=sample, args=(proc.pid, outputs, uploads, samples, started,
                                                            stop_sampling), daemon=True)
            sampler.start()

            cpu0 = server_cpu_s(proc.pid)
            alone = run_class(url, api, BASELINE_MINUTES * 60, photos, seed=1)
            cpu1 = server_cpu_s(proc.pid)
            soak_from = time.perf_counter() - started

            stop_mischief, mischief = threading.Event(), Mischief()
            bad = threading.Thread(target=misbehave, args=(url, api, stop_mischief, mischief, workdir), daemon=True)
            bad.start()
            soak = run_class(url, api, MINUTES * 60, photos, seed=2)
            stop_mischief.set()
            cpu2 = server_cpu_s(proc.pid)
            bad.join(timeout=300)
            stop_sampling.set()
            sampler.join(timeout=30)
            served_after = httpx.get(url, timeout=30).status_code
            out += figures(alone, soak, samples, soak_from, mischief, cpu1 - cpu0, cpu2 - cpu1, served_after)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return out


def figures(alone: LoadResult, soak: LoadResult, samples: Samples, soak_from: float, mischief: Mischief,
            cpu_alone: float, cpu_soak: float, served_after: int) -> list[dict]:
    last = 20.0 if MINUTES >= 30 else MINUTES * 2 / 3
    slope_from = soak_from + (MINUTES - last) * 60
    slope = slope_mb_per_min(samples.rss_mb, slope_from)
    rss_start = next(v for t, v in samples.rss_mb if t >= soak_from)
    rss_end = samples.rss_mb[-1][1]
    out = [
        row(TAB, f"server RSS at the soak's start / end (MB; {MINUTES:.0f} min)", rss_end, "MB",
            baseline=rss_start, baseline_what="start"),
        row(TAB, "server RSS peak", max(v for _, v in samples.rss_mb), "MB"),
        row(TAB, f"server RSS slope over the soak's last {last:.0f} min", slope, "MB/min", "≤ 5 MB/min"),
        row(TAB, "8-hour day extrapolated from that slope (RSS at the end + 7.5 h of slope)",
            rss_end + max(slope, 0) * 60 * (8 - MINUTES / 60), "MB"),
        row(TAB, "output folder, largest seen", max(v for _, v in samples.outputs_mb), "MB", "≤ 256 MB (the sweep's cap)"),
        row(TAB, "upload folder, largest seen", max(v for _, v in samples.uploads_mb), "MB",
            "≤ 15 min of uploads (the sweep's age)"),
        row(TAB, "well-behaved requests that failed (of all, class alone + soak)",
            len(alone.failures) + len(soak.failures), "", "0",
            baseline=alone.total + soak.total, baseline_what="requests"),
        row(TAB, "pictures decoded that were incomplete", len(alone.incomplete) + len(soak.incomplete), "", "0",
            baseline=alone.files_checked + soak.files_checked, baseline_what="decoded"),
        row(TAB, f"server CPU, class alone ({BASELINE_MINUTES:.0f} min)", cpu_alone, "s"),
        row(TAB, f"server CPU, soak with the misbehaver ({MINUTES:.0f} min)", cpu_soak, "s"),
        row(TAB, "the page still served after the soak (HTTP status)", served_after, "", "200"),
    ]
    before, during = p95_ms(alone), p95_ms(soak)
    for name in sorted(during):
        if name in before:
            out.append(row(TAB, f"well-behaved {name} p95 with the misbehaver (n={len(soak.latencies[name])}; "
                                f"class alone = baseline)", during[name], "ms", "ratio ≥ 0.67 (≤ 1.5x alone)",
                           baseline=before[name], baseline_what="alone"))
    for what in sorted(set(mischief.answered) | set(mischief.refused)):
        out.append(row(TAB, f"misbehaver: {what}: answered (refused = baseline)", mischief.answered.get(what, 0), "",
                       baseline=mischief.refused.get(what, 0) or None, baseline_what="refused"))
    for failure in (alone.failures + soak.failures)[:5]:
        out.append(row(TAB, f"a failure: {failure}", float("nan"), ""))
    for refusal in mischief.refusals[:8]:
        out.append(row(TAB, f"a refusal the misbehaver read: {refusal}", float("nan"), ""))
    return out
