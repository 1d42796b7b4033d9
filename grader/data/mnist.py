"""Reading and checking MNIST, the handwritten-digit data set.

MNIST comes as four files in the IDX format (usually gzip-compressed):

    train-images-idx3-ubyte   the training images   (n, 28, 28) uint8
    train-labels-idx1-ubyte   their labels          (n,)        uint8, 0..9
    t10k-images-idx3-ubyte    the test images
    t10k-labels-idx1-ubyte    their labels

An IDX file is a tiny header followed by raw numbers:

    bytes 0-1   always zero
    byte  2     the type of every number; 0x08 means unsigned byte
    byte  3     how many dimensions (3 for images, 1 for labels)
    then        one big-endian uint32 per dimension (count, rows, columns)
    then        the data itself, row by row, exactly count*rows*columns bytes

So the magic number 0x00000803 says "unsigned bytes, 3 dimensions" (images)
and 0x00000801 "unsigned bytes, 1 dimension" (labels).

Because the header states how many bytes must follow, a reader can tell a
truncated or padded file from a good one without any checksum; that is what
`load_mnist` relies on, so that any folder of genuine-looking MNIST files
(even a subset of the training set) is accepted. Checksums against the
official downloads are the downloader's job (see grader/data/fetch.py).
"""

from __future__ import annotations

import gzip
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from grader.errors import USAGE, GraderFailure

ENV_VAR = "GRADE_DATA_DIR"

# Role -> file name without the ".gz" suffix. A folder may hold either form.
FILE_NAMES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}

_UBYTE = 0x08  # IDX type code for unsigned bytes, the only one MNIST uses
_IMAGE_SHAPE = (28, 28)


# What to do when there is no data, said wherever it is missing (`grade check` offline).
HOW_TO_GET = (
    f"Give the MNIST folder with --data-dir DIR or {ENV_VAR}=DIR, or download it into datasets/mnist/ "
    "with `grade fetch-data` (needs the internet; checksums verified)."
)


class DataError(GraderFailure):
    """The data is missing or not what it should be.

    The message always names the file or folder concerned and says what is
    wrong with it, so that it can be shown to a student as it is.
    """


class ChosenFolderError(DataError):
    """A folder someone chose (--data-dir, GRADE_DATA_DIR, course.yaml's data.dir) cannot be
    used: a configuration to fix, not data to fetch."""

    exit_code = USAGE


@dataclass(frozen=True)
class MNIST:
    """The four arrays of MNIST, images flattened to rows of 784 pixels.

    The arrays are read-only views of the file contents: the data is shared
    by every check that runs, so nobody may change it in place. Make a copy
    (e.g. ``X = data.train_images.astype(np.float32) / 255``) to transform it.
    """

    train_images: np.ndarray  # (m, 784) uint8, pixel values 0..255
    train_labels: np.ndarray  # (m,) uint8, digits 0..9
    test_images: np.ndarray  # (k, 784) uint8
    test_labels: np.ndarray  # (k,) uint8
    folder: Path  # where it was loaded from


def _read_bytes(path: Path) -> bytes:
    """Return the (decompressed) contents of `path`, as one bytes object.

    Reading everything at once and decompressing in one call is far faster
    than streaming through gzip.open; MNIST is small enough (about 55 MB
    uncompressed) for that to be the right trade.
    """
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot be read: {exc.strerror or exc}") from exc
    if path.suffix != ".gz":
        return raw
    try:
        return gzip.decompress(raw)
    # BadGzipFile is an OSError; a cut-off stream raises EOFError and
    # damaged compressed data raises zlib.error.
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{path}: corrupt gzip data ({exc}); the file is damaged, download it again") from exc


def _describe(dims: tuple[int, ...]) -> str:
    """Human wording of an IDX shape, e.g. '24345 images of 28x28'."""
    if len(dims) == 3:
        return f"{dims[0]} images of {dims[1]}x{dims[2]}"
    if len(dims) == 1:
        return f"{dims[0]} labels"
    return "shape " + "x".join(map(str, dims))


def read_idx(path: str | os.PathLike, *, ndim: int | None = None) -> np.ndarray:
    """Parse one IDX file (gzip-compressed if its name ends in .gz).

    Returns a uint8 array: (n, rows, cols) for an image file, (n,) for a label
    file. With `ndim` given (3 for images, 1 for labels) a file of the other
    kind is refused, which catches swapped or misnamed files early.

    Every way the file can be wrong raises DataError naming the file: a bad
    magic number, a type other than unsigned bytes, fewer bytes than the
    header promises (truncated) or more (trailing garbage), damaged gzip data.
    The returned array is read-only; it shares memory with the file contents.
    """
    path = Path(path).absolute()  # messages must name the full path
    data = _read_bytes(path)

    if len(data) < 4:
        raise DataError(f"{path}: only {len(data)} bytes; too short to be an IDX file (4-byte magic number missing)")
    zero, dtype_code, n_dims = data[0:2], data[2], data[3]
    if zero != b"\x00\x00":
        raise DataError(
            f"{path}: bad magic number 0x{data[:4].hex()}: not an IDX file "
            "(expected 0x00000803 for images or 0x00000801 for labels)"
        )
    if dtype_code != _UBYTE:
        raise DataError(
            f"{path}: bad magic number 0x{data[:4].hex()}: data type code 0x{dtype_code:02x}, "
            "but MNIST stores unsigned bytes (0x08)"
        )
    if ndim is not None and n_dims != ndim:
        wanted = {3: "an image file (magic 0x00000803)", 1: "a label file (magic 0x00000801)"}.get(
            ndim, f"{ndim} dimensions"
        )
        raise DataError(f"{path}: bad magic number 0x{data[:4].hex()}: {n_dims} dimensions, expected {wanted}")
    if n_dims == 0:
        raise DataError(f"{path}: bad magic number 0x{data[:4].hex()}: zero dimensions")

    header_len = 4 + 4 * n_dims
    if len(data) < header_len:
        raise DataError(f"{path}: truncated: the header needs {header_len} bytes but the file has only {len(data)}")
    dims = struct.unpack(f">{n_dims}I", data[4:header_len])  # big-endian uint32s

    expected = 1
    for d in dims:
        expected *= d
    actual = len(data) - header_len
    if actual < expected:
        raise DataError(f"{path}: truncated: header says {_describe(dims)} = {expected} bytes but only {actual} follow")
    if actual > expected:
        raise DataError(
            f"{path}: trailing garbage: header says {_describe(dims)} = {expected} bytes "
            f"but {actual} follow ({actual - expected} too many)"
        )
    # frombuffer does not copy: the array is a view of `data`.
    return np.frombuffer(data, dtype=np.uint8, offset=header_len).reshape(dims)


def _locate(folder: Path) -> tuple[dict[str, Path], list[str]]:
    """Find each MNIST file in `folder`: (role -> path found, names missing)."""
    found, missing = {}, []
    for role, name in FILE_NAMES.items():
        # The .gz is what the mirrors serve and what the downloader verifies,
        # so it wins when both forms are present.
        for candidate in (folder / f"{name}.gz", folder / name):
            if candidate.is_file():
                found[role] = candidate
                break
        else:
            missing.append(f"{name}(.gz)")
    return found, missing


def find_files(folder: str | os.PathLike) -> dict[str, Path] | None:
    """Paths of the four MNIST files in `folder`, keyed like FILE_NAMES.

    Returns None unless all four are there (as NAME.gz or plain NAME).
    """
    found, missing = _locate(Path(folder))
    return None if missing else found


def _missing_message(folder: Path) -> str | None:
    """Why `folder` cannot be used as an MNIST folder, or None if it can."""
    if not folder.exists():
        return f"{folder} does not exist"
    if not folder.is_dir():
        return f"{folder} is not a folder"
    _, missing = _locate(folder)
    if not missing:
        return None
    contents = sorted(p.name for p in folder.iterdir())
    shown = ", ".join(contents[:12]) + (f", ... ({len(contents)} entries)" if len(contents) > 12 else "")
    holds = f"it holds: {shown}" if contents else "it is empty"
    return f"{folder} is missing {', '.join(missing)}; {holds}"


def load_mnist(folder: str | os.PathLike) -> MNIST:
    """Load and structurally verify the MNIST files in `folder`.

    Checked: all four files are present; each parses as IDX (see read_idx);
    images are 28x28; each split has as many labels as images, at least one;
    every label is a digit 0..9. Checksums are NOT compared, so a genuine
    subset of MNIST (e.g. the first 24,345 training images) is accepted.
    Raises DataError naming the file and the problem.
    """
    folder = Path(folder).expanduser().absolute()
    problem = _missing_message(folder)
    if problem:
        raise DataError(problem)
    files = find_files(folder)
    assert files is not None  # _missing_message found nothing missing

    arrays = {}
    for role, path in files.items():
        is_images = role.endswith("images")
        array = read_idx(path, ndim=3 if is_images else 1)
        if is_images and array.shape[1:] != _IMAGE_SHAPE:
            raise DataError(f"{path}: images are {array.shape[1]}x{array.shape[2]}, MNIST images are 28x28")
        if len(array) == 0:
            raise DataError(f"{path}: header says 0 {'images' if is_images else 'labels'}; the file is empty")
        if not is_images and array.max() > 9:
            bad = int(np.argmax(array > 9))
            raise DataError(f"{path}: label {int(array[bad])} at index {bad} is not a digit 0..9")
        arrays[role] = array

    for split in ("train", "test"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if len(images) != len(labels):
            raise DataError(
                f"{files[f'{split}_images']}: holds {len(images)} images but "
                f"{files[f'{split}_labels']} holds {len(labels)} labels; they must match one to one"
            )

    def flat(images: np.ndarray) -> np.ndarray:
        return images.reshape(len(images), -1)  # (n, 28, 28) -> (n, 784), still a view

    return MNIST(
        train_images=flat(arrays["train_images"]),
        train_labels=arrays["train_labels"],
        test_images=flat(arrays["test_images"]),
        test_labels=arrays["test_labels"],
        folder=folder,
    )


def resolve_data_dir(
    cli_dir: str | os.PathLike | None,
    config_dir: str | os.PathLike | None,
    default_dir: str | os.PathLike,
) -> tuple[Path, str]:
    """Decide which folder the MNIST files are read from, and say why.

    The first of these that is set wins:

        1. cli_dir          --data-dir on the command line
        2. $GRADE_DATA_DIR  the environment (an empty value counts as unset)
        3. config_dir       data.dir in course.yaml (resolve it relative to
                            course.yaml before passing it in)
        4. default_dir      datasets/mnist/ inside the kit

    Returns (folder, source), source being one of "--data-dir",
    "GRADE_DATA_DIR", "course.yaml data.dir", "default".

    A folder someone chose explicitly (1-3) must exist and hold all four
    files, otherwise DataError says which folder, where it came from and what
    is missing: silently falling through to another folder would grade with
    data the user did not ask for. The default folder is returned even when
    empty or absent, because the caller then downloads into it.
    """
    choices = (
        (cli_dir, "--data-dir"),
        (os.environ.get(ENV_VAR) or None, ENV_VAR),
        (config_dir, "course.yaml data.dir"),
    )
    for value, source in choices:
        if value is None or str(value) == "":
            continue
        folder = Path(value).expanduser().absolute()
        problem = _missing_message(folder)
        if problem:
            raise ChosenFolderError(
                f"data folder from {source}: {problem}; fix it, or leave {source} out to use datasets/mnist/"
            )
        return folder, source
    return Path(default_dir).expanduser().absolute(), "default"
