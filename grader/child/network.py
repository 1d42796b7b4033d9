"""The kit's training loop, run in the child with the student's functions: He initialisation,
the forward pass, mini-batch SGD. It is the notes' network with its roles configured
(course.yaml's `network`): the hidden activation f, the output g, its loss, backward and the
update step. Each role is a function of the submission: a blank, or one the assignment
provides in its own files (network.py) -- never one of the kit's, which would ship the
answers with the grader to every student.

Conventions (the notes'): a batch has one column per example, X is (784, m); W(l) is
(n_l, n_{l-1}) and b(l) is (n_l, 1); delta(l) = dL/dz(l).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

Fn = Callable[..., Any]


def init_params(sizes: list[int], seed: int = 0, dtype: type = np.float32) -> dict[str, np.ndarray]:
    """He initialisation: W(l) ~ N(0, 2 / n_{l-1}), b(l) = 0."""
    rng = np.random.default_rng(seed)
    params = {}
    for l in range(1, len(sizes)):
        scale = np.sqrt(2.0 / sizes[l - 1])
        params[f"W{l}"] = (rng.standard_normal((sizes[l], sizes[l - 1])) * scale).astype(dtype)
        params[f"b{l}"] = np.zeros((sizes[l], 1), dtype=dtype)
    return params


def forward(params: dict[str, np.ndarray], X: np.ndarray, f: Fn, g: Fn) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """z(l) = W(l) a(l-1) + b(l); a(l) = f(z(l)) for hidden layers, g(z(L)) at the top.
    Returns (a(L), cache) with cache = {"a0": X, "z1", "a1", ..., "zL", "aL"}."""
    L = len(params) // 2
    cache = {"a0": X}
    a = X
    for l in range(1, L + 1):
        z = params[f"W{l}"] @ a + params[f"b{l}"]
        a = g(z) if l == L else f(z)
        cache[f"z{l}"], cache[f"a{l}"] = z, a
    return a, cache


def one_hot(labels: np.ndarray, n_classes: int = 10, dtype: type = np.float32) -> np.ndarray:
    return np.eye(n_classes, dtype=dtype)[:, labels]


def train(
    params: dict[str, np.ndarray],
    X_train: np.ndarray,
    labels_train: np.ndarray,
    epochs: int,
    batch_size: int,
    lr: float,
    roles: dict[str, Fn],
    seed: int = 0,
    on_epoch: Callable[[int, dict[str, np.ndarray], dict[str, list[float]]], object] | None = None,
    norms_every: int = 0,
    on_batch: Callable[[int, int], object] | None = None,
) -> tuple[dict[str, np.ndarray], dict[str, list[float]], list[list[float]], list[int]]:
    """Mini-batch SGD: shuffle, then for each batch forward, backward, update. roles: "hidden",
    "output", "loss", "backward" (params, cache, y) -> grads and "update" (params, grads, lr).
    Returns (params, history, norms, steps): history's "train_loss" and "train_accuracy" are
    the means over each epoch's batches as they were seen; with norms_every, norms holds the
    Frobenius norm of every dW(l) at every norms_every-th batch (steps: their 1-based counts).
    on_batch(epoch, batch) is told as each batch begins (1-based both)."""
    rng = np.random.default_rng(seed)
    m = X_train.shape[1]
    history: dict[str, list[float]] = {"train_loss": [], "train_accuracy": []}
    norms: list[list[float]] = []
    steps: list[int] = []
    step = 0
    L = len(params) // 2
    for epoch in range(1, epochs + 1):
        order = rng.permutation(m)
        loss_sum, correct = 0.0, 0
        for start in range(0, m, batch_size):
            if on_batch is not None:  # the child's watchdog times each batch (child/watchdog.py)
                on_batch(epoch, start // batch_size + 1)
            batch = order[start : start + batch_size]
            X, labels = X_train[:, batch], labels_train[batch]
            Y = one_hot(labels)
            a, cache = forward(params, X, roles["hidden"], roles["output"])
            loss_sum += roles["loss"](a, Y) * len(batch)
            correct += int((a.argmax(axis=0) == labels).sum())
            grads = roles["backward"](params, cache, Y)
            step += 1
            if norms_every and step % norms_every == 0:
                norms.append([float(np.linalg.norm(np.asarray(grads[f"W{l}"], np.float64))) for l in range(1, L + 1)])
                steps.append(step)
            params = roles["update"](params, grads, lr)
        history["train_loss"].append(loss_sum / m)
        history["train_accuracy"].append(correct / m)
        if on_epoch is not None:
            on_epoch(epoch, params, history)
    return params, history, norms, steps
