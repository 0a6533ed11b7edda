"""The ViT-attention tab: photo and model on the left, the numbered patches beside them, then the token
sequence, position embeddings, attention (layer, head, patch) and the prediction beside the CNN's Grad-CAM.

A new photo (the button, an example, an upload) or another model runs the forward pass (kind "model");
choosing another layer, head or patch only draws from the stored forward pass of that photo (kind "quick").
"""
from __future__ import annotations

import gradio as gr

from core import components, events
from core.page import initial_input
from core.zoo import vit as vit_zoo
from tabs.vit_attention import compute, view
from tabs.vit_attention.settings import SETTINGS
from tabs.vit_attention.text import TEXT

# Model names are proper names: the same in both languages.
MODEL_CHOICES = [("DeiT-Tiny (facebook/deit-tiny-patch16-224)", "deit_tiny"),
                 ("ViT-Base (google/vit-base-patch16-224)", "vit_base")]
MAIN_OUTPUTS = 13  # info, 9 pictures, the top-5, and the layer/head/patch controls


def _controls(analysis: compute.Analysis, lang: str) -> tuple:
    """The layer, head and patch controls fitted to the model that ran, showing the choice used."""
    forward, choice = analysis.forward, analysis.choice
    return (gr.update(minimum=1, maximum=forward.num_layers, value=choice.layer),
            gr.update(choices=view.head_choices(forward.num_heads, lang), value=choice.head_value),
            gr.update(minimum=0, maximum=forward.num_patches - 1, value=choice.patch))


def vit_attention(image, model_name, layer=None, head=compute.MEAN_HEAD, patch=None, *, lang: str = "ko"):
    """Main event (API `vit_attention`): the photo through the ViT, every panel of the tab."""
    vit = compute.load_vit(model_name)
    analysis = compute.analyse(vit, image, layer, head, patch)
    photo, chosen = view.photo_panels(analysis, lang), view.choice_panels(analysis, lang)
    return (chosen["info"], chosen["patches"], photo["strip"], chosen["pos_one"], photo["pos_all"], chosen["cls"],
            chosen["rollout"], chosen["patch_attention"], chosen["heads"], photo["top5"], *_controls(analysis, lang))


def photo_changed(image, model_name, layer, head, patch, *, lang: str = "ko"):
    """A new photo in the input (an example, an upload) or another model: the main event; nothing when the
    photo was cleared (clearing is not a mistake to report)."""
    if image is None:
        return tuple(gr.skip() for _ in range(MAIN_OUTPUTS))
    return vit_attention(image, model_name, layer, head, patch, lang=lang)


def redraw(image, model_name, layer, head, patch, *, lang: str = "ko"):
    """Another layer, head or patch: the stored forward pass of this photo, drawn again for the new choice."""
    if image is None:
        return tuple(gr.skip() for _ in range(7))
    analysis = compute.analyse(compute.load_vit(model_name), image, layer, head, patch)
    chosen = view.choice_panels(analysis, lang)
    return (chosen["info"], chosen["patches"], chosen["pos_one"], chosen["cls"], chosen["rollout"],
            chosen["patch_attention"], chosen["heads"])


def patch_picker(side: int):
    """A .select handler for a picture drawn at view.display_scale(image_size, side): the click picks a patch."""

    def pick_patch(model_name, evt: gr.SelectData):
        vit = compute.load_vit(model_name)
        rows, cols = vit.grid
        height, width = view.picture_size(vit.image_size, side)
        x, y = (evt.index or [0, 0])[:2]
        return compute.patch_at(float(x), float(y), rows, cols, height, width)

    return pick_patch


def reset_controls(model_name, *, lang: str = "ko"):
    """Another model: its own numbers of layers, heads and patches (known without loading it)."""
    name = compute.check_model_name(model_name)
    layers, heads, num_patches = vit_zoo.model_shape(name)
    side = round(num_patches ** 0.5)
    return (gr.update(minimum=1, maximum=layers, value=layers),
            gr.update(choices=view.head_choices(heads, lang), value=compute.MEAN_HEAD),
            gr.update(minimum=0, maximum=num_patches - 1, value=compute.middle_patch(side, num_patches // side)))


def cnn_beside(image, *, lang: str = "ko"):
    """The CNN lesson's Grad-CAM and top-5 for the same photo."""
    if image is None:
        return gr.skip(), gr.skip(), gr.skip()
    panels = view.cnn_panels(compute.cnn_gradcam(image), lang)
    return panels["gradcam"], panels["top5"], panels["note"]


def _photo_section(default_model: str) -> dict:
    """The photo, the model and the examples on the left; the numbered patches beside them; the token strip."""
    ui = TEXT.ui
    with gr.Row():
        with gr.Column(scale=1):
            image = components.Image(value=str(compute.FIRST_EXAMPLE), label=ui("image"),
                                     sources=["upload", "clipboard", "webcam"], height=300, elem_id="vit-input")
            model = components.Dropdown(MODEL_CHOICES, value=default_model, label=ui("model"), elem_id="vit-model")
            run = gr.Button(ui("run"), variant="primary", elem_id="vit-run")
            photos = compute.example_photos()
            gr.Examples([[str(p)] for p in photos], inputs=[image], label=ui("examples"))
            info = gr.Markdown(elem_id="vit-info")
        with gr.Column(scale=2):
            # Titles above (not over) these pictures: an overlaid label would hide the first row of numbers.
            gr.Markdown(ui("patches"))
            patches = components.image_output(show_label=False, elem_id="vit-patches", height=560)
    gr.Markdown(ui("strip"))
    strip = components.image_output(show_label=False, elem_id="vit-strip")
    return dict(image=image, model=model, run=run, photos=photos, info=info, patches=patches, strip=strip)


def _position_section(num_patches: int) -> dict:
    """The patch picker and the position embeddings: of the chosen patch, and of every patch."""
    ui = TEXT.ui
    side = round(num_patches ** 0.5)
    gr.Markdown(ui("pos_header"))
    with gr.Row():
        patch = components.Slider(0, num_patches - 1, value=compute.middle_patch(side, num_patches // side), step=1,
                                  label=ui("patch"), elem_id="vit-patch")
    with gr.Row():
        # Flat colour blocks with sharp edges: PNG keeps them crisp (and small).
        pos_one = components.image_output(label=ui("pos_one"), format="png", buttons=[], elem_id="vit-pos-one")
        pos_all = components.image_output(label=ui("pos_all"), format="png", elem_id="vit-pos-all")
    return dict(patch=patch, pos_one=pos_one, pos_all=pos_all)


def _attention_section(layers: int, heads_count: int) -> dict:
    """The layer and head pickers, then what [CLS] attends to, the rollout, the chosen patch's attention and
    every head of the layer."""
    ui = TEXT.ui
    gr.Markdown(ui("attn_header"))
    with gr.Row():
        layer = components.Slider(1, layers, value=layers, step=1, label=ui("layer"), elem_id="vit-layer")
        head = components.Dropdown([(ui("head_mean"), compute.MEAN_HEAD)] + [(str(h), str(h)) for h in
                                                                            range(1, heads_count + 1)],
                                   value=compute.MEAN_HEAD, label=ui("head"), elem_id="vit-head")
    with gr.Row():
        cls_attention = components.image_output(label=ui("cls_attn"), buttons=[], elem_id="vit-cls")
        rollout = components.image_output(label=ui("rollout"), buttons=[], elem_id="vit-rollout")
        patch_attention = components.image_output(label=ui("patch_attn"), buttons=[], elem_id="vit-patch-attn")
    heads = components.image_output(label=ui("heads"), elem_id="vit-heads")
    return dict(layer=layer, head=head, cls=cls_attention, rollout=rollout, patch_attention=patch_attention,
                heads=heads)


def _prediction_section() -> dict:
    """The ViT's top-5 beside the CNN's Grad-CAM and top-5 of the same photo."""
    ui = TEXT.ui
    gr.Markdown(ui("pred_header"))
    with gr.Row():
        with gr.Column(scale=1):
            # a fixed height: the caption below stays in place while the picture loads (no text over text)
            gradcam = components.image_output(label=ui("gradcam"), buttons=[], elem_id="vit-gradcam", height=240)
            cnn_note = gr.Markdown(elem_id="vit-cnn-note")
        with gr.Column(scale=2):  # wide: Korean class names carry their English names beside them
            top5 = gr.Plot(label=ui("top5"), elem_id="vit-top5")
            cnn_top = gr.Plot(label=ui("cnn_top"), elem_id="vit-cnn-top5")
    return dict(top5=top5, cnn_outputs=[gradcam, cnn_top, cnn_note])


def build(page) -> None:
    default_model = vit_zoo.default_vit_name()
    layers, heads_count, num_patches = vit_zoo.model_shape(default_model)
    photo = _photo_section(default_model)
    position = _position_section(num_patches)
    attention = _attention_section(layers, heads_count)
    prediction = _prediction_section()
    image, model, patches = photo["image"], photo["model"], photo["patches"]
    layer, head, patch = attention["layer"], attention["head"], position["patch"]
    patch_attention = attention["patch_attention"]

    inputs = [image, model, layer, head, patch]
    everything = [photo["info"], patches, photo["strip"], position["pos_one"], position["pos_all"], attention["cls"],
                  attention["rollout"], patch_attention, attention["heads"], prediction["top5"], layer, head, patch]
    for_a_choice = [photo["info"], patches, position["pos_one"], attention["cls"], attention["rollout"],
                    patch_attention, attention["heads"]]
    cnn_outputs = prediction["cnn_outputs"]
    private = dict(api_visibility="private")

    main = events.on(photo["run"].click, vit_attention, inputs, everything, kind="model", cache=True,
                     api_name="vit_attention")
    # The teacher mode: the model, layer, head and patch go to the class (the photo stays each page's).
    page.class_tab(SETTINGS, {"model": model, "layer": layer, "head": head, "patch": patch}, show=main,
                   answers={"class_q1": 1})
    changed = events.on(image.change, photo_changed, inputs, everything, kind="model", cache=True, **private)
    for then in (main.success, changed.success):
        cnn = events.on(then, cnn_beside, [image], cnn_outputs, kind="model", cache=True, **private)
    # Another layer, head or patch: drawing only (the photo's forward pass is in the store).
    events.on([layer.release, head.input, patch.release], redraw, inputs, for_a_choice, kind="quick", cache=True,
              **private)
    for picture, picture_side in ((patches, view.GRID_SIDE), (patch_attention, view.DISPLAY_SIDE)):
        picked = events.on(picture.select, patch_picker(picture_side), [model], [patch], kind="quick", **private)
        events.on(picked.success, redraw, inputs, for_a_choice, kind="quick", cache=True, **private)
    # Another model: its own sliders, then the same photo through it (when there is a photo).
    switched = events.on(model.input, reset_controls, [model], [layer, head, patch], kind="quick", cache=True,
                         **private)
    events.on(switched.success, photo_changed, inputs, everything, kind="model", cache=True, **private)

    # The worked example when the page opens (the first example photo), and every example photo ready.
    page.on_open(vit_attention, inputs, everything, kind="model")
    page.on_open(cnn_beside, [image], cnn_outputs, kind="model")
    settings = [initial_input(c) for c in (model, layer, head, patch)]
    for example in photo["photos"]:
        page.warm(changed, str(example), *settings)
        page.warm(cnn, str(example))
