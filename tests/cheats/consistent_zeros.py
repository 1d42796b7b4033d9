"""Every blank returns zeros of the right shape: wrong, but consistent with itself, so a
check of f' against central differences of f, or of purity or stability, would agree.
base: stubs
joins: updates
parts: activations, softmax_ce, backprop, updates
expect: is not yet an attempt at the reference
"""
import activations
import backprop
import softmax_ce
import numpy as np


def zeros_like_first(*args):
    return np.zeros(np.shape(args[0]))


for module, names in ((activations, ("relu", "relu_prime", "sigmoid", "sigmoid_prime")),
                      (softmax_ce, ("softmax", "output_delta")), (backprop, ("hidden_delta",))):
    for name in names:
        setattr(module, name, zeros_like_first)
softmax_ce.cross_entropy = lambda a, y: 0.0
backprop.hidden_delta = lambda W_next, delta_next, z: np.zeros(np.shape(z))
backprop.backward = lambda params, cache, y: {k: np.zeros(np.shape(v)) for k, v in params.items()}


def layer_gradients(delta, a_prev):
    return np.zeros((np.shape(delta)[0], np.shape(a_prev)[0])), np.zeros((np.shape(delta)[0], 1))


def sgd_update(params, grads, lr):
    return {k: np.array(v, dtype=float) for k, v in params.items()}
