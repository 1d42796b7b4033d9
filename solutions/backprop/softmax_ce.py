"""Softmax output layer and cross-entropy loss (part: softmax_ce).

A batch has one column per example: z(L) and a(L) are (10, m), y is one-hot (10, m).
The loss is the MEAN cross-entropy over the m examples, so every gradient carries a 1/m.
"""
import numpy as np


def softmax(z):
    """Column-wise softmax:  a_k = exp(z_k) / sum_j exp(z_j)  for each column of z.

    Shapes: z is (n, m); returns (n, m) whose columns are positive and sum to 1.
    Must be stable for logits of 1000 (no overflow, no NaN).
    Hint: softmax(z) = softmax(z - c) for any constant c per column; take c = the column's max.
    """
    ### BEGIN SOLUTION
    e = np.exp(z - z.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)
    ### END SOLUTION


def cross_entropy(a, y):
    """Mean cross-entropy:  L = -(1/m) sum_i sum_k y_ki log a_ki.

    Shapes: a (n, m) softmax outputs, y (n, m) one-hot labels; returns a float.
    Hint: m = y.shape[1] (columns are examples). Guard log(0) with np.maximum(a, 1e-12).
    """
    ### BEGIN SOLUTION
    m = y.shape[1]
    return float(-np.sum(y * np.log(np.maximum(a, 1e-12))) / m)
    ### END SOLUTION


def output_delta(a, y):
    """The output layer's error:  delta(L) = dL/dz(L).

    For an element-wise output activation that is grad_a L (*) f'(z(L)). Softmax is not
    element-wise: each a_k depends on every z_j (da_k/dz_j = a_k (1[k = j] - a_j)), so
    delta(L) = J^T grad_a L with J that full Jacobian. With the mean cross-entropy,
    grad_a L = -y / (m a), and since each column of y sums to 1 the product collapses to
    (a - y) / m.

    Shapes: a (n, m), y (n, m); returns (n, m).
    Hint: it is dL/dz(L) -- the gradient with respect to the logits, averaged over the batch.
    """
    ### BEGIN SOLUTION
    m = y.shape[1]
    return (a - y) / m
    ### END SOLUTION
