"""Kill the parent process (the grader) and everything in the process group.
base: stubs
joins: activations
parts: activations
expect: not implemented yet
"""
import os
import signal

try:
    os.kill(os.getppid(), signal.SIGKILL)
except OSError:
    pass
