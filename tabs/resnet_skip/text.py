"""Every word of the deep-networks-and-skip-connections lesson, in Korean and English."""
from __future__ import annotations

from core import text

TEXT = text.table("resnet_skip", {
    "title": ("4. 스킵 연결 (ResNet)", "4. Skip connections (ResNet)"),

    # ---- controls and headers (tab.py)
    "setup_h": ("### 두 신경망, 차이는 한 가지\n"
                "둘 다 픽셀 64개 → 32개로 줄이는 층 → 똑같은 블록 여러 개 → 숫자 10개로 가는 층입니다. "
                "블록 하나는 (배치 정규화) → 활성화 함수 → `Linear(32→32)`. **일반** 신경망은 `h = 블록(h)`, "
                "**잔차(ResNet)** 신경망은 `h = h + 블록(h)`: 블록을 건너뛰는 길(스킵 연결)이 하나 더 있습니다. "
                "시드가 같으면 시작 가중치도 똑같습니다.",
                "### Two networks, one difference\n"
                "Both are: 64 pixels → a layer down to 32 numbers → several identical blocks → a layer to the 10 "
                "digits. A block is (batch norm) → activation → `Linear(32→32)`. The **plain** network does "
                "`h = block(h)`, the **residual (ResNet)** one `h = h + block(h)`: one more path that goes around "
                "the block (the skip connection). With the same seed, both start from the very same weights."),
    "depth": ("블록 수 (깊이)", "Blocks (depth)"),
    "activation": ("활성화 함수", "Activation"),
    "act_sigmoid": ("시그모이드 (sigmoid)", "Sigmoid"),
    "act_tanh": ("tanh", "Tanh"),
    "act_relu": ("ReLU", "ReLU"),
    "batch_norm": ("배치 정규화 (batch norm)", "Batch norm"),
    "seed": ("시드 (시작 가중치·배치)", "Seed (starting weights, batches)"),
    "epochs": ("에포크 수", "Epochs"),
    "gradients_h": ("### 1. 층마다 받는 기울기\n"
                    "숫자 256장 한 묶음으로 손실을 계산하고 역전파해서, 층마다 가중치 기울기의 크기(노름)를 잽니다. "
                    "설정을 바꾸면 바로 다시 계산합니다.",
                    "### 1. The gradient each layer receives\n"
                    "One batch of 256 digits: the loss, backpropagation, and the size (norm) of every layer's "
                    "weight gradient. It recomputes as soon as a setting changes."),
    "gradients_plot": ("층별 기울기 크기 (로그 눈금)", "Gradient size per layer (log scale)"),
    "training_h": ("### 2. 짧게 학습해 보기\n같은 데이터, 같은 배치 순서, 같은 SGD로 두 신경망을 학습합니다.",
                   "### 2. A short training run\nBoth networks learn with the same data, batch order and SGD."),
    "train": ("▶ 두 신경망 학습하기", "▶ Train both networks"),
    "training_plot": ("학습 곡선", "Learning curves"),
    "training_summary": ("결과", "Result"),

    # ---- names of the settings, for notes
    "name_depth": ("블록 수", "depth"),
    "name_seed": ("시드", "seed"),
    "name_epochs": ("에포크 수", "epochs"),
    "name_activation": ("활성화 함수", "activation"),
    "name_batch_norm": ("배치 정규화", "batch norm"),

    # ---- the view
    "variant_plain": ("일반", "plain"),
    "variant_residual": ("잔차 (스킵 연결)", "residual (skip connection)"),
    "layer_axis": ("층 (1 = 입력 쪽, 오른쪽 끝 = 출력 층)", "layer (1 = input side, far right = output layer)"),
    "grad_axis": ("‖∂손실/∂W‖", "‖∂loss/∂W‖"),
    "gradients_title": ("블록 {depth}개, {activation}{bn} · 첫 층 기울기 ÷ 마지막 층 기울기: 일반 {plain}, 잔차 {residual}",
                        "{depth} blocks, {activation}{bn} · first layer's gradient ÷ last layer's: plain {plain}, "
                        "residual {residual}"),
    "zero_layers": ("일반 신경망의 {count}개 층은 기울기가 정확히 0입니다 (float32로 나타낼 수 있는 가장 작은 수보다 "
                    "작아졌습니다). 로그 눈금에는 0을 그릴 수 없어 빠져 있습니다.",
                    "{count} layers of the plain network got a gradient of exactly 0 (smaller than the smallest "
                    "number float32 can hold). A log axis cannot show 0, so they are left out."),
    "zero_layers_residual": ("잔차 신경망의 {count}개 층은 기울기가 정확히 0입니다.",
                             "{count} layers of the residual network got a gradient of exactly 0."),
    "with_bn": (" + 배치 정규화", " + batch norm"),
    "gradients_note": ("일반 신경망에서는 기울기가 블록을 하나 거꾸로 지날 때마다 활성화 함수의 기울기(시그모이드는 최대 "
                       "0.25)와 가중치가 곱해져 입력 쪽으로 갈수록 작아집니다: 기울기 소실. 잔차 신경망은 "
                       "`h + 블록(h)`의 `h`를 따라 기울기가 그대로(×1) 돌아오는 길이 있어서 앞쪽 층도 기울기를 "
                       "받습니다. 손실: 일반 {plain_loss}, 잔차 {residual_loss} (배치 {batch}장).",
                       "In the plain network, each block the gradient passes on its way back multiplies it by the "
                       "activation's slope (at most 0.25 for the sigmoid) and by the block's weights, so it shrinks "
                       "towards the input: the vanishing gradient. In the residual network the `h` of "
                       "`h + block(h)` brings the gradient back unchanged (×1), so the early layers receive it too. "
                       "Loss: plain {plain_loss}, residual {residual_loss} (batch of {batch})."),
    "plain_vanishes": ("지금 일반 신경망의 첫 층은 마지막 층보다 기울기가 {orders}자리({times}배) 작습니다: 이 층들은 "
                       "거의 배우지 못합니다.",
                       "Here the plain network's first layer gets a gradient {orders} orders of magnitude ({times} "
                       "times) smaller than its last layer: those layers barely learn."),
    "plain_vanishes_zero": ("지금 일반 신경망의 첫 층에는 기울기가 하나도 도착하지 않습니다 (정확히 0): 이 층은 전혀 "
                            "배우지 못합니다.",
                            "Here no gradient at all reaches the plain network's first layer (exactly 0): it cannot "
                            "learn anything."),
    "plain_explodes": ("지금 일반 신경망에서는 반대로 기울기가 입력 쪽으로 갈수록 커집니다({times}배, 기울기 폭주). "
                       "배치 정규화를 쌓은 깊은 일반 신경망에서 생기는 일로, 이것도 학습을 불안정하게 합니다.",
                       "Here the plain network's gradient grows towards the input instead ({times} times: an "
                       "exploding gradient). Deep plain networks with batch norm do this; it makes training unstable "
                       "too."),
    "val_acc_axis": ("검증 정확도", "Validation accuracy"),
    "train_loss_axis": ("학습 손실", "Training loss"),
    "epoch_axis": ("에포크", "epoch"),
    "training_table": ("| | 일반 | 잔차 |\n|---|---:|---:|\n"
                       "| 마지막 검증 정확도 | {plain_acc} | {residual_acc} |\n"
                       "| 마지막 학습 손실 | {plain_loss} | {residual_loss} |\n"
                       "| 학습 시간 | {plain_s}초 | {residual_s}초 |",
                       "| | plain | residual |\n|---|---:|---:|\n"
                       "| final validation accuracy | {plain_acc} | {residual_acc} |\n"
                       "| final training loss | {plain_loss} | {residual_loss} |\n"
                       "| training time | {plain_s} s | {residual_s} s |"),
    "training_setup": ("블록 {depth}개, {activation}{bn}, 가중치 {params}개 (둘 다 같음: 스킵 연결에는 가중치가 "
                       "없습니다). 학습 {n_train}장, 검증 {n_val}장, 에포크 {epochs}, SGD 학습률 {lr}·모멘텀 {momentum}, "
                       "배치 {batch}, 시드 {seed}. 손글씨 숫자 10종류라 찍기만 하면 정확도는 약 10%입니다.",
                       "{depth} blocks, {activation}{bn}, {params} weights (the same for both: a skip connection "
                       "has no weights). {n_train} training and {n_val} validation digits, {epochs} epochs, SGD "
                       "with learning rate {lr} and momentum {momentum}, batch {batch}, seed {seed}. There are 10 digits, so "
                       "guessing gets about 10%."),
    "diverged": ("{variant} 신경망의 손실이 무한대/NaN이 되어 그 에포크에서 멈췄습니다.",
                 "The {variant} network's loss became inf/NaN; its training stopped at that epoch."),
    # the teacher mode's prediction question (core/teacher.py): the right choice is given in tab.py
    "class_q1": ("시그모이드 층 30개를 쌓은 두 신경망이 숫자를 학습합니다. 학습이 되는 쪽은?",
                 "Two networks of 30 sigmoid layers learn the digits. Which one learns?"),
    "class_q1_choices": ("일반 신경망|잔차 신경망 (스킵 연결)|둘 다|둘 다 아님",
                         "the plain network|the residual network (skip connections)|both|neither"),
})
