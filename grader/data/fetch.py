"""Downloading MNIST safely.

The rules, and why:

* Each file is streamed to ``NAME.part`` in the destination folder and only
  renamed to ``NAME`` (os.replace, atomic on one file system) after its size,
  md5 and sha256 all match the manifest. So ``NAME`` either does not exist or
  is the exact official file: an interrupted or corrupt download can never
  be mistaken for a good one, and no half file is left behind.
* Mirrors are tried in order; a failing mirror (HTTP error, no connection,
  short read, wrong checksum) is reported and the next one is tried.
* A file already in place with the right checksums is kept. One with the
  wrong checksums is an error: it may be someone's own copy, and
  overwriting data silently is never acceptable.

Only the standard library (urllib, hashlib) is used for the transfer; rich
draws the progress bar.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from grader.data.mnist import DataError, load_mnist

DEFAULT_MANIFEST = Path(__file__).resolve().parent / "mnist.json"  # package data: in every wheel and release


def course_manifest(root: Path) -> Path:
    """The manifest a course uses: its own datasets/mnist.json if it has one (other mirrors, a
    local one, say), else the grader's."""
    own = Path(root) / "datasets" / "mnist.json"
    return own if own.is_file() else DEFAULT_MANIFEST


_CHUNK = 1 << 16  # 64 KiB: small enough for a smooth progress bar, big enough to be fast
_HEX_DIGITS = {"md5": 32, "sha256": 64}


def load_manifest(path: str | os.PathLike = DEFAULT_MANIFEST) -> dict:
    """Read and validate a data manifest (see grader/data/mnist.json).

    The manifest is an object with "files" (a non-empty list of objects with
    "name", "size", "md5", "sha256") and "mirrors" (a non-empty list of base
    URLs; each file's name is appended to them). Anything else wrong raises
    DataError naming the manifest file and the offending key.
    """
    path = Path(path).absolute()
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise DataError(f"{path}: cannot read the manifest: {exc.strerror or exc}") from exc
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: not valid JSON: {exc}") from exc

    def bad(key: str, why: str) -> DataError:
        return DataError(f"{path}: {key}: {why}")

    if not isinstance(manifest, dict):
        raise bad("(top level)", "must be a JSON object")
    files = manifest.get("files")
    if not isinstance(files, list) or not files:
        raise bad("files", "must be a non-empty list")
    for i, entry in enumerate(files):
        where = f"files[{i}]"
        if not isinstance(entry, dict):
            raise bad(where, "must be an object with name, size, md5, sha256")
        name = entry.get("name")
        # A bare file name only: the manifest must not be able to write
        # outside the destination folder.
        if not isinstance(name, str) or not name or name != Path(name).name or name in (".", ".."):
            raise bad(f"{where}.name", f"must be a plain file name, got {name!r}")
        size = entry.get("size")
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise bad(f"{where}.size", f"must be a byte count (integer >= 0), got {size!r}")
        for key, digits in _HEX_DIGITS.items():
            value = entry.get(key)
            if not isinstance(value, str) or not re.fullmatch(f"[0-9a-f]{{{digits}}}", value):
                raise bad(f"{where}.{key}", f"must be {digits} lowercase hex digits, got {value!r}")
    mirrors = manifest.get("mirrors")
    if not isinstance(mirrors, list) or not mirrors or not all(isinstance(m, str) and m for m in mirrors):
        raise bad("mirrors", "must be a non-empty list of base URLs")
    return manifest


def _digests(path: Path) -> tuple[int, str, str]:
    """(size, md5, sha256) of a file on disk."""
    md5, sha256, size = hashlib.md5(usedforsecurity=False), hashlib.sha256(), 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            md5.update(chunk)
            sha256.update(chunk)
            size += len(chunk)
    return size, md5.hexdigest(), sha256.hexdigest()


def _mismatch(entry: dict, size: int, md5: str, sha256: str) -> str | None:
    """What differs from the manifest entry, or None if everything matches."""
    if size != entry["size"]:
        return f"{size} bytes instead of {entry['size']}"
    if md5 != entry["md5"]:
        return f"md5 {md5} instead of {entry['md5']}"
    if sha256 != entry["sha256"]:
        return f"sha256 {sha256} instead of {entry['sha256']}"
    return None


def _download(url: str, part: Path, entry: dict, timeout: float, advance: Callable[[int], None]) -> None:
    """Stream `url` into `part`, hashing as it goes; raise if anything is off.

    Whatever goes wrong (including Ctrl-C), `part` is deleted before the
    exception travels on, so the caller never sees a partial file.
    """
    try:
        md5, sha256, size = hashlib.md5(usedforsecurity=False), hashlib.sha256(), 0
        with urllib.request.urlopen(url, timeout=timeout) as response, open(part, "wb") as out:
            while chunk := response.read(_CHUNK):
                size += len(chunk)
                if size > entry["size"]:  # stop early instead of filling the disk
                    raise DataError(f"server sent more than the expected {entry['size']} bytes")
                out.write(chunk)
                md5.update(chunk)
                sha256.update(chunk)
                advance(len(chunk))
        if size < entry["size"]:
            # http.client returns an empty read when the connection closes
            # early, so a short body must be detected by counting.
            raise DataError(f"truncated: got {size} of {entry['size']} bytes")
        problem = _mismatch(entry, size, md5.hexdigest(), sha256.hexdigest())
        if problem:
            raise DataError(f"checksum mismatch: {problem}")
    except BaseException:
        part.unlink(missing_ok=True)
        raise


def _reason(exc: BaseException) -> str:
    """A short, readable explanation of why one download attempt failed."""
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        return f"cannot connect: {exc.reason}"
    if isinstance(exc, http.client.IncompleteRead):
        return f"truncated: connection closed after {len(exc.partial)} more bytes"
    if isinstance(exc, TimeoutError):
        return "timed out"
    return str(exc) or type(exc).__name__


class _NoProgress:
    """Stands in for rich's Progress when progress=False."""

    def add_task(self, *args, **kwargs) -> int:
        return 0

    def update(self, *args, **kwargs) -> None:
        pass

    def reset(self, *args, **kwargs) -> None:
        pass

    def print(self, *args, **kwargs) -> None:
        pass

    def __enter__(self) -> _NoProgress:
        return self

    def __exit__(self, *exc) -> None:
        pass


def _progress_bar():
    """A rich progress bar on stderr (stdout stays clean for results)."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
    )


def fetch_mnist(
    dest: str | os.PathLike,
    manifest: dict | str | os.PathLike = DEFAULT_MANIFEST,
    *,
    mirrors: list[str] | None = None,
    progress: bool = True,
    timeout: float = 30,
) -> list[Path]:
    """Make sure `dest` holds every file of `manifest`, verified; download what is missing.

    `manifest` is a dict from load_manifest or the path of a manifest file.
    `mirrors` replaces the manifest's mirror list (base URLs, tried in order).
    `timeout` is in seconds, per network operation.

    Returns the paths of all the manifest's files in `dest`, in manifest
    order. Raises DataError if a file already in `dest` has the wrong
    checksums, if every mirror fails for some file (each mirror is listed
    with its reason), or if the result does not load with load_mnist.
    """
    if not isinstance(manifest, dict):
        manifest = load_manifest(manifest)
    mirrors = list(mirrors) if mirrors is not None else list(manifest["mirrors"])
    dest = Path(dest).expanduser().absolute()
    made = [p for p in (dest, *dest.parents) if not p.exists()]  # removed again if nothing lands in them
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"{dest}: cannot create the data folder: {exc.strerror or exc}") from exc
    try:
        return _fetch_into(dest, manifest, mirrors, progress, timeout)
    except BaseException:
        for folder in made:  # innermost first; an offline first run left an empty datasets/mnist/
            try:
                folder.rmdir()
            except OSError:
                break
        raise


def _fetch_into(dest: Path, manifest: dict, mirrors: list[str], progress: bool, timeout: float) -> list[Path]:

    # Check what is already there before downloading anything, so that a
    # wrong file is reported at once rather than after minutes of transfer.
    todo = []
    for entry in manifest["files"]:
        target = dest / entry["name"]
        if not target.exists():
            todo.append(entry)
            continue
        problem = _mismatch(entry, *_digests(target))
        if problem:
            raise DataError(
                f"{target}: exists but does not match the official checksum ({problem}); "
                "delete it or point --data-dir elsewhere"
            )

    with _progress_bar() if progress else _NoProgress() as bar:
        for entry in todo:
            name = entry["name"]
            target, part = dest / name, dest / f"{name}.part"
            task = bar.add_task(name, total=entry["size"])

            def advance(n, task=task):  # bound now: a closure would see a later file's task
                bar.update(task, advance=n)

            failures = []
            for mirror in mirrors:
                url = mirror + name if mirror.endswith("/") else f"{mirror}/{name}"
                try:
                    _download(url, part, entry, timeout, advance)
                except (OSError, DataError, http.client.HTTPException, ValueError) as exc:
                    # OSError covers URLError/HTTPError, timeouts and resets;
                    # ValueError an unusable URL. Ctrl-C is not caught: it
                    # stops everything (after _download removed the .part).
                    failures.append(f"{url}: {_reason(exc)}")
                    # markup=False: reasons like "[Errno 111]" are text, not rich tags
                    bar.print(f"{url}: {_reason(exc)}; trying the next mirror", style="yellow", markup=False)
                    bar.reset(task, total=entry["size"])
                    continue
                os.replace(part, target)  # atomic: NAME appears complete or not at all
                break
            else:
                listing = "\n".join(f"  - {f}" for f in failures) or "  (no mirrors given)"
                raise DataError(f"{target}: could not be downloaded from any mirror:\n{listing}")

    load_mnist(dest)  # the checksums matched; this also proves the files parse
    return [dest / entry["name"] for entry in manifest["files"]]
