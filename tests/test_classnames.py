"""Korean and English class names of ImageNet-1k and COCO (core/classnames.py, assets/data/*.tsv).

The tables are read here a second way (the csv module) and their English columns are compared with
the libraries the models come from: torchvision's ImageNet categories and ultralytics' coco.yaml.
"""
from __future__ import annotations

import importlib.util

import csv
import re
from pathlib import Path

import numpy as np
import pytest
import torchvision
import yaml

from core import classnames
from tests.conftest import ROOT

IMAGENET_TSV = ROOT / "assets" / "data" / "imagenet_classes.tsv"
COCO_TSV = ROOT / "assets" / "data" / "coco_classes.tsv"
HANGUL = re.compile("[\uac00-\ud7a3]")
# Korean names without Hangul that Korean students write this way anyway.
NO_HANGUL_OK = {"TV"}


def _rows(path: Path) -> list[dict]:
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))


def _torchvision_categories() -> list[str]:
    return list(torchvision.models.ResNet18_Weights.IMAGENET1K_V1.meta["categories"])


def _ultralytics_coco_names() -> list[str]:
    # found without importing ultralytics: its first import must come after core.zoo.yolo's switches
    package = Path(importlib.util.find_spec("ultralytics").submodule_search_locations[0])
    coco_yaml = package / "cfg" / "datasets" / "coco.yaml"
    names = yaml.safe_load(coco_yaml.read_text(encoding="utf-8"))["names"]
    return [names[i] for i in range(len(names))]


@pytest.mark.parametrize("path, count", [(IMAGENET_TSV, 1000), (COCO_TSV, 80)])
def test_table_is_complete_and_in_index_order(path, count):
    rows = _rows(path)
    assert list(rows[0]) == ["index", "english", "korean"]
    assert len(rows) == count
    assert [row["index"] for row in rows] == [str(i) for i in range(count)]
    assert all(None not in row and len(row) == 3 for row in rows), "a row with too many fields"


def test_imagenet_english_is_torchvisions_categories():
    assert [row["english"] for row in _rows(IMAGENET_TSV)] == _torchvision_categories()
    assert classnames.imagenet("en") == _torchvision_categories()


def test_coco_english_is_ultralytics_coco_yaml():
    assert [row["english"] for row in _rows(COCO_TSV)] == _ultralytics_coco_names()
    assert classnames.coco("en") == _ultralytics_coco_names()


@pytest.mark.parametrize("path", [IMAGENET_TSV, COCO_TSV])
def test_korean_names_are_unique_nonempty_and_hangul(path):
    korean = [row["korean"] for row in _rows(path)]
    assert all(name and name == name.strip() and "  " not in name for name in korean)
    duplicates = sorted({name for name in korean if korean.count(name) > 1})
    assert not duplicates, f"Korean names used twice: {duplicates}"
    not_korean = [name for name in korean if not HANGUL.search(name) and name not in NO_HANGUL_OK]
    assert not not_korean, f"Korean names without Hangul: {not_korean}"


def test_module_lists_match_the_files():
    assert classnames.imagenet("ko") == [row["korean"] for row in _rows(IMAGENET_TSV)]
    assert classnames.coco("ko") == [row["korean"] for row in _rows(COCO_TSV)]
    assert len(classnames.imagenet("ko")) == 1000 and len(classnames.coco("en")) == 80


def test_same_english_word_gets_different_korean_names():
    # ImageNet's WordNet source has two cranes (bird, machine) and two maillots (leotard, swimsuit).
    ko = classnames.imagenet("ko")
    assert (ko[134], ko[517]) == ("두루미", "크레인")
    assert ko[638] != ko[639]


@pytest.mark.parametrize("index, korean", [
    (1, "금붕어"), (2, "백상아리"), (134, "두루미"), (207, "골든 리트리버"), (250, "시베리안 허스키"),
    (281, "얼룩무늬 고양이(태비)"), (291, "사자"), (292, "호랑이"), (388, "자이언트 판다"),
    (517, "크레인"), (652, "군복"), (654, "미니버스"), (667, "학사모"), (954, "바나나"), (963, "피자"),
])
def test_imagenet_spot_checks(index, korean):
    assert classnames.imagenet("ko")[index] == korean


@pytest.mark.parametrize("index, korean", [
    (0, "사람"), (1, "자전거"), (2, "자동차"), (3, "오토바이"), (4, "비행기"), (5, "버스"),
    (9, "신호등"), (15, "고양이"), (16, "개"), (67, "휴대폰"),
])
def test_coco_spot_checks(index, korean):
    assert classnames.coco("ko")[index] == korean


def test_label_formats():
    assert classnames.label("ko", "military uniform", "군복") == "군복 (military uniform)"
    assert classnames.label("en", "military uniform", "군복") == "military uniform"
    assert classnames.imagenet_label("ko", 652) == "군복 (military uniform)"
    assert classnames.imagenet_label("en", 652) == "military uniform"
    assert classnames.imagenet_label("ko", 667) == "학사모 (mortarboard)"
    assert classnames.coco_label("ko", 0) == "사람 (person)"
    assert classnames.coco_label("en", 0) == "person"
    assert classnames.coco_short("ko", 5) == "버스"
    assert classnames.coco_short("en", 5) == "bus"


def test_every_label_pairs_the_rows_names():
    imagenet_rows, coco_rows = _rows(IMAGENET_TSV), _rows(COCO_TSV)
    for i, row in enumerate(imagenet_rows):
        assert classnames.imagenet_label("ko", i) == f"{row['korean']} ({row['english']})"
        assert classnames.imagenet_label("en", i) == row["english"]
    for i, row in enumerate(coco_rows):
        assert classnames.coco_label("ko", i) == f"{row['korean']} ({row['english']})"
        assert classnames.coco_short("ko", i) == row["korean"]
        assert classnames.coco_short("en", i) == row["english"]


def test_numpy_indices_work_as_model_outputs_give_them():
    assert classnames.imagenet_label("en", np.int64(652)) == "military uniform"
    assert classnames.coco_short("ko", np.array([5])[0]) == "버스"


@pytest.mark.parametrize("call, index", [
    (classnames.imagenet_label, 1000), (classnames.imagenet_label, -1),
    (classnames.coco_label, 80), (classnames.coco_short, -1),
])
def test_index_outside_the_table_is_refused(call, index):
    # A negative index would otherwise read the last class by Python's list rules.
    with pytest.raises(IndexError):
        call("ko", index)


def test_unknown_language_is_refused():
    with pytest.raises(ValueError):
        classnames.imagenet("fr")
    with pytest.raises(ValueError):
        classnames.label("de", "person", "사람")


def test_returned_lists_are_copies():
    names = classnames.coco("ko")
    names[0] = "changed"
    assert classnames.coco("ko")[0] == "사람"


def test_missing_file_says_which(monkeypatch, tmp_path):
    missing = tmp_path / "imagenet_classes.tsv"
    monkeypatch.setattr(classnames, "IMAGENET_FILE", missing)
    with pytest.raises(FileNotFoundError, match="imagenet_classes.tsv"):
        classnames.imagenet("ko")


def test_file_with_a_gap_in_the_indices_is_refused(monkeypatch, tmp_path):
    broken = tmp_path / "coco_classes.tsv"
    broken.write_text("index\tenglish\tkorean\n0\tperson\t사람\n2\tcar\t자동차\n", encoding="utf-8")
    monkeypatch.setattr(classnames, "COCO_FILE", broken)
    with pytest.raises(ValueError, match="expected index 1"):
        classnames.coco("ko")
