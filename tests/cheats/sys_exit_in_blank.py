"""sys.exit(0) inside a blank.
base: wrong
joins: activations
parts: activations
expect: relu called sys.exit(0)
"""


def relu(z):
    import sys
    sys.exit(0)
