"""The write-up's Results section for one training run, as PNG images: loss and accuracy
curves per epoch, the test set's confusion matrix, accuracy per digit, and thumbnails of
the digits the network got most wrong. Headless (Agg): works on CI and over SSH."""

import io
import os
import types
from pathlib import Path

import numpy as np


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


def figures(history: dict[str, np.ndarray], confusion: np.ndarray, title: str = "") -> dict[str, bytes]:
    """name -> PNG bytes for loss_curves, accuracy_curves, confusion_matrix and per_digit_accuracy."""
    plt = pyplot()
    epochs = np.arange(1, len(history["train_loss"]) + 1)
    out = {}
    for kind, ylabel in (("loss", "mean cross-entropy"), ("accuracy", "accuracy")):
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
    history: dict[str, np.ndarray], confusion: np.ndarray, folder: str | os.PathLike[str], title: str = ""
) -> list[Path]:
    """Write the figures as <name>.png into folder; return their paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, png in figures(history, confusion, title).items():
        paths.append(folder / f"{name}.png")
        paths[-1].write_bytes(png)
    return paths
