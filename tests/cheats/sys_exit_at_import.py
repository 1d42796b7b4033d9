"""sys.exit(0) while the module is imported, hoping the grader reads exit code 0 as success.
base: stubs
joins: activations
parts: activations
expect: called sys.exit(0)
"""
import sys

sys.exit(0)
