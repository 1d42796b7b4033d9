"""Weight gradients and the SGD step (part: updates)."""


def layer_gradients(delta, a_prev):
    """One layer's gradients:  dL/dW(l) = delta(l) (a(l-1))^T,  dL/db(l) = sum over columns of delta(l).

    Shapes: delta (n_l, m), a_prev (n_{l-1}, m); returns (dW, db) with dW (n_l, n_{l-1}) and
    db (n_l, 1). The 1/m of the mean loss is already inside delta, so db is a SUM, not a mean.
    Hint: keepdims=True keeps db a column.
    """
    # YOUR CODE HERE
    raise NotImplementedError("layer_gradients is not implemented yet")


def sgd_update(params, grads, lr):
    """One step of gradient descent:  W(l) <- W(l) - lr dL/dW(l),  b(l) <- b(l) - lr dL/db(l).

    params and grads are dicts with the same keys ("W1", "b1", ...); lr is a float.
    Returns a NEW dict; the arrays passed in are not modified.
    Hint: a dict comprehension over params.
    """
    # YOUR CODE HERE
    raise NotImplementedError("sgd_update is not implemented yet")
