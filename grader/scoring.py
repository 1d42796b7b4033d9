"""Scoring returned weights: the grader's own forward pass (affine maps, ReLU, argmax).
Softmax is monotone, so the argmax of the logits is the prediction; no blank is needed."""
from dataclasses import dataclass

import numpy as np

from grader.sandbox import Sandbox, StudentError


@dataclass
class MnistRun:
    params: dict
    history: dict
    seconds: float
    accuracy: float
    confusion: np.ndarray


def train_and_score(folder, course, data, on_progress=None):
    """Train in a fresh child with the submission's blanks and the course's budget, then
    score the returned weights here on the test set. Raises StudentError if training fails."""
    sizes = [784, *course.hidden_sizes, 10]
    payload = {k: np.asarray(getattr(data, k)) for k in ("train_images", "train_labels", "test_images", "test_labels")}
    with Sandbox(folder, course.call_timeout) as trainer:
        params, history, seconds = trainer.train(sizes, course.budget, payload, course.training_timeout, on_progress)
    check_params(params, sizes)
    labels = np.asarray(data.test_labels)
    predicted = predict(params, data.test_images.T.astype(np.float64) / 255)
    return MnistRun(params, history, seconds, float((predicted == labels).mean()), confusion_matrix(labels, predicted))


def check_params(params, sizes):
    """Validate the weights that came back from training: keys, shapes, finiteness."""
    expected = {}
    for l in range(1, len(sizes)):
        expected[f"W{l}"] = (sizes[l], sizes[l - 1])
        expected[f"b{l}"] = (sizes[l], 1)
    if set(params) != set(expected):
        raise StudentError("bad_return", f"training returned parameters {sorted(params)}; expected {sorted(expected)}")
    for name, shape in expected.items():
        if params[name].shape != shape:
            raise StudentError("bad_return", f"training returned {name} of shape {params[name].shape}; expected {shape}")
        if not np.all(np.isfinite(params[name])):
            raise StudentError("bad_return", f"training returned {name} with NaN or inf: the loss diverged")


def predict(params, X):
    """Class predictions (m,) for X (784, m)."""
    L = len(params) // 2
    a = X
    for l in range(1, L + 1):
        z = params[f"W{l}"] @ a + params[f"b{l}"]
        a = np.maximum(z, 0) if l < L else z
    return a.argmax(axis=0)


def confusion_matrix(labels, predicted, n=10):
    """counts[i, j] = how many images of digit i were predicted as j."""
    return np.bincount(labels.astype(np.int64) * n + predicted, minlength=n * n).reshape(n, n)
