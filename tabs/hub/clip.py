"""Row 4 of the hub's table, CLIP: labels for a photo that nobody trained the model on (zero-shot).

Each label the student types goes into a sentence (the prompt template: "a photo of {}." puts "a cat" into
"a photo of a cat."). CLIP turns the photo into one vector and every sentence into one vector of the same
length (the embeddings), each scaled to length 1; the dot product of the photo's vector with a sentence's is
their cosine similarity (-1..1). Multiplied by the model's logit scale (100 for the trained CLIP) they are
the logits, and a softmax over the labels gives each label's probability. The same steps as
`transformers.pipeline("zero-shot-image-classification")` with the same `hypothesis_template`
(tests/test_hub_clip.py compares); a SigLIP model, which the pipeline also runs, adds a bias and takes a
sigmoid of each logit on its own, as the pipeline does.
"""
from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import torch

from core import values
from core.images import load_image
from core.zoo import hub_clip as zoo_clip
from tabs.hub import compute
from tabs.hub.text_clip import TEXT

TASK = zoo_clip.TASK
TEMPLATES = ("a photo of {}.", "{} 사진", "{}")  # CLIP's paper's prompt, the same in Korean, the label alone
ENGLISH, KOREAN = TEMPLATES[0], TEMPLATES[1]
MAX_LABELS = 10
MAX_LABEL_CHARS = 30
MAX_TEXT_CHARS = 400  # the whole box: refused before it is split
HANGUL = re.compile("[\uac00-\ud7a3\u3131-\u318e]")
SPLIT = re.compile("[,，、\n]")  # commas (also the full-width and ideographic ones) or lines

SETTINGS = values.settings(
    values.Setting("template", TEXT.msg("label_template"), default=ENGLISH, choices=TEMPLATES),
)

PHOTOS = Path(__file__).resolve().parent.parent.parent / "assets" / "examples"
LABELS = "a cat, a dog, a rocket, a cup of coffee, an astronaut"
LABELS_KO = "고양이, 강아지, 로켓, 커피 한 잔, 우주비행사"
EXAMPLE = (str(PHOTOS / "cat.jpg"), LABELS, ENGLISH)  # the worked example shown when the lesson opens
EXAMPLES = [EXAMPLE, *[(str(PHOTOS / f"{name}.jpg"), LABELS, ENGLISH) for name in ("astronaut", "coffee", "rocket")],
            (str(PHOTOS / "cat.jpg"), LABELS_KO, KOREAN)]


@dataclasses.dataclass
class LabelScore:
    label: str
    prompt: str  # the sentence the text encoder read: the template with the label in it
    tokens: int  # its length in the tokenizer's tokens, start and end tokens included
    similarity: float  # cosine similarity of the photo's and the sentence's embeddings
    logit: float  # similarity x logit scale (+ bias for SigLIP)
    probability: float


@dataclasses.dataclass
class ClipResult:
    facts: compute.Facts
    template: str
    scores: list[LabelScore]  # most likely first (the pipeline's order)
    logit_scale: float
    logit_bias: float  # 0 for CLIP
    sigmoid: bool  # SigLIP: each label's probability on its own
    embed_dim: int
    picture: tuple[int, int]  # (width, height) of the picture the image encoder saw
    patches: int  # how many patches the vision transformer cut it into (0 when not a ViT)
    notes: list

    @property
    def labels(self) -> list[str]:
        return [s.label for s in self.scores]


# ---------------------------------------------------------------- 1. what the student typed


def read_labels(value, notes: list) -> list[str]:
    """The labels of the box: comma-separated, 2..MAX_LABELS of at most MAX_LABEL_CHARS, each used once."""
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        value = ", ".join(value)
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise TEXT.problem("not_text", got=type(value).__name__)
    if len(value) > MAX_TEXT_CHARS:
        raise TEXT.problem("labels_text_too_long", got=len(value), limit=MAX_TEXT_CHARS)
    typed = [" ".join(part.split()) for part in SPLIT.split(value)]
    labels = list(dict.fromkeys(label for label in typed if label))
    twice = [label for label in labels if typed.count(label) > 1]
    if not labels:
        raise TEXT.problem("no_labels")
    if len(labels) == 1:
        raise TEXT.problem("one_label", label=labels[0])
    if len(labels) > MAX_LABELS:
        raise TEXT.problem("too_many_labels", got=len(labels), limit=MAX_LABELS)
    for label in labels:
        if len(label) > MAX_LABEL_CHARS:
            raise TEXT.problem("label_too_long", label=label[:MAX_LABEL_CHARS] + "…", got=len(label),
                               limit=MAX_LABEL_CHARS)
    if twice:
        notes.append(TEXT.msg("duplicates", labels=", ".join(twice)))
    return labels


def read_request(image, labels, template):
    """(photo, labels, template, notes): everything checked before a model is loaded."""
    notes: list = []
    photo = load_image(image)
    names = read_labels(labels, notes)
    chosen = SETTINGS["template"].take(template, notes)
    return photo, names, chosen, notes


def _language_notes(repo: str, labels: list[str], template: str, notes: list) -> None:
    korean = any(HANGUL.search(label) for label in labels)
    if korean and repo.startswith("openai/"):  # OpenAI's CLIPs learnt from English captions
        notes.append(TEXT.msg("english_model", repo=repo))
    if korean and template == ENGLISH:
        notes.append(TEXT.msg("template_korean", better=KOREAN))
    if not korean and template == KOREAN:
        notes.append(TEXT.msg("template_english", better=ENGLISH))


# ---------------------------------------------------------------- 2. the model's two encoders


def _parts(bundle):
    """(image processor, tokenizer) of the bundle's processor; a repository without both is no CLIP."""
    images = getattr(bundle.tokenizer, "image_processor", None)
    tokenizer = getattr(bundle.tokenizer, "tokenizer", None)
    if images is None or tokenizer is None or not hasattr(bundle.model, "logit_scale"):
        raise TEXT.problem("not_zero_shot", name=bundle.repo)
    return images, tokenizer


def _is_siglip(model) -> bool:
    return "siglip" in model.config.model_type


def _token_counts(tokenizer, model, prompts: list[str]) -> list[int]:
    """Each sentence's length in tokens; a sentence past the text encoder's positions is refused."""
    limit = int(model.config.text_config.max_position_embeddings)
    counts = [len(ids) for ids in tokenizer(prompts)["input_ids"]]
    for prompt, count in zip(prompts, counts):
        if count > limit:
            raise TEXT.problem("too_many_tokens", prompt=prompt[:60], got=count, limit=limit)
    return counts


def _encode(bundle, images, tokenizer, photo, prompts: list[str]):
    """The model's forward pass on the photo and the sentences, prepared as the pipeline prepares them."""
    model = bundle.model
    pixels = images(images=[photo], return_tensors="pt")["pixel_values"].to(bundle.device, model.dtype)
    # SigLIP was trained on sentences padded to 64 tokens; CLIP pads to the longest sentence.
    padding = dict(padding="max_length", max_length=64, truncation=True) if _is_siglip(model) else dict(padding=True)
    encoded = tokenizer(prompts, return_tensors="pt", **padding)
    with torch.inference_mode():
        out = model(pixel_values=pixels, **{k: v.to(bundle.device) for k, v in encoded.items()})
    return pixels, out


# ---------------------------------------------------------------- 3. similarities, logits, probabilities


def classify_with(bundle, image, labels, template=ENGLISH) -> ClipResult:
    """The labels' probabilities for the photo, by the loaded model `bundle` (a core.zoo.hub.HubModel)."""
    return _classify(bundle, *read_request(image, labels, template))


def _classify(bundle, photo, names: list[str], chosen: str, notes: list) -> ClipResult:
    images, tokenizer = _parts(bundle)
    prompts = [chosen.format(name) for name in names]
    counts = _token_counts(tokenizer, bundle.model, prompts)
    _language_notes(bundle.repo, names, chosen, notes)
    pixels, out = _encode(bundle, images, tokenizer, photo, prompts)
    image_embed, text_embeds = out.image_embeds[0].float().cpu(), out.text_embeds.float().cpu()
    similarity = text_embeds @ image_embed  # both of length 1: the cosine of their angle
    model = bundle.model
    scale = float(model.logit_scale.detach().float().exp())
    bias = float(model.logit_bias.detach().float()) if getattr(model, "logit_bias", None) is not None else 0.0
    logits = out.logits_per_image[0].float().cpu()  # the model's own: similarity x scale (+ bias)
    sigmoid = _is_siglip(model)
    probs = logits.sigmoid() if sigmoid else logits.softmax(-1)
    scores = [LabelScore(name, prompt, count, float(s), float(z), float(p))
              for name, prompt, count, s, z, p in zip(names, prompts, counts, similarity, logits, probs)]
    scores.sort(key=lambda s: -s.probability)  # stable: ties keep the typed order, as in the pipeline
    height, width = pixels.shape[-2:]
    patch = getattr(model.config.vision_config, "patch_size", 0)
    patches = (height // patch) * (width // patch) if patch else 0
    return ClipResult(compute.facts_of(bundle), chosen, scores, scale, bias, sigmoid, int(image_embed.numel()),
                      (int(width), int(height)), int(patches), notes)


def classify(image, labels, template=ENGLISH, model_name=None) -> ClipResult:
    """The row: the photo and the labels checked first (before any model is loaded), then the model named in
    the box, through the loader."""
    request = read_request(image, labels, template)
    return _classify(compute.model_for(TASK, model_name), *request)
