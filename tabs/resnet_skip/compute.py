"""Deep networks and the skip connection: the gradient-vanishing problem and ResNet's answer, computed.

Two networks that differ in one thing only. Both: 64 pixels -> Linear to WIDTH numbers -> `depth` equal
blocks -> Linear to 10 digit classes. A block is optionally batch norm, then the activation (sigmoid, tanh or
ReLU), then Linear(WIDTH, WIDTH).
- plain:    h = block(h)          (stacked, this is an ordinary deep MLP: Linear, activation, Linear, ...)
- residual: h = h + block(h)      (the skip connection: the block learns only what to add to h)
Same seed, same starting weights, same batches: the "+ h" is the whole difference. The block ends with its
Linear layer (the "pre-activation" block of ResNet v2) so that what it adds to h has mean zero: with the
sigmoid last, every block would add about 0.5 and h would drift upwards with depth.

1. Gradient norms. On one batch of real digits, backpropagation gives every layer's weight gradient
   dLoss/dW. In the plain network each block multiplies the gradient on its way back by the
   activation's slope (at most 0.25 for the sigmoid) times the block's weights: after 30 blocks almost
   nothing reaches the first layers (the gradient vanishes). In the residual network the "+ h" adds an
   identity path: dh_out/dh_in = I + d block/dh, so the gradient reaches every layer whole.
2. Training. Both networks learn the digits for a few epochs with the same SGD. The plain deep sigmoid
   network barely moves (its early layers receive no signal); the residual one learns.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import torch
from torch import nn

from core import memory, text
from core.values import choice, clamp
from tabs.nn_types import compute as digits_lesson  # the digits, the seeded start, the training loop
from tabs.resnet_skip.text import TEXT

WIDTH = 32
GRADIENT_BATCH = 256  # the one batch whose gradients are shown
LEARNING_RATE = 0.01  # SGD with momentum: a step follows the gradient's size, so a vanished gradient shows.
# (0.05 made the residual tanh/ReLU networks without batch norm diverge at depth 30-50; 0.01 trains them all.)
MOMENTUM = 0.9
BATCH_SIZE = 64
ACTIVATIONS = {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "relu": nn.ReLU}
VARIANTS = ("plain", "residual")

LIMITS = {
    "depth": (5, 50, 30),
    "seed": (0, 10_000, 0),
    "epochs": (1, 30, 10),
}


@dataclasses.dataclass(frozen=True)
class Settings:
    depth: int
    activation: str
    batch_norm: bool
    seed: int


def read_settings(depth, activation, batch_norm, seed) -> tuple[Settings, list[text.Message]]:
    """Settings from controls or an API call: numbers clamped, an unknown activation replaced, with notes."""
    notes: list[text.Message] = []
    values = {}
    for name, value in (("depth", depth), ("seed", seed)):
        low, high, default = LIMITS[name]
        used, note = clamp(value, low, high, default, TEXT.msg(f"name_{name}"), integer=True)
        values[name] = int(used)
        if note is not None:
            notes.append(note)
    activation, note = choice(activation, list(ACTIVATIONS), "sigmoid", TEXT.msg("name_activation"))
    if note is not None:
        notes.append(note)
    return Settings(values["depth"], activation, bool(batch_norm), values["seed"]), notes


def read_epochs(epochs, notes: list[text.Message]) -> int:
    low, high, default = LIMITS["epochs"]
    used, note = clamp(epochs, low, high, default, TEXT.msg("name_epochs"), integer=True)
    if note is not None:
        notes.append(note)
    return int(used)


# ---------------------------------------------------------------- the two networks


class Block(nn.Module):
    """[batch norm] -> activation -> Linear(width, width)."""

    def __init__(self, width: int, activation: str, batch_norm: bool):
        super().__init__()
        self.norm = nn.BatchNorm1d(width) if batch_norm else nn.Identity()
        self.activation = ACTIVATIONS[activation]()
        self.linear = nn.Linear(width, width)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.linear(self.activation(self.norm(h)))


class DeepNet(nn.Module):
    def __init__(self, settings: Settings, residual: bool, width: int = WIDTH):
        super().__init__()
        self.residual = residual
        self.stem = nn.Linear(digits_lesson.N_PIXELS, width)
        self.blocks = nn.ModuleList(Block(width, settings.activation, settings.batch_norm)
                                    for _ in range(settings.depth))
        self.head = nn.Linear(width, digits_lesson.N_CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.stem(x)
        for block in self.blocks:
            h = h + block(h) if self.residual else block(h)  # the skip connection is the "h +"
        return self.head(h)

    def weights(self) -> list[nn.Parameter]:
        """Every layer's weight matrix, from the input (stem) to the output (head)."""
        return [self.stem.weight] + [block.linear.weight for block in self.blocks] + [self.head.weight]


def build(settings: Settings, residual: bool) -> DeepNet:
    """The network with its seeded start: plain and residual get the very same starting weights."""
    net = DeepNet(settings, residual)
    return digits_lesson.seeded_init_(net, digits_lesson.generator(settings.seed, 10))


def gradient_batch(split: digits_lesson.Split, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """GRADIENT_BATCH training digits picked by the seed."""
    idx = torch.randperm(len(split.y_train), generator=digits_lesson.generator(seed, 11))[:GRADIENT_BATCH]
    return split.x_train[idx], split.y_train[idx]


def layer_gradient_norms(net: DeepNet, x: torch.Tensor, y: torch.Tensor) -> tuple[np.ndarray, float]:
    """(Frobenius norm of dLoss/dW for every layer, input to output; the loss) for one batch, by backward().
    The network is in training mode, as in a training step (batch norm uses the batch's statistics)."""
    net.train()
    net.zero_grad(set_to_none=True)
    loss = nn.functional.cross_entropy(net(x), y)
    loss.backward()
    norms = np.array([float(w.grad.norm()) for w in net.weights()])
    net.zero_grad(set_to_none=True)
    return norms, float(loss.detach())


# ---------------------------------------------------------------- 1. gradient norms on one batch


@dataclasses.dataclass(frozen=True)
class Gradients:
    settings: Settings
    plain: np.ndarray  # (depth + 2,) norms, input layer first
    residual: np.ndarray
    plain_loss: float
    residual_loss: float
    batch: int
    notes: tuple[text.Message, ...] = ()

    @property
    def layers(self) -> int:
        return len(self.plain)

    def first_over_last(self, variant: str) -> float:
        """The first layer's gradient norm divided by the last layer's: about 1 when the gradient reaches the
        input side whole, tiny (or 0, below what float32 can hold) when it vanishes on the way."""
        norms = getattr(self, variant)
        return float(norms[0] / norms[-1])


def _gradients(settings: Settings) -> Gradients:
    x, y = gradient_batch(digits_lesson.split_digits(settings.seed), settings.seed)
    plain, plain_loss = layer_gradient_norms(build(settings, residual=False), x, y)
    residual, residual_loss = layer_gradient_norms(build(settings, residual=True), x, y)
    return Gradients(settings, plain, residual, plain_loss, residual_loss, len(y))


def gradient_norms(depth=30, activation="sigmoid", batch_norm=False, seed=0) -> Gradients:
    settings, notes = read_settings(depth, activation, batch_norm, seed)
    return dataclasses.replace(_gradients(settings), notes=tuple(notes))


# ---------------------------------------------------------------- 2. a short training run of both


@dataclasses.dataclass(frozen=True)
class TrainingResult:
    settings: Settings
    epochs: int  # asked for
    epochs_run: int  # run (fewer when the time budget ended the training)
    history: dict[str, list[digits_lesson.EpochStats]]  # variant -> one entry per epoch
    seconds: dict[str, float]
    parameters: int  # the same for both (the skip connection has no weights)
    n_train: int
    n_val: int
    notes: tuple[text.Message, ...] = ()

    @property
    def complete(self) -> bool:
        return self.epochs_run == self.epochs

    def final_acc(self, variant: str) -> float:
        return self.history[variant][-1].val_acc

    def diverged(self, variant: str) -> bool:
        """True when the loss became inf or NaN (the training stopped there)."""
        return not np.isfinite(self.history[variant][-1].train_loss)


def _train_both(settings: Settings, epochs: int, budget_s: float | None) -> TrainingResult:
    """Both networks, epoch by epoch side by side (the same number of epochs even if the budget ends it)."""
    split = digits_lesson.split_digits(settings.seed)
    nets, trainers = {}, {}
    for variant in VARIANTS:
        nets[variant] = build(settings, residual=variant == "residual")
        optimizer = torch.optim.SGD(nets[variant].parameters(), lr=LEARNING_RATE, momentum=MOMENTUM)
        trainers[variant] = digits_lesson.epoch_by_epoch(nets[variant], split, optimizer,
                                                         digits_lesson.generator(settings.seed, 12), BATCH_SIZE)
    side = digits_lesson.train_side_by_side(trainers, epochs, budget_s)
    notes = (digits_lesson.time_budget_note(side, epochs, budget_s),) if side.out_of_time else ()
    return TrainingResult(settings, epochs, side.rounds, side.histories, side.seconds,
                          digits_lesson.count_parameters(nets["plain"]), len(split.y_train), len(split.y_val), notes)


TRAINING_BUDGET_S = digits_lesson.TRAINING_BUDGET_S
# Deterministic per settings when complete: kept for every language and student. A run the time budget
# cut short depends on the machine's load and is not kept.
RUNS = memory.Store("resnet_skip.training", size=memory.nbytes, max_entries=64)


def train_both(depth=30, activation="sigmoid", batch_norm=False, seed=0, epochs=10,
               budget_s: float | None = TRAINING_BUDGET_S) -> TrainingResult:
    """Train the plain and the residual network on the digits. budget_s=None: no time limit."""
    settings, notes = read_settings(depth, activation, batch_norm, seed)
    epochs = read_epochs(epochs, notes)
    result = digits_lesson.kept_when_complete(RUNS, (settings, epochs), lambda: _train_both(settings, epochs, budget_s))
    return dataclasses.replace(result, notes=tuple(notes) + result.notes)
