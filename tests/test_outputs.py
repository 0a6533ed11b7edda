"""The output folder: private, refused when it is not ours, swept by age and by size, our files only."""
from __future__ import annotations

import os
import time

import numpy as np
import pytest

from core import outputs


@pytest.fixture
def out_dir(tmp_path, monkeypatch):
    folder = tmp_path / "out"
    monkeypatch.setattr(outputs, "OUTPUT_DIR", folder)
    monkeypatch.setattr(outputs, "_ready", outputs.threading.Event())
    return folder


def picture(seed: int) -> outputs.Picture:
    rng = np.random.default_rng(seed)
    return outputs.encode(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8), "png")


def test_the_folder_is_created_private(out_dir):
    path = outputs.write(picture(0))
    assert os.path.dirname(path) == str(out_dir)
    assert os.stat(out_dir).st_mode & 0o777 == 0o700


def test_the_default_folder_name_is_not_guessable():
    assert outputs.OUTPUT_DIR.name.startswith("dlclass-outputs-")
    assert len(outputs.OUTPUT_DIR.name.split("-")[-1]) == 16  # 64 random bits


def test_a_symlinked_output_folder_is_refused(tmp_path, monkeypatch):
    target = tmp_path / "elsewhere"
    target.mkdir(mode=0o700)
    link = tmp_path / "out"
    link.symlink_to(target)
    monkeypatch.setattr(outputs, "OUTPUT_DIR", link)
    monkeypatch.setattr(outputs, "_ready", outputs.threading.Event())
    with pytest.raises(outputs.OutputDirRefused):
        outputs.write(picture(1))
    assert list(target.iterdir()) == []


def test_a_folder_others_may_write_to_is_refused(tmp_path, monkeypatch):
    folder = tmp_path / "out"
    folder.mkdir()
    folder.chmod(0o777)
    monkeypatch.setattr(outputs, "OUTPUT_DIR", folder)
    monkeypatch.setattr(outputs, "_ready", outputs.threading.Event())
    with pytest.raises(outputs.OutputDirRefused):
        outputs.write(picture(2))


def test_sweep_by_age_keeps_what_is_not_ours(out_dir):
    old, new = outputs.write(picture(3)), outputs.write(picture(4))
    stranger = out_dir / "notes.txt"
    stranger.write_text("not written by the app")
    past = time.time() - outputs.KEEP_SECONDS - 10
    os.utime(old, (past, past))
    os.utime(stranger, (past, past))
    assert outputs.sweep() == 1
    assert not os.path.exists(old) and os.path.exists(new) and stranger.exists()


def test_sweep_by_size_removes_the_oldest_first(out_dir):
    paths = [outputs.write(picture(10 + i)) for i in range(5)]
    for age, path in enumerate(reversed(paths)):  # paths[0] is the oldest
        os.utime(path, (time.time() - 100 * age, time.time() - 100 * age))
    sizes = [os.path.getsize(p) for p in paths]
    budget = sum(sizes[2:])
    assert outputs.sweep(max_bytes=budget) == 2
    assert [os.path.exists(p) for p in paths] == [False, False, True, True, True]
    assert outputs.folder_bytes() <= budget


def test_a_swept_picture_comes_back_when_its_answer_is_handed_out_again(out_dir):
    prepared = picture(20)
    path = outputs.deliver(prepared)
    outputs.sweep(older_than_s=-1)
    assert not os.path.exists(path)
    assert outputs.deliver(prepared) == path and os.path.exists(path)


def test_a_huge_text_answer_is_cut_with_a_note_in_the_pages_language():
    import gradio as gr
    import pandas as pd

    from core import event_wrappers

    with gr.Blocks():
        words, table = gr.Markdown(), gr.Dataframe()

    def answer(n, lang="ko"):
        return "가" * n, pd.DataFrame({"x": range(n)})

    run = event_wrappers.prepared(answer, [words, table])
    for lang, marker in (("ko", "잘랐습니다"), ("en", "too long")):
        cut, rows = run(500_000, lang=lang)
        assert len(cut.encode()) < 1_000_000 and cut.startswith("가" * 1000) and marker in cut
        assert len(rows) == outputs.MAX_TABLE_ROWS
    short, rows = run(10, lang="en")
    assert short == "가" * 10 and len(rows) == 10  # under the caps: unchanged
