"""Word attention lesson: the step-by-step part and the encoder part, on the real encoder architecture
(distilbert-base-multilingual-cased: 6 layers x 12 heads, 768 dimensions, 119,547-piece vocabulary)
built from its config with random weights, so no download is needed; the compute does not depend on the
weight values. The tokenizer is the test zoo's (its ids fit the real vocabulary).

Rows: part 1 (kind "quick") compute alone and the whole event with its figures; part 2 (kind "model")
the forward pass alone and the whole event, for the example sentence and for the longest input
(64 tokens); the whole Run button (both events one after the other, the worst case); and the size of
the figures sent to the browser. Target for every button: <= 10 s on a 2-core CPU.
"""
from __future__ import annotations

import time

import torch

from bench.common import median_ms, row, single_thread_cpu_ms
from core.zoo import text as text_zoo
from tabs.word_attention import compute, view

TAB = "word_attention"
LONG = " ".join([compute.EXAMPLE_KO, compute.EXAMPLE_EN] * 6)  # cut to the 64-token maximum


def rows() -> list[dict]:
    started = time.perf_counter()
    encoder = text_zoo.build_real_architecture()
    build_s = time.perf_counter() - started
    out = []

    def steps_compute():
        compute.run_steps(compute.EXAMPLE_KO, d=4, heads=2, encoder=encoder)

    def steps_event():
        view.steps_outputs(compute.run_steps(compute.EXAMPLE_KO, d=4, heads=2, encoder=encoder), "ko")

    n_steps = len(compute.run_steps(compute.EXAMPLE_KO, encoder=encoder).tokens.pieces)
    compute_ms = median_ms(steps_compute, runs=9, warmup=2)
    event_ms = median_ms(steps_event, runs=7, warmup=2)
    out.append(row(TAB, f"part 1 step by step, compute only ({n_steps} tokens, d=4, 2 heads, torch check)",
                   compute_ms, "ms", "<= 100 ms (quick)"))
    out.append(row(TAB, "part 1 whole event: compute + 5 figures + worked example", event_ms, "ms",
                   "<= 10 s", baseline=compute_ms, baseline_what="compute only"))

    encoder_totals = {}
    for label, sentence in (("example", compute.EXAMPLE_EN), ("longest", LONG)):
        ids = [encoder.tokenizer.cls_token_id,
               *encoder.tokenizer.convert_tokens_to_ids(encoder.tokenizer.tokenize(sentence)[:compute.MAX_ENCODER_TOKENS - 2]),
               encoder.tokenizer.sep_token_id]
        tokens = torch.tensor([ids])

        def forward_only():
            with torch.inference_mode():
                encoder.model(input_ids=tokens, output_attentions=True)

        def encoder_event():
            run = compute.run_encoder(sentence, layer=3, head=0, encoder=encoder, use_cache=False)
            view.encoder_outputs(run, "en")

        forward_ms = median_ms(forward_only, runs=9, warmup=2)
        total_ms = median_ms(encoder_event, runs=7, warmup=2)
        encoder_totals[label] = total_ms
        out.append(row(TAB, f"part 2 encoder, {label} sentence ({len(ids)} tokens, every head drawn): forward "
                            "+ head view + matrix + 12 heads", total_ms, "ms", "<= 10 s",
                       baseline=forward_ms, baseline_what="forward with attentions only"))
        run = compute.run_encoder(sentence, layer=3, head=0, encoder=encoder)
        kilobytes = sum(len(f.to_json()) for f in view.encoder_outputs(run, "en")[:3]) / 1e3
        out.append(row(TAB, f"part 2 figures sent to the browser, {label} sentence ({len(ids)} tokens)",
                       kilobytes, "KB"))

    out.append(row(TAB, "whole Run button: part 1 (at most 16 tokens) + part 2 on the longest input, one after the other",
                   event_ms + encoder_totals["longest"], "ms", "<= 10 s"))

    def whole_button():  # the longest input: part 1 cuts it to its 16 tokens, part 2 to 64
        view.steps_outputs(compute.run_steps(LONG, d=4, heads=2, encoder=encoder), "ko")
        view.encoder_outputs(compute.run_encoder(LONG, layer=3, head=0, encoder=encoder, use_cache=False), "ko")

    out.append(row(TAB, "the same, CPU time on 1 torch thread (hardly moved by other load on the machine)",
                   single_thread_cpu_ms(whole_button), "ms", "<= 10 s"))
    out.append(row(TAB, "building the real architecture with random weights (once per bench, not per click)",
                   build_s * 1000, "ms"))
    print(f"word_attention: {torch.get_num_threads()} torch threads; real architecture built in {build_s:.1f} s")
    return out


