"""Every number and choice a fine-tuning request carries, declared once (`core.values.Setting`).

The compute modules read a request's value with `SETTINGS[name].take(value, notes)`; the tab makes each
control from the same declaration (`core.components.control`), and the teacher may send the class the
settings marked `for_class`. The student's own photos and class names are not settings.
"""
from __future__ import annotations

from core import values
from core.zoo.cnn import OFFLINE_CNN
from tabs.finetune.text import TEXT

MIN_CLASSES, MAX_CLASSES = 2, 5
SOURCES = ("builtin", "mine")
BACKBONES = (OFFLINE_CNN, "resnet18", "mobilenet_v3_large", "efficientnet_b0")
# Stages before the old output layer: EfficientNet-Lite0 has 12 (the default: its whole body frozen),
# MobileNetV3-Large the most, 18 (tests/test_finetune.py counts them for every backbone).
LITE0_BODY_STAGES, MOST_BODY_STAGES = 12, 18

SETTINGS = values.settings(
    # Ready: the data
    values.Setting("source", TEXT.msg("source"), default="builtin", choices=SOURCES),
    values.Setting("n_classes", TEXT.msg("n_classes"), default=3, low=MIN_CLASSES, high=MAX_CLASSES, integer=True),
    values.Setting("per_class", TEXT.msg("per_class"), default=60, low=4, high=100, integer=True),
    values.Setting("seed", TEXT.msg("data_seed"), default=0, low=0, high=10_000, integer=True),
    values.Setting("snap_class", TEXT.msg("snap_class"), default=0, low=0, high=MAX_CLASSES - 1, integer=True,
                   for_class=False),  # which of the student's own classes a snapshot goes to
    # ① the pretrained model, ② the stages kept frozen (the chosen backbone's count bounds it at run time)
    values.Setting("backbone", TEXT.msg("backbone"), default=OFFLINE_CNN, choices=BACKBONES),
    values.Setting("n_frozen", TEXT.msg("freeze_short"), default=LITE0_BODY_STAGES, low=0, high=MOST_BODY_STAGES,
                   integer=True),
    # ④ training: the names are TrainConfig's fields
    # At most 50 epochs (and 60 s, training.MAX_RUN_SECONDS): the class shares one training slot.
    values.Setting("epochs", TEXT.msg("epochs"), default=30, low=1, high=50, integer=True),
    values.Setting("learning_rate", TEXT.msg("lr"), default=3e-3, low=1e-5, high=1.0),
    values.Setting("batch_size", TEXT.msg("batch"), default=16, low=1, high=256, integer=True),
    values.Setting("augment", TEXT.msg("augment"), default=False, choices=(False, True)),
    values.Setting("patience", TEXT.msg("patience"), default=4, low=1, high=20, integer=True),
    values.Setting("min_delta", TEXT.msg("min_delta"), default=0.005, low=0.0, high=1.0),
)
