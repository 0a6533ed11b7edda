"""Sliding-window animator: warm latency of the main event (conv_steps) and the size of the figure it sends.

The animation plays in the browser, so its cost is one server call per setting: computing every
position, checking it against torch, building the figure with all frames, and the photo panel.
"""
from __future__ import annotations

from bench.common import median_ms, row
from tabs.sliding_window import tab as sw

TAB = "sliding_window"

CASES = {
    "default 5x5, k=3, s=1, p=0 (9 positions)": dict(height=5, width=5, kernel_size=3, stride=1, padding=0,
                                                      dilation=1, operation="conv", kernel_name="box"),
    "largest 16x16, k=3, s=1, p=3 (400 positions)": dict(height=16, width=16, kernel_size=3, stride=1, padding=3,
                                                          dilation=1, operation="conv", kernel_name="sharpen"),
    "most frames 16x16, k=1, s=1, p=3 (484 positions)": dict(height=16, width=16, kernel_size=1, stride=1, padding=3,
                                                              dilation=1, operation="conv", kernel_name="identity"),
    "heaviest frames 16x16, k=7, s=1, p=3 (256 positions)": dict(height=16, width=16, kernel_size=7, stride=1,
                                                                  padding=3, dilation=1, operation="conv",
                                                                  kernel_name="sobel_x"),
}


def _send(setting: dict) -> int:
    """One call as the server runs it, including the JSON Gradio sends: returns the figure's size."""
    fig, _text, _strip = sw.conv_steps(**setting)
    return len(fig.to_json().encode("utf-8"))


def rows() -> list[dict]:
    out = []
    for name, setting in CASES.items():
        size = _send(setting)
        ms = median_ms(lambda: _send(setting), runs=5, warmup=1)
        out.append(row(TAB, f"conv_steps warm, {name}", ms, "ms", "< 1000 ms on 2 vCPU"))
        out.append(row(TAB, f"figure JSON, {name}", size / 1024, "KiB", "< 700 KiB"))
    return out


if __name__ == "__main__":
    for r in rows():
        print(f"{r['what']}: {r['value']:.1f} {r['unit']}")
