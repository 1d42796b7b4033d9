"""Answer with a well-formed 4 MB message (50 MB in the original attack) whose JSON is millions of empty lists: Python
spends ~50 bytes on each, so the grader would need 2.5 GB (found by red-teaming).
base: stubs
joins: activations
parts: activations
expect: larger than the 1048576 allowed
"""
import sys


def relu(z):
    from grader.child.protocol import write_message
    frame = sys._getframe()
    while frame is not None and not isinstance(frame.f_locals.get("request"), dict):
        frame = frame.f_back
    request_id = frame.f_locals["request"]["id"] if frame else None
    write_message(int(sys.argv[2]), {"id": request_id, "ok": True, "result": [[]] * 1_000_000})
    raise NotImplementedError
