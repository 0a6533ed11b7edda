"""What a class of 30 does, as scenarios for the load tests and the bench (issue 12):

(a) 30 identical clicks at once, per tab, on its first example;
(b) 30 different photos at once on the CNN, ViT and YOLO tabs;
(c) webcams streaming to the server path while 20 students click;
(d) the 60-second mixed class;
(e) 30 students opening the page at the same moment.
"""
from __future__ import annotations

import random
import tempfile
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageEnhance, ImageOps

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "assets" / "examples").glob("*.jpg"))
FIRST_PHOTO = ROOT / "assets" / "examples" / "cat.jpg"  # the first example of the photo tabs


def upload(path: Path):
    """A photo as an API caller sends it (the file is uploaded with the call)."""
    from gradio_client import handle_file

    return handle_file(str(path))


def _first_prompt() -> str:
    from tabs.diffusion.compute import DEFAULT_PROMPT

    return DEFAULT_PROMPT


# (a) every tab's first example, as the API takes it (the rest of the inputs at their defaults)
def first_examples() -> dict[str, dict]:
    return {
        "conv_steps": {},
        "cnn_features": dict(image=upload(FIRST_PHOTO)),
        "vit_attention": dict(image=upload(FIRST_PHOTO)),
        "yolo_detect": dict(image=upload(FIRST_PHOTO)),
        "float_bits": dict(text="0.1"),
        "sd_generate": dict(prompt=_first_prompt()),  # the first preset, at the tab's defaults (drawn at warm-up)
    }


@lru_cache(maxsize=1)
def distinct_photos(n: int = 30) -> tuple[Path, ...]:
    """n different photos (crops, mirror images and brightness changes of the examples), as files."""
    folder = Path(tempfile.mkdtemp(prefix="dlclass-photos-"))
    rng = random.Random(0)
    paths = []
    for i in range(n):
        img = Image.open(EXAMPLES[i % len(EXAMPLES)]).convert("RGB")
        w, h = img.size
        left, top = rng.randint(0, w // 6), rng.randint(0, h // 6)
        img = img.crop((left, top, left + w * 5 // 6, top + h * 5 // 6))
        if i % 2:
            img = ImageOps.mirror(img)
        img = ImageEnhance.Brightness(img).enhance(0.75 + 0.5 * rng.random())
        path = folder / f"photo_{i:02d}.jpg"
        img.save(path, quality=90)
        paths.append(path)
    return tuple(paths)


# (b) 30 students, 30 different photos
def distinct_photo_calls(api_name: str, n: int = 30) -> list[tuple[str, dict]]:
    return [(api_name, dict(image=upload(path))) for path in distinct_photos(n)]


def _photo(rng: random.Random):
    return upload(rng.choice(EXAMPLES))


# (d) the 60-s class: (api_name, weight, rng -> kwargs)
MIX = [
    ("conv_steps", 4, lambda rng: dict(height=rng.randint(4, 12), width=rng.randint(4, 12), kernel_size=3,
                                       stride=rng.randint(1, 2), padding=rng.randint(0, 1),
                                       operation=rng.choice(["conv", "max", "avg"]))),
    ("float_bits", 4, lambda rng: dict(text=str(rng.choice([0.1, 3.14159, 65504, 1e-8, -2.5, 448, 1e30])))),
    ("cnn_features", 3, lambda rng: dict(image=_photo(rng))),
    ("vit_attention", 3, lambda rng: dict(image=_photo(rng))),
    ("yolo_detect", 3, lambda rng: dict(image=_photo(rng))),
    ("sd_generate", 1, lambda rng: dict(prompt=rng.choice(["a red apple", "a cat on a chair"]), size=256, steps=1)),
]


def jobs() -> list:
    """Weighted list of (api_name, rng -> kwargs) for bench.load.run_classroom."""
    out = []
    for api_name, weight, make in MIX:
        out += [(api_name, make)] * weight
    return out


# (c) clicks measured while webcams stream: a model click and a quick click
CLICKS = [("cnn_features", lambda: dict(image=upload(FIRST_PHOTO))), ("conv_steps", lambda: dict(stride=2))]
