"""Ask for 12.8 GB at once (fine on a 24 GiB machine without a limit, and every page of it
touched), then hoard whatever else can be had.
base: wrong
joins: activations
parts: activations
expect: memory limit of 2048 MiB exceeded in relu
"""
import numpy as np


def relu(z):
    hoard = [np.ones((40_000, 40_000))]
    while True:
        hoard.append(bytearray(64 << 20))
