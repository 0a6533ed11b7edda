"""The app's settings: built once from the command line (`app.py`) and passed to every lesson.

No environment variable carries a command-line choice to the code that uses it: lessons read
`page.settings` (see core/page.py).
"""
from __future__ import annotations

import argparse
import dataclasses
import os


@dataclasses.dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 7860
    share: bool = False
    device: str = "auto"  # auto | cpu | cuda | mps
    safety_checker: bool = True  # Stable Diffusion's safety checker (a classroom: on by default)
    prefetch: tuple[str, ...] | None = None  # None: serve; () : every default model; names: those
    warm_up: bool = True  # compute every tab's worked example in the background after start
    teacher_pin: str | None = None  # unlocks the teacher mode; None: a random 6-digit PIN, printed at start


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="딥러닝 교실 / Deep Learning Classroom")
    p.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
                   help="address to bind (default 127.0.0.1; Spaces sets GRADIO_SERVER_NAME=0.0.0.0)")
    p.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", "7860")))
    p.add_argument("--share", action="store_true", help="create a public gradio.live link (off by default)")
    p.add_argument("--device", choices=["auto", "cpu", "cuda", "mps"], default="auto",
                   help="where models run (auto: cuda > mps > cpu)")
    p.add_argument("--no-safety-checker", action="store_true",
                   help="turn off the Stable Diffusion safety checker (on by default: the audience is a classroom)")
    p.add_argument("--prefetch", nargs="*", metavar="MODEL",
                   help="download the default models (or the named ones) and the in-browser detector runtime "
                        "into the cache, then exit")
    p.add_argument("--no-warm-up", action="store_true",
                   help="do not compute the tabs' worked examples in the background after start")
    p.add_argument("--teacher-pin", default=os.environ.get("DLCLASS_TEACHER_PIN") or None, metavar="PIN",
                   help="the PIN that unlocks the teacher controls (default: $DLCLASS_TEACHER_PIN, else a random "
                        "6-digit PIN printed in this terminal at start)")
    return p


def from_args(argv: list[str] | None = None) -> Settings:
    args = parser().parse_args(argv)
    return Settings(host=args.host, port=args.port, share=args.share, device=args.device,
                    safety_checker=not args.no_safety_checker,
                    prefetch=None if args.prefetch is None else tuple(args.prefetch),
                    warm_up=not args.no_warm_up, teacher_pin=args.teacher_pin)
