"""Given: the rest of the network the experiments train (nothing to fill in here).

The experiments change one role at a time and keep the others: the hidden activation (ReLU
here, or your sigmoid), the output and its loss (softmax with cross-entropy here, or your
sigmoid with your MSE). The grader's training loop calls these by name, and passes backward
the hidden derivative and the output delta of the run, so that one recursion serves every run.

Conventions (the notes'): a batch is a matrix with one column per example; W(l) is
(n_l, n_{l-1}), b(l) is (n_l, 1); cache = {"a0": X, "z1", "a1", ..., "zL", "aL"}.
"""
import numpy as np


def relu(z):
    """f(z) = max(0, z), element-wise."""
    return np.maximum(z, 0)


def relu_prime(z):
    """f'(z) = 1 where z > 0, else 0."""
    return (z > 0).astype(z.dtype)


def softmax(z):
    """Each column's exp(z_k) / sum_j exp(z_j), shifted by the column's max (which changes nothing
    but keeps exp finite)."""
    e = np.exp(z - z.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)


def cross_entropy(a, y):
    """L = -(1/m) sum of y log a."""
    return -np.sum(y * np.log(a)) / y.shape[1]


def output_delta(a, y):
    """delta(L) for softmax with cross-entropy: (a - y) / m."""
    return (a - y) / y.shape[1]


def backward(params, cache, y, f_prime, output_delta):
    """The delta recursion with the run's hidden derivative f_prime and output delta:
    delta(L) = output_delta(a(L), y); delta(l) = (W(l+1))^T delta(l+1) (*) f'(z(l));
    dL/dW(l) = delta(l) (a(l-1))^T and dL/db(l) = delta(l) summed over its columns."""
    L = len(params) // 2
    grads = {}
    delta = output_delta(cache[f"a{L}"], y)
    for l in range(L, 0, -1):
        grads[f"W{l}"] = delta @ cache[f"a{l - 1}"].T
        grads[f"b{l}"] = delta.sum(axis=1, keepdims=True)
        if l > 1:
            delta = (params[f"W{l}"].T @ delta) * f_prime(cache[f"z{l - 1}"])
    return grads


def sgd_update(params, grads, lr):
    """One step of gradient descent: every parameter moves by -lr times its gradient."""
    return {k: params[k] - lr * grads[k] for k in params}
