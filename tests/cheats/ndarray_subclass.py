"""An ndarray subclass whose every ufunc and comparison says "equal", sent past the worker's
own conversion by patching it.
base: stubs
joins: activations
parts: activations
expect: relative error
"""
import numpy as np


class Always(np.ndarray):
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return np.ones(np.broadcast(*[np.asarray(i) for i in inputs]).shape, bool)

    def __array_function__(self, func, types, args, kwargs):
        return True

    def __eq__(self, other):
        return True


def relu(z):
    return np.zeros(np.shape(z)).view(Always)


relu_prime = sigmoid = sigmoid_prime = relu

try:
    import grader.child.worker as worker
    worker.plain = lambda value, returns, fn: value  # send the subclass itself
except Exception:
    pass
