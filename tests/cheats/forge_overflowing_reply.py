"""Answer with the right request id, but a 400-digit integer as the result, and then a kind
that is not a string (found by red-teaming: both once became "ERROR in the grader").
base: stubs
joins: activations
parts: activations
expect: relu returned a value that is not a float64 number
"""
import sys


def _reply(**fields):
    from grader.child.protocol import write_message
    frame = sys._getframe()
    while frame is not None and not isinstance(frame.f_locals.get("request"), dict):
        frame = frame.f_back
    write_message(int(sys.argv[2]), {"id": frame.f_locals["request"]["id"], **fields})


def relu(z):
    _reply(ok=True, result=10 ** 400)
    raise NotImplementedError


def sigmoid(z):
    _reply(ok=False, kind=[], message="x")
    raise NotImplementedError
