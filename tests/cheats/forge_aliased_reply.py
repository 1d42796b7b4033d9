"""Answer sgd_update with a reply whose dict names one 8 MiB bool buffer under 1,000 keys: each
key became its own float64 copy in the grader (8 MiB with 16 keys cost it 3.2 GB; with 1,000
it was killed for memory, with no report: found by red-teaming).
base: stubs
joins: updates
parts: updates
expect: an array referenced twice
"""
import json
import os
import struct
import sys


def sgd_update(params, grads, lr):
    frame = sys._getframe()
    while frame is not None and not isinstance(frame.f_locals.get("request"), dict):
        frame = frame.f_back
    request_id = frame.f_locals["request"]["id"] if frame else None
    size = 8 << 20
    body = {"id": request_id, "ok": True, "result": {f"W{i}": {"$array": 0} for i in range(1000)}}
    header = json.dumps({"body": body, "arrays": [["bool", [size]]]}).encode()
    payload = struct.pack("<Q", len(header)) + header + b"\x01" * size
    fd = int(sys.argv[2])
    os.write(fd, struct.pack("<Q", len(payload)))
    view = memoryview(payload)
    while view:
        view = view[os.write(fd, view):]
    raise NotImplementedError
