"""The sigmoid and its derivative (part: activations).

The first of the notes' two design choices starts here. A sigmoid squashes each z(l) into
(0, 1), and its derivative f'(z) = f(z) (1 - f(z)) is at most 1/4: going back through a
sigmoid layer, delta(l) = (W(l+1))^T delta(l+1) (*) f'(z(l)) shrinks by that factor again
and again, and a deep net's first layers hardly learn. `grade check` shows it with your own
sigmoid: each layer's gradient norm over training, against ReLU's (whose derivative is 1).

Both functions are element-wise: an array of any shape in, the same shape out, the input
never modified.
"""
import numpy as np


def sigmoid(z):
    """Logistic sigmoid:  f(z) = 1 / (1 + exp(-z))  element-wise.

    Shapes: z is any array; returns an array of the same shape.
    Must stay finite and exact at z = +-1000 (a form whose exp never overflows also
    raises no overflow warning).
    Hint: exp(-|z|) never overflows; for z < 0 rewrite 1/(1 + exp(-z)) as exp(z)/(1 + exp(z)).
    """
    ### BEGIN SOLUTION
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))
    ### END SOLUTION


def sigmoid_prime(z):
    """The sigmoid's derivative:  f'(z) = f(z) (1 - f(z))  element-wise.

    Shapes: z is any array; returns an array of the same shape.
    Hint: call sigmoid once and reuse the result.
    """
    ### BEGIN SOLUTION
    s = sigmoid(z)
    return s * (1 - s)
    ### END SOLUTION
