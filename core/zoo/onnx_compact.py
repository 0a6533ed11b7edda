"""An ONNX file made smaller for the trip to the browser: its weights stored in fewer bits, its arithmetic
unchanged.

Each large float32 weight (an initializer) is stored as 8-bit integers with one scale per output channel
(axis 0: a convolution's filters), and a `DequantizeLinear` node in front of the graph turns it back into
float32 when the page loads the model; the layers themselves still compute in float32. So a 10.8 MB yolo11n
file becomes about 2.9 MB (plus gzip on the wire), and the boxes stay those of the full model (checked in
tests/test_yolo_export.py: same classes, IoU >= 0.9 on the test clip).

Why not a quantised model (QLinearConv, as onnxruntime's quantiser makes): its integer arithmetic changes
the answers more, and onnxruntime-web's WebGPU path runs only some of those operators. Why not float16
weights: 5.4 MB, so with the 3.7 MB runtime the first Start would cost more than 8 MB.
"""
from __future__ import annotations

import numpy as np

MIN_ELEMENTS = 1024  # small tensors (biases, norms) stay float32: they weigh nothing and matter most
QMAX = 127


def quantize_per_channel(weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric int8 per output channel: (int8 weights, float32 scales of shape [channels])."""
    flat = weight.reshape(weight.shape[0], -1).astype(np.float32)
    scale = np.abs(flat).max(axis=1) / QMAX
    scale = np.where(scale > 0, scale, 1.0).astype(np.float32)
    quantized = np.clip(np.round(flat / scale[:, None]), -QMAX, QMAX).astype(np.int8)
    return quantized.reshape(weight.shape), scale


def compact(model):
    """A copy of `model` (an onnx.ModelProto) with its large float32 weights stored as int8 + scales."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    compacted = onnx.ModelProto()
    compacted.CopyFrom(model)
    graph = compacted.graph
    kept, dequantize = [], []
    for initializer in graph.initializer:
        weight = numpy_helper.to_array(initializer)
        if initializer.data_type != TensorProto.FLOAT or weight.ndim < 2 or weight.size < MIN_ELEMENTS:
            kept.append(initializer)
            continue
        quantized, scale = quantize_per_channel(weight)
        name = initializer.name
        kept += [numpy_helper.from_array(quantized, f"{name}__q"), numpy_helper.from_array(scale, f"{name}__scale"),
                 numpy_helper.from_array(np.zeros_like(scale, dtype=np.int8), f"{name}__zero")]
        dequantize.append(helper.make_node("DequantizeLinear", [f"{name}__q", f"{name}__scale", f"{name}__zero"],
                                           [name], name=f"{name}__dequantize", axis=0))
    del graph.initializer[:]
    graph.initializer.extend(kept)
    nodes = list(graph.node)
    del graph.node[:]
    graph.node.extend(dequantize + nodes)  # topological order: the weights exist before their first use
    onnx.checker.check_model(compacted)
    return compacted
