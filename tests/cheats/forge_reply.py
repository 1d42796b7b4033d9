"""Write straight into the grader's reply pipe, ahead of the worker's own answer.
base: stubs
joins: activations
parts: activations
expect: ERROR
"""
import os
import sys


def relu(z):
    os.write(int(sys.argv[2]), b"\xff" * 64 + b'{"ok": true, "result": 100}')
    raise NotImplementedError
