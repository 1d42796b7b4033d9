"""pytest.exit(returncode=0) at import: ends a pytest session that imports the answer in-process.
base: stubs
joins: activations
parts: activations
expect: raised Exit: all tests passed
"""
import pytest

pytest.exit("all tests passed", returncode=0)
