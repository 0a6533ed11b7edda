"""The fine-tuning tab: the data, then the five steps of the notes top to bottom; training streams its curves."""
from __future__ import annotations

import gradio as gr

from core import components, events
from core.text import Problem
from tabs.finetune import compute, view
from tabs.finetune.text import TEXT

SESSION_TTL_S = 2 * 3600
N = compute.MAX_CLASSES
LEARNING_RATES = [0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03, 0.1]
BATCH_SIZES = [4, 8, 16, 32, 64]
MIN_DELTAS = [0.0, 0.001, 0.005, 0.01, 0.05]
NO_SNAPSHOTS = ((),) * N


def _per_class(per_class_inputs: tuple) -> tuple[list, list, tuple]:
    """Gradio passes inputs one by one: the N class names, the N file lists, then the snapshots."""
    return list(per_class_inputs[:N]), list(per_class_inputs[N:2 * N]), per_class_inputs[2 * N]


# ---------------------------------------------------------------- events (module level: tests call them)


def show_data(source, n_classes, per_class, seed, *per_class_inputs, lang: str = "ko"):
    """(gallery, split table) of the data set the inputs describe."""
    names, files, snapshots = _per_class(per_class_inputs)
    data, notes = compute.read_data(source, n_classes, per_class, seed, names, files, snapshots)
    return view.preview_gallery(data, lang), view.split_table(data, lang, notes)


def show_backbone(backbone, n_classes, *, lang: str = "ko"):
    """A new backbone: the freeze slider spans its stages (all frozen to start), and its summaries."""
    cnn, notes = compute.pretrained(backbone)
    n = compute.read_number("n_classes", n_classes, notes)
    summary = compute.freeze_summary(cnn, len(compute.body_stages(cnn)), n)
    return (gr.update(maximum=summary.n_stages, value=summary.n_stages), view.freeze_markdown(summary, lang, notes),
            view.head_markdown(summary, lang))


def show_freeze(backbone, n_frozen, n_classes, *, lang: str = "ko"):
    cnn, notes = compute.pretrained(backbone)
    n_frozen = compute.frozen_count(cnn, n_frozen, notes)
    summary = compute.freeze_summary(cnn, n_frozen, compute.read_number("n_classes", n_classes, notes))
    return view.freeze_markdown(summary, lang, notes), view.head_markdown(summary, lang)


def show_source(source, n_classes):
    """Own photos: the class columns (as many as classes); built-in: the shape set's own controls."""
    mine = source == "mine"
    n = compute.read_number("n_classes", n_classes, [])
    return [gr.update(visible=mine), gr.update(visible=not mine), gr.update(visible=not mine)] + \
        [gr.update(visible=k < n) for k in range(N)]


def add_snapshot(image, class_index, snapshots, *, lang: str = "ko"):
    snapshots = compute.add_snapshot(snapshots, image, class_index)
    return snapshots, view.snapshot_counts(snapshots, lang)


def clear_snapshots(*, lang: str = "ko"):
    return NO_SNAPSHOTS, view.snapshot_counts(NO_SNAPSHOTS, lang)


def _train(continue_training: bool, backbone, n_frozen, epochs, learning_rate, batch_size, augment_on, patience,
           min_delta, source, n_classes, per_class, seed, per_class_inputs, session: compute.Session, lang: str):
    """Yields (curves, status, confusion matrix, gallery, split table) as the run goes."""
    names, files, snapshots = _per_class(per_class_inputs)
    try:
        data, notes = compute.read_data(source, n_classes, per_class, seed, names, files, snapshots)
        for progress in compute.fine_tune(session, data, notes, backbone, n_frozen, epochs, learning_rate, batch_size,
                                          augment_on, patience, min_delta, continue_training):
            status = view.status_markdown(progress, lang)
            if progress.stage == "preparing":
                yield gr.skip(), status, gr.skip(), view.preview_gallery(data, lang), view.split_table(data, lang)
            elif progress.stage == "epoch":
                yield view.curves_figure(progress.runs, lang), status, gr.skip(), gr.skip(), gr.skip()
            elif progress.stage == "done":
                yield (view.curves_figure(progress.runs, lang), status,
                       view.confusion_figure(progress.result.confusion, data.class_names, lang), gr.skip(), gr.skip())
            else:  # stopped before the first epoch
                yield gr.skip(), status, gr.skip(), gr.skip(), gr.skip()
    except Problem as problem:
        # Something the student can fix: a warning and a status line, and the earlier curves stay on
        # screen (an error raised out of the event would blank every output).
        gr.Warning(problem.say(lang), title=problem.title.say(lang))
        yield gr.skip(), f"⚠️ {problem.say(lang)}", gr.skip(), gr.skip(), gr.skip()


def train_new(backbone, n_frozen, epochs, learning_rate, batch_size, augment_on, patience, min_delta, source,
              n_classes, per_class, seed, *rest, lang: str = "ko"):
    """▶ Train: a new output layer on the pretrained model."""
    *per_class_inputs, session = rest
    yield from _train(False, backbone, n_frozen, epochs, learning_rate, batch_size, augment_on, patience, min_delta,
                      source, n_classes, per_class, seed, tuple(per_class_inputs), session, lang)


def train_more(backbone, n_frozen, epochs, learning_rate, batch_size, augment_on, patience, min_delta, source,
               n_classes, per_class, seed, *rest, lang: str = "ko"):
    """⏩ Continue: from the session's current weights, with the stages the slider now leaves unfrozen."""
    *per_class_inputs, session = rest
    yield from _train(True, backbone, n_frozen, epochs, learning_rate, batch_size, augment_on, patience, min_delta,
                      source, n_classes, per_class, seed, tuple(per_class_inputs), session, lang)


def stop(session: compute.Session):
    """Asked at every batch by the running training of this session."""
    session.stop_requested = True


def clear_runs(session: compute.Session, *, lang: str = "ko"):
    session.runs = session.runs[-1:] if session.busy else []
    return view.curves_figure(session.runs, lang)


def predict(image, session: compute.Session, *, lang: str = "ko"):
    return view.prediction(compute.predict_picture(session, image), lang)


def new_shape(session: compute.Session, n_classes):
    return compute.new_shape_picture(session.model.class_names if session.model else None, n_classes)


# ---------------------------------------------------------------- the tab


def new_session() -> compute.Session:
    """Each browser session's own (gr.State calls it; a dataclass itself would be taken for a value)."""
    return compute.Session()


def build(page) -> None:
    ui = TEXT.ui
    session = gr.State(new_session, time_to_live=SESSION_TTL_S, delete_callback=compute.Session.free)
    snapshots = gr.State(NO_SNAPSHOTS)

    gr.Markdown(ui("data_h"))
    with gr.Row():
        source = components.Radio([(ui("source_builtin"), "builtin"), (ui("source_mine"), "mine")], value="builtin",
                                  label=ui("source"), elem_id="finetune-source")
        low, high, default = compute.LIMITS["n_classes"]
        n_classes = components.Slider(low, high, value=default, step=1, label=ui("n_classes"), elem_id="finetune-n-classes")
        low, high, default = compute.LIMITS["per_class"]
        per_class = components.Slider(low, high, value=default, step=1, label=ui("per_class"), elem_id="finetune-per-class")
        low, high, default = compute.LIMITS["seed"]
        seed = components.Number(default, precision=0, minimum=low, maximum=high, label=ui("data_seed"))
    names, files, columns = [], [], []
    with gr.Group(visible=False) as mine_box:
        with gr.Row():
            for k in range(N):
                with gr.Column(min_width=200, visible=k < compute.LIMITS["n_classes"][2]) as column:
                    columns.append(column)
                    # value "": what the browser sends for an empty box, so the page-open example hits the cache
                    names.append(gr.Textbox("", label=ui("class_name"), placeholder=f"{k + 1}",
                                            elem_id=f"finetune-name-{k}"))
                    files.append(gr.File(file_count="multiple", file_types=["image"], type="filepath",
                                         label=ui("class_files"), elem_id=f"finetune-files-{k}", height=130))
        with gr.Row():
            snap = components.Image(sources=["webcam", "upload"], label=ui("snap"), height=240)
            with gr.Column():
                snap_class = components.Dropdown([(f"{k + 1}", k) for k in range(N)], value=0, label=ui("snap_class"))
                snap_add = gr.Button(ui("snap_add"))
                snap_clear = gr.Button(ui("snap_clear"), size="sm")
                snap_counts = gr.Markdown()
    preview_btn = gr.Button(ui("preview"), elem_id="finetune-preview")
    with gr.Row():
        gallery = gr.Gallery(label=ui("gallery"), columns=6, height=300, format="jpeg", scale=3,
                             elem_id="finetune-gallery")
        split_md = gr.Markdown(elem_id="finetune-split")

    gr.Markdown(ui("step1"))
    backbone = components.Dropdown(list(compute.BACKBONES), value=compute.BACKBONES[0], label=ui("backbone"),
                                   elem_id="finetune-backbone")
    gr.Markdown(ui("step2"))
    freeze = components.Slider(0, 12, value=12, step=1, label=ui("freeze"), elem_id="finetune-freeze")
    freeze_md = gr.Markdown(ui("freeze_idle"), elem_id="finetune-freeze-info")
    gr.Markdown(ui("step3"))
    head_md = gr.Markdown(elem_id="finetune-head-info")

    gr.Markdown(ui("step4"))
    with gr.Row():
        epochs = components.Slider(1, compute.LIMITS["epochs"][1], value=compute.LIMITS["epochs"][2], step=1,
                                   label=ui("epochs"))
        lr = components.Dropdown(LEARNING_RATES, value=compute.LIMITS["lr"][2], allow_custom_value=True, label=ui("lr"),
                                 elem_id="finetune-lr")
        batch = components.Dropdown(BATCH_SIZES, value=compute.LIMITS["batch"][2], label=ui("batch"))
        augment_on = gr.Checkbox(False, label=ui("augment"))
    with gr.Row():
        patience = components.Slider(1, 20, value=compute.LIMITS["patience"][2], step=1, label=ui("patience"),
                                     elem_id="finetune-patience")
        min_delta = components.Dropdown(MIN_DELTAS, value=compute.LIMITS["min_delta"][2], allow_custom_value=True,
                                        label=ui("min_delta"))
    with gr.Row():
        train_btn = gr.Button(ui("train"), variant="primary", elem_id="finetune-train")
        stop_btn = gr.Button(ui("stop"), variant="stop", elem_id="finetune-stop")
        clear_btn = gr.Button(ui("clear_runs"), size="sm")
    status = gr.Markdown(ui("status_idle"), elem_id="finetune-status")
    curves = gr.Plot(label=ui("curves"), elem_id="finetune-curves")

    gr.Markdown(ui("step5"))
    gr.Markdown(ui("step5_help"))
    with gr.Row():
        with gr.Column():
            continue_btn = gr.Button(ui("continue"), elem_id="finetune-continue")
            confusion = gr.Plot(label=ui("confusion"), elem_id="finetune-confusion")
        with gr.Column():
            gr.Markdown(ui("predict_h"))
            predict_image = components.Image(sources=["upload", "webcam", "clipboard"], label=ui("predict_image"),
                                             height=260, elem_id="finetune-predict-image")
            with gr.Row():
                new_shape_btn = gr.Button(ui("new_shape"), elem_id="finetune-new-shape")
                predict_btn = gr.Button(ui("predict"), variant="primary", elem_id="finetune-predict")
            probs = gr.Label(label=ui("probs"), num_top_classes=N, elem_id="finetune-probs")
            imagenet = gr.Plot(label=ui("imagenet_probs"), elem_id="finetune-imagenet")

    # The worked example as the page opens: the built-in shapes previewed and split, and the pretrained
    # model's freeze and new-layer summaries (both cached, so 30 students get them at once).
    data_inputs = [source, n_classes, per_class, seed, *names, *files, snapshots]
    # Drawing a built-in set takes seconds the first time (then it is cached): the model queue, not the quick one.
    page.on_open(show_data, data_inputs, [gallery, split_md], kind="model")
    events.on(preview_btn.click, show_data, data_inputs, [gallery, split_md], kind="model", cache=True,
              api_name="finetune_data")
    page.on_open(show_backbone, [backbone, n_classes], [freeze, freeze_md, head_md], kind="model")
    events.on(backbone.change, show_backbone, [backbone, n_classes], [freeze, freeze_md, head_md], kind="model",
              cache=True, api_visibility="private")
    events.on([freeze.change, n_classes.change], show_freeze, [backbone, freeze, n_classes], [freeze_md, head_md],
              kind="model", cache=True, api_visibility="private")
    events.on([source.change, n_classes.change], show_source, [source, n_classes], [mine_box, per_class, seed, *columns],
              kind="quick", cache=True, api_visibility="private")

    events.on(snap_add.click, add_snapshot, [snap, snap_class, snapshots], [snapshots, snap_counts], kind="quick",
              api_visibility="private")
    events.on(snap_clear.click, clear_snapshots, None, [snapshots, snap_counts], kind="quick", api_visibility="private")

    train_inputs = [backbone, freeze, epochs, lr, batch, augment_on, patience, min_delta, *data_inputs, session]
    run_outputs = [curves, status, confusion, gallery, split_md]
    events.on(train_btn.click, train_new, train_inputs, run_outputs, kind="training", api_name="finetune")
    events.on(continue_btn.click, train_more, train_inputs, run_outputs, kind="training", api_name="finetune_continue")
    # Not queued: it must get through while the training queue is busy; the run reads the flag every batch.
    events.on(stop_btn.click, stop, [session], None, kind="quick", queue=False, api_name="finetune_stop")
    events.on(clear_btn.click, clear_runs, [session], [curves], kind="quick", api_visibility="private")
    events.on(predict_btn.click, predict, [predict_image, session], [probs, imagenet], kind="model",
              api_name="finetune_predict")
    events.on(new_shape_btn.click, new_shape, [session, n_classes], [predict_image], kind="quick",
              api_visibility="private")
