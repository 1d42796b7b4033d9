"""Shrink (and grow) the shared memory the grader places watched arguments in: the grader's
next read of it was a SIGBUS that killed it with no report (found by red-teaming).
base: wrong
joins: activations
parts: activations
expect: relative error
"""
import json
import os
import sys

_ARENA = json.loads(sys.argv[5])["arena"][0]
for _size in (0, 1 << 40):
    try:
        os.ftruncate(_ARENA, _size)
    except OSError:
        pass
