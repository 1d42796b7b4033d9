"""The provided parts of the network: He initialisation, the forward pass, predict and
mini-batch SGD. Nothing to fill in here; it calls your blanks.

Conventions (the notes'): a batch is a matrix with one column per example, so X is
(784, m); W(l) is (n_l, n_{l-1}) and b(l) is (n_l, 1). Hidden layers use ReLU, the output
layer softmax, and the loss is the mean cross-entropy over the batch.
`grade check` and `grade train` use the grader's own copy of this file, so editing it
changes no grade.
"""
import numpy as np

from activations import relu
from backprop import backward
from softmax_ce import cross_entropy, softmax
from updates import sgd_update


def init_params(sizes, seed=0, dtype=np.float32):
    """He initialisation for ReLU nets: W(l) ~ N(0, 2 / n_{l-1}), b(l) = 0.

    sizes = [784, 128, 10] gives {"W1": (128, 784), "b1": (128, 1), "W2": (10, 128), "b2": (10, 1)}.
    """
    rng = np.random.default_rng(seed)
    params = {}
    for l in range(1, len(sizes)):
        scale = np.sqrt(2.0 / sizes[l - 1])
        params[f"W{l}"] = (rng.standard_normal((sizes[l], sizes[l - 1])) * scale).astype(dtype)
        params[f"b{l}"] = np.zeros((sizes[l], 1), dtype=dtype)
    return params


def forward(params, X):
    """z(l) = W(l) a(l-1) + b(l);  a(l) = relu(z(l)) for hidden layers, softmax(z(L)) at the top.

    Returns (a(L), cache) where cache = {"a0": X, "z1": z(1), "a1": a(1), ..., "zL", "aL"}
    holds everything backward() needs.
    """
    L = len(params) // 2
    cache = {"a0": X}
    a = X
    for l in range(1, L + 1):
        z = params[f"W{l}"] @ a + params[f"b{l}"]
        a = softmax(z) if l == L else relu(z)
        cache[f"z{l}"], cache[f"a{l}"] = z, a
    return a, cache


def predict(params, X):
    """The most probable class of each column of X: shape (m,)."""
    a, _ = forward(params, X)
    return a.argmax(axis=0)


def one_hot(labels, n_classes=10, dtype=np.float32):
    """Labels (m,) -> one-hot columns (n_classes, m)."""
    return np.eye(n_classes, dtype=dtype)[:, labels]


def train(params, X_train, labels_train, epochs, batch_size, lr, seed=0, X_test=None, labels_test=None,
          on_epoch=None):
    """Mini-batch SGD: shuffle, then for each batch forward, backward, update.

    X_* are (784, m) with pixels in [0, 1]; labels_* are integer classes (m,).
    Returns (params, history); history holds one entry per epoch of "train_loss" and
    "train_accuracy" (averaged over that epoch's batches, as they were seen) and, when a
    test set is given, "test_loss" and "test_accuracy" (the whole test set after the epoch).
    on_epoch(epoch, params, history), if given, is called after every epoch.
    """
    rng = np.random.default_rng(seed)
    m = X_train.shape[1]
    history = {"train_loss": [], "train_accuracy": [], "test_loss": [], "test_accuracy": []}
    for epoch in range(1, epochs + 1):
        order = rng.permutation(m)
        loss_sum, correct = 0.0, 0
        for start in range(0, m, batch_size):
            batch = order[start:start + batch_size]
            X, labels = X_train[:, batch], labels_train[batch]
            Y = one_hot(labels)
            a, cache = forward(params, X)
            loss_sum += cross_entropy(a, Y) * len(batch)
            correct += int((a.argmax(axis=0) == labels).sum())
            params = sgd_update(params, backward(params, cache, Y), lr)
        history["train_loss"].append(loss_sum / m)
        history["train_accuracy"].append(correct / m)
        if X_test is not None:
            a_test, _ = forward(params, X_test)
            history["test_loss"].append(cross_entropy(a_test, one_hot(labels_test)))
            history["test_accuracy"].append(float((a_test.argmax(axis=0) == labels_test).mean()))
        if on_epoch is not None:
            on_epoch(epoch, params, history)
    return params, history
