"""Tests for grader/mnist.py: the IDX reader, load_mnist and resolve_data_dir.

All IDX files are generated here (a few random images), except in the one
test that loads the real shared MNIST folder.
"""

from __future__ import annotations

import gzip
import os
import struct
from pathlib import Path

import numpy as np
import pytest

from grader.data.mnist import ENV_VAR, FILE_NAMES, MNIST, ChosenFolderError, DataError, find_files, load_mnist, read_idx, resolve_data_dir

SHARED_MNIST = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "mnist"


def idx_bytes(array: np.ndarray) -> bytes:
    """Encode a uint8 array as IDX: zero, zero, type 0x08, ndim, big-endian dims, data."""
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def write_idx(path: Path, data: bytes | np.ndarray) -> Path:
    """Write IDX data (an array, or raw bytes for broken files); gzip if the name ends in .gz."""
    raw = idx_bytes(data) if isinstance(data, np.ndarray) else data
    path.write_bytes(gzip.compress(raw) if path.suffix == ".gz" else raw)
    return path


def make_mnist(folder: Path, n_train: int = 12, n_test: int = 5, *, gz: bool = True, seed: int = 0) -> dict:
    """Write a small valid MNIST folder; return the arrays written, keyed like FILE_NAMES."""
    rng = np.random.default_rng(seed)
    arrays = {
        "train_images": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train_labels": rng.integers(0, 10, n_train, dtype=np.uint8),
        "test_images": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "test_labels": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    folder.mkdir(parents=True, exist_ok=True)
    for role, array in arrays.items():
        write_idx(folder / (FILE_NAMES[role] + (".gz" if gz else "")), array)
    return arrays


# --- read_idx ----------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".gz", ""])
def test_read_idx_round_trips_gz_and_raw(tmp_path, suffix):
    images = np.arange(3 * 28 * 28, dtype=np.uint32).astype(np.uint8).reshape(3, 28, 28)
    labels = np.array([7, 0, 9], dtype=np.uint8)
    got_images = read_idx(write_idx(tmp_path / f"img{suffix}", images))
    got_labels = read_idx(write_idx(tmp_path / f"lab{suffix}", labels))
    assert got_images.dtype == np.uint8 and got_images.shape == (3, 28, 28)
    np.testing.assert_array_equal(got_images, images)
    np.testing.assert_array_equal(got_labels, labels)


def test_bad_magic(tmp_path):
    path = write_idx(tmp_path / "x.gz", b"\x12\x34\x08\x01" + struct.pack(">I", 1) + b"\x05")
    with pytest.raises(DataError, match="bad magic number 0x12340801") as err:
        read_idx(path)
    assert str(path) in str(err.value)


def test_wrong_dtype_code(tmp_path):
    path = write_idx(tmp_path / "x", b"\x00\x00\x0d\x01" + struct.pack(">I", 1) + b"\x00" * 4)
    with pytest.raises(DataError, match="data type code 0x0d"):
        read_idx(path)


def test_label_file_where_images_expected(tmp_path):
    path = write_idx(tmp_path / "x.gz", np.zeros(4, np.uint8))
    with pytest.raises(DataError, match="1 dimensions, expected an image file"):
        read_idx(path, ndim=3)


def test_truncated(tmp_path):
    full = idx_bytes(np.zeros((5, 28, 28), np.uint8))
    path = write_idx(tmp_path / "train-images-idx3-ubyte.gz", full[:-100])
    with pytest.raises(DataError) as err:
        read_idx(path)
    assert str(err.value) == (
        f"{path}: truncated: header says 5 images of 28x28 = 3920 bytes but only 3820 follow"
    )


def test_truncated_header(tmp_path):
    path = write_idx(tmp_path / "x", b"\x00\x00\x08\x03\x00\x00")
    with pytest.raises(DataError, match="truncated: the header needs 16 bytes"):
        read_idx(path)


def test_trailing_garbage(tmp_path):
    path = write_idx(tmp_path / "x", idx_bytes(np.zeros(3, np.uint8)) + b"junk")
    with pytest.raises(DataError, match=r"trailing garbage: header says 3 labels = 3 bytes but 7 follow \(4 too many\)"):
        read_idx(path)


@pytest.mark.parametrize("damage", ["not gzip", "cut off", "flipped byte"])
def test_corrupt_gzip(tmp_path, damage):
    good = gzip.compress(idx_bytes(np.arange(200, dtype=np.uint8)))
    bad = {
        "not gzip": b"this is not gzip at all",
        "cut off": good[: len(good) // 2],
        "flipped byte": good[:20] + bytes([good[20] ^ 0xFF]) + good[21:],
    }[damage]
    path = tmp_path / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(bad)
    with pytest.raises(DataError) as err:
        read_idx(path)
    assert str(err.value).startswith(f"{path}: corrupt gzip data")


# --- load_mnist --------------------------------------------------------------


@pytest.mark.parametrize("gz", [True, False])
def test_load_mnist_valid(tmp_path, gz):
    arrays = make_mnist(tmp_path, n_train=12, n_test=5, gz=gz)
    data = load_mnist(tmp_path)
    assert isinstance(data, MNIST)
    assert data.train_images.shape == (12, 784) and data.train_labels.shape == (12,)
    assert data.test_images.shape == (5, 784) and data.test_labels.shape == (5,)
    assert data.train_images.dtype == data.test_labels.dtype == np.uint8
    np.testing.assert_array_equal(data.train_images[3], arrays["train_images"][3].ravel())
    np.testing.assert_array_equal(data.test_labels, arrays["test_labels"])
    assert data.folder == tmp_path


def test_gz_preferred_over_raw(tmp_path):
    make_mnist(tmp_path, gz=True, seed=1)
    make_mnist(tmp_path, gz=False, seed=2)
    files = find_files(tmp_path)
    assert files is not None and all(p.suffix == ".gz" for p in files.values())


def test_image_label_count_mismatch(tmp_path):
    make_mnist(tmp_path, n_train=12)
    labels = tmp_path / "train-labels-idx1-ubyte.gz"
    write_idx(labels, np.zeros(11, np.uint8))
    with pytest.raises(DataError, match="holds 12 images but .* holds 11 labels") as err:
        load_mnist(tmp_path)
    assert str(labels) in str(err.value)


def test_label_out_of_range(tmp_path):
    make_mnist(tmp_path, n_test=5)
    path = write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.array([1, 2, 10, 3, 4], np.uint8))
    with pytest.raises(DataError, match="label 10 at index 2 is not a digit 0..9") as err:
        load_mnist(tmp_path)
    assert str(path) in str(err.value)


def test_images_not_28x28(tmp_path):
    make_mnist(tmp_path)
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", np.zeros((12, 32, 32), np.uint8))
    with pytest.raises(DataError, match="images are 32x32, MNIST images are 28x28"):
        load_mnist(tmp_path)


def test_empty_split(tmp_path):
    make_mnist(tmp_path)
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", np.zeros((0, 28, 28), np.uint8))
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.zeros(0, np.uint8))
    with pytest.raises(DataError, match="header says 0 images"):
        load_mnist(tmp_path)


def test_missing_files_listed(tmp_path):
    make_mnist(tmp_path)
    (tmp_path / "train-labels-idx1-ubyte.gz").unlink()
    (tmp_path / "t10k-images-idx3-ubyte.gz").unlink()
    with pytest.raises(DataError) as err:
        load_mnist(tmp_path)
    msg = str(err.value)
    assert msg.startswith(f"{tmp_path} is missing train-labels-idx1-ubyte(.gz), t10k-images-idx3-ubyte(.gz)")
    assert "it holds: t10k-labels-idx1-ubyte.gz, train-images-idx3-ubyte.gz" in msg
    assert find_files(tmp_path) is None


def test_missing_folder(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_mnist(tmp_path / "nope")


def test_arrays_are_read_only(tmp_path):
    make_mnist(tmp_path)
    data = load_mnist(tmp_path)
    with pytest.raises(ValueError):
        data.train_images[0, 0] = 1


def test_real_shared_mnist():
    """The shared offline copy: 24,345 real training images, the full 10,000 test images.

    Not skippable on purpose: CI sets GRADE_DATA_DIR, and a checkout next to
    ../shared finds it; anywhere else this should fail loudly.
    """
    folder = Path(os.environ[ENV_VAR]) if os.environ.get(ENV_VAR) else SHARED_MNIST
    assert folder.is_dir(), f"no MNIST folder: set {ENV_VAR} or provide {SHARED_MNIST}"
    data = load_mnist(folder)
    assert data.train_images.shape == (24_345, 784)
    assert data.train_labels.shape == (24_345,)
    assert data.test_images.shape == (10_000, 784)
    assert data.test_labels.shape == (10_000,)
    assert set(np.unique(data.test_labels)) == set(range(10))
    assert 30 < data.test_images.mean() < 40  # MNIST's mean pixel is about 33


# --- resolve_data_dir --------------------------------------------------------


@pytest.fixture
def three_folders(tmp_path, monkeypatch):
    """Valid MNIST folders for --data-dir, GRADE_DATA_DIR and course.yaml, plus an empty default."""
    monkeypatch.delenv(ENV_VAR, raising=False)
    folders = {name: tmp_path / name for name in ("cli", "env", "config", "default")}
    for name in ("cli", "env", "config"):
        make_mnist(folders[name], n_train=2, n_test=1)
    return folders


def test_resolve_order(three_folders, monkeypatch):
    f = three_folders
    monkeypatch.setenv(ENV_VAR, str(f["env"]))
    assert resolve_data_dir(f["cli"], f["config"], f["default"]) == (f["cli"], "--data-dir")
    assert resolve_data_dir(None, f["config"], f["default"]) == (f["env"], "GRADE_DATA_DIR")
    monkeypatch.setenv(ENV_VAR, "")  # empty counts as unset
    assert resolve_data_dir(None, f["config"], f["default"]) == (f["config"], "course.yaml data.dir")
    monkeypatch.delenv(ENV_VAR)
    assert resolve_data_dir(None, None, f["default"]) == (f["default"], "default")


@pytest.mark.parametrize(
    "source, label",
    [("cli", "--data-dir"), ("env", "GRADE_DATA_DIR"), ("config", "course.yaml data.dir")],
)
def test_resolve_explicit_missing_dir_raises(three_folders, monkeypatch, source, label):
    f = three_folders
    missing = f["default"] / "not-here"
    args = {"cli": None, "config": f["config"]}
    if source == "cli":
        args["cli"] = missing
    elif source == "env":
        monkeypatch.setenv(ENV_VAR, str(missing))
    else:
        args["config"] = missing
    with pytest.raises(ChosenFolderError) as err:  # a DataError: a configuration to fix, not data to fetch
        resolve_data_dir(args["cli"], args["config"], f["default"])
    assert str(err.value) == (f"data folder from {label}: {missing} does not exist; fix it, or leave {label} out "
                              "to use datasets/mnist/")


def test_resolve_explicit_incomplete_dir_raises(three_folders, monkeypatch):
    f = three_folders
    (f["env"] / "t10k-labels-idx1-ubyte.gz").unlink()
    monkeypatch.setenv(ENV_VAR, str(f["env"]))
    with pytest.raises(DataError, match="from GRADE_DATA_DIR: .* is missing t10k-labels-idx1-ubyte"):
        resolve_data_dir(None, f["config"], f["default"])  # must not fall through to config


def test_resolve_default_returned_even_if_absent(tmp_path, monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)
    assert resolve_data_dir(None, None, tmp_path / "absent") == (tmp_path / "absent", "default")
