"""Offline and no-network behaviour of the real loaders (no test zoo here).

- torchvision and ultralytics: a weights file in the place their own loaders look is found without any
  network, and a download goes through the library's own downloader with the library's own address;
- the ultralytics adapter uses public switches only, and `core.images.load_image` still refuses a
  non-image after ultralytics has patched PIL (this test fails when ultralytics changes that patch);
- the app with the network unreachable: the first click on a missing model is bounded by the connect
  timeout, every later click answers at once (the figures are printed: `pytest -s`).
"""
from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from core import models
from core.zoo import cnn as cnn_zoo
from core.zoo import yolo as yolo_zoo
from tests.conftest import ROOT, TEST_ENV, running_app, wait_for_log
from tests.hub_mirror import write_torchvision_checkpoint, write_yolo_checkpoint

CAT = ROOT / "assets" / "examples" / "cat.jpg"


def _no_network(*args, **kwargs):
    raise AssertionError(f"a download was attempted: {args} {kwargs}")


# ---------------------------------------------------------------- torchvision: torch hub's checkpoint folder


def test_torchvision_checkpoint_in_torch_hubs_folder_loads_without_network(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(torch.hub, "download_url_to_file", _no_network)
    assert not models.is_cached("resnet18") and not cnn_zoo.weights_cached("resnet18")
    path = write_torchvision_checkpoint(tmp_path, "resnet18")
    assert path == tmp_path / "hub" / "checkpoints" / "resnet18-f37072fd.pth"  # torchvision's own file name
    assert models.is_cached("resnet18") and cnn_zoo.weights_cached("resnet18")
    loaded = models.ModelLoader(tiny=False).get("resnet18", device="cpu")
    assert loaded.real_weights and loaded.top1_accuracy == pytest.approx(69.758)
    saved = torch.load(path, weights_only=True)
    assert torch.equal(loaded.model.conv1.weight, saved["conv1.weight"])  # the file's weights, not the zoo's


def test_torchvision_download_is_torch_hubs_own_with_torchvisions_url(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    asked = []

    def fake_download(url, dst, hash_prefix=None, progress=True):
        asked.append((url, Path(dst)))
        torch.save(cnn_zoo.build_architecture("resnet18").state_dict(), dst)

    monkeypatch.setattr(torch.hub, "download_url_to_file", fake_download)
    loaded = models.spec("resnet18").load(torch.device("cpu"), torch.float32, True)
    from torchvision.models import ResNet18_Weights

    assert asked == [(ResNet18_Weights.IMAGENET1K_V1.url, cnn_zoo.torch_hub_checkpoint("resnet18"))]
    assert asked[0][0].startswith("https://download.pytorch.org/")
    assert loaded.real_weights and models.is_cached("resnet18")


# ---------------------------------------------------------------- ultralytics: the app's YOLO folder


def test_yolo_weights_in_the_app_folder_load_without_network(tmp_path, monkeypatch):
    import ultralytics.utils.downloads as downloads

    monkeypatch.setattr(yolo_zoo, "CACHE_DIR", tmp_path / "ultralytics")
    monkeypatch.setattr(downloads, "safe_download", _no_network)
    assert not models.is_cached("yolo11n")
    path = write_yolo_checkpoint(tmp_path, "yolo11n")
    assert path == yolo_zoo.weights_path("yolo11n") and models.is_cached("yolo11n")
    detector = models.ModelLoader(tiny=False).get("yolo11n", device="cpu")
    assert detector.real_weights and detector.class_names[:2] == ["person", "bicycle"]
    saved = torch.load(path, weights_only=False)["model"].float()  # ultralytics' own checkpoint format
    first = next(detector.yolo.model.parameters())
    assert torch.equal(first.detach().float(), next(saved.parameters()).detach())


def test_yolo_download_is_ultralytics_own_with_its_asset_name(tmp_path, monkeypatch):
    import ultralytics.utils.downloads as downloads

    monkeypatch.setattr(yolo_zoo, "CACHE_DIR", tmp_path / "ultralytics")
    asked = []

    def fake_safe_download(url, file=None, **kwargs):
        asked.append((url, Path(file)))
        write_yolo_checkpoint(tmp_path, "yolo11n")

    monkeypatch.setattr(downloads, "safe_download", fake_safe_download)
    detector = models.spec("yolo11n").load(torch.device("cpu"), torch.float32, True)
    (url, file), = asked
    # ultralytics' attempt_download_asset built the address: its GitHub assets release, the asset's own name.
    assert url.startswith(f"https://github.com/{downloads.GITHUB_ASSETS_REPO}/releases/download/")
    assert url.endswith("/yolo11n.pt") and "yolo11n.pt" in downloads.GITHUB_ASSETS_NAMES
    assert file == yolo_zoo.weights_path("yolo11n") and detector.real_weights


def test_ultralytics_adapter_uses_public_switches_and_images_still_refuse_non_images():
    """In a fresh process (ultralytics reads its switches once, at import): after the loader's heavy-import
    step, ultralytics is offline and never pip-installs, torch keeps its threads, and PIL's Image.open,
    patched by ultralytics, still lets core.images refuse a non-image with its own message."""
    code = r'''
import io, json, os, subprocess, sys
import numpy as np, torch
torch.set_num_threads(2)
from core import images

def refusal(data):
    try:
        images.load_image(data)
    except BaseException as exc:
        return f"{type(exc).__name__}: {exc}"
    return None

garbage = b"this is not an image" * 10
before = refusal(garbage)  # PIL's own Image.open: UnidentifiedImageError, refused by load_image
from core import models
models.import_heavy_libraries()
import ultralytics, ultralytics.utils as uu
from PIL import Image
from core.zoo import yolo
installs = []
subprocess.check_output = lambda *a, **k: installs.append(a) or ""
subprocess.run = lambda *a, **k: installs.append(a)
after = refusal(garbage)
try:
    Image.open(io.BytesIO(garbage))
    raised = None
except BaseException as exc:
    raised = "ImportError" if isinstance(exc, ImportError) else type(exc).__name__
pixels = (np.arange(48 * 64 * 3) % 251).astype(np.uint8).reshape(48, 64, 3)
buffer = io.BytesIO(); Image.fromarray(pixels).save(buffer, format="PNG")
same = bool(np.array_equal(np.asarray(images.load_image(buffer.getvalue()).convert("RGB")), pixels))
print(json.dumps({"online": uu.ONLINE, "autoinstall": uu.AUTOINSTALL, "sync": ultralytics.settings["sync"],
                  "weights_dir": str(ultralytics.settings["weights_dir"]), "cache_dir": str(yolo.CACHE_DIR),
                  "threads": torch.get_num_threads(), "omp": os.environ.get("OMP_NUM_THREADS"),
                  "open_module": Image.open.__module__, "before": before, "after": after, "raised": raised,
                  "installs": len(installs), "same": same}))
'''
    env = {k: v for k, v in os.environ.items() if not k.startswith("YOLO_") and k != "OMP_NUM_THREADS"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    facts = json.loads(out.stdout.strip().splitlines()[-1])
    assert facts["online"] is False and facts["autoinstall"] is False and facts["sync"] is False
    assert facts["weights_dir"] == facts["cache_dir"]
    assert facts["threads"] == 2 and facts["omp"] is None
    # What ultralytics 8.4 does to PIL: its own Image.open from ultralytics.utils.patches, which on a file PIL
    # cannot identify raises ImportError (no HEIF plugin, no auto-install) instead of UnidentifiedImageError.
    # If either changes, check that core.images.load_image still refuses non-images, then update this test.
    assert facts["open_module"] in ("PIL.Image", "ultralytics.utils.patches"), facts["open_module"]
    assert facts["raised"] in ("UnidentifiedImageError", "ImportError"), facts["raised"]
    assert facts["before"] is not None and facts["after"] == facts["before"]  # refused the same way as before
    assert facts["installs"] == 0  # nothing tried to pip-install a plugin
    assert facts["same"]  # a real image still opens pixel for pixel


# ---------------------------------------------------------------- the app with the network unreachable


@contextlib.contextmanager
def serve(log_name: str, env: dict, *args: str):
    """`python app.py *args` with exactly `env` on a free loopback port; yields (url, log path)."""
    with running_app(log_name, args=args, timeout=180, env=env) as (url, _, log_path):
        yield url, log_path


@contextlib.contextmanager
def black_hole():
    """An address that never answers: a listening socket whose accept queue is full, so that the
    kernel drops every further connection attempt (as a firewall that drops packets does)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    fillers = []
    for _ in range(8):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(listener.getsockname())
        fillers.append(filler)
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


@contextlib.contextmanager
def closed_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        address = f"http://127.0.0.1:{probe.getsockname()[1]}"
    yield address  # nobody listens there any more: connections are refused at once


@pytest.mark.parametrize("network", [black_hole, closed_port], ids=["black_hole", "closed_port"])
def test_missing_model_answers_fast_when_the_network_is_unreachable(tmp_path, network):
    """Empty caches, downloads allowed, the Hub unreachable: the first click on a missing model costs at most
    the connect timeout; every later click answers within 1 s, with the prefetch command and no wait."""
    from gradio_client import Client, handle_file

    with network() as hub_address:
        env = {**os.environ, **TEST_ENV, "DLCLASS_MODELS": "", "DLCLASS_OFFLINE": "", "HF_HUB_OFFLINE": "0",
               "TRANSFORMERS_OFFLINE": "0", "HF_ENDPOINT": hub_address, "HF_HOME": str(tmp_path / "hf"),
               "TORCH_HOME": str(tmp_path / "torch"), "DLCLASS_CACHE_DIR": str(tmp_path / "dlclass")}
        with serve(f"no-network-{network.__name__}", env, "--no-warm-up") as (url, log_path):
            wait_for_log(log_path, "heavy libraries imported", 300)  # the clicks measure the network, not imports
            client = Client(url, verbose=False, download_files=str(tmp_path / "downloads"))
            clicks = []
            for _ in range(3):
                started = time.perf_counter()
                # the message is the answer, in the tab's text output where it stays (not a vanishing error)
                answer = client.predict(handle_file(str(CAT)), "deit_tiny", api_name="/vit_attention")
                clicks.append(time.perf_counter() - started)
                said = next(str(a) for a in answer if "--prefetch" in str(a))
                assert "python app.py --prefetch deit_tiny" in said
            print(f"\n[{network.__name__}] vit_attention, deit_tiny missing: clicks took "
                  + ", ".join(f"{s:.2f} s" for s in clicks))
    assert clicks[0] < models.CONNECT_TIMEOUT_S + 5  # the connect timeout, plus the request's own time
    assert all(s < 1.0 for s in clicks[1:]), clicks
    assert "다른 모델도" in said and "No other model" not in said  # one language: Korean
    assert "다시 시도합니다" in said
