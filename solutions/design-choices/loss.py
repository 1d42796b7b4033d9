"""Mean squared error and its output delta, for a sigmoid output layer (part: loss).

The second design choice. With a sigmoid output a(L) = f(z(L)) and the mean squared error

    L = (1/(2m)) sum_i |a_i - y_i|^2      (a sum over the n_L outputs of each of the m columns)

the output delta is delta(L) = dL/da(L) (*) f'(z(L)) = (a(L) - y) (*) a(L) (1 - a(L)) / m.
The factor a (1 - a) is close to 0 wherever the output saturates near 0 or 1, even when it is
confidently wrong: learning is slow exactly where it should be fast. Softmax with cross-entropy
has no such factor, delta(L) = (a(L) - y) / m. `grade check` trains both with your blanks and
shows their loss and accuracy curves side by side.

a and y are (n_L, m): one column per example, y one-hot.
"""
import numpy as np


def mse(a, y):
    """The mean squared error  L = (1/(2m)) sum of (a - y)^2  over all entries.

    Shapes: a and y are (n_L, m); returns a single number (the mean over the m examples).
    Hint: m = y.shape[1].
    """
    ### BEGIN SOLUTION
    return np.sum((a - y) ** 2) / (2 * y.shape[1])
    ### END SOLUTION


def mse_delta(a, y):
    """delta(L) for a sigmoid output with MSE:  (a - y) (*) a (1 - a) / m.

    Shapes: a and y are (n_L, m); returns (n_L, m). a is the output sigmoid(z(L)), so the
    sigmoid's derivative at z(L) is a (1 - a): no need for z.
    """
    ### BEGIN SOLUTION
    return (a - y) * a * (1 - a) / y.shape[1]
    ### END SOLUTION
