"""Experiments: the notes' design choices, reproduced with the student's own blanks.

An assignment may declare experiments in course.yaml: each trains the same network several
times on MNIST, once per configuration of its roles (the hidden activation, the output and
its loss), on one budget, and shows what the notes argue -- the vanishing gradient (ReLU
against sigmoid in a deep net: each layer's gradient norm over training) or the slower,
less stable learning of MSE (cross-entropy against MSE: loss and accuracy curves side by
side). The grader runs them (trusted code, from the arrays the child returns); the page
shows them with one sentence on what to look for. They are never graded on what the plots
show: only on running to completion.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

PLOTS = ("gradient_norms", "curves")  # what an experiment draws


@dataclass
class Run:
    """One training of one configuration.

    history: per epoch, "train_loss" and "train_accuracy" (the mean over that epoch's batches,
    each configuration's own loss), "validation_loss" and "validation_accuracy" (the grader's,
    on held-out training images, after the epoch). gradient_norms: (steps, layers), the
    Frobenius norm of dL/dW(l) for l = 1..L at the batches in steps (1-based batch counts from
    the start of training). error: why the run did not complete ("" when it did)."""

    label: str
    history: dict[str, list[float]] = field(default_factory=dict)
    gradient_norms: np.ndarray | None = None
    steps: np.ndarray | None = None
    error: str = ""


@dataclass
class Experiment:
    id: str
    title: str
    look_for: str  # one sentence: what the plot shows when the notes are right
    plot: str  # one of PLOTS
    runs: list[Run] = field(default_factory=list)

    @property
    def completed(self) -> bool:
        return bool(self.runs) and not any(r.error for r in self.runs)
