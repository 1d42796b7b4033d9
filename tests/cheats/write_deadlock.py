"""Shrink the grader's request pipe to one page and answer every request in advance, so that
a grader that trusts the order of replies, or writes without a deadline, hangs or mixes up
answers (found by red-teaming).
base: wrong
joins: activations
parts: activations
expect: a reply to a request it was not sent
"""
import fcntl
import sys


def relu(z):
    from grader.child.protocol import write_message
    try:
        fcntl.fcntl(int(sys.argv[1]), 1031, 4096)  # F_SETPIPE_SZ
    except OSError:
        pass
    for _ in range(10_000):
        write_message(int(sys.argv[2]), {"ok": False, "kind": "exception", "message": "x"})
    raise NotImplementedError
