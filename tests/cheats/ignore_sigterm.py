"""Ignore SIGTERM (and SIGINT, SIGHUP), then loop: a grader that asks politely waits forever.
base: wrong
joins: activations
parts: activations
expect: relu did not finish within 2 s (an endless loop?), and was stopped
"""
import signal

for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
    signal.signal(sig, signal.SIG_IGN)


def relu(z):
    while True:
        pass
