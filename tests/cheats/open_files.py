"""Open files until the descriptors run out.
base: wrong
joins: activations
parts: activations
expect: Too many open files
"""
import os


def relu(z):
    kept = []
    while True:
        kept.append(os.open("/dev/null", os.O_RDONLY))
