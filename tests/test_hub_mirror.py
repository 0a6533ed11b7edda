"""The real download path, end to end, against the local Hub mirror (tests/hub_mirror.py):

1. the mirror answers huggingface_hub's own calls as the Hub does;
2. `python app.py --prefetch` into empty caches downloads every default model with visible progress and
   exits 0 (the REAL loading code: no test zoo), then the app started offline from those caches serves
   every tab's model, with no network at all;
3. the Hub models outside the default set (SD 1.5, SDXL base + refiner, TAESDXL) download and load too.

huggingface_hub reads HF_ENDPOINT and HF_HUB_OFFLINE once, at import, so everything that downloads runs
in a fresh process with `hub_mirror.env()`.
"""
from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from core import models
from tests.conftest import ROOT, TEST_ENV
from tests.hub_mirror import write_torchvision_checkpoint, write_yolo_checkpoint
from tests.test_offline import closed_port, serve

CAT = ROOT / "assets" / "examples" / "cat.jpg"
# ultralytics' sample photo, found without importing ultralytics (its switches are set by the app's adapter)
BUS = Path(importlib.util.find_spec("ultralytics").submodule_search_locations[0]) / "assets" / "bus.jpg"


def _caches(tmp_path: Path) -> dict[str, str]:
    return {"HF_HOME": str(tmp_path / "hf"), "TORCH_HOME": str(tmp_path / "torch"),
            "DLCLASS_CACHE_DIR": str(tmp_path / "dlclass"), "YOLO_CONFIG_DIR": str(tmp_path / "yolo")}


def _real_models_env(mirror, tmp_path: Path) -> dict[str, str]:
    """The real loaders (DLCLASS_MODELS unset), downloads allowed, from the mirror, into tmp caches."""
    env = {**os.environ, **TEST_ENV, **mirror.env(), **_caches(tmp_path)}
    env.pop("DLCLASS_MODELS")
    env.pop("DLCLASS_OFFLINE")
    env["TQDM_POSITION"] = "-1"  # huggingface_hub shows its progress bars without a terminal too
    return env


def _prefetch(env: dict, *names: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "app.py", "--prefetch", *names], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=900)


def test_the_mirror_answers_huggingface_hubs_own_calls(hub_mirror, tmp_path):
    repo = "facebook/deit-tiny-patch16-224"
    code = r'''
import json, sys
from huggingface_hub import hf_hub_download, model_info, snapshot_download
from huggingface_hub.errors import EntryNotFoundError, RepositoryNotFoundError
repo = sys.argv[1]
out = {"config": hf_hub_download(repo, "config.json"), "weights": hf_hub_download(repo, "model.safetensors"),
       "siblings": sorted(s.rfilename for s in model_info(repo).siblings),
       "snapshot": snapshot_download(repo, allow_patterns=["*.json"])}
try:
    hf_hub_download(repo, "no_such_file.json")
except EntryNotFoundError as exc:
    out["missing"] = type(exc).__name__
try:
    hf_hub_download("nobody/nothing", "config.json")
except RepositoryNotFoundError as exc:
    out["no_repo"] = type(exc).__name__
print(json.dumps(out))
'''
    env = _real_models_env(hub_mirror, tmp_path)
    result = subprocess.run([sys.executable, "-c", code, repo], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    served = hub_mirror.repos[repo].files
    assert Path(out["config"]).read_bytes() == served["config.json"].location.read_bytes()
    assert Path(out["weights"]).read_bytes() == served["model.safetensors"].location.read_bytes()  # via the storage port
    assert out["siblings"] == sorted(served)
    in_snapshot = sorted(p.name for p in Path(out["snapshot"]).iterdir())  # the two json files + the weights above
    assert in_snapshot == ["config.json", "model.safetensors", "preprocessor_config.json"]
    assert out["missing"] == "RemoteEntryNotFoundError" and out["no_repo"] == "RepositoryNotFoundError"
    assert not hub_mirror.unexpected


# The model endpoints of every tab, the models each one loads, and a request for it (API names from the app).
TAB_CALLS = [
    ("cnn_features", ["resnet18"], lambda f: dict(image=f(CAT), model_name="resnet18")),
    ("vit_attention", ["deit_tiny"], lambda f: dict(image=f(CAT), model_name="deit_tiny")),
    ("vit_attention", ["vit_base"], lambda f: dict(image=f(CAT), model_name="vit_base")),
    ("yolo_detect", ["yolo11n"], lambda f: dict(image=f(BUS), model_name="yolo11n")),
    ("sd_generate", ["sd_turbo", "taesd", "sd_safety_checker"],
     lambda f: dict(prompt="a cat", model_name="sd_turbo", steps=1, size=256, preview="latent_rgb", decoder="taesd")),
    ("precision_compare", ["resnet18"],
     lambda f: dict(model_name="resnet18", precisions=["fp32"], devices=["cpu"], batch_size=1, matmul_size=256,
                    budget_s=5)),
    ("finetune", ["efficientnet_lite0"],
     lambda f: dict(backbone="efficientnet_lite0", epochs=1, per_class=10, **{f"n{i}": "" for i in range(5)},
                    **{f"f{i}": None for i in range(5)})),
    ("word_attention_encoder", ["distilbert_multilingual"],
     lambda f: dict(sentence="고양이가 매트 위에 앉았다. The cat sat on the mat.", layer=1, head=0)),
    ("hub_fill_mask", ["hub_fill_mask"],
     lambda f: dict(sentence="서울은 한국의 [MASK]입니다.", top_k=5, model_name="klue/bert-base")),
    ("hub_generate", ["hub_text_generation"],
     lambda f: dict(prompt="오늘 날씨가 좋아서", temperature=1.0, top_k=5, new_tokens=8, seed=0,
                    model_name="skt/kogpt2-base-v2")),
    ("hub_translate", ["hub_translation"],
     lambda f: dict(sentence="딥러닝은 데이터에서 패턴을 배웁니다.", beams=6, model_name="Helsinki-NLP/opus-mt-ko-en")),
    ("hub_clip", ["hub_zero_shot_image"],
     lambda f: dict(image=f(CAT), labels="a cat, a dog, a rocket", template="a photo of {}.",
                    model_name="openai/clip-vit-base-patch32")),
    ("hub_speech", ["hub_speech"],
     lambda f: dict(recording=f(ROOT / "assets" / "examples" / "speech_ko.wav"), language="korean", beams=1,
                    model_name="openai/whisper-base")),
]


def _mark_web_runtime_cached(cache_dir: Path) -> None:
    from core import webruntime

    runtime = webruntime.folder(cache_dir=cache_dir / "npm")
    runtime.mkdir(parents=True)
    for name in webruntime.PAGE_FILES:
        (runtime / name).write_bytes(b"// stand-in: this test never runs the page")
    (runtime / webruntime.MARKER).write_text(webruntime.INTEGRITY, encoding="utf-8")


def test_prefetch_into_empty_caches_then_every_tab_offline(hub_mirror, tmp_path):
    defaults = [s.name for s in models.specs() if s.prefetch_default]
    covered = {name for _, names, _ in TAB_CALLS for name in names}
    assert set(defaults) <= covered, f"default models no tab call below loads: {set(defaults) - covered}"

    # Not on the Hub: torchvision's and ultralytics' files where their own loaders look (no network here;
    # tests/test_offline.py shows their downloads are the libraries' own).
    write_torchvision_checkpoint(tmp_path / "torch", "resnet18")
    write_yolo_checkpoint(tmp_path / "dlclass", "yolo11n")
    # Not a model: the in-browser detector's runtime (npm registry, tests/test_webruntime.py shows its
    # download). Here it is already cached, so the prefetch of every default touches no network.
    _mark_web_runtime_cached(tmp_path / "dlclass")

    env = _real_models_env(hub_mirror, tmp_path)
    before = len(hub_mirror.requests)
    result = _prefetch(env)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    for name in defaults:
        assert re.search(rf"^  {name}\s+ok$", result.stdout, re.M), f"{name} not ok:\n{result.stdout[-3000:]}"
    assert re.search(r"^  onnxruntime-web \S+\s+ok$", result.stdout, re.M), result.stdout[-2000:]
    downloaded = hub_mirror.downloads(since=before)
    for s in models.specs():
        if not (s.prefetch_default and s.hub_repos):
            continue
        if f"[prefetch] {s.name}: already on this computer" in result.stdout:
            continue  # e.g. TAESD, whose real weights ../shared/weights provides
        assert f"[prefetch] {s.name}: downloading" in result.stdout and f"[prefetch] {s.name}: done in" in result.stdout
        for repo in s.hub_repos:
            assert any(path.startswith(f"{repo}/") for path in downloaded), f"nothing of {repo} was downloaded"
    # Visible progress: huggingface_hub's byte bars, named after the files, ending at 100 %.
    assert re.search(r"model\.safetensors: 100%", output), output[-3000:]
    assert [p for p in downloaded if p.endswith((".bin", ".pth", ".pt", ".ckpt"))] == []  # no pickles fetched
    assert not hub_mirror.unexpected, hub_mirror.unexpected

    # The app, offline, from those caches: every tab's model. The Hub address now refuses connections, and the
    # mirror must see no request at all.
    from gradio_client import Client, handle_file
    from gradio_client.exceptions import AppError

    with closed_port() as nowhere:
        offline_env = {**env, "HF_HUB_OFFLINE": "1", "DLCLASS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
                       "HF_ENDPOINT": nowhere}
        offline_env.pop("TQDM_POSITION")
        after_prefetch = len(hub_mirror.requests)
        with serve("hub-mirror-offline", offline_env, "--no-warm-up") as (url, log_path):
            client = Client(url, verbose=False, download_files=str(tmp_path / "downloads"))
            api = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
            # A teacher who has only DeiT-Tiny: ViT-Base's weights file is gone from the cache.
            weights = _hub_snapshot_file(tmp_path / "hf", "google/vit-base-patch16-224", "model.safetensors")
            hidden = weights.with_name("hidden.safetensors")
            weights.rename(hidden)
            answer = client.predict(image=handle_file(str(CAT)), model_name="vit_base", api_name="/vit_attention")
            hidden.rename(weights)
            missing = next(str(v) for v in answer if "--prefetch" in str(v))  # said in the tab, where it stays
            assert "--prefetch vit_base" in missing and "deit_tiny" in missing
            called, skipped = [], []
            for api_name, names, request in TAB_CALLS:
                if f"/{api_name}" not in api:
                    skipped.append(api_name)
                    continue
                # Only the parameters this version of the tab takes; one it requires that the request above
                # does not name (an optional upload, say) is sent empty.
                takes = api[f"/{api_name}"]["parameters"]
                wanted = request(lambda p: handle_file(str(p)))
                kwargs = {p["parameter_name"]: wanted.get(p["parameter_name"]) for p in takes
                          if p["parameter_name"] in wanted or not p.get("parameter_has_default")}
                try:
                    client.predict(**kwargs, api_name=f"/{api_name}")
                except AppError as exc:
                    pytest.fail(f"{api_name} failed offline: {exc}")
                called += names
            log = log_path.read_text(errors="replace")
    assert len(hub_mirror.requests) == after_prefetch  # nothing reached the Hub mirror
    for name in called:
        assert re.search(rf"loaded {name} on \S+ \(\S+, tiny=False\)", log), f"{name} was not loaded for real"
    if skipped:
        print(f"\nnot in this app yet: {skipped}")
    assert set(called) >= set(defaults) - {n for a, ns, _ in TAB_CALLS if a in skipped for n in ns}
    assert "loaded deit_tiny" in log and "tiny=True" not in log


def _hub_snapshot_file(hf_home: Path, repo: str, filename: str) -> Path:
    folder = hf_home / "hub" / ("models--" + repo.replace("/", "--")) / "snapshots"
    (snapshot,) = list(folder.iterdir())
    return snapshot / filename


def test_the_other_hub_models_download_and_load_offline(hub_mirror, tmp_path):
    """SD 1.5 (PNDM scheduler config, pickled weights next to the safetensors), SDXL base + refiner (fp16
    variants; the refiner through diffusers' pipeline download) and TAESDXL: prefetch, then load offline."""
    # (repositories a student typed in the hub tab are registered by that request only: not a model of the app)
    names = [s.name for s in models.specs() if s.hub_repos and not s.prefetch_default and not s.name.startswith("hub:")]
    assert {"sd15", "sdxl", "taesdxl"} <= set(names)
    env = _real_models_env(hub_mirror, tmp_path)
    before = len(hub_mirror.requests)
    result = _prefetch(env, *names)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    assert [p for p in hub_mirror.downloads(since=before) if p.endswith((".bin", ".pth", ".pt", ".ckpt"))] == []
    code = r'''
import json, sys
from core import models
out = {}
for name in sys.argv[1:]:
    model = models.get(name, device="cpu", tiny=False)
    out[name] = [models.is_cached(name), type(model).__name__, getattr(model, "real_weights", None)]
print(json.dumps(out))
'''
    offline_env = {**env, "HF_HUB_OFFLINE": "1", "DLCLASS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    loaded = subprocess.run([sys.executable, "-c", code, *names], cwd=ROOT, env=offline_env, capture_output=True,
                            text=True, timeout=600)
    assert loaded.returncode == 0, loaded.stderr[-4000:]
    out = json.loads(loaded.stdout.strip().splitlines()[-1])
    assert out["sd15"] == [True, "SDBundle", True] and out["sdxl"] == [True, "SDBundle", True]
    assert out["taesdxl"][:2] == [True, "AutoencoderTiny"]
