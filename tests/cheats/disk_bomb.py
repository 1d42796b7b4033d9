"""Fill the disk: write 16 MiB files into the working folder (a memory-backed tmpfs under
isolation) until something gives, then one file as large as possible.
base: wrong
joins: activations
parts: activations
expect: No space left on device
"""
import itertools


def relu(z):
    chunk = b"\0" * (16 << 20)
    for i in itertools.count():
        with open(f"fill-{i}", "wb") as f:
            f.write(chunk)
