"""Announce a reply of almost 1 GiB on the grader's pipe, hoping it allocates that much and
waits for the rest.
base: stubs
joins: activations
parts: activations
expect: larger than the 16777216 allowed
"""
import os
import struct
import sys


def relu(z):
    os.write(int(sys.argv[2]), struct.pack("<Q", (1 << 30) - 1))
    raise NotImplementedError
