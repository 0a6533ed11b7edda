"""The classroom mix: what 30 students do at once, spread over the tabs (quick views and real models)."""
from __future__ import annotations

import random

from core.i18n import ASSETS

EXAMPLES = sorted(str(p) for p in (ASSETS / "examples").glob("*.jpg"))


def _photo(rng: random.Random):
    from gradio_client import handle_file

    return handle_file(rng.choice(EXAMPLES))


# (api_name, weight, rng -> kwargs)
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
    """Weighted list of (api_name, rng -> positional args) for bench.load.run_classroom (kwargs via closure)."""
    out = []
    for api_name, weight, make in MIX:
        out += [(api_name, make)] * weight
    return out
