"""Fine-tuning: teach a pretrained CNN new classes live, with frozen layers and early stopping you can watch.

The UI follows the five steps of the notes: 1) a pretrained CNN, 2) freeze layers, 3) a new output
layer, 4) train, 5) evaluate, then unfreeze more and continue. The compute lives in
tabs/finetune_train.py; here: the per-session state, the charts, and `build()`.
"""
from __future__ import annotations

import math

import gradio as gr
import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core import i18n, ui
from core.i18n import UserError, pick, t
from core.images import load_image
from core.zoo.cnn import OFFLINE_CNN, load_cnn
from tabs import finetune_train as ft

TAB_ID = "finetune"
TITLE = "finetune.title"

BACKBONES = [OFFLINE_CNN, "resnet18", "mobilenet_v3_large", "efficientnet_b0"]
MAX_RUNS_KEPT = 6  # earlier runs kept on the chart for comparison
PALETTE = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2"]
SESSION_TTL_S = 2 * 3600

i18n.add({
    "finetune.title": ("7. 파인튜닝", "7. Fine-tuning"),
    "finetune.data_h": ("### 준비: 데이터 (클래스 2~5개)", "### Ready: the data (2 to 5 classes)"),
    "finetune.source": ("데이터", "Data"),
    "finetune.source_builtin": ("내장 도형 세트 (파일 없이)", "Built-in shape set (no files needed)"),
    "finetune.source_mine": ("내 사진 / 웹캠", "My photos / webcam"),
    "finetune.n_classes": ("클래스 수", "Number of classes"),
    "finetune.per_class": ("클래스마다 이미지 수", "Images per class"),
    "finetune.data_seed": ("도형 시드 (다른 그림)", "Shape seed (other pictures)"),
    "finetune.class_name": ("클래스 이름", "Class name"),
    "finetune.class_files": ("사진 올리기 (여러 장)", "Upload photos (several)"),
    "finetune.snap": ("웹캠 스냅샷 (또는 사진)", "Webcam snapshot (or a photo)"),
    "finetune.snap_class": ("스냅샷을 넣을 클래스", "Class for the snapshot"),
    "finetune.snap_add": ("📸 이 클래스에 추가", "📸 Add to this class"),
    "finetune.snap_clear": ("스냅샷 모두 지우기", "Clear all snapshots"),
    "finetune.preview": ("데이터 보기와 나누기", "Show and split the data"),
    "finetune.gallery": ("데이터 미리 보기", "Data preview"),
    "finetune.step1": ("### ① 사전 학습된 모델 가져오기", "### ① Take a pretrained model"),
    "finetune.backbone": ("ImageNet 으로 학습된 CNN", "CNN trained on ImageNet"),
    "finetune.step2": ("### ② 레이어 고정하기 (앞쪽부터)", "### ② Freeze layers (from the input side)"),
    "finetune.freeze": ("고정할 단계 수 (최대 = 몸통 전체 고정, 출력층만 학습)",
                        "Stages kept frozen (max = whole body frozen, only the output layer learns)"),
    "finetune.step3": ("### ③ 새 출력층 붙이기", "### ③ Add a new output layer"),
    "finetune.step4": ("### ④ 새 데이터로 학습하기", "### ④ Train on the new data"),
    "finetune.epochs": ("최대 에포크", "Max epochs"),
    "finetune.lr": ("학습률", "Learning rate"),
    "finetune.batch": ("배치 크기", "Batch size"),
    "finetune.augment": ("데이터 증강 (자르기·뒤집기·회전·밝기)", "Augmentation (crop, flip, rotate, brightness)"),
    "finetune.patience": ("조기 종료 patience (참을 에포크)", "Early stopping patience (epochs to wait)"),
    "finetune.min_delta": ("min_delta (이만큼은 줄어야 개선)", "min_delta (smallest drop that counts)"),
    "finetune.train": ("▶ 새로 학습 (새 출력층)", "▶ Train (new output layer)"),
    "finetune.stop": ("■ 멈추기", "■ Stop"),
    "finetune.clear_runs": ("이전 실행 지우기", "Clear earlier runs"),
    "finetune.curves": ("손실과 정확도 (에포크마다)", "Loss and accuracy (per epoch)"),
    "finetune.step5": ("### ⑤ 평가하고, 더 풀어서 이어 학습하기", "### ⑤ Evaluate, then unfreeze more and continue"),
    "finetune.step5_help": (
        "검증 데이터의 혼동 행렬을 보세요. 더 좋게 만들고 싶다면 ②의 슬라이더를 왼쪽으로 옮겨 고정을 조금 풀고, "
        "학습률을 낮춘 뒤(예: 0.0003) **이어서 학습** 을 누르세요. 지금까지 배운 가중치에서 출발합니다.",
        "Look at the confusion matrix on the validation data. To improve further, move the slider of ② left to "
        "unfreeze a little, lower the learning rate (e.g. 0.0003) and press **Continue training**: it starts "
        "from the weights learned so far.",
    ),
    "finetune.continue": ("⏩ 이어서 학습 (지금 가중치에서)", "⏩ Continue training (from current weights)"),
    "finetune.confusion": ("혼동 행렬 (검증 데이터)", "Confusion matrix (validation data)"),
    "finetune.predict_h": ("#### 새 사진으로 시험하기", "#### Try it on a new picture"),
    "finetune.predict_image": ("새 사진 (올리기 또는 웹캠)", "New picture (upload or webcam)"),
    "finetune.new_shape": ("🎲 처음 보는 도형 만들기", "🎲 Draw a shape it has never seen"),
    "finetune.predict": ("예측하기", "Predict"),
    "finetune.probs": ("클래스 확률", "Class probabilities"),
    "finetune.status_idle": ("데이터와 설정을 고르고 **새로 학습** 을 누르세요.",
                             "Pick the data and settings, then press **Train**."),
    "finetune.freeze_idle": ("모델을 불러오는 중...", "Loading the model..."),
})


class Session:
    """One browser session's fine-tuning: its own model, data, cached features and chart history."""

    def __init__(self):
        self.model: ft.FineTuned | None = None
        self.data: ft.DataSet | None = None
        self.prepared: ft.Prepared | None = None
        self.runs: list[dict] = []
        self.snapshots: list[list] = [[] for _ in range(ft.MAX_CLASSES)]
        self.stop_requested = False
        self.busy = False
        self.version = 0
        self.confusion: np.ndarray | None = None
        self.builtin = False


def _free(session: Session | None) -> None:
    """Called by Gradio when the session's state expires: drop the model and cached features."""
    if isinstance(session, Session):
        session.model = session.prepared = session.data = None


# ---------------------------------------------------------------- data from the inputs

def _clamp_int(label: str, value, low: int, high: int, default: int, notes: list[str]) -> int:
    return ft.clamp(label, value, low, high, default, notes, integer=True)


def collect_data(source: str, n_classes, per_class, seed, names: list, files: list, snapshots: list[list],
                 lang: str = "ko") -> tuple[ft.DataSet, list[str]]:
    """The data set the inputs describe, and notes about what was clamped or left out. Raises UserError."""
    notes: list[str] = []
    n = _clamp_int("classes", n_classes, ft.MIN_CLASSES, ft.MAX_CLASSES, 3, notes) if source == "builtin" else None
    if source == "builtin":
        per = _clamp_int("per_class", per_class, ft.LIMITS["per_class"][0], ft.LIMITS["per_class"][1],
                         ft.LIMITS["per_class"][2], notes)
        data_seed = _clamp_int("seed", seed, 0, 10_000, 0, notes)
        images, pairs = ft.builtin_images(n, per, data_seed)
        class_names = [ko if lang == "ko" else en for ko, en in pairs]
        return ft.make_dataset(images, class_names), notes
    try:
        n = int(n_classes)
    except (TypeError, ValueError):
        n = 0
    if not ft.MIN_CLASSES <= n <= ft.MAX_CLASSES:
        raise UserError(f"클래스 수는 {ft.MIN_CLASSES}~{ft.MAX_CLASSES}개여야 합니다 (받은 값: {n_classes!r}).",
                        f"The number of classes must be {ft.MIN_CLASSES} to {ft.MAX_CLASSES} (got {n_classes!r}).")
    per_class_images, class_names = [], []
    for k in range(n):
        name = str(names[k] or "").strip()[:40] if k < len(names) else ""
        name = name or (f"클래스 {k + 1}" if lang == "ko" else f"class {k + 1}")
        items = list(files[k] or []) if k < len(files) and files[k] else []
        images = []
        for item in items:
            try:
                images.append(load_image(item, max_side=ft.STORE_SIDE))
            except UserError as exc:
                raise UserError(f"클래스 '{name}': {exc.ko}", f"Class '{name}': {exc.en}") from None
        images += [load_image(s, max_side=ft.STORE_SIDE) for s in (snapshots[k] if k < len(snapshots) else [])]
        if len(images) > ft.MAX_IMAGES_PER_CLASS:
            notes.append(f"'{name}': {len(images)} → {ft.MAX_IMAGES_PER_CLASS}")
            images = images[: ft.MAX_IMAGES_PER_CLASS]
        per_class_images.append(images)
        class_names.append(name)
    return ft.make_dataset(per_class_images, class_names), notes


def split_table(data: ft.DataSet, lang: str) -> str:
    head = ("| 클래스 | 학습 | 검증 |\n|---|---:|---:|" if lang == "ko" else "| class | train | validation |\n|---|---:|---:|")
    rows = [f"| {name} | {tr} | {va} |" for name, tr, va in data.counts()]
    total = (f"| **합계** | **{len(data.train_idx)}** | **{len(data.val_idx)}** |" if lang == "ko"
             else f"| **total** | **{len(data.train_idx)}** | **{len(data.val_idx)}** |")
    return "\n".join([head, *rows, total])


def preview_gallery(data: ft.DataSet, per_class: int = 4) -> list[tuple]:
    out = []
    for k, name in enumerate(data.class_names):
        for i in np.flatnonzero(data.labels == k)[:per_class]:
            out.append((np.asarray(data.images[i]), name))
    return out


# ---------------------------------------------------------------- text and charts

def freeze_text(cnn, n_frozen: int, n_classes: int, lang: str, note: str | None = None) -> str:
    s = ft.parameter_summary(cnn, n_frozen, n_classes)
    frozen = ", ".join(s["frozen_names"]) or "-"
    trainable = ", ".join(s["trainable_names"]) or "-"
    share = 100.0 * s["trainable"] / max(s["total"], 1)
    weights = ("ImageNet 진짜 가중치" if cnn.real_weights else "무작위 가중치 (테스트용)") if lang == "ko" else \
        ("real ImageNet weights" if cnn.real_weights else "random weights (test zoo)")
    if lang == "ko":
        text = (f"**{cnn.name}** ({weights}) · 고정: `{frozen}`\n\n학습: `{trainable}` + 새 출력층\n\n"
                f"학습되는 파라미터 **{s['trainable']:,}** 개 / 전체 {s['total']:,} 개 (**{share:.2f}%**), "
                f"고정된 파라미터 {s['frozen']:,} 개")
    else:
        text = (f"**{cnn.name}** ({weights}) · frozen: `{frozen}`\n\ntrained: `{trainable}` + new output layer\n\n"
                f"trainable parameters **{s['trainable']:,}** of {s['total']:,} (**{share:.2f}%**), "
                f"frozen parameters {s['frozen']:,}")
    return text + (f"\n\n⚠️ {note}" if note else "")


def head_text(cnn, n_classes: int, lang: str) -> str:
    dim = ft.feature_dim(cnn)
    if lang == "ko":
        return (f"원래 출력층 (1000개 ImageNet 클래스) 을 떼어 내고 `Linear({dim} → {n_classes})` 를 새로 붙입니다: "
                f"{dim}개 특징을 {n_classes}개 클래스 점수로 바꾸는 층, 파라미터 {dim * n_classes + n_classes:,} 개, 무작위로 시작.")
    return (f"The old output layer (1000 ImageNet classes) is removed and a new `Linear({dim} → {n_classes})` is added: "
            f"it turns {dim} features into {n_classes} class scores, {dim * n_classes + n_classes:,} parameters, starting random.")


def curves_figure(runs: list[dict], lang: str) -> go.Figure:
    """Loss and accuracy per epoch, train solid and validation dashed; earlier runs faded."""
    ko = lang == "ko"
    fig = make_subplots(rows=1, cols=2, subplot_titles=("손실 (loss)" if ko else "Loss",
                                                        "정확도 (accuracy)" if ko else "Accuracy"))
    for i, run in enumerate(runs):
        current = i == len(runs) - 1
        colour = PALETTE[run["number"] % len(PALETTE)]
        hist = run["history"]
        epochs = [h.epoch for h in hist]
        style = dict(opacity=1.0 if current else 0.35)
        width = 3 if current else 1.5
        for col, (train_vals, val_vals) in ((1, ([h.train_loss for h in hist], [h.val_loss for h in hist])),
                                            (2, ([h.train_acc for h in hist], [h.val_acc for h in hist]))):
            fig.add_trace(go.Scatter(x=epochs, y=train_vals, mode="lines+markers", line=dict(color=colour, width=width),
                                     name=f"{run['label']} · {'학습' if ko else 'train'}", legendgroup=f"r{i}",
                                     showlegend=col == 1, **style), row=1, col=col)
            fig.add_trace(go.Scatter(x=epochs, y=val_vals, mode="lines+markers",
                                     line=dict(color=colour, width=width, dash="dash"),
                                     name=f"{run['label']} · {'검증' if ko else 'validation'}", legendgroup=f"r{i}",
                                     showlegend=col == 1, **style), row=1, col=col)
            best = run.get("best_epoch") or 0
            if best and best <= len(hist):
                h = hist[best - 1]
                fig.add_trace(go.Scatter(
                    x=[best], y=[h.val_loss if col == 1 else h.val_acc], mode="markers",
                    marker=dict(symbol="star", size=18 if current else 11, color=colour, line=dict(color="black", width=1)),
                    name=("최고 에포크" if ko else "best epoch"), showlegend=current and col == 1,
                    hovertemplate=("최고 에포크 %{x}" if ko else "best epoch %{x}") + "<extra></extra>", **style),
                    row=1, col=col)
        if current and run.get("stopped_epoch"):
            # Labels sit inside the plots (stop at the top, best at the bottom) so they never cover the titles.
            stop = run["stopped_epoch"]
            for col, axis in ((1, ""), (2, "2")):
                fig.add_vline(x=stop, line=dict(color="#444", dash="dot", width=2), row=1, col=col)
                fig.add_annotation(x=stop, y=0.99, xref=f"x{axis}", yref=f"y{axis} domain", showarrow=False,
                                   xanchor="right", yanchor="top", bgcolor="rgba(255,255,255,0.85)",
                                   text=(f"멈춤 {stop}" if ko else f"stop {stop}"), font=dict(size=14))
            if run.get("best_epoch"):
                best = run["best_epoch"]
                fig.add_vline(x=best, line=dict(color=colour, dash="dot", width=1), row=1, col=1)
                fig.add_annotation(x=best, y=0.01, xref="x", yref="y domain", showarrow=False, xanchor="left",
                                   yanchor="bottom", bgcolor="rgba(255,255,255,0.85)",
                                   text=(f"★ 최고 {best}" if ko else f"★ best {best}"), font=dict(size=14, color=colour))
    fig.update_xaxes(title_text="에포크" if ko else "epoch", rangemode="tozero")
    fig.update_yaxes(rangemode="tozero", row=1, col=1)
    fig.update_yaxes(range=[0, 1.05], tickformat=".0%", row=1, col=2)
    fig.update_layout(height=460, margin=dict(l=50, r=20, t=60, b=40), font=dict(size=15),
                      legend=dict(orientation="h", yanchor="top", y=-0.18, x=0), template="plotly_white")
    return fig


def confusion_figure(cm: np.ndarray | None, class_names: list[str], lang: str) -> go.Figure:
    ko = lang == "ko"
    fig = go.Figure()
    if cm is None:
        fig.update_layout(height=360, template="plotly_white",
                          title=("학습이 끝나면 여기에 혼동 행렬이 나옵니다" if ko else "The confusion matrix appears here after training"))
        return fig
    fig.add_trace(go.Heatmap(z=cm, x=class_names, y=class_names, colorscale="Blues", showscale=False,
                             text=cm, texttemplate="%{text}", textfont=dict(size=20),
                             hovertemplate=("정답 %{y} → 예측 %{x}: %{z}" if ko else "true %{y} → predicted %{x}: %{z}")
                             + "<extra></extra>"))
    accuracy = np.trace(cm) / max(cm.sum(), 1)
    fig.update_layout(height=380, template="plotly_white", font=dict(size=15), margin=dict(l=80, r=20, t=60, b=60),
                      title=(f"검증 정확도 {accuracy:.1%}" if ko else f"Validation accuracy {accuracy:.1%}"))
    fig.update_xaxes(title_text="예측" if ko else "predicted", side="bottom")
    fig.update_yaxes(title_text="정답" if ko else "true", autorange="reversed")
    return fig


REASONS = {
    "early_stop": ("조기 종료: 검증 손실이 patience 동안 나아지지 않았습니다", "early stopping: the validation loss did not improve for `patience` epochs"),
    "epochs": ("최대 에포크를 다 채웠습니다", "all the epochs ran"),
    "stopped": ("멈추기 버튼으로 멈췄습니다", "stopped with the Stop button"),
    "time": (f"시간 제한 ({ft.MAX_RUN_SECONDS:.0f}초) 에 걸려 멈췄습니다", f"stopped at the time limit ({ft.MAX_RUN_SECONDS:.0f} s)"),
    "diverged": ("손실이 무한대/NaN 이 되어 멈췄습니다 (학습률을 낮추세요)", "the loss became inf/NaN (lower the learning rate)"),
}


def _status(lang: str, lines_ko: list[str], lines_en: list[str]) -> str:
    return "\n\n".join(lines_ko if lang == "ko" else lines_en)


# ---------------------------------------------------------------- events

def _session(session) -> Session:
    return session if isinstance(session, Session) else Session()


def on_freeze(backbone, n_frozen, n_classes, request: gr.Request = None):
    lang = i18n.lang_of(request)
    cnn, note = load_cnn(backbone if backbone in BACKBONES else OFFLINE_CNN)
    n_body = len(ft.body_stages(cnn))
    notes: list[str] = []
    n_frozen = _clamp_int("freeze", n_frozen if n_frozen is not None else n_body, 0, n_body, n_body, notes)
    n = _clamp_int("classes", n_classes, ft.MIN_CLASSES, ft.MAX_CLASSES, 3, notes)
    return freeze_text(cnn, n_frozen, n, lang, note), head_text(cnn, n, lang)


def on_backbone(backbone, n_classes, request: gr.Request = None):
    """A new backbone: the freeze slider's range follows its number of stages (all frozen by default)."""
    lang = i18n.lang_of(request)
    cnn, note = load_cnn(backbone if backbone in BACKBONES else OFFLINE_CNN)
    n_body = len(ft.body_stages(cnn))
    n = min(max(int(n_classes or 3), ft.MIN_CLASSES), ft.MAX_CLASSES)
    return (gr.update(maximum=n_body, value=n_body), freeze_text(cnn, n_body, n, lang, note), head_text(cnn, n, lang))


def on_preview(source, n_classes, per_class, seed, names: list, files: list, session, request: gr.Request = None):
    session = _session(session)
    lang = i18n.lang_of(request)
    data, notes = collect_data(source, n_classes, per_class, seed, names, files, session.snapshots, lang)
    text = split_table(data, lang) + (("\n\n⚠️ " + "; ".join(notes)) if notes else "")
    return preview_gallery(data), text


def on_snapshot(image, class_index, session, request: gr.Request = None):
    session = _session(session)
    img = load_image(image, max_side=ft.STORE_SIDE)
    try:
        k = int(class_index)
    except (TypeError, ValueError):
        k = 0
    k = min(max(k, 0), ft.MAX_CLASSES - 1)
    if len(session.snapshots[k]) >= ft.MAX_IMAGES_PER_CLASS:
        raise UserError(f"한 클래스에 스냅샷은 {ft.MAX_IMAGES_PER_CLASS}장까지입니다.",
                        f"At most {ft.MAX_IMAGES_PER_CLASS} snapshots per class.")
    session.snapshots[k].append(np.asarray(img))
    return session, snapshot_counts(session, i18n.lang_of(request))


def snapshot_counts(session: Session, lang: str) -> str:
    counts = ", ".join(f"{k + 1}: {len(s)}" for k, s in enumerate(session.snapshots))
    return (f"클래스별 스냅샷 수 — {counts}" if lang == "ko" else f"Snapshots per class — {counts}")


def on_clear_snapshots(session, request: gr.Request = None):
    session = _session(session)
    session.snapshots = [[] for _ in range(ft.MAX_CLASSES)]
    return session, snapshot_counts(session, i18n.lang_of(request))


def run_training(continue_training: bool, backbone, n_frozen, epochs, learning_rate, batch_size, augment_on,
                 patience, min_delta, source, n_classes, per_class, seed, names: list, files: list, session,
                 request: gr.Request = None):
    """The training event: yields (curves, status, confusion matrix, session, data preview, split table)."""
    session: Session = _session(session)
    lang = i18n.lang_of(request)
    if session.busy:
        raise UserError("이 창에서 이미 학습 중입니다. 끝나거나 멈춘 뒤에 다시 누르세요.",
                        "A run is already going in this window. Wait for it to end or stop it first.")
    session.busy, session.stop_requested = True, False
    try:
        yield from _run(session, continue_training, backbone, n_frozen, epochs, learning_rate, batch_size, augment_on,
                        patience, min_delta, source, n_classes, per_class, seed, names, files, lang)
    finally:
        session.busy = False


def _run(session: Session, continue_training, backbone, n_frozen, epochs, learning_rate, batch_size, augment_on,
         patience, min_delta, source, n_classes, per_class, seed, names, files, lang):
    data, notes = collect_data(source, n_classes, per_class, seed, names, files, session.snapshots, lang)
    cfg, cfg_notes = ft.train_config(epochs, learning_rate, batch_size, augment_on, patience, min_delta)
    notes += cfg_notes
    cnn, fallback = load_cnn(backbone if backbone in BACKBONES else OFFLINE_CNN)
    n_body = len(ft.body_stages(cnn))
    n_frozen = _clamp_int("freeze", n_frozen, 0, n_body, n_body, notes)
    previous = session.model if continue_training else None
    if continue_training and (previous is None or previous.class_names != data.class_names or previous.cnn_name != cnn.name):
        raise UserError("이어서 학습할 모델이 없습니다 (또는 클래스/모델이 바뀌었습니다). 먼저 **새로 학습** 을 누르세요.",
                        "There is no model to continue (or the classes/model changed). Press **Train** first.")
    model = ft.FineTuned(cnn, n_frozen, data.class_names, previous=previous)
    summary = ft.parameter_summary(cnn, n_frozen, len(data.class_names))
    note_text = ("\n\n⚠️ " + "; ".join(notes)) if notes else ""
    note_text += f"\n\n⚠️ {fallback}" if fallback else ""
    n_items = len(data.train_idx) * (1 + (ft.AUG_VIEWS if cfg.augment else 0)) + len(data.val_idx)
    yield (gr.skip(), _status(lang, [f"⏳ 고정된 층의 출력을 이미지 {n_items}개에 대해 한 번만 계산하는 중..." + note_text],
                              [f"⏳ Computing the frozen layers' output once, for {n_items} images..." + note_text]),
           gr.skip(), session, preview_gallery(data), split_table(data, lang))
    key = (data.fingerprint, cfg.augment, cfg.seed) + model.frozen_key()
    try:
        prep = session.prepared if session.prepared is not None and session.prepared.key == key else \
            ft.prepare(model, data, cfg, should_stop=lambda: session.stop_requested)
    except ft.StopRequested:
        yield (gr.skip(), _status(lang, ["멈췄습니다."], ["Stopped."]), gr.skip(), session, gr.skip(), gr.skip())
        return
    reused = prep is session.prepared
    session.prepared = None  # free the old cache before keeping the new one
    session.prepared, session.data = prep, data
    number = (session.runs[-1]["number"] + 1) if session.runs else 0
    kind = ("이어서" if lang == "ko" else "cont.") if continue_training else ""
    label = (f"#{number + 1}{' ' + kind if kind else ''} (고정 {n_frozen}, p={cfg.patience})" if lang == "ko"
             else f"#{number + 1}{' ' + kind if kind else ''} (frozen {n_frozen}, p={cfg.patience})")
    run = {"number": number, "label": label, "history": [], "best_epoch": 0, "stopped_epoch": 0}
    session.runs = (session.runs + [run])[-MAX_RUNS_KEPT:]
    mode_ko = "특징 캐시 사용" if prep.cached else "고정 층을 매 배치 계산 (캐시가 메모리 한도를 넘음)"
    mode_en = "cached features" if prep.cached else "frozen layers run every batch (cache over the memory budget)"
    prep_ko = "이전 계산 재사용" if reused else f"{prep.seconds:.1f}초"
    prep_en = "reused from before" if reused else f"{prep.seconds:.1f} s"
    head_ko = (f"학습 파라미터 {summary['trainable']:,}개 · {mode_ko} (특징 계산: {prep_ko}) · "
               f"학습 {len(data.train_idx)}장 / 검증 {len(data.val_idx)}장")
    head_en = (f"{summary['trainable']:,} trainable parameters · {mode_en} (features: {prep_en}) · "
               f"{len(data.train_idx)} train / {len(data.val_idx)} validation images")
    stopper_best = math.inf
    for event in ft.train(model, prep, cfg, should_stop=lambda: session.stop_requested):
        if isinstance(event, ft.EpochLog):
            run["history"].append(event)
            if event.val_loss < stopper_best - cfg.min_delta:
                stopper_best, run["best_epoch"] = event.val_loss, event.epoch
            line_ko = (f"에포크 {event.epoch}/{cfg.epochs} · 학습 손실 {event.train_loss:.3f}, 정확도 {event.train_acc:.0%} · "
                       f"검증 손실 {event.val_loss:.3f}, 정확도 {event.val_acc:.0%} · 최고 에포크 {run['best_epoch']}")
            line_en = (f"epoch {event.epoch}/{cfg.epochs} · train loss {event.train_loss:.3f}, accuracy {event.train_acc:.0%} · "
                       f"val loss {event.val_loss:.3f}, accuracy {event.val_acc:.0%} · best epoch {run['best_epoch']}")
            yield (curves_figure(session.runs, lang), _status(lang, [head_ko, "🏃 " + line_ko + note_text],
                                                              [head_en, "🏃 " + line_en + note_text]), gr.skip(), session,
                   gr.skip(), gr.skip())
        else:
            result: ft.RunResult = event
            run["best_epoch"], run["stopped_epoch"] = result.best_epoch, result.stopped_epoch
            session.version += 1
            model.mark_trained(session.version)
            session.model = model
            session.confusion = result.confusion
            reason_ko, reason_en = REASONS[result.reason]
            restored_ko = f"에포크 {result.best_epoch} 의 가중치로 되돌렸습니다" if result.best_epoch else "가중치 그대로"
            restored_en = f"weights of epoch {result.best_epoch} restored" if result.best_epoch else "weights kept"
            done_ko = (f"✅ 끝 ({result.seconds:.1f}초): {reason_ko}. 에포크 {result.stopped_epoch} 에서 멈춤, {restored_ko} · "
                       f"검증 정확도 **{result.best_val_acc:.1%}**, 검증 손실 {result.best_val_loss:.3f}")
            done_en = (f"✅ Done ({result.seconds:.1f} s): {reason_en}. Stopped at epoch {result.stopped_epoch}, {restored_en} · "
                       f"validation accuracy **{result.best_val_acc:.1%}**, validation loss {result.best_val_loss:.3f}")
            yield (curves_figure(session.runs, lang), _status(lang, [head_ko, done_ko + note_text], [head_en, done_en + note_text]),
                   confusion_figure(result.confusion, data.class_names, lang), session, gr.skip(), gr.skip())


def keep_charts_on_error(run, lang_request):
    """Run a training generator; a problem the user can fix becomes a warning and a status line, so the
    curves of earlier runs stay on screen (a raised error would blank every output)."""
    try:
        yield from run
    except UserError as exc:
        gr.Warning(str(exc))
        message = exc.ko if i18n.lang_of(lang_request) == "ko" else exc.en
        yield (gr.skip(), f"⚠️ {message}", gr.skip(), gr.skip(), gr.skip(), gr.skip())


def on_stop(session):
    if isinstance(session, Session):
        session.stop_requested = True
    return session


def on_clear_runs(session, request: gr.Request = None):
    session = _session(session)
    session.runs = session.runs[-1:] if session.busy else []
    return curves_figure(session.runs, i18n.lang_of(request)), session


def on_predict(image, session):
    session = _session(session)
    if session.model is None:
        raise UserError("먼저 모델을 학습시키세요 (④ 새로 학습).", "Train a model first (④ Train).")
    img = load_image(image, max_side=ft.STORE_SIDE)
    return session.model.predict(img)


def on_new_shape(session, n_classes):
    """A fresh built-in picture from a seed the training set never used."""
    session = _session(session)
    rng = np.random.default_rng()
    if session.model is not None:
        n = len(session.model.class_names)
    else:
        n = _clamp_int("classes", n_classes, ft.MIN_CLASSES, ft.MAX_CLASSES, 3, [])
    key = ft.SHAPES[int(rng.integers(0, min(n, len(ft.SHAPES))))][0]
    return ft.draw_shape(key, rng)


# ---------------------------------------------------------------- the tab

def build() -> None:
    session = gr.State(Session, time_to_live=SESSION_TTL_S, delete_callback=_free)

    gr.Markdown(t("finetune.data_h"))
    with gr.Row():
        source = gr.Radio([(t("finetune.source_builtin"), "builtin"), (t("finetune.source_mine"), "mine")],
                          value="builtin", label=t("finetune.source"), elem_id="finetune-source")
        n_classes = gr.Slider(ft.MIN_CLASSES, ft.MAX_CLASSES, value=3, step=1, label=t("finetune.n_classes"),
                              elem_id="finetune-n-classes")
        per_class = gr.Slider(ft.LIMITS["per_class"][0], ft.LIMITS["per_class"][1], value=ft.LIMITS["per_class"][2],
                              step=1, label=t("finetune.per_class"), elem_id="finetune-per-class")
        seed = gr.Number(0, precision=0, minimum=0, maximum=10_000, label=t("finetune.data_seed"))
    names, files, columns = [], [], []
    with gr.Group(visible=False) as mine_box:
        with gr.Row():
            for k in range(ft.MAX_CLASSES):
                with gr.Column(min_width=200, visible=k < 3) as col:
                    columns.append(col)
                    names.append(gr.Textbox(label=t("finetune.class_name"),
                                            placeholder=f"{k + 1}", elem_id=f"finetune-name-{k}"))
                    files.append(gr.File(file_count="multiple", file_types=["image"], type="filepath",
                                         label=t("finetune.class_files"), elem_id=f"finetune-files-{k}", height=130))
        with gr.Row():
            snap = gr.Image(sources=["webcam", "upload"], type="numpy", label=t("finetune.snap"), height=240)
            with gr.Column():
                snap_class = gr.Dropdown([(f"{k + 1}", k) for k in range(ft.MAX_CLASSES)], value=0,
                                         label=t("finetune.snap_class"))
                snap_add = gr.Button(t("finetune.snap_add"))
                snap_clear = gr.Button(t("finetune.snap_clear"), size="sm")
                snap_counts = gr.Markdown()
    with gr.Row():
        preview_btn = gr.Button(t("finetune.preview"), elem_id="finetune-preview")
    with gr.Row():
        gallery = gr.Gallery(label=t("finetune.gallery"), columns=8, height=220, elem_id="finetune-gallery")
        split_md = gr.Markdown(elem_id="finetune-split")

    gr.Markdown(t("finetune.step1"))
    backbone = gr.Dropdown(BACKBONES, value=OFFLINE_CNN, label=t("finetune.backbone"), elem_id="finetune-backbone")
    gr.Markdown(t("finetune.step2"))
    freeze = gr.Slider(0, 12, value=12, step=1, label=t("finetune.freeze"), elem_id="finetune-freeze")
    freeze_md = gr.Markdown(t("finetune.freeze_idle"), elem_id="finetune-freeze-info")
    gr.Markdown(t("finetune.step3"))
    head_md = gr.Markdown(elem_id="finetune-head-info")

    gr.Markdown(t("finetune.step4"))
    with gr.Row():
        epochs = gr.Slider(1, ft.LIMITS["epochs"][1], value=ft.LIMITS["epochs"][2], step=1, label=t("finetune.epochs"))
        lr = gr.Dropdown([0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03, 0.1], value=ft.LIMITS["learning_rate"][2],
                         allow_custom_value=True, label=t("finetune.lr"), elem_id="finetune-lr")
        batch = gr.Dropdown([4, 8, 16, 32, 64], value=ft.LIMITS["batch_size"][2], label=t("finetune.batch"))
        augment_on = gr.Checkbox(False, label=t("finetune.augment"))
    with gr.Row():
        patience = gr.Slider(1, 20, value=ft.LIMITS["patience"][2], step=1, label=t("finetune.patience"),
                             elem_id="finetune-patience")
        min_delta = gr.Dropdown([0.0, 0.001, 0.005, 0.01, 0.05], value=ft.LIMITS["min_delta"][2], allow_custom_value=True,
                                label=t("finetune.min_delta"))
    with gr.Row():
        train_btn = gr.Button(t("finetune.train"), variant="primary", elem_id="finetune-train")
        stop_btn = gr.Button(t("finetune.stop"), variant="stop", elem_id="finetune-stop")
        clear_btn = gr.Button(t("finetune.clear_runs"), size="sm")
    status = gr.Markdown(t("finetune.status_idle"), elem_id="finetune-status")
    curves = gr.Plot(label=t("finetune.curves"), elem_id="finetune-curves")

    gr.Markdown(t("finetune.step5"))
    gr.Markdown(t("finetune.step5_help"))
    with gr.Row():
        with gr.Column():
            continue_btn = gr.Button(t("finetune.continue"), elem_id="finetune-continue")
            confusion = gr.Plot(label=t("finetune.confusion"), elem_id="finetune-confusion")
        with gr.Column():
            gr.Markdown(t("finetune.predict_h"))
            predict_image = gr.Image(sources=["upload", "webcam", "clipboard"], type="numpy",
                                     label=t("finetune.predict_image"), height=260, elem_id="finetune-predict-image")
            with gr.Row():
                new_shape_btn = gr.Button(t("finetune.new_shape"), elem_id="finetune-new-shape")
                predict_btn = gr.Button(t("finetune.predict"), variant="primary", elem_id="finetune-predict")
            probs = gr.Label(label=t("finetune.probs"), num_top_classes=5, elem_id="finetune-probs")

    def on_source(src, n):
        mine = src == "mine"
        n = min(max(int(n or 3), ft.MIN_CLASSES), ft.MAX_CLASSES)
        return [gr.update(visible=mine), gr.update(visible=not mine), gr.update(visible=not mine)] + \
            [gr.update(visible=k < n) for k in range(ft.MAX_CLASSES)]

    vis_outputs = [mine_box, per_class, seed] + columns
    source.change(on_source, [source, n_classes], vis_outputs, api_visibility="private", **ui.QUICK)
    n_classes.change(on_source, [source, n_classes], vis_outputs, api_visibility="private", **ui.QUICK)

    freeze_inputs = [backbone, freeze, n_classes]
    freeze.change(on_freeze, freeze_inputs, [freeze_md, head_md], api_visibility="private", **ui.QUICK)
    n_classes.change(on_freeze, freeze_inputs, [freeze_md, head_md], api_visibility="private", **ui.QUICK)
    backbone.change(on_backbone, [backbone, n_classes], [freeze, freeze_md, head_md],
                    api_visibility="private", **ui.MODEL)
    root = gr.context.Context.root_block
    if root is not None:
        root.load(on_backbone, [backbone, n_classes], [freeze, freeze_md, head_md],
                  api_visibility="private", **ui.MODEL)

    data_inputs = [source, n_classes, per_class, seed, *names, *files, session]
    snap_add.click(on_snapshot, [snap, snap_class, session], [session, snap_counts], api_visibility="private", **ui.QUICK)
    snap_clear.click(on_clear_snapshots, [session], [session, snap_counts], api_visibility="private", **ui.QUICK)

    train_inputs = [backbone, freeze, epochs, lr, batch, augment_on, patience, min_delta, *data_inputs]
    outputs = [curves, status, confusion, session, gallery, split_md]

    # Gradio passes the inputs one by one (and the request by its annotation), so the per-class
    # names and files are spelled out here and handed on as lists.
    def preview(source, n_classes, per_class, seed, n0, n1, n2, n3, n4, f0, f1, f2, f3, f4, session,
                request: gr.Request):
        return on_preview(source, n_classes, per_class, seed, [n0, n1, n2, n3, n4], [f0, f1, f2, f3, f4], session,
                          request)

    def train_new(backbone, n_frozen, epochs, lr, batch, augment_on, patience, min_delta, source, n_classes,
                  per_class, seed, n0, n1, n2, n3, n4, f0, f1, f2, f3, f4, session, request: gr.Request):
        yield from keep_charts_on_error(run_training(
            False, backbone, n_frozen, epochs, lr, batch, augment_on, patience, min_delta, source, n_classes, per_class,
            seed, [n0, n1, n2, n3, n4], [f0, f1, f2, f3, f4], session, request), request)

    def train_more(backbone, n_frozen, epochs, lr, batch, augment_on, patience, min_delta, source, n_classes,
                   per_class, seed, n0, n1, n2, n3, n4, f0, f1, f2, f3, f4, session, request: gr.Request):
        yield from keep_charts_on_error(run_training(
            True, backbone, n_frozen, epochs, lr, batch, augment_on, patience, min_delta, source, n_classes, per_class,
            seed, [n0, n1, n2, n3, n4], [f0, f1, f2, f3, f4], session, request), request)

    preview_btn.click(preview, data_inputs, [gallery, split_md], api_name="finetune_data", **ui.QUICK)
    train_btn.click(train_new, train_inputs, outputs, api_name="finetune", **ui.HEAVY_TRAINING)
    continue_btn.click(train_more, train_inputs, outputs, api_name="finetune_continue", **ui.HEAVY_TRAINING)
    # Not queued: it must get through while the training slot is busy; the loop checks the flag every batch.
    stop_btn.click(on_stop, [session], [session], queue=False, api_name="finetune_stop")
    clear_btn.click(on_clear_runs, [session], [curves, session], api_visibility="private", **ui.QUICK)
    predict_btn.click(on_predict, [predict_image, session], [probs], api_name="finetune_predict", **ui.MODEL)
    new_shape_btn.click(on_new_shape, [session, n_classes], [predict_image], api_visibility="private", **ui.QUICK)
