"""The fine-tuning tab: the data, then the five steps of the notes top to bottom; training streams its curves."""
from __future__ import annotations

from types import SimpleNamespace

import gradio as gr

from core import components, events, teacher
from core.class_results import Collect
from core.text import Problem
from tabs.finetune import compute, view
from tabs.finetune.compute import SETTINGS
from tabs.finetune.text import TEXT

SESSION_TTL_S = 2 * 3600
N = compute.MAX_CLASSES
LEARNING_RATES = [0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03, 0.1]
BATCH_SIZES = [4, 8, 16, 32, 64]
MIN_DELTAS = [0.0, 0.001, 0.005, 0.01, 0.05]
NO_SNAPSHOTS = ((),) * N
CLASS_RUNS_KEPT = 3  # per student, the last runs the teacher's page shows


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
    n = SETTINGS["n_classes"].take(n_classes, notes)
    summary = compute.freeze_summary(cnn, len(compute.body_stages(cnn)), n)
    return (gr.update(maximum=summary.n_stages, value=summary.n_stages), view.freeze_markdown(summary, lang, notes),
            view.head_markdown(summary, lang))


def show_freeze(backbone, n_frozen, n_classes, *, lang: str = "ko"):
    cnn, notes = compute.pretrained(backbone)
    n_frozen = compute.frozen_count(cnn, n_frozen, notes)
    summary = compute.freeze_summary(cnn, n_frozen, SETTINGS["n_classes"].take(n_classes, notes))
    return view.freeze_markdown(summary, lang, notes), view.head_markdown(summary, lang)


def show_source(source, n_classes):
    """Own photos: the class columns (as many as classes); built-in: the shape set's own controls."""
    mine = source == "mine"
    n = SETTINGS["n_classes"].take(n_classes, [])
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
    """The data, then the five steps of the notes top to bottom, then their events."""
    session = gr.State(new_session, time_to_live=SESSION_TTL_S, delete_callback=compute.Session.free)
    data = _data_section()
    model = _model_section()
    training = _training_section()
    results = _results_section()
    previewed = _wire_data_and_model(page, data, model)
    runs = _wire_training(session, data, model, training, results)
    # The teacher mode: the data's and the run's settings go to the class, whose pages show the data at once (the
    # backbone is left out: choosing one resets the freeze slider). Each student presses Train.
    names = ("source", "n_classes", "per_class", "seed", "epochs", "learning_rate", "batch_size", "augment", "patience",
             "min_delta")
    controls = dict(zip(names, data.inputs[:4] + training.settings)) | {"n_frozen": model.freeze}
    page.class_tab(SETTINGS, controls, show=previewed, answers={"class_q1": 1})
    _class_experiment(page, session, runs)


# ---------------------------------------------------------------- the class as the experiment


def last_run(session: compute.Session):
    """The numbers a student's finished run tells the class (None: no finished run)."""
    return compute.class_report(session.runs[-1] if session.runs else None)


def class_figures(reports: list[dict], lang: str):
    """The teacher's two figures of the class's runs: the curves overlaid, and learning rate against best accuracy."""
    return view.class_curves_figure(reports, lang), view.class_lr_figure(reports, lang)


def _class_experiment(page, session, runs: list) -> None:
    """Each finished run reports its numbers to the class; the teacher's page overlays the class's runs (a section
    only the teacher's page shows; its button is a teacher action, checked on the server)."""
    if page.classroom is None:  # the tab built alone, without the app's class
        return
    page.classroom.collect("finetune", Collect(compute.class_run, view.class_summary, view.class_one,
                                               keep=CLASS_RUNS_KEPT))
    for run in runs:
        teacher.report_after(page, run, "finetune", last_run, [session])
    ui = TEXT.ui
    with gr.Accordion(ui("class_h"), open=True, elem_id="finetune-class", elem_classes=["class-teacher-only"]):
        gr.Markdown(ui("class_help"))
        gather = gr.Button(ui("class_gather"), size="sm", elem_id="class-gather-finetune")
        with gr.Row():
            curves = gr.Plot(label=ui("class_curves"), elem_id="finetune-class-curves")
            lr_best = gr.Plot(label=ui("class_lr_best"), elem_id="finetune-class-lr")
    teacher.results_button(page, "finetune", gather, class_figures, [curves, lr_best], api_name="finetune_class_runs")


def _data_section() -> SimpleNamespace:
    """Ready: the data: the built-in shapes' controls, the student's own photos (hidden at first), the preview."""
    ui = TEXT.ui
    gr.Markdown(ui("data_h"))
    with gr.Row():
        source = components.control(SETTINGS["source"], elem_id="finetune-source",
                                    choices=[(ui("source_builtin"), "builtin"), (ui("source_mine"), "mine")])
        n_classes = components.control(SETTINGS["n_classes"], elem_id="finetune-n-classes")
        per_class = components.control(SETTINGS["per_class"], elem_id="finetune-per-class")
        seed = components.control(SETTINGS["seed"], widget="number")
    photos = _photos_section()
    preview_btn = gr.Button(ui("preview"), elem_id="finetune-preview")
    with gr.Row():
        gallery = gr.Gallery(label=ui("gallery"), columns=6, height=300, format="jpeg", scale=3,
                             elem_id="finetune-gallery")
        split_md = gr.Markdown(elem_id="finetune-split")
    inputs = [source, n_classes, per_class, seed, *photos.names, *photos.files, photos.snapshots]
    return SimpleNamespace(source=source, n_classes=n_classes, per_class=per_class, seed=seed, photos=photos,
                           preview_btn=preview_btn, gallery=gallery, split_md=split_md, inputs=inputs)


def _photos_section() -> SimpleNamespace:
    """The student's own classes: a name and photos per class, and webcam snapshots (not settings)."""
    ui = TEXT.ui
    snapshots = gr.State(NO_SNAPSHOTS)
    names, files, columns = [], [], []
    with gr.Group(visible=False) as box:
        with gr.Row():
            for k in range(N):
                with gr.Column(min_width=200, visible=k < SETTINGS["n_classes"].default) as column:
                    columns.append(column)
                    # value "": what the browser sends for an empty box, so the page-open example hits the cache
                    names.append(gr.Textbox("", label=ui("class_name"), placeholder=f"{k + 1}",
                                            elem_id=f"finetune-name-{k}"))
                    files.append(gr.File(file_count="multiple", file_types=["image"], type="filepath",
                                         label=ui("class_files"), elem_id=f"finetune-files-{k}", height=130))
        with gr.Row():
            snap = components.Image(sources=["webcam", "upload"], label=ui("snap"), height=240)
            with gr.Column():
                snap_class = components.control(SETTINGS["snap_class"], widget="dropdown",
                                                choices=[(f"{k + 1}", k) for k in range(N)])
                snap_add = gr.Button(ui("snap_add"))
                snap_clear = gr.Button(ui("snap_clear"), size="sm")
                snap_counts = gr.Markdown()
    return SimpleNamespace(box=box, columns=columns, names=names, files=files, snapshots=snapshots, snap=snap,
                           snap_class=snap_class, snap_add=snap_add, snap_clear=snap_clear, snap_counts=snap_counts)


def _model_section() -> SimpleNamespace:
    """① the pretrained model, ② the stages kept frozen, ③ the new output layer."""
    ui = TEXT.ui
    gr.Markdown(ui("step1"))
    backbone = components.control(SETTINGS["backbone"], widget="dropdown", elem_id="finetune-backbone")
    gr.Markdown(ui("step2"))
    # Its maximum follows the chosen backbone's stages (show_backbone, from the page's opening on).
    freeze = components.control(SETTINGS["n_frozen"], label=ui("freeze"), elem_id="finetune-freeze")
    freeze_md = gr.Markdown(ui("freeze_idle"), elem_id="finetune-freeze-info")
    gr.Markdown(ui("step3"))
    head_md = gr.Markdown(elem_id="finetune-head-info")
    return SimpleNamespace(backbone=backbone, freeze=freeze, freeze_md=freeze_md, head_md=head_md)


def _training_section() -> SimpleNamespace:
    """④ the hyper-parameters, the run's buttons, its status line and its curves."""
    ui = TEXT.ui
    gr.Markdown(ui("step4"))
    with gr.Row():
        epochs = components.control(SETTINGS["epochs"])
        lr = components.control(SETTINGS["learning_rate"], widget="dropdown", choices=LEARNING_RATES,
                                allow_custom_value=True, elem_id="finetune-lr")
        batch = components.control(SETTINGS["batch_size"], widget="dropdown", choices=BATCH_SIZES)
        # A checkbox: components.control makes sliders, numbers, radios and dropdowns only.
        augment_on = gr.Checkbox(SETTINGS["augment"].default, label=ui("augment"))
    with gr.Row():
        patience = components.control(SETTINGS["patience"], elem_id="finetune-patience")
        min_delta = components.control(SETTINGS["min_delta"], widget="dropdown", choices=MIN_DELTAS,
                                       allow_custom_value=True)
    with gr.Row():
        train_btn = gr.Button(ui("train"), variant="primary", elem_id="finetune-train")
        stop_btn = gr.Button(ui("stop"), variant="stop", elem_id="finetune-stop")
        clear_btn = gr.Button(ui("clear_runs"), size="sm")
    status = gr.Markdown(ui("status_idle"), elem_id="finetune-status")
    curves = gr.Plot(label=ui("curves"), elem_id="finetune-curves")
    return SimpleNamespace(settings=[epochs, lr, batch, augment_on, patience, min_delta], train_btn=train_btn,
                           stop_btn=stop_btn, clear_btn=clear_btn, status=status, curves=curves)


def _results_section() -> SimpleNamespace:
    """⑤ the confusion matrix, Continue, and a new picture through the fine-tuned model."""
    ui = TEXT.ui
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
    return SimpleNamespace(continue_btn=continue_btn, confusion=confusion, predict_image=predict_image,
                           new_shape_btn=new_shape_btn, predict_btn=predict_btn, probs=probs, imagenet=imagenet)


def _wire_data_and_model(page, data: SimpleNamespace, model: SimpleNamespace):
    """The data's and the model's events; returns the preview's (it shows the data the settings describe)."""
    # The worked example as the page opens: the built-in shapes previewed and split, and the pretrained
    # model's freeze and new-layer summaries (both cached, so 30 students get them at once).
    # Drawing a built-in set takes seconds the first time (then it is cached): the model queue, not the quick one.
    shown, summaries = [data.gallery, data.split_md], [model.freeze, model.freeze_md, model.head_md]
    page.on_open(show_data, data.inputs, shown, kind="model")
    previewed = events.on(data.preview_btn.click, show_data, data.inputs, shown, kind="model", cache=True,
                          api_name="finetune_data")
    page.on_open(show_backbone, [model.backbone, data.n_classes], summaries, kind="model")
    events.on(model.backbone.change, show_backbone, [model.backbone, data.n_classes], summaries, kind="model",
              cache=True, api_visibility="private")
    events.on([model.freeze.change, data.n_classes.change], show_freeze, [model.backbone, model.freeze, data.n_classes],
              [model.freeze_md, model.head_md], kind="model", cache=True, api_visibility="private")
    photos = data.photos
    events.on([data.source.change, data.n_classes.change], show_source, [data.source, data.n_classes],
              [photos.box, data.per_class, data.seed, *photos.columns], kind="quick", cache=True,
              api_visibility="private")
    events.on(photos.snap_add.click, add_snapshot, [photos.snap, photos.snap_class, photos.snapshots],
              [photos.snapshots, photos.snap_counts], kind="quick", api_visibility="private")
    events.on(photos.snap_clear.click, clear_snapshots, None, [photos.snapshots, photos.snap_counts], kind="quick",
              api_visibility="private")
    return previewed


def _wire_training(session, data: SimpleNamespace, model: SimpleNamespace, training: SimpleNamespace,
                   results: SimpleNamespace) -> list:
    train_inputs = [model.backbone, model.freeze, *training.settings, *data.inputs, session]
    run_outputs = [training.curves, training.status, results.confusion, data.gallery, data.split_md]
    trained = events.on(training.train_btn.click, train_new, train_inputs, run_outputs, kind="training",
                        api_name="finetune")
    continued = events.on(results.continue_btn.click, train_more, train_inputs, run_outputs, kind="training",
                          api_name="finetune_continue")
    # Not queued: it must get through while the training queue is busy; the run reads the flag every batch.
    events.on(training.stop_btn.click, stop, [session], None, kind="quick", queue=False, api_name="finetune_stop")
    events.on(training.clear_btn.click, clear_runs, [session], [training.curves], kind="quick",
              api_visibility="private")
    events.on(results.predict_btn.click, predict, [results.predict_image, session], [results.probs, results.imagenet],
              kind="model", api_name="finetune_predict")
    events.on(results.new_shape_btn.click, new_shape, [session, data.n_classes], [results.predict_image], kind="quick",
              api_visibility="private")
    return [trained, continued]
