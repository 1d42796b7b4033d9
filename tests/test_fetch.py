"""Tests for grader/fetch.py against a real HTTP server on 127.0.0.1.

The server serves small generated MNIST files under several "mirrors" that
misbehave in different ways; the manifest is written for those files:

    /good/NAME      the file
    /corrupt/NAME   the right length, one byte changed (checksum mismatch)
    /missing/NAME   404
    /short/NAME     Content-Length of the whole file, then half of it and a close
"""

from __future__ import annotations

import collections
import gzip
import hashlib
import json
import os
import socket
import struct
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from grader.data import fetch
from grader.data.fetch import DEFAULT_MANIFEST, fetch_mnist, load_manifest
from grader.data.mnist import ENV_VAR, FILE_NAMES, DataError, load_mnist

SHARED_MNIST = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "mnist"


def idx_gz(array: np.ndarray) -> bytes:
    """A uint8 array as a gzip-compressed IDX file."""
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return gzip.compress(header + array.tobytes())


def small_mnist_files() -> dict[str, bytes]:
    """File name -> contents of a tiny but valid MNIST (8 train, 4 test images)."""
    rng = np.random.default_rng(0)
    shapes = {"train_images": (8, 28, 28), "train_labels": (8,), "test_images": (4, 28, 28), "test_labels": (4,)}
    return {
        FILE_NAMES[role] + ".gz": idx_gz(rng.integers(0, 10 if len(shape) == 1 else 256, shape, dtype=np.uint8))
        for role, shape in shapes.items()
    }


class Handler(BaseHTTPRequestHandler):
    """Serves server.files under the misbehaving mirrors described above."""

    def do_GET(self):
        self.server.requests[self.path] += 1
        mirror, _, name = self.path.lstrip("/").partition("/")
        body = self.server.files.get(name)
        if body is None or mirror == "missing":
            self.send_error(404)
            return
        if mirror == "corrupt":
            body = body[:-1] + bytes([body[-1] ^ 0xFF])
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        # HTTP/1.0: the server closes the connection after this, so the
        # short mirror's response ends early, like a dropped download.
        self.wfile.write(body[: len(body) // 2] if mirror == "short" else body)

    def log_message(self, *args):  # keep test output quiet
        pass


@pytest.fixture(scope="module")
def _httpd():
    """One server for the module: shutting one down costs up to a poll interval."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)  # port 0: any free port
    httpd.files = small_mnist_files()
    httpd.requests = collections.Counter()
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


@pytest.fixture
def server(_httpd):
    _httpd.requests.clear()  # each test counts its own requests
    return _httpd


@pytest.fixture
def manifest(server, tmp_path) -> Path:
    """A manifest file describing exactly the files the server holds."""
    path = tmp_path / "manifest.json"
    files = [
        {"name": name, "size": len(body), "md5": hashlib.md5(body).hexdigest(), "sha256": hashlib.sha256(body).hexdigest()}
        for name, body in server.files.items()
    ]
    path.write_text(json.dumps({"description": "test", "files": files, "mirrors": [server.url + "/good/"]}))
    return path


@pytest.fixture
def dest(tmp_path) -> Path:
    return tmp_path / "data"


def mirrors(server, *names):
    return [f"{server.url}/{name}/" for name in names]


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_good_download(server, manifest, dest):
    paths = fetch_mnist(dest, manifest, progress=False, timeout=5)
    assert [p.name for p in paths] == list(server.files)
    for path in paths:
        assert path.read_bytes() == server.files[path.name]
    assert listing(dest) == sorted(server.files)  # no .part left behind
    assert load_mnist(dest).train_images.shape == (8, 784)


def test_corrupt_mirror_then_good(server, manifest, dest):
    fetch_mnist(dest, manifest, mirrors=mirrors(server, "corrupt", "good"), progress=False, timeout=5)
    assert listing(dest) == sorted(server.files)
    for name in server.files:
        assert server.requests[f"/corrupt/{name}"] == 1 and server.requests[f"/good/{name}"] == 1
        assert (dest / name).read_bytes() == server.files[name]


def test_404_mirror_then_good(server, manifest, dest):
    fetch_mnist(dest, manifest, mirrors=mirrors(server, "missing", "good"), progress=False, timeout=5)
    assert listing(dest) == sorted(server.files)


def test_all_mirrors_bad(server, manifest, dest):
    bad = mirrors(server, "corrupt", "missing", "short")
    with pytest.raises(DataError) as err:
        fetch_mnist(dest, manifest, mirrors=bad, progress=False, timeout=5)
    msg = str(err.value)
    first = next(iter(server.files))
    assert msg.startswith(f"{dest / first}: could not be downloaded from any mirror")
    assert f"{bad[0]}{first}: checksum mismatch" in msg
    assert f"{bad[1]}{first}: HTTP 404" in msg
    assert f"{bad[2]}{first}: truncated" in msg
    assert listing(dest) == []  # neither the file nor a .part


def test_a_failed_fetch_removes_the_folders_it_made_and_only_those(server, manifest, tmp_path):
    """An offline first run once left an empty datasets/mnist/ behind."""
    kept = tmp_path / "course"
    kept.mkdir()
    (kept / "notes.txt").write_text("mine")
    for dest in (kept / "datasets" / "mnist", tmp_path / "empty-but-mine"):
        if dest.name == "empty-but-mine":
            dest.mkdir()
        with pytest.raises(DataError):
            fetch_mnist(dest, manifest, mirrors=mirrors(server, "missing"), progress=False, timeout=5)
    assert listing(kept) == ["notes.txt"]  # datasets/ and datasets/mnist/ made, then removed
    assert (tmp_path / "empty-but-mine").is_dir()  # there before: left as it was


def test_truncated_response(server, manifest, dest):
    with pytest.raises(DataError, match=r"truncated: got \d+ of \d+ bytes"):
        fetch_mnist(dest, manifest, mirrors=mirrors(server, "short"), progress=False, timeout=5)
    assert listing(dest) == []


def test_unreachable_mirror(server, manifest, dest):
    with socket.socket() as s:  # a port that was free a moment ago: nothing listens there
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}/"
    fetch_mnist(dest, manifest, mirrors=[dead, server.url + "/good/"], progress=False, timeout=5)
    assert listing(dest) == sorted(server.files)


def test_existing_wrong_file_is_an_error_and_untouched(server, manifest, dest):
    dest.mkdir()
    victim = dest / "train-images-idx3-ubyte.gz"
    victim.write_bytes(b"my own precious file")
    with pytest.raises(DataError) as err:
        fetch_mnist(dest, manifest, progress=False, timeout=5)
    assert str(err.value).startswith(f"{victim}: exists but does not match the official checksum")
    assert "delete it or point --data-dir elsewhere" in str(err.value)
    assert victim.read_bytes() == b"my own precious file"
    assert sum(server.requests.values()) == 0  # refused before downloading anything


def test_existing_valid_file_not_downloaded_again(server, manifest, dest):
    dest.mkdir()
    kept = "train-images-idx3-ubyte.gz"
    (dest / kept).write_bytes(server.files[kept])
    fetch_mnist(dest, manifest, progress=False, timeout=5)
    assert server.requests[f"/good/{kept}"] == 0
    assert sum(server.requests.values()) == 3
    fetch_mnist(dest, manifest, progress=False, timeout=5)  # all present: no requests at all
    assert sum(server.requests.values()) == 3


def test_interrupt_removes_part_file(server, manifest, dest, monkeypatch):
    """Ctrl-C in the middle of a transfer stops everything and leaves no .part."""
    calls = []

    def interrupt_after_first_chunk(n):
        calls.append(n)
        assert (dest / "train-images-idx3-ubyte.gz.part").exists()  # really mid-transfer
        raise KeyboardInterrupt

    class Bar(fetch._NoProgress):
        def update(self, *args, advance=0, **kwargs):
            interrupt_after_first_chunk(advance)

    monkeypatch.setattr(fetch, "_NoProgress", Bar)
    with pytest.raises(KeyboardInterrupt):
        fetch_mnist(dest, manifest, progress=False, timeout=5)
    assert calls and listing(dest) == []


def test_progress_bar_goes_to_stderr(server, manifest, dest, capsys):
    fetch_mnist(dest, manifest, progress=True, timeout=5)
    assert capsys.readouterr().out == ""
    assert listing(dest) == sorted(server.files)


# --- the manifest ------------------------------------------------------------


@pytest.mark.parametrize(
    "content, key",
    [
        ("{not json", "not valid JSON"),
        ('{"mirrors": ["http://x/"]}', "files: must be a non-empty list"),
        ('{"files": [{"name": "../evil", "size": 1, "md5": "", "sha256": ""}], "mirrors": ["http://x/"]}', r"files\[0\].name"),
        ('{"files": [{"name": "a", "size": 1, "md5": "zz", "sha256": ""}], "mirrors": ["http://x/"]}', r"files\[0\].md5"),
        ('{"files": [{"name": "a", "size": 1, "md5": "' + "0" * 32 + '", "sha256": "' + "0" * 64 + '"}]}', "mirrors"),
    ],
)
def test_bad_manifest(tmp_path, content, key):
    path = tmp_path / "m.json"
    path.write_text(content)
    with pytest.raises(DataError, match=key) as err:
        load_manifest(path)
    assert str(err.value).startswith(str(path))


def test_official_manifest_matches_shared_test_files():
    """grader/mnist.json agrees with the shared copies of the (byte-identical) official test files."""
    manifest = load_manifest(DEFAULT_MANIFEST)
    assert [f["name"] for f in manifest["files"]] == [n + ".gz" for n in FILE_NAMES.values()]
    folder = Path(os.environ[ENV_VAR]) if os.environ.get(ENV_VAR) else SHARED_MNIST
    assert folder.is_dir(), f"no MNIST folder: set {ENV_VAR} or provide {SHARED_MNIST}"
    for entry in manifest["files"]:
        if entry["name"].startswith("t10k"):
            assert fetch._mismatch(entry, *fetch._digests(folder / entry["name"])) is None
