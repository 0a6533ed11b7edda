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

from core import digits, memory, text, values
from tabs.resnet_skip.text import TEXT

WIDTH = 32
GRADIENT_BATCH = 256  # the one batch whose gradients are shown
LEARNING_RATE = 0.01  # SGD with momentum: a step follows the gradient's size, so a vanished gradient shows.
# (0.05 made the residual tanh/ReLU networks without batch norm diverge at depth 30-50; 0.01 trains them all.)
MOMENTUM = 0.9
BATCH_SIZE = 64
ACTIVATIONS = {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "relu": nn.ReLU}
VARIANTS = ("plain", "residual")

# Every number and choice a student (or an API caller) sets in this tab, declared once.
SETTINGS = values.settings(
    values.Setting("depth", TEXT.msg("name_depth"), default=30, low=5, high=50, integer=True),
    values.Setting("activation", TEXT.msg("name_activation"), default="sigmoid", choices=tuple(ACTIVATIONS)),
    values.Setting("batch_norm", TEXT.msg("name_batch_norm"), default=False, choices=(False, True)),
    values.Setting("seed", TEXT.msg("name_seed"), default=0, low=0, high=10_000, integer=True),
    values.Setting("epochs", TEXT.msg("name_epochs"), default=10, low=1, high=30, integer=True),
)


@dataclasses.dataclass(frozen=True)
class Networks:
    """What both networks of one request are built from (the training's settings but the epochs)."""

    depth: int
    activation: str
    batch_norm: bool
    seed: int


def read_networks(depth, activation, batch_norm, seed) -> tuple[Networks, list[text.Message]]:
    """The networks' settings from controls or an API call: numbers clamped, unknown choices replaced, with notes."""
    notes: list[text.Message] = []
    depth = SETTINGS["depth"].take(depth, notes)
    seed = SETTINGS["seed"].take(seed, notes)
    activation = SETTINGS["activation"].take(activation, notes)
    batch_norm = bool(SETTINGS["batch_norm"].take(batch_norm, notes))
    return Networks(depth, activation, batch_norm, seed), notes


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
    def __init__(self, settings: Networks, residual: bool, width: int = WIDTH):
        super().__init__()
        self.residual = residual
        self.stem = nn.Linear(digits.N_PIXELS, width)
        self.blocks = nn.ModuleList(Block(width, settings.activation, settings.batch_norm)
                                    for _ in range(settings.depth))
        self.head = nn.Linear(width, digits.N_CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.stem(x)
        for block in self.blocks:
            h = h + block(h) if self.residual else block(h)  # the skip connection is the "h +"
        return self.head(h)

    def weights(self) -> list[nn.Parameter]:
        """Every layer's weight matrix, from the input (stem) to the output (head)."""
        return [self.stem.weight] + [block.linear.weight for block in self.blocks] + [self.head.weight]


def build(settings: Networks, residual: bool) -> DeepNet:
    """The network with its seeded start: plain and residual get the very same starting weights."""
    net = DeepNet(settings, residual)
    return digits.seeded_init_(net, digits.generator(settings.seed, 10))


def gradient_batch(split: digits.Split, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """GRADIENT_BATCH training digits picked by the seed."""
    idx = torch.randperm(len(split.y_train), generator=digits.generator(seed, 11))[:GRADIENT_BATCH]
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
    settings: Networks
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


def _gradients(settings: Networks) -> Gradients:
    x, y = gradient_batch(digits.split_digits(settings.seed), settings.seed)
    plain, plain_loss = layer_gradient_norms(build(settings, residual=False), x, y)
    residual, residual_loss = layer_gradient_norms(build(settings, residual=True), x, y)
    return Gradients(settings, plain, residual, plain_loss, residual_loss, len(y))


def gradient_norms(depth=30, activation="sigmoid", batch_norm=False, seed=0) -> Gradients:
    settings, notes = read_networks(depth, activation, batch_norm, seed)
    return dataclasses.replace(_gradients(settings), notes=tuple(notes))


# ---------------------------------------------------------------- 2. a short training run of both


@dataclasses.dataclass(frozen=True)
class TrainingResult:
    settings: Networks
    epochs: int  # asked for
    epochs_run: int  # run (fewer when the time budget ended the training)
    history: dict[str, list[digits.EpochStats]]  # variant -> one entry per epoch
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


def _train_both(settings: Networks, epochs: int, budget_s: float | None) -> TrainingResult:
    """Both networks, epoch by epoch side by side (the same number of epochs even if the budget ends it)."""
    split = digits.split_digits(settings.seed)
    nets, trainers = {}, {}
    for variant in VARIANTS:
        nets[variant] = build(settings, residual=variant == "residual")
        optimizer = torch.optim.SGD(nets[variant].parameters(), lr=LEARNING_RATE, momentum=MOMENTUM)
        trainers[variant] = digits.epoch_by_epoch(nets[variant], split, optimizer, digits.generator(settings.seed, 12),
                                                  BATCH_SIZE)
    side = digits.train_side_by_side(trainers, epochs, budget_s)
    return TrainingResult(settings, epochs, side.rounds, side.histories, side.seconds,
                          digits.count_parameters(nets["plain"]), len(split.y_train), len(split.y_val),
                          digits.time_budget_notes(side, epochs, budget_s))


TRAINING_BUDGET_S = digits.TRAINING_BUDGET_S
# Deterministic per settings when complete: kept for every language and student. A run the time budget
# cut short depends on the machine's load and is not kept.
RUNS = memory.Store("resnet_skip.training", size=memory.nbytes, max_entries=64)


def train_both(depth=30, activation="sigmoid", batch_norm=False, seed=0, epochs=10,
               budget_s: float | None = TRAINING_BUDGET_S) -> TrainingResult:
    """Train the plain and the residual network on the digits. budget_s=None: no time limit."""
    settings, notes = read_networks(depth, activation, batch_norm, seed)
    epochs = SETTINGS["epochs"].take(epochs, notes)
    result = digits.kept_when_complete(RUNS, (settings, epochs), lambda: _train_both(settings, epochs, budget_s))
    return dataclasses.replace(result, notes=tuple(notes) + result.notes)
