"""Writing a file whole or not at all: the one way the grader writes what someone will read
(generated files, reports, the feedback page, gradebooks, caches).

The text goes to a temporary file in the same folder, which then replaces the target in one
rename (atomic on one file system): a reader, a crash or a full disk never leaves half a file
where the old one was, and a failed write leaves no temporary file behind.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def atomic_write(path: str | os.PathLike[str], data: str | bytes, mode: int = 0o644) -> Path:
    """Write data (text as UTF-8) to path, making its folder if need be. mode: the file's
    permissions (mkstemp's 0600 would hide a generated file from everyone else, a sandboxed
    child's uid too). Returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path
