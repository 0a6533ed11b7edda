"""The numbers and choices of the ViT lesson that the teacher may send to the class, declared once.

A layer, a head and a patch exist only within the model that is loaded (its layers, heads and patch grid):
declared here with the widest limits of the lesson's models (`core.zoo.vit.REAL_CONFIGS`, 224x224 photos in
16x16 patches), and brought into the loaded model's own limits when a request runs (`compute.choose`, with a
note for every value it changed). The photo is not a setting: a student's upload never leaves their page.
"""
from __future__ import annotations

from core import values
from core.zoo import vit as vit_zoo
from tabs.vit_attention import compute
from tabs.vit_attention.text import TEXT

MOST_LAYERS = max(config["num_hidden_layers"] for config in vit_zoo.REAL_CONFIGS.values())
MOST_HEADS = max(config["num_attention_heads"] for config in vit_zoo.REAL_CONFIGS.values())
ROWS, COLS = compute.patch_grid(224, 16)

SETTINGS = values.settings(
    # The CPU's model, as the tab opens on a CPU (a GPU's page opens with ViT-Base, also a choice).
    values.Setting("model", TEXT.msg("model"), default=vit_zoo.CPU_DEFAULT, choices=tuple(vit_zoo.REAL_CONFIGS)),
    values.Setting("layer", TEXT.msg("layer"), default=MOST_LAYERS, low=1, high=MOST_LAYERS, integer=True),
    values.Setting("head", TEXT.msg("head"), default=compute.MEAN_HEAD, choices=tuple(compute.head_values(MOST_HEADS))),
    values.Setting("patch", TEXT.msg("patch"), default=compute.middle_patch(ROWS, COLS), low=0, high=ROWS * COLS - 1,
                   integer=True),
)
