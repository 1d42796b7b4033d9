"""Activation functions and their derivatives (part: activations).

Every function here is element-wise: it maps an array of any shape to an array of the
same shape, one entry at a time, and never modifies its input. In the notes' notation a
layer computes z(l) = W(l) a(l-1) + b(l) and then a(l) = f(z(l)); the backward pass needs
f'(z(l)) for the delta recursion.
"""
import numpy as np


def relu(z):
    """ReLU:  f(z) = max(0, z)  element-wise.

    Shapes: z is any array; returns an array of the same shape.
    Hint: np.maximum compares an array with a scalar entry by entry. Do not modify z.
    """
    # YOUR CODE HERE
    raise NotImplementedError("relu is not implemented yet")


def relu_prime(z):
    """ReLU's derivative:  f'(z) = 1 where z > 0, else 0  (element-wise).

    Shapes: z is any array; returns an array of the same shape, as floats.
    Hint: a boolean array such as (z > 0) becomes 0.0/1.0 with .astype(z.dtype).
    """
    # YOUR CODE HERE
    raise NotImplementedError("relu_prime is not implemented yet")


def sigmoid(z):
    """Logistic sigmoid:  f(z) = 1 / (1 + exp(-z))  element-wise.

    Shapes: z is any array; returns an array of the same shape.
    Must stay finite and exact at z = +-1000 (a form whose exp never overflows also
    raises no overflow warning).
    Hint: exp(-|z|) never overflows; for z < 0 rewrite 1/(1 + exp(-z)) as exp(z)/(1 + exp(z)).
    """
    # YOUR CODE HERE
    raise NotImplementedError("sigmoid is not implemented yet")


def sigmoid_prime(z):
    """The sigmoid's derivative:  f'(z) = f(z) (1 - f(z))  element-wise.

    Shapes: z is any array; returns an array of the same shape.
    Hint: call sigmoid once and reuse the result.
    """
    # YOUR CODE HERE
    raise NotImplementedError("sigmoid_prime is not implemented yet")
