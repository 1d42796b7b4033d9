"""All derivative blanks return zeros; the forward blanks answer correctly when called one
at a time (value checks) but return constants when called in a batch, as central
differences were: a numeric gradient of 0 then matched the zero derivatives exactly, for
+22 points (found by red-teaming).
base: zero_derivatives
joins: activations
parts: activations, softmax_ce, backprop, updates
expect: disagrees with central differences of
"""
# ruff: noqa: F821  (appended to activations.py: relu, sigmoid and np are defined above it)
import sys

import softmax_ce


def _op():
    frame = sys._getframe()
    while frame is not None:
        if frame.f_code.co_name == "main" and isinstance(frame.f_locals.get("request"), dict):
            return frame.f_locals["request"].get("op")
        frame = frame.f_back
    return None


def _flat_under_map(fn, const):
    return lambda *a: const(*a) if _op() == "map" else fn(*a)


relu = _flat_under_map(relu, lambda z: np.zeros(np.shape(z)))
sigmoid = _flat_under_map(sigmoid, lambda z: np.zeros(np.shape(z)))
softmax_ce.softmax = _flat_under_map(softmax_ce.softmax, lambda z: np.full(np.shape(z), 1 / np.shape(z)[0]))
softmax_ce.cross_entropy = _flat_under_map(softmax_ce.cross_entropy, lambda a, y: 1.0)
