"""⑤ Evaluate: loss and accuracy on the validation images, the confusion matrix, and a new picture
through the fine-tuned model and through the pretrained model alone."""
from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from core import charts
from core.zoo.cnn import CNN
from tabs.finetune.model import FineTuned


def evaluate(model: FineTuned, inputs: torch.Tensor, labels: torch.Tensor, cached: bool,
             batch: int = 64) -> tuple[float, float, np.ndarray]:
    """(mean cross-entropy, accuracy, predictions) on already prepared inputs."""
    model.eval()
    total, correct, preds = 0.0, 0, []
    with torch.no_grad():
        for start in range(0, len(labels), batch):
            x = inputs[start:start + batch]
            y = labels[start:start + batch]
            logits = (model.forward_from_frozen(x) if cached else model(x)).float()
            total += float(torch.nn.functional.cross_entropy(logits, y, reduction="sum"))
            pred = logits.argmax(1)
            correct += int((pred == y).sum())
            preds.append(pred.cpu().numpy())
    n = max(len(labels), 1)
    return total / n, correct / n, np.concatenate(preds) if preds else np.zeros(0, dtype=np.int64)


def confusion_matrix(labels: np.ndarray, preds: np.ndarray, n_classes: int) -> np.ndarray:
    """cm[true, predicted] = count, every class a row and a column even when no image has it."""
    from sklearn import metrics  # imported on first use: importing sklearn.metrics takes about a second

    return metrics.confusion_matrix(labels, preds, labels=np.arange(n_classes)).astype(np.int64)


@torch.no_grad()
def predict(model: FineTuned, img: Image.Image) -> np.ndarray:
    """The fine-tuned model's probability of each of its classes for one picture."""
    model.eval()
    return torch.softmax(model(model.to_tensor(img)).float(), dim=1)[0].cpu().numpy()


@torch.no_grad()
def imagenet_top_k(cnn: CNN, img: Image.Image, k: int = 5) -> list[tuple[int, float]]:
    """What the pretrained model alone says about the picture: its k most likely ImageNet classes."""
    probs = torch.softmax(cnn.model(cnn.preprocess(img)).float(), dim=1)[0].cpu().numpy()
    return charts.top_k(probs, k)
