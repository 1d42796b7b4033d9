"""Experiments: the notes' design choices, reproduced with the student's own blanks.

An assignment may declare experiments in course.yaml: each trains the same network several
times on MNIST, once per configuration of its roles (the hidden activation, the output and
its loss), on one budget, and shows what the notes argue -- the vanishing gradient (ReLU
against sigmoid in a deep net: each layer's gradient norm over training) or the slower,
less stable learning of MSE (cross-entropy against MSE: loss and accuracy curves side by
side). The grader runs them (trusted code, from the arrays the child returns); the page
shows them with one sentence on what to look for. They are never graded on what the plots
show: only on running to completion, with blanks that pass their own checks.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from grader import config
    from grader.config import Course
    from grader.data.mnist import MNIST
    from grader.sandbox.bounds import Bound

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


NORMS_PER_EPOCH = 20  # points per epoch on a gradient-norm curve: enough to see the trend, cheap to record


def run(
    folder: Path | str, course: Course, data: MNIST, spec: config.Experiment, bound: Bound | None = None
) -> Experiment:
    """Train folder's blanks once per run of spec, each in a fresh child (in the submission's
    bound), on the first spec.images training images (the validation split held out, as for MNIST);
    the grader measures the validation curves itself. A run that fails is kept with its error:
    the others still show."""
    from grader.grading import scoring
    from grader.sandbox.process import StudentError

    subset = trimmed(data, spec.images, course.validation)
    batches = -(-min(spec.images, len(data.train_labels) - course.validation) // course.batch_size)
    every = max(1, batches // NORMS_PER_EPOCH) if spec.plot == "gradient_norms" else 0
    done = Experiment(spec.id, spec.title, spec.look_for, spec.plot)
    for label, network in spec.runs:
        trained = dataclasses.replace(
            course,
            network=network,
            hidden_sizes=spec.hidden_sizes,
            epochs=spec.epochs,
            learning_rate=spec.learning_rate,
        )
        try:
            _, history, _, _ = scoring.train(folder, trained, lambda: subset, bound=bound, norms_every=every)
        except StudentError as exc:
            done.runs.append(Run(label, error=str(exc)))
            continue
        norms, steps = history.pop("gradient_norms", None), history.pop("steps", None)
        curves = {k: [float(v) for v in values] for k, values in history.items()}
        done.runs.append(Run(label, curves, norms, steps))
    return done


def trimmed(data: MNIST, images: int, validation: int) -> MNIST:
    """data with its first `images` training images followed by the last `validation` ones (which
    scoring.split holds out, as it does for the MNIST part); the test set as it is."""
    from grader.data.mnist import MNIST

    keep = min(images, len(data.train_labels) - validation)
    index = np.r_[0:keep, len(data.train_labels) - validation : len(data.train_labels)]
    return MNIST(data.train_images[index], data.train_labels[index], data.test_images, data.test_labels, data.folder)
