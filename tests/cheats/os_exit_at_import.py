"""os._exit(0) at import: no exception to catch, the process is simply gone with code 0.
base: stubs
joins: activations
parts: activations
expect: ERROR: during relu, your code ended the process with exit code 0
"""
import os

os._exit(0)
