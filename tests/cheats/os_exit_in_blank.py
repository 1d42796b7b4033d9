"""os._exit(0) inside a blank: the checks of that blank end in an ERROR, the others stand.
base: wrong
joins: activations
parts: activations
expect: during relu, your code ended the process with exit code 0
"""


def relu(z):
    import os
    os._exit(0)
