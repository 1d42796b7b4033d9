"""An endless loop in one blank.
base: wrong
joins: activations
parts: activations
expect: relu did not finish within 2 s (an endless loop?), and was stopped
"""


def relu(z):
    while True:
        pass
