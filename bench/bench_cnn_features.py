"""Bench rows of the CNN feature-map tab: ResNet18 (real architecture, random init) on one 224x224 image."""
from __future__ import annotations

import os
from pathlib import Path

from PIL import Image

from bench.common import median_ms, row
from core.zoo.cnn import load_cnn
from tabs import cnn_features as cf

EXAMPLE = Path(__file__).resolve().parent.parent / "assets" / "examples" / "cat.jpg"


def rows() -> list[dict]:
    # Random weights cost the same as the trained ones; tiny=True gives ResNet18's real architecture offline.
    cnn, _ = load_cnn("resnet18", tiny=not os.environ.get("DLCLASS_BENCH_REAL"))
    photo = cnn.crop_image(Image.open(EXAMPLE).convert("RGB"))  # already 224x224: the timing is the network's
    layer = cf.default_layer(cnn)

    def forward_and_grid():
        result = cf.analyse(cnn, photo, capture=layer)
        cf.render_grid(result.activation, cf.most_active(result.activation, 16), shared_scale=False)

    def forward_only():
        cf.analyse(cnn, photo)

    def grad_cam():
        cf.grad_cam(cnn, photo)

    return [
        row("cnn_features", f"ResNet18 forward + {layer} grid of 16 maps, 224x224", median_ms(forward_and_grid, runs=7),
            target="<= 200 ms"),
        row("cnn_features", "ResNet18 Grad-CAM (forward + backward to layer4), 224x224", median_ms(grad_cam, runs=7),
            target="<= 400 ms"),
        # For reading the two above: the network alone (forward, top-5), same run.
        row("cnn_features", "ResNet18 forward alone, 224x224", median_ms(forward_only, runs=7)),
    ]
