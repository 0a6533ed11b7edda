"""Class names of ImageNet-1k and COCO in Korean and English, for what the models say.

The names live in two data files next to the code, one row per class:

    assets/data/imagenet_classes.tsv   index  english  korean   (1000 rows, torchvision's English)
    assets/data/coco_classes.tsv       index  english  korean   (80 rows, ultralytics' coco.yaml English)

The Korean names were written for this app as a Korean student would say them (군복, 학사모, 사람, 버스).
A Korean page shows a class as "군복 (military uniform)", so the student also meets the name the
model was trained with; an English page shows "military uniform". Labels drawn on small boxes use
the short form: just the name in the page's language.

No Gradio and no numpy here: compute code and views both use it.
"""
from __future__ import annotations

import functools
import operator
from pathlib import Path

from core import text

DATA = Path(__file__).resolve().parent.parent / "assets" / "data"
IMAGENET_FILE = DATA / "imagenet_classes.tsv"
COCO_FILE = DATA / "coco_classes.tsv"
HEADER = ["index", "english", "korean"]


@functools.lru_cache(maxsize=None)
def _table(path: Path) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(english names, korean names) of one class file, read once; row i is class i."""
    if not path.is_file():
        raise FileNotFoundError(
            f"class-name file {path} is missing; it ships with the app in assets/data/ "
            f"(restore it from the repository)")
    lines = path.read_text(encoding="utf-8").splitlines()
    if not lines or lines[0].split("\t") != HEADER:
        raise ValueError(f"{path}: the first line must be the header {'<TAB>'.join(HEADER)}")
    english, korean = [], []
    for number, line in enumerate(lines[1:], start=2):
        fields = line.split("\t")
        if len(fields) != 3:
            raise ValueError(f"{path}:{number}: expected 3 tab-separated fields, got {len(fields)}")
        index, en, ko = fields
        # Row order is the model's class order: a gap or a swap would silently rename classes.
        if index != str(len(english)):
            raise ValueError(f"{path}:{number}: expected index {len(english)}, got {index!r}")
        english.append(en)
        korean.append(ko)
    return tuple(english), tuple(korean)


def _check_lang(lang: str) -> None:
    if lang not in text.LANGS:
        raise ValueError(f"lang must be one of {text.LANGS}, got {lang!r}")


def _names(path: Path, lang: str) -> list[str]:
    _check_lang(lang)
    english, korean = _table(path)
    return list(korean if lang == "ko" else english)


def _row(path: Path, index) -> tuple[str, str]:
    """(english, korean) of class `index`; a numpy integer is fine, a negative index is not."""
    english, korean = _table(path)
    i = operator.index(index)
    if not 0 <= i < len(english):
        raise IndexError(f"class index {i} is outside 0..{len(english) - 1} ({path.name})")
    return english[i], korean[i]


def imagenet(lang: str) -> list[str]:
    """The 1000 ImageNet-1k class names in `lang` ("ko" or "en"), in the models' output order."""
    return _names(IMAGENET_FILE, lang)


def coco(lang: str) -> list[str]:
    """The 80 COCO class names in `lang` ("ko" or "en"), in YOLO's class-id order."""
    return _names(COCO_FILE, lang)


def label(lang: str, english: str, korean: str) -> str:
    """How a class is shown: Korean with the English name beside it ("군복 (military uniform)"),
    or the English name alone."""
    _check_lang(lang)
    return f"{korean} ({english})" if lang == "ko" else english


def imagenet_label(lang: str, index) -> str:
    """The shown name of ImageNet class `index` ("군복 (military uniform)" / "military uniform")."""
    _check_lang(lang)
    english, korean = _row(IMAGENET_FILE, index)
    return label(lang, english, korean)


def coco_label(lang: str, index) -> str:
    """The shown name of COCO class `index` ("사람 (person)" / "person")."""
    _check_lang(lang)
    english, korean = _row(COCO_FILE, index)
    return label(lang, english, korean)


def coco_short(lang: str, index) -> str:
    """The COCO name alone in `lang` ("사람" / "person"): small box labels have no room for both."""
    _check_lang(lang)
    english, korean = _row(COCO_FILE, index)
    return korean if lang == "ko" else english
