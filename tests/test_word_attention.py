"""Word attention lesson: the step-by-step attention against PyTorch's own implementations, the encoder's
attention against a recomputation from its query/key projections, bad input, and the views in both
languages (test zoo: DLCLASS_MODELS=tiny)."""
from __future__ import annotations

import math
import string

import numpy as np
import pytest
import torch

import core.zoo.text as text_zoo  # imported by name too: core.models may not list it in ZOO_MODULES yet
from core import models
from core.text import KO, EN, Problem
from tabs.word_attention import compute, view
from tabs.word_attention.text import TEXT

KOREAN = compute.EXAMPLE_KO
ENGLISH = compute.EXAMPLE_EN


@pytest.fixture(scope="module")
def encoder():
    return compute.load_encoder()  # the test zoo's, through the shared loader


def _key(problem: Problem) -> str:
    return problem.message.key.split(".", 1)[1]


def _note_keys(notes) -> list[str]:
    return [note.key.split(".", 1)[1] for note in notes]


# ---------------------------------------------------------------- part 1 against PyTorch


@pytest.mark.parametrize("sentence", [KOREAN, ENGLISH])
@pytest.mark.parametrize("d", [2, 4, 8, 16])
def test_single_head_equals_torch_scaled_dot_product_attention(sentence, d):
    steps = compute.run_steps(sentence, d=d, heads=1)
    q, k, v = (torch.from_numpy(m)[None] for m in (steps.single.q, steps.single.k, steps.single.v))
    expected = torch.nn.functional.scaled_dot_product_attention(q, k, v)[0].numpy()
    np.testing.assert_allclose(steps.single.output, expected, rtol=1e-10, atol=1e-12)
    weights = torch.softmax(q[0] @ k[0].T / math.sqrt(d), dim=-1).numpy()
    np.testing.assert_allclose(steps.single.weights, weights, rtol=1e-10, atol=1e-12)
    # Each step is what its name says: Q = X W_q, scores = Q K^T / sqrt(d).
    np.testing.assert_allclose(steps.single.q, steps.x @ steps.w_q)
    np.testing.assert_allclose(steps.single.scores, steps.single.dot / math.sqrt(d))
    assert steps.torch_max_diff < 1e-12


@pytest.mark.parametrize("d,heads", [(4, 1), (4, 2), (6, 3), (8, 4), (16, 4)])
def test_multi_head_equals_torch_multihead_attention_with_the_same_weights(d, heads):
    steps = compute.run_steps(ENGLISH, d=d, heads=heads)
    assert steps.num_heads == heads
    mha = torch.nn.MultiheadAttention(d, heads, bias=False, batch_first=True, dtype=torch.float64)
    with torch.no_grad():
        # nn.Linear computes x A^T: the in-projection rows are W_q^T, W_k^T, W_v^T stacked.
        mha.in_proj_weight.copy_(torch.from_numpy(np.concatenate([steps.w_q.T, steps.w_k.T, steps.w_v.T])))
        mha.out_proj.weight.copy_(torch.from_numpy(steps.multi.w_o.T))
        x = torch.from_numpy(steps.x)[None]
        output, weights = mha(x, x, x, need_weights=True, average_attn_weights=False)
    np.testing.assert_allclose(steps.multi.output, output[0].numpy(), rtol=1e-9, atol=1e-12)
    for h, head in enumerate(steps.multi.heads):
        np.testing.assert_allclose(head.weights, weights[0, h].numpy(), rtol=1e-9, atol=1e-12)


def test_every_softmax_row_sums_to_one():
    steps = compute.run_steps(KOREAN, d=8, heads=4)
    for weights in [steps.single.weights] + [head.weights for head in steps.multi.heads]:
        np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-12)
        assert (weights > 0).all()


def test_the_same_token_gets_the_same_vector():
    steps = compute.run_steps("the cat and the cat", d=4, heads=2)
    pieces = steps.tokens.pieces
    first, second = pieces.index("the"), len(pieces) - 1 - pieces[::-1].index("the")
    assert first != second
    np.testing.assert_array_equal(steps.x[first], steps.x[second])
    np.testing.assert_allclose(np.sqrt((steps.x**2).mean(axis=1)), 1.0)  # scaled to unit size


def test_token_vectors_come_from_the_encoder_embeddings(encoder):
    steps = compute.run_steps(KOREAN, d=4)
    table = encoder.model.get_input_embeddings().weight.detach().numpy()
    np.testing.assert_allclose(steps.embeddings, table[steps.tokens.ids], rtol=1e-6)
    projected = steps.embeddings @ steps.projection
    np.testing.assert_allclose(steps.x, projected / np.sqrt((projected**2).mean(axis=1, keepdims=True)))


@pytest.mark.parametrize("sentence", [KOREAN, ENGLISH, "딥러닝은 재미있다", "Self-attention looks at every word."])
def test_korean_and_english_tokenize_into_pieces(sentence):
    steps = compute.run_steps(sentence)
    assert steps.tokens.pieces and all(steps.tokens.pieces)
    assert "[UNK]" not in steps.tokens.pieces
    assert len(steps.tokens.ids) == len(steps.tokens.pieces)


def test_seed_changes_the_weights_and_nothing_else():
    a, b = compute.run_steps(KOREAN, seed=1), compute.run_steps(KOREAN, seed=2)
    assert a.tokens.pieces == b.tokens.pieces
    assert not np.allclose(a.w_q, b.w_q)
    c = compute.run_steps(KOREAN, seed=1)
    np.testing.assert_array_equal(a.multi.output, c.multi.output)


# ---------------------------------------------------------------- part 2 against the encoder's own Q and K


def test_encoder_attention_equals_softmax_of_its_own_queries_and_keys(encoder):
    """Hook the query and key projections of every layer, recompute softmax(Q K^T / sqrt(d_head)) per head,
    and compare with the weights the model returned (output_attentions)."""
    captured: dict[tuple[int, str], torch.Tensor] = {}
    hooks = []
    for index, block in enumerate(encoder.model.transformer.layer):
        for name in ("q_lin", "k_lin"):
            def keep(module, inputs, output, index=index, name=name):
                captured[(index, name)] = output.detach()
            hooks.append(getattr(block.attention, name).register_forward_hook(keep))
    try:
        result = compute.encoder_attention(ENGLISH, encoder, use_cache=False)
    finally:
        for hook in hooks:
            hook.remove()
    layers, heads, n, _ = result.attentions.shape
    assert (layers, heads) == (encoder.num_layers, encoder.num_heads)
    assert result.tokens[0] == "[CLS]" and result.tokens[-1] == "[SEP]" and len(result.tokens) == n
    size = encoder.hidden_size // heads
    for layer in range(layers):
        q = captured[(layer, "q_lin")][0].view(n, heads, size).transpose(0, 1)
        k = captured[(layer, "k_lin")][0].view(n, heads, size).transpose(0, 1)
        expected = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(size), dim=-1).numpy()
        np.testing.assert_allclose(result.attentions[layer], expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(result.attentions.sum(axis=-1), 1.0, atol=1e-5)


def test_encoder_run_picks_layer_and_head_and_clamps_them():
    run = compute.run_encoder(KOREAN, layer=2, head=3)
    assert (run.layer, run.head, run.unavailable) == (1, 2, None)
    everything = compute.run_encoder(KOREAN, layer=99, head=-5)
    assert everything.layer == everything.attention.num_layers - 1 and everything.head is None
    assert _note_keys(everything.notes).count("clamped") == 2


def test_encoder_attention_is_cached_per_sentence(encoder):
    first = compute.encoder_attention(KOREAN + " 캐시", encoder)
    assert compute.encoder_attention(KOREAN + " 캐시", encoder) is first
    assert compute.encoder_attention(KOREAN + " 캐시", encoder, use_cache=False) is not first


def test_model_unavailable_reaches_the_user_and_part_one_still_works():
    if models.is_cached(text_zoo.ENCODER):
        pytest.skip("the real weights are in this machine's Hugging Face cache")
    run = compute.run_encoder(ENGLISH, tiny=False)  # offline (conftest), weights absent
    assert isinstance(run.unavailable, models.ModelUnavailable) and run.attention is None
    for lang in ("ko", "en"):
        figures = view.encoder_outputs(run, lang)
        assert "--prefetch distilbert_multilingual" in figures[-1]
        assert view.say_error(run.unavailable, lang) in figures[-1]
    steps = compute.run_steps(ENGLISH, tiny=False)
    assert steps.unavailable is not None and "steps_tiny_tokenizer" in _note_keys(steps.notes)
    assert steps.tokens.pieces and steps.torch_max_diff < 1e-12
    assert steps.unavailable.say("en") in view.explanation(steps, "en")


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize("bad", [None, 123, 4.5, b"bytes", ["a list"], {"a": 1}])
def test_non_text_is_a_problem(bad):
    for run in (compute.run_steps, compute.run_encoder):
        with pytest.raises(Problem) as caught:
            run(bad)
        assert _key(caught.value) == "not_text"


@pytest.mark.parametrize("empty", ["", "   ", "\n\t "])
def test_empty_sentence_is_a_problem(empty):
    for run in (compute.run_steps, compute.run_encoder):
        with pytest.raises(Problem) as caught:
            run(empty)
        assert _key(caught.value) == "empty"


def test_sentence_without_tokens_is_a_problem():
    with pytest.raises(Problem) as caught:
        compute.run_steps("\x00\x01\x02")  # control characters: BERT's normaliser removes them all
    assert _key(caught.value) == "no_tokens"


def test_too_many_tokens_are_cut_with_a_note():
    long = " ".join(["고양이가 앉았다"] * 40)
    steps = compute.run_steps(long)
    assert len(steps.tokens.pieces) == compute.MAX_STEP_TOKENS and steps.tokens.total > compute.MAX_STEP_TOKENS
    assert "cut_tokens" in _note_keys(steps.notes)
    run = compute.run_encoder(long)
    assert len(run.attention.tokens) == compute.MAX_ENCODER_TOKENS
    assert "cut_tokens" in _note_keys(run.notes)


def test_too_many_characters_are_cut_with_a_note():
    steps = compute.run_steps("a" * (compute.MAX_CHARS + 500))
    assert "cut_chars" in _note_keys(steps.notes)


@pytest.mark.parametrize("d,used,note", [("abc", 4, "not_number"), (float("nan"), 4, "not_number"),
                                         (1e400, 16, "clamped"), (-3, 2, "clamped"), (5.4, 5, "rounded")])
def test_d_out_of_range_is_clamped_with_a_note(d, used, note):
    steps = compute.run_steps(ENGLISH, d=d, heads=1)
    assert steps.d == used and steps.x.shape[1] == used
    assert note in _note_keys(steps.notes)


def test_heads_that_do_not_divide_d_become_the_nearest_divisor():
    steps = compute.run_steps(ENGLISH, d=4, heads=3)
    assert steps.num_heads == 2 and len(steps.multi.heads) == 2
    assert "heads_divide" in _note_keys(steps.notes)
    steps = compute.run_steps(ENGLISH, d=7, heads=4)
    assert steps.num_heads == 1


def test_focus_beyond_the_sentence_is_clamped():
    steps = compute.run_steps("hello world", focus=50)
    assert steps.focus == len(steps.tokens.pieces) - 1
    assert "clamped" in _note_keys(steps.notes)


# ---------------------------------------------------------------- views


def test_every_text_has_both_languages_with_the_same_placeholders():
    fields = lambda words: sorted(f for _, f, _, _ in string.Formatter().parse(words) if f)  # noqa: E731
    keys = [k for k in KO if k.startswith("word_attention.")]
    assert "word_attention.title" in keys
    for key in keys:
        assert KO[key].strip() and EN[key].strip(), key
        assert fields(KO[key]) == fields(EN[key]), key


def test_cells_show_the_rounded_numbers_for_small_sentences():
    steps = compute.run_steps(ENGLISH[:20], d=4, heads=2)
    figure = view.scores_figure(steps, "en")
    scores, weights = figure.data
    n = len(steps.tokens.pieces)
    assert n <= view.NUMBERS_UP_TO
    assert [list(row) for row in scores.text] == [[f"{v:.2f}" for v in row] for row in steps.single.scores]
    assert [list(row) for row in weights.text] == [[f"{v:.2f}" for v in row] for row in steps.single.weights]
    np.testing.assert_allclose(np.array(weights.z), steps.single.weights, rtol=1e-6)  # sent as float32


def test_cells_have_numbers_up_to_the_limit_and_none_beyond():
    steps = compute.run_steps(" ".join(["cat"] * 30), d=4)  # cut to the step-by-step maximum
    assert len(steps.tokens.pieces) == compute.MAX_STEP_TOKENS <= view.NUMBERS_UP_TO
    assert view.scores_figure(steps, "en").data[0].text is not None
    run = compute.run_encoder(" ".join(["cat"] * 30))
    assert len(run.attention.tokens) > view.NUMBERS_UP_TO
    assert view.matrix_figure(run, "en").data[0].text is None
    short = compute.run_encoder("cat")
    np.testing.assert_array_equal(view.matrix_figure(short, "en").data[0].text,
                                  [[f"{v:.2f}" for v in row] for row in short.attention.attentions[0].mean(axis=0)])


def test_steps_outputs_in_both_languages():
    steps = compute.run_steps(KOREAN, d=4, heads=2, focus=2)
    korean, english = view.steps_outputs(steps, "ko"), view.steps_outputs(steps, "en")
    assert len(korean) == 7
    for piece in steps.tokens.pieces:
        assert piece in korean[0] and piece in english[0]
    assert "단계" in korean[-1] and "Step" in english[-1]
    assert f"'{steps.tokens.pieces[1]}'" in korean[-1]  # the worked token is the one asked for
    assert korean[5].layout.title.text != english[5].layout.title.text
    assert len([t for t in korean[5].data if t.type == "heatmap"]) == steps.num_heads + 1


def _segments(figure) -> int:
    return sum(list(trace.x).count(None) for trace in figure.data if trace.mode == "lines" and trace.x[0] is not None)


def test_head_view_draws_a_line_for_every_weight_worth_seeing():
    run = compute.run_encoder(ENGLISH, layer=1, head=2)
    matrix = run.attention.attentions[0, 1]
    figure = view.head_view_figure(run, "en")
    assert _segments(figure) == int((matrix >= view.LINE_LEVELS[0]).sum())
    widths = [t.line.width for t in figure.data if t.mode == "lines" and t.x[0] is not None]
    assert widths == sorted(widths)  # bins are drawn light to heavy: heavier weight, thicker line
    every = compute.run_encoder(ENGLISH, layer=1, head=0)
    all_layer = every.attention.attentions[0]
    assert _segments(view.head_view_figure(every, "en")) == int((all_layer >= view.LINE_LEVELS[0]).sum())
    labels = [t for t in figure.data if t.mode == "markers+text"]
    assert [list(t.text) for t in labels] == [run.attention.tokens] * 2


def test_the_link_names_the_vit_tab_by_its_own_title():
    """The lesson names the ViT tab in its own words (tabs never import each other): they must stay its title."""
    from tabs.vit_attention.text import TEXT as VIT_TEXT

    assert TEXT.both("vit_title") == VIT_TEXT.both("title")


def test_encoder_outputs_in_both_languages_link_to_the_vit_tab():
    run = compute.run_encoder(KOREAN, layer=2, head=0)
    for lang, vit in (("ko", "6. ViT 어텐션"), ("en", "6. ViT attention")):
        head_view, matrix, grid, markdown = view.encoder_outputs(run, lang)
        assert vit in markdown
        assert TEXT.say(lang, "encoder_random") in markdown  # the test zoo says its weights are random
        heatmaps = [t for t in grid.data if t.type == "heatmap"]
        assert len(heatmaps) == run.attention.num_heads
        np.testing.assert_allclose(np.array(matrix.data[0].z), run.attention.attentions[1].mean(axis=0), rtol=1e-6)
