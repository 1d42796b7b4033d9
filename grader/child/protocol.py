"""The wire format between the grader and the child process that runs student code.

A message is a JSON header followed by raw array buffers. Nothing is pickled: the parent
decodes only numbers, strings, lists, dicts and arrays of a few plain dtypes, so a
hostile child can send wrong values but never code.

An argument can also travel in shared memory (Shared): the child's blank then works on the
grader's own buffer, and the grader reads that buffer back itself after the call. This is how
a check sees whether a blank modified its inputs without asking the child, whose account of
itself could be anything.
"""

from __future__ import annotations

import json
import math
import os
import struct
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # annotations only: the child imports this module, and nothing more than it needs
    import mmap
    from collections.abc import Callable

    Wait = Callable[[int], object]

DTYPES = {"float64", "float32", "uint8", "int64", "bool"}
MAX_MESSAGE = 1 << 30  # no legitimate message comes near 1 GiB
# Arrays travel as raw buffers, so a header is only structure. JSON lists cost Python ~50
# times their text: an uncapped header turned a 50 MB reply into 2.5 GB in the grader.
MAX_HEADER = 1 << 20


class ProtocolError(Exception):
    """The other side sent something that is not a well-formed message."""


class Shared:
    """An array placed in the shared arena at offset: packed as a reference to it, not as bytes."""

    def __init__(self, offset: int, array: np.ndarray) -> None:
        self.offset, self.dtype, self.shape = offset, array.dtype.name, list(array.shape)


def pack(obj: Any) -> bytes:
    """Encode obj (dicts, lists, scalars, ndarrays) as one length-prefixed message."""
    arrays = []

    def encode(x):
        if isinstance(x, Shared):
            return {"$shared": [x.offset, x.dtype, x.shape]}
        if isinstance(x, np.ndarray):
            arrays.append(x)  # tobytes() writes C order; ascontiguousarray would make 0-d arrays 1-d
            return {"$array": len(arrays) - 1}
        if isinstance(x, dict):
            return {str(k): encode(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return [encode(v) for v in x]
        if isinstance(x, np.generic):
            return x.item()
        return x

    body = encode(obj)
    header = json.dumps({"body": body, "arrays": [[a.dtype.name, list(a.shape)] for a in arrays]}).encode()
    parts = [struct.pack("<Q", len(header)), header, *(a.tobytes() for a in arrays)]
    size = sum(len(p) for p in parts)
    return struct.pack("<Q", size) + b"".join(parts)


def unpack(payload: bytes | bytearray, arena: mmap.mmap | None = None) -> Any:
    """Decode a message body made by pack(); raise ProtocolError on anything malformed.
    arena: the shared memory (a writable buffer) that "$shared" arrays live in, on the side
    that accepts them (the child); elsewhere a "$shared" is malformed."""
    try:
        (hlen,) = struct.unpack_from("<Q", payload, 0)
        if hlen > MAX_HEADER:
            raise ProtocolError(f"message header of {hlen} bytes is larger than the {MAX_HEADER} allowed")
        header = json.loads(bytes(payload[8 : 8 + hlen]))
        offset = 8 + hlen
        arrays = []
        for dtype, shape in header["arrays"]:
            if dtype not in DTYPES or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape):
                raise ProtocolError(f"array of dtype {dtype!r} and shape {shape!r} is not allowed")
            count = math.prod(shape)  # exact: numpy's int64 product of a forged shape can wrap to 0
            nbytes = count * np.dtype(dtype).itemsize
            if offset + nbytes > len(payload):
                raise ProtocolError("message ends inside an array")
            arrays.append(np.frombuffer(payload, dtype, count, offset).reshape(shape))
            offset += nbytes
    except ProtocolError:
        raise
    except Exception as exc:  # malformed JSON, struct, shapes: all the same verdict
        raise ProtocolError(f"malformed message: {exc}") from None

    used = set()

    def decode(x):
        if isinstance(x, dict):
            if set(x) == {"$array"}:
                # Each buffer once: the same one named by many keys became a float64 copy per key
                # in the grader (a 8 MiB reply cost it 3.2 GB: red team). A reply is then never
                # more in the grader than 8 times its size (uint8 or bool to float64).
                if x["$array"] in used or not isinstance(x["$array"], int) or isinstance(x["$array"], bool):
                    raise ProtocolError("an array referenced twice")
                used.add(x["$array"])
                return arrays[x["$array"]]
            if set(x) == {"$shared"} and arena is not None:
                offset, dtype, shape = x["$shared"]
                return np.ndarray(shape, np.dtype(dtype), buffer=arena, offset=offset)
            return {k: decode(v) for k, v in x.items()}
        if isinstance(x, list):
            return [decode(v) for v in x]
        return x

    try:
        return decode(header["body"])
    except ProtocolError:
        raise
    except Exception as exc:  # deep nesting, bad indices: all malformed
        raise ProtocolError(f"malformed message: {type(exc).__name__}") from None
    finally:
        # decode refers to itself (a closure cell), a cycle that kept every message's buffer alive
        # until the cyclic collector ran: 16 MiB asks grew the grader to 1 GB (red team)
        decode = None  # type: ignore[assignment]  # drops the function, and with it the cycle


def write_message(fd: int, obj: Any, wait: Wait | None = None) -> None:
    """Write one message. With wait, fd must be non-blocking, and wait(fd) is called whenever
    the pipe is full (it may raise on timeout): a reader that stops reading cannot hang us."""
    data = memoryview(pack(obj))
    while data:
        try:
            data = data[os.write(fd, data) :]
        except BlockingIOError:
            assert wait is not None  # only a non-blocking fd (which comes with wait) raises this
            wait(fd)


def read_exactly(fd: int, n: int, wait: Wait | None = None) -> bytearray | None:
    """Read n bytes from fd; wait(fd) is called before each read (it may raise on timeout).
    Returns None on end of file before the first byte."""
    buf = bytearray(n)
    view, got = memoryview(buf), 0
    while got < n:
        if wait is not None:
            wait(fd)
        chunk = os.read(fd, min(n - got, 1 << 20))
        if not chunk:
            if got == 0:
                return None
            raise ProtocolError(f"connection closed after {got} of {n} bytes")
        view[got : got + len(chunk)] = chunk
        got += len(chunk)
    return buf


def read_message(fd: int, wait: Wait | None = None, max_size: int = MAX_MESSAGE, arena: mmap.mmap | None = None) -> Any:
    """Read one message; None on a clean end of file. The buffer is allocated up front, so
    the side reading untrusted messages passes a max_size it can afford."""
    head = read_exactly(fd, 8, wait)
    if head is None:
        return None
    (size,) = struct.unpack("<Q", head)
    if size > max_size:
        raise ProtocolError(f"message of {size} bytes is larger than the {max_size} allowed")
    payload = read_exactly(fd, size, wait)
    if payload is None:
        raise ProtocolError("connection closed inside a message")
    return unpack(payload, arena)
