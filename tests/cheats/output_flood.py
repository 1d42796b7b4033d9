"""Print 20 MiB from one blank, then answer wrongly: the flood is cut and reported.
base: wrong
joins: activations
parts: activations
expect: printed more than the 256 KiB of output allowed
"""
import sys


def relu(z):
    line = "x" * 1023 + "\n"
    for _ in range(20 * 1024):
        sys.stdout.write(line)
    return z
