"""The write-up's Results section for one training run, as PNG images: loss and accuracy
curves per epoch, the test set's confusion matrix, accuracy per digit, and thumbnails of
the digits the network got most wrong; and one figure per design-choice experiment
(grader/grading/experiments.py). Headless (Agg): works on CI and over SSH."""

from __future__ import annotations

import io
import os
import types
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from grader.grading.experiments import PLOTS, Experiment, Run

if TYPE_CHECKING:  # annotations only: matplotlib is imported when a figure is drawn, not with the grader
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D


def pyplot() -> types.ModuleType:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(fig):
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png")
    pyplot().close(fig)
    return buffer.getvalue()


LOSSES = {"cross_entropy": "mean cross-entropy", "mse": "mean squared error"}  # a network's loss, as axes say it


def figures(
    history: dict[str, np.ndarray], confusion: np.ndarray, title: str = "", loss: str = "cross_entropy"
) -> dict[str, bytes]:
    """name -> PNG bytes for loss_curves, accuracy_curves, confusion_matrix and per_digit_accuracy."""
    plt = pyplot()
    epochs = np.arange(1, len(history["train_loss"]) + 1)
    out = {}
    for kind, ylabel in (("loss", LOSSES.get(loss, loss)), ("accuracy", "accuracy")):
        fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
        ax.plot(epochs, history[f"train_{kind}"], "o-", label="train (mean over the epoch's batches)")
        if len(history.get(f"validation_{kind}", ())):  # held-out training images, after the epoch
            ax.plot(epochs, history[f"validation_{kind}"], "^-", label="validation (after the epoch)")
        if len(history.get(f"test_{kind}", ())):  # the grader measures test accuracy, not test loss
            ax.plot(epochs, history[f"test_{kind}"], "s-", label="test (after the epoch)")
        ax.set(xlabel="epoch", ylabel=ylabel, title=f"{title} {kind}".strip())
        ax.set_xticks(epochs)
        ax.grid(alpha=0.3)
        ax.legend()
        out[f"{kind}_curves"] = _png(fig)

    fig, ax = plt.subplots(figsize=(6, 5.4), dpi=100)
    image = ax.imshow(confusion, cmap="Blues")
    for (i, j), count in np.ndenumerate(confusion):
        if count:
            ax.text(
                j,
                i,
                str(count),
                ha="center",
                va="center",
                fontsize=7,
                color="white" if count > confusion.max() / 2 else "black",
            )
    accuracy = np.trace(confusion) / max(1, confusion.sum())
    ax.set(
        xlabel="predicted digit",
        ylabel="true digit",
        xticks=range(10),
        yticks=range(10),
        title=f"{title} confusion matrix (test accuracy {accuracy:.4f})".strip(),
    )
    fig.colorbar(image, ax=ax, fraction=0.046)
    out["confusion_matrix"] = _png(fig)

    per_digit = np.diag(confusion) / np.maximum(1, confusion.sum(axis=1))
    fig, ax = plt.subplots(figsize=(6, 3.2), dpi=100)
    bars = ax.bar(range(10), per_digit, color="tab:blue")
    ax.bar_label(bars, labels=[f"{v:.3f}" for v in per_digit], fontsize=7)
    ax.set(
        xlabel="true digit",
        ylabel="test accuracy",
        xticks=range(10),
        ylim=(max(0, per_digit.min() - 0.05), 1.0),
        title=f"{title} accuracy per digit".strip(),
    )
    out["per_digit_accuracy"] = _png(fig)
    return out


def digit_png(pixels: np.ndarray, scale: int = 3) -> bytes:
    """One 28x28 test image as a PNG, dark ink on white, `scale` times larger."""
    big = np.kron(np.asarray(pixels, np.uint8), np.ones((scale, scale), np.uint8))
    buffer = io.BytesIO()
    pyplot().imsave(buffer, 255 - big, cmap="gray", vmin=0, vmax=255, format="png")
    return buffer.getvalue()


def write_plots(
    history: dict[str, np.ndarray],
    confusion: np.ndarray,
    folder: str | os.PathLike[str],
    title: str = "",
    loss: str = "cross_entropy",
) -> list[Path]:
    """Write the figures as <name>.png into folder, each whole; return their paths."""
    from grader.files import atomic_write

    return [
        atomic_write(Path(folder) / f"{name}.png", png)
        for name, png in figures(history, confusion, title, loss).items()
    ]


# -- The design-choice experiments ---------------------------------------------------------


def experiment_png(experiment: Experiment) -> bytes:
    """The experiment's figure (experiment_figure) as PNG bytes, ready to inline in the page."""
    return _png(experiment_figure(experiment))


def experiment_figure(experiment: Experiment) -> Figure:
    """The figure of one experiment, as its `plot` says:

    - "gradient_norms": one panel per run, side by side on one logarithmic y axis, one line
      per layer: how large dL/dW(l) is at each batch. A vanishing gradient shows as the input
      side's lines sitting orders of magnitude below the output's (a log axis is what keeps
      both visible on one panel).
    - "curves": validation accuracy of every run on one panel (one scale: they compare
      directly), and each run's training loss on the other (each run minimises its own loss,
      so those values differ in kind and only their shapes compare).

    A run that failed before producing any data is left out (the page lists it with its
    error); with no run to draw, the figure says so. The figure is not registered with
    pyplot, so it is freed like any object even if nobody closes it."""
    if experiment.plot not in PLOTS:
        raise ValueError(f"experiment {experiment.id!r}: plot {experiment.plot!r} is none of {', '.join(PLOTS)}")
    runs = drawable_runs(experiment)
    if not runs:
        return _no_data_figure(experiment)
    if experiment.plot == "gradient_norms":
        return _gradient_norms_figure(experiment, runs)
    return _curves_figure(experiment, runs)


def drawable_runs(experiment: Experiment) -> list[Run]:
    """The runs with something to draw for the experiment's plot. A run that failed partway
    keeps the data it produced (its lines stop where it failed); one with none is left out."""
    if experiment.plot == "gradient_norms":
        return [r for r in experiment.runs if r.gradient_norms is not None and np.size(r.gradient_norms)]
    return [r for r in experiment.runs if r.history.get("validation_accuracy") or r.history.get("train_loss")]


def layer_label(l: int, layers: int) -> str:
    """The legend entry of layer l of 1..layers: the two ends say which end they are, since
    the vanishing gradient is a story about distance from the output."""
    if l == layers:
        return f"layer {l} (output)"
    return f"layer {l} (input side)" if l == 1 else f"layer {l}"


def _gradient_norms_figure(experiment: Experiment, runs: Sequence[Run]) -> Figure:
    from matplotlib import colormaps
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4.8 * len(runs), 4.2), dpi=100)
    axes = fig.subplots(1, len(runs), sharey=True, squeeze=False)[0]
    for ax, run in zip(axes, runs, strict=True):
        norms = np.asarray(run.gradient_norms, dtype=float)
        # the data model gives the batch counts; without them, the rows are taken as batches 1, 2, ...
        steps = np.arange(1, len(norms) + 1) if run.steps is None else np.asarray(run.steps)
        layers = norms.shape[1]
        # one colour per layer, the same in every panel, ordered input (dark) to output (light)
        colours = colormaps["viridis"](np.linspace(0, 0.85, layers))
        for l in range(1, layers + 1):
            ax.plot(steps, norms[:, l - 1], color=colours[l - 1], label=_plain(layer_label(l, layers)))
        # log: the input side's norms may be 100x (or 10^6x) smaller; values of 0 are not drawn
        ax.set_yscale("log")
        ax.set(title=_plain(run.label), xlabel="batches trained on")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    axes[0].set_ylabel("Frobenius norm of dL/dW(l)")
    fig.suptitle(_plain(experiment.title))
    return fig


def _curves_figure(experiment: Experiment, runs: Sequence[Run]) -> Figure:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 4.2), dpi=100)
    accuracy, loss = fig.subplots(1, 2)
    for run in runs:
        # the run's colour is picked on the accuracy panel and reused on the loss panel
        line = _per_epoch(accuracy, run.history.get("validation_accuracy", []), _plain(run.label), "o-")
        _per_epoch(loss, run.history.get("train_loss", []), _plain(run.label), "o-", line)
    accuracy.set(title="validation accuracy", xlabel="epoch", ylabel="validation accuracy")
    loss.set(title="training loss", xlabel="epoch", ylabel="training loss (each run its own)")
    for ax in (accuracy, loss):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(_plain(experiment.title))
    return fig


def _per_epoch(ax: Axes, values: Sequence[float], label: str, style: str, like: Line2D | None = None) -> Line2D:
    """Plot values against epochs 1, 2, ... (integer ticks); return the line, whose colour
    `like` (a line of another panel) fixes when given."""
    from matplotlib.ticker import MaxNLocator

    epochs = np.arange(1, len(values) + 1)
    [line] = ax.plot(epochs, values, style, label=label, color=None if like is None else like.get_color())
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # no epoch 1.5
    return line


def _no_data_figure(experiment: Experiment) -> Figure:
    """A small figure that says no run produced data (rather than no figure: the page's
    layout and the PNG written beside it stay the same whatever happened)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 1.6), dpi=100)
    fig.text(0.5, 0.6, _plain(experiment.title), ha="center", va="center", fontsize=12)
    fig.text(0.5, 0.3, "no run produced data to draw: see the errors below", ha="center", va="center")
    return fig


def _plain(text: str) -> str:
    """Text from course.yaml or a run, drawn as written: matplotlib reads $...$ as TeX (a
    stray one breaks the drawing), and hides legend entries whose label starts with "_"."""
    text = text.replace("$", r"\$")
    return " " + text if text.startswith("_") else text
