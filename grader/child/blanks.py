"""The public API students fill in: each blank, the module it lives in, and what it returns.

`returns` tells the child how to turn a return value into plain arrays before it crosses
the process boundary: "array", "scalar", "pair" (two arrays) or "dict" (str -> array).
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Blank:
    name: str
    module: str
    returns: str


BLANKS = {
    b.name: b
    for b in [
        Blank("relu", "activations", "array"),
        Blank("relu_prime", "activations", "array"),
        Blank("sigmoid", "activations", "array"),
        Blank("sigmoid_prime", "activations", "array"),
        Blank("softmax", "softmax_ce", "array"),
        Blank("cross_entropy", "softmax_ce", "scalar"),
        Blank("output_delta", "softmax_ce", "array"),
        Blank("hidden_delta", "backprop", "array"),
        Blank("backward", "backprop", "dict"),
        Blank("layer_gradients", "updates", "pair"),
        Blank("sgd_update", "updates", "dict"),
    ]
}

MODULES = sorted({b.module for b in BLANKS.values()})
