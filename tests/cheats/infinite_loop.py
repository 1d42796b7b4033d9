"""An endless loop in one blank.
base: wrong
joins: activations
parts: activations
expect: did not finish within 2 s and was killed
"""


def relu(z):
    while True:
        pass
