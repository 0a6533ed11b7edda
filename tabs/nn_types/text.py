"""Every word of the kinds-of-networks lesson, in Korean and English."""
from __future__ import annotations

from core import text

TEXT = text.table("nn_types", {
    "title": ("1. 신경망의 종류", "1. Kinds of networks"),

    # ---- part 1: controls and headers (tab.py)
    "part1": ("### 1부 · MLP와 CNN: 픽셀 순서를 섞으면?\n"
              "진짜 손글씨 숫자 1,797장(8×8)으로 MLP와 CNN을 바로 여기서 학습합니다. "
              "그다음 64개 픽셀의 자리를 한 가지 방식으로 똑같이 섞어 두 신경망을 처음부터 다시 학습합니다.",
              "### Part 1 · MLP and CNN: what if the pixels are shuffled?\n"
              "An MLP and a CNN learn 1,797 real handwritten digits (8x8) right here. "
              "Then the 64 pixel positions of every picture are shuffled the same fixed way, and both networks "
              "learn again from the start."),
    "seed": ("시드 (데이터 나누기·초기 가중치·섞는 순서)", "Seed (split, starting weights, shuffle)"),
    "epochs": ("에포크 수", "Epochs"),
    "train": ("▶ 네 번 학습하기 (약 10초)", "▶ Train all four (about 10 s)"),
    "summary": ("결과", "Result"),
    "curves": ("학습 곡선", "Learning curves"),
    "digits": ("신경망이 보는 숫자", "The digits the networks see"),
    "layers": ("층별 가중치 수", "Weights per layer"),

    # ---- part 2: controls and headers
    "part2": ("### 2부 · RNN과 Transformer: 차례대로 vs 한꺼번에\n"
              "가중치 수가 비슷한 LSTM과 Transformer 인코더 층에 길이가 점점 긴 문장(벡터 열)을 넣고, "
              "이 컴퓨터에서 걸리는 시간과 메모리를 직접 잽니다.",
              "### Part 2 · RNN and Transformer: one step at a time vs all at once\n"
              "An LSTM and a Transformer encoder layer with about the same number of weights read longer and "
              "longer sequences of vectors; time and memory are measured on this computer."),
    "max_length": ("최대 길이 n", "Longest length n"),
    "device": ("장치", "Device"),
    "measure": ("⏱ 시간과 메모리 재기", "⏱ Measure time and memory"),
    "timing_plot": ("길이에 따른 시간과 메모리", "Time and memory against length"),
    "timing_table": ("잰 값", "Measurements"),

    # ---- names of the settings, for notes
    "name_seed": ("시드", "seed"),
    "name_epochs": ("에포크 수", "epochs"),
    "name_max_length": ("최대 길이", "longest sequence"),
    "name_device": ("장치", "device"),

    # ---- part 1: the view
    "arch_mlp": ("MLP", "MLP"),
    "arch_cnn": ("CNN", "CNN"),
    "pixels_original": ("원래 픽셀", "original pixels"),
    "pixels_permuted": ("섞은 픽셀", "shuffled pixels"),
    "run_name": ("{arch} · {pixels}", "{arch} · {pixels}"),
    "val_acc_axis": ("검증 정확도", "Validation accuracy"),
    "train_loss_axis": ("학습 손실 (로그 눈금)", "Training loss (log scale)"),
    "epoch_axis": ("에포크", "epoch"),
    "digit_axis": ("정답 숫자", "true digit"),
    "digits_title": ("위: 스캔한 그대로 · 아래: 같은 숫자의 픽셀을 한 가지 방식으로 섞은 것",
                     "Top: as scanned · bottom: the same digits with their pixels shuffled one fixed way"),
    "row_params": ("가중치 수", "weights"),
    "row_acc_original": ("검증 정확도, 원래 픽셀", "validation accuracy, original pixels"),
    "row_acc_permuted": ("검증 정확도, 섞은 픽셀", "validation accuracy, shuffled pixels"),
    "row_change": ("변화 (%p)", "change (points)"),
    "verdict": ("픽셀을 섞자 MLP는 {mlp}%p, CNN은 {cnn}%p 달라졌습니다. MLP에게 그림은 처음부터 숫자 64개의 목록이라, "
                "순서를 바꿔도 첫 층 가중치의 열 순서만 바뀐 것과 같습니다. CNN의 3×3 커널은 이웃한 픽셀이 함께 "
                "모양을 이룬다고 가정하는데, 섞인 그림에서는 이웃이 서로 상관없는 픽셀이 됩니다.",
                "Shuffling the pixels changed the MLP by {mlp} points and the CNN by {cnn} points. To the MLP a "
                "picture was a list of 64 numbers all along: a new order is only a new order of its first layer's "
                "weight columns. The CNN's 3x3 kernels assume that neighbouring pixels form shapes together; in the "
                "shuffled pictures, neighbours are unrelated pixels."),
    "setup": ("학습 {n_train}장, 검증 {n_val}장, 에포크 {epochs}, 시드 {seed}. 같은 신경망은 원래·섞은 경우 모두 같은 "
              "초기 가중치와 같은 배치 순서로 시작합니다 (Adam, 학습률 {lr}, 배치 {batch}). 네 번 학습에 {seconds}초.",
              "{n_train} training and {n_val} validation digits, {epochs} epochs, seed {seed}. Each network starts "
              "from the same weights with the same batch order in both runs (Adam, learning rate {lr}, batch {batch}). "
              "Four trainings in {seconds} s."),
    "weights": ("가중치", "weights"),
    "total": ("합계", "total"),
    "layers_note": ("가중치 수는 편향(bias)을 포함합니다. ReLU·풀링에는 가중치가 없습니다. CNN은 같은 3×3 커널을 "
                    "그림의 모든 자리에서 다시 쓰기 때문에, 비슷한 가중치 수로 층을 더 쌓을 수 있습니다.",
                    "Weights include the biases. ReLU and pooling have none. The CNN reuses the same 3x3 kernels at "
                    "every position of the picture, so the same number of weights buys it more layers."),

    # ---- part 2: the view
    "model_lstm": ("LSTM", "LSTM"),
    "model_attention": ("어텐션 (인코더 층)", "Attention (encoder layer)"),
    "model_scores": ("어텐션 점수 헤드×n×n개 (float32)", "Attention scores, heads×n×n (float32)"),
    "scores_column": ("점수 헤드×n×n", "scores heads×n×n"),
    "memory": ("메모리", "memory"),
    "time_axis": ("순전파 시간", "Forward time"),
    "memory_axis": ("순전파 중 최대 메모리", "Peak memory of the forward pass"),
    "length_axis": ("길이 n (로그 눈금)", "length n (log scale)"),
    "timing_setup": ("**{device}** (스레드 {threads}개). LSTM 가중치 {lstm}개, 인코더 층 가중치 {attention}개, 배치 1, "
                     "순전파만. 시간은 {repeats}번 잰 것 중 가장 빠른 값입니다. 모두 재는 데 {seconds}초.",
                     "**{device}** (threads: {threads}). LSTM: {lstm} weights, encoder layer: {attention} weights, "
                     "batch 1, forward pass only. Each time is the fastest of {repeats} runs. All measurements took "
                     "{seconds} s."),
    "growth": ("길이가 {first}에서 {last}까지 {length} 늘 때: 시간은 LSTM {lstm_time}, 어텐션 {attention_time}; "
               "메모리는 LSTM {lstm_memory}, 어텐션 {attention_memory}.",
               "From length {first} to {last} ({length}): time grew {lstm_time} for the LSTM and {attention_time} "
               "for attention; memory grew {lstm_memory} for the LSTM and {attention_memory} for attention."),
    "timing_note": ("LSTM은 앞 단계의 상태가 있어야 다음 단계를 계산할 수 있어 n단계를 차례로 밟습니다: 시간이 n에 "
                    "비례합니다. 어텐션은 모든 자리를 한꺼번에 계산하지만 자리마다 다른 모든 자리와 점수를 매기므로 "
                    "점수가 n²개입니다: 길이가 2배면 점수는 4배. 병렬 연산 장치가 많은 GPU에서는 한꺼번에 하는 "
                    "계산이 빨라서 Transformer가 유리하고, 코어가 적은 CPU에서는 n²이 먼저 보입니다. "
                    "CPU 메모리는 PyTorch 프로파일러가 기록한 할당·해제를 시간순으로 더한 최댓값입니다.",
                    "The LSTM needs the previous step's state before it can compute the next step, so it takes its "
                    "n steps one after another: time grows like n. Attention computes every position at once, but "
                    "every position scores every other one: n² scores, so twice the length means four times the "
                    "scores. A GPU, with thousands of parallel units, does the all-at-once work fast, which is where "
                    "the Transformer wins; on a CPU with few cores the n² shows first. CPU memory is the peak of the "
                    "allocations and frees the PyTorch profiler records, added up in time order."),
    "skipped_lengths": ("시간 예산({budget}초) 안에 끝나지 않을 것 같아 길이 {lengths}은(는) 재지 않았습니다.",
                        "Lengths {lengths} were not measured: they would not have finished within the {budget} s "
                        "budget."),
    # the teacher mode's prediction question (core/teacher.py): the right choice is given in tab.py
    "class_q1": ("모든 숫자 그림의 픽셀을 같은 방식으로 섞고 두 신경망을 처음부터 다시 학습합니다. 검증 정확도가 떨어지는 쪽은?",
                 "Every digit's pixels are shuffled the same fixed way and both networks learn again from the start. "
                 "Whose validation accuracy drops?"),
    "class_q1_choices": ("MLP|CNN|둘 다|둘 다 아님",
                         "MLP|CNN|both|neither"),
})
