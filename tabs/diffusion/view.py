"""Stable Diffusion: the results of compute.py as HTML, Markdown and pictures, in the language asked for.

Pictures are numpy RGB arrays (OpenCV); the only marks drawn into them are channel names and numbers
("ch0 -1.2..+1.3") and the letters A/B, which read the same in both languages. Everything said is in `lang`.
"""
from __future__ import annotations

import html

import cv2
import numpy as np

from core import draw, text
from tabs.diffusion.compute import Facts, Finished, Plan, Request, StepEvent, cpu_bf16_speedup
from tabs.diffusion.pipeline import TokenView, resize_square
from tabs.diffusion.text import TEXT

FINAL_PAIR_SIDE = 384  # each finished picture of a side-by-side pair
LATENT_TILE = 192  # one latent channel in the 2x2 grid


def _shape(dims) -> str:
    return "[" + ", ".join(str(d) for d in dims) + "]"


# ---------------------------------------------------------------- the tokens


def tokens_html(view: TokenView, lang: str) -> str:
    """The prompt's tokens as chips: grey <start>/<end>, blue kept tokens, red crossed-out cut tokens."""
    chips = []
    for i, token in enumerate(view.tokens):
        if i >= view.kept:
            style = "background:#fecaca;border-color:#dc2626;text-decoration:line-through;"
        elif token in ("<start>", "<end>"):
            style = "background:#e5e7eb;border-color:#6b7280;"
        else:
            style = "background:#dbeafe;border-color:#2563eb;"
        position = i if i < view.kept else "✂"
        chips.append(f"<span class='sd-token' style='display:inline-block;margin:2px;padding:2px 6px;border:2px solid;"
                     f"border-radius:6px;font-family:monospace;color:#111;{style}'><sup style='color:#555'>{position}</sup>"
                     f"{html.escape(token)}</span>")
        if i == view.kept - 1 and view.truncated:
            chips.append("<span style='display:inline-block;border-left:4px solid #dc2626;height:1.6em;margin:0 6px;"
                         "vertical-align:middle' title='77'></span>")
    if view.truncated:
        summary = (f"<b style='color:#b91c1c'>{html.escape(TEXT.say(lang, 'tokens_cut'))}</b> "
                   f"“{html.escape(view.cut_text)}”")
    else:
        summary = html.escape(TEXT.say(lang, "tokens_used", used=view.kept, rest=77 - view.kept))
    if any("\ufffd" in token for token in view.tokens):
        summary += " " + html.escape(TEXT.say(lang, "tokens_bytes"))
    return (f"<div id='sd-token-view' style='line-height:2.1'>{''.join(chips)}</div>"
            f"<p id='sd-token-summary' style='color:#111'>{summary}</p>")


# ---------------------------------------------------------------- the pipeline diagram


def pipeline_html(facts: Facts, lang: str) -> str:
    """Prompt -> tokenizer -> text encoder -> (UNet + scheduler) x steps -> decoder [-> safety checker],
    with the tensor shape on every arrow."""
    def say(key: str, **params) -> str:
        return TEXT.say(lang, key, **params)

    ids = _shape((facts.text_batch, facts.tokens))
    embeds = _shape((facts.text_batch, facts.tokens, facts.embed_dim))
    latent, image = _shape(facts.latent), _shape(facts.image)
    boxes = [
        (say("box_prompt"), say("shape_text")),
        (say("box_tokenizer"), say("shape_ids", shape=ids)),
        (say("box_text_encoder"), say("shape_embeds", shape=embeds)),
        (say("box_loop", steps=facts.steps), say("shape_latent", shape=latent)),
    ]
    if facts.refiner:
        boxes.append((say("box_refiner"), say("shape_latent", shape=latent)))
    boxes.append((say("box_taesd" if facts.decoder == "taesd" else "box_vae"), say("shape_image", shape=image)))
    if facts.safety_checker:
        boxes.append((say("box_safety"), say("shape_image", shape=image)))
    parts = []
    for i, (name, shape) in enumerate(boxes):
        parts.append(f"<div style='border:3px solid #2563eb;border-radius:10px;padding:8px 12px;background:#eff6ff;"
                     f"color:#111;font-weight:700;text-align:center;min-width:120px'>{html.escape(name)}</div>")
        if i < len(boxes) - 1:
            parts.append(f"<div style='text-align:center;color:#111;font-family:monospace;font-size:0.9em;padding:0 4px'>"
                         f"{html.escape(shape)}<br><span style='font-size:1.6em'>→</span></div>")
        else:
            parts.append(f"<div style='font-family:monospace;color:#111;padding-left:6px'>→ {html.escape(shape)}</div>")
    lines = [say("pipeline_noise", seed=facts.seed, shape=latent)]
    if facts.text_batch == 2:
        lines.append(say("pipeline_guidance", guidance=f"{facts.guidance:g}"))
    return (f"<div id='sd-pipeline' style='display:flex;flex-wrap:wrap;align-items:center;gap:2px'>{''.join(parts)}</div>"
            f"<p style='color:#111'>{html.escape(' '.join(lines))}</p>")


# ---------------------------------------------------------------- the path used, notes and timings


def plan_lines(plan: Plan, facts: Facts, lang: str) -> list[str]:
    dtype = str(plan.dtype).replace("torch.", "")
    lines = [TEXT.say(lang, "plan_device", device=plan.device.type, dtype=dtype),
             TEXT.say(lang, "plan_decoder", decoder=plan.decoder.upper(), preview=TEXT.msg(f"preview_{plan.preview}"))]
    if not facts.real_weights:
        lines.append(TEXT.say(lang, "plan_tiny"))
        return lines
    if plan.device.type == "cpu":
        lines.append(TEXT.say(lang, "plan_bf16", speedup=f"{cpu_bf16_speedup():.1f}"))
    lines.append(TEXT.say(lang, "safety_on" if facts.safety_checker else "safety_off"))
    return lines


TIMED = ("load", "text", "unet", "previews", "refiner", "decode", "safety", "total")


def timings_line(seconds: dict[str, float], lang: str) -> str:
    parts = [TEXT.say(lang, f"time_{stage}", s=f"{seconds[stage]:.2f}") for stage in TIMED if stage in seconds]
    return f"{TEXT.say(lang, 'time')}: " + " · ".join(parts) if parts else ""


def info_markdown(request: Request, facts: Facts, lang: str, finished: Finished | None = None) -> str:
    """Notes first (what was changed, what was cut or blocked), then the path used, then the times."""
    notes: list[text.Message] = list(request.notes)
    if finished is not None and finished.flagged and any(finished.flagged):
        notes.append(TEXT.msg("blocked"))
    if finished is not None and finished.from_store:
        notes.append(TEXT.msg("from_store"))
    lines = [notes_markdown(notes, lang)] + [f"- {line}" for line in plan_lines(request.plan, facts, lang)]
    if finished is not None:
        lines.append(f"- {timings_line(finished.seconds, lang)}")
    return "\n".join(line for line in lines if line)


def notes_markdown(notes: list[text.Message], lang: str) -> str:
    return "\n".join(f"- **(!)** {note.say(lang)}" for note in notes)


def progress_html(step: int, total: int, lang: str, done: bool = False) -> str:
    words = TEXT.say(lang, "progress_done", total=total) if done else TEXT.say(lang, "progress_step", step=step,
                                                                              total=total)
    pct = 100 * step / max(total, 1)
    return (f"<div id='sd-progress' style='color:#111'><b>{html.escape(words)}</b>"
            f"<div style='background:#e5e7eb;border-radius:6px;height:18px;margin-top:4px'>"
            f"<div style='background:#2563eb;width:{pct:.0f}%;height:18px;border-radius:6px'></div></div></div>")


# ---------------------------------------------------------------- pictures


def latent_channels_image(latent: np.ndarray, side: int = LATENT_TILE) -> np.ndarray:
    """One latent (4, h, w) -> a 2x2 grid of colour-mapped channels, each scaled to its own range."""
    tiles = []
    for ch in range(latent.shape[0]):
        channel = latent[ch].astype(np.float32)
        tile = cv2.resize(draw.colorize(channel, cv2.COLORMAP_VIRIDIS), (side, side), interpolation=cv2.INTER_NEAREST)
        label = f"ch{ch} {channel.min():+.1f}..{channel.max():+.1f}"
        draw.put_label(tile, label, (6, side - 8), scale=0.5)  # bottom: the image label covers the top-left
        tiles.append(tile)
    while len(tiles) % 2:
        tiles.append(np.zeros_like(tiles[0]))
    gap = np.full((side, 4, 3), 255, np.uint8)
    rows = [np.concatenate([tiles[i], gap, tiles[i + 1]], axis=1) for i in range(0, len(tiles), 2)]
    hgap = np.full((4, rows[0].shape[1], 3), 255, np.uint8)
    return np.concatenate([rows[0], hgap, *rows[1:]], axis=0) if len(rows) > 1 else rows[0]


def side_by_side(images: list[np.ndarray], labels: list[str]) -> np.ndarray:
    tiles = []
    for image, label in zip(images, labels):
        tile = np.ascontiguousarray(image.copy())
        draw.put_label(tile, label, (8, 28), scale=0.8)
        tiles.append(tile)
    gap = np.full((tiles[0].shape[0], 6, 3), 255, np.uint8)
    out = tiles[0]
    for tile in tiles[1:]:
        out = np.concatenate([out, gap, tile], axis=1)
    return out


def step_caption(event: StepEvent, lang: str) -> str:
    return TEXT.say(lang, "caption_step", step=event.step, total=event.total, t=f"{event.timestep:.0f}")


def preview_item(event: StepEvent, lang: str) -> tuple[np.ndarray, str] | None:
    """One gallery entry for a step of a one-prompt run (None when the step has no preview)."""
    if not event.previews:
        return None
    return event.previews[0], step_caption(event, lang)


def compare_item(event: StepEvent, lang: str) -> tuple[np.ndarray, str] | None:
    """One gallery entry for a step of a two-prompt run: A | B."""
    if not event.previews:
        return None
    return side_by_side(event.previews, ["A", "B"]), TEXT.say(lang, "progress_step", step=event.step,
                                                                  total=event.total)


def finished_panels(finished: Finished, lang: str) -> dict:
    """What the tab shows for a finished one-prompt run: the picture, every step's preview, the latents."""
    gallery = [item for item in (preview_item(e, lang) for e in finished.steps) if item is not None]
    latents = [event.latents[0] for event in finished.steps]
    return {"final": finished.images[0], "gallery": gallery, "status": progress_html(len(latents) - 1,
                                                                                     len(latents) - 1, lang, done=True),
            "latents": latents, "last": len(latents) - 1, "latent_image": latent_channels_image(latents[-1])}


def compare_panels(finished: Finished, lang: str) -> list[tuple[np.ndarray, str]]:
    """Every step A | B, then the two finished pictures A | B."""
    gallery = [item for item in (compare_item(e, lang) for e in finished.steps) if item is not None]
    finals = [resize_square(image, FINAL_PAIR_SIDE) for image in finished.images]
    gallery.append((side_by_side(finals, ["A", "B"]), TEXT.say(lang, "caption_final")))
    return gallery

