"""Return NaN, which compares unequal to everything and slips past careless checks.
base: stubs
joins: activations
parts: activations
expect: contains NaN at [0, 0]
"""
import numpy as np


def relu(z):
    return np.full(np.shape(z), np.nan)


relu_prime = sigmoid = sigmoid_prime = relu
