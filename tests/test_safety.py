"""Safety: loopback by default, no share link, an upload limit, no file reads outside the app,
no pickle from user input, the diffusion safety checker on by default."""
from __future__ import annotations

import os
import re
import urllib.error
import urllib.request
from pathlib import Path

import pytest

import app
from core.settings import from_args
from tests.conftest import ROOT


def test_defaults_bind_loopback_without_share(monkeypatch):
    monkeypatch.delenv("GRADIO_SERVER_NAME", raising=False)
    monkeypatch.delenv("GRADIO_SERVER_PORT", raising=False)
    settings = from_args([])
    assert settings.host == "127.0.0.1" and settings.port == 7860 and settings.share is False
    kwargs = app.launch_kwargs(settings)
    assert kwargs["share"] is False and kwargs["max_file_size"]


def test_spaces_host_comes_from_environment(monkeypatch):
    monkeypatch.setenv("GRADIO_SERVER_NAME", "0.0.0.0")
    assert from_args([]).host == "0.0.0.0"


def _status(url: str, data: bytes | None = None, headers: dict | None = None) -> int:
    request = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.mark.parametrize("path", [
    "/etc/passwd",
    "/etc/../etc/passwd",
    "%2Fetc%2Fpasswd",
    "../../../../etc/passwd",
    str(ROOT / "app.py"),
    str(ROOT / "requirements.txt"),
    str(Path.home() / ".cache"),
])
def test_file_route_reads_nothing_outside_the_app(app_url, path):
    status = _status(f"{app_url}gradio_api/file={path}")
    assert status in (400, 403, 404), f"{path} answered {status}"


def test_upload_size_limit(app_url):
    boundary = "dlclassboundary"
    payload = b"\0" * (51 * 1024 * 1024)
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"big.png\"\r\n"
            f"Content-Type: image/png\r\n\r\n").encode() + payload + f"\r\n--{boundary}--\r\n".encode()
    status = _status(f"{app_url}gradio_api/upload", data=body,
                     headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert status in (400, 413)


def _python_sources() -> list[Path]:
    """The app's own Python files (hidden folders such as virtual environments pruned)."""
    found = []
    for folder, dirs, files in os.walk(ROOT):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d not in ("tests", "__pycache__")]
        found += [Path(folder) / f for f in files if f.endswith(".py")]
    return found


def test_every_torch_load_is_weights_only():
    offenders = []
    for path in _python_sources():
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if re.search(r"torch\.load\(", line) and "weights_only=True" not in line:
                offenders.append(f"{path.relative_to(ROOT)}:{number}")
    assert not offenders, f"torch.load without weights_only=True: {offenders}"


def test_no_pickle_loading_anywhere():
    offenders = []
    for path in _python_sources():
        text = path.read_text(encoding="utf-8")
        if re.search(r"pickle\.loads?\(|allow_pickle\s*=\s*True|joblib\.load\(", text):
            offenders.append(str(path.relative_to(ROOT)))
    assert not offenders


def test_diffusion_safety_checker_is_on_by_default_and_the_flag_turns_it_off(monkeypatch):
    """The switch travels in the settings object, never through an environment variable."""
    assert from_args([]).safety_checker is True
    assert from_args(["--no-safety-checker"]).safety_checker is False
    monkeypatch.setenv("DLCLASS_SAFETY_CHECKER", "0")  # the old back channel: ignored
    assert from_args([]).safety_checker is True
    source = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "tabs").rglob("*.py"))
    source += (ROOT / "app.py").read_text(encoding="utf-8")
    assert "DLCLASS_SAFETY_CHECKER" not in source
