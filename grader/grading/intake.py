"""A submission is regular files: read by trusted code, copied into a folder of the grader's,
and graded there.

Students hand in folders the grader did not make: a clone (git keeps symbolic links and any
bytes in a name), an upload, an nbgrader collection. Before anything is fingerprinted, located
or shown to a child, prepare() copies the files grading can use -- .py and .ipynb, regular
files whose every name is inside the submission -- into a fresh private folder, and grading
sees only that copy. Nothing is followed or opened as anything but a regular file: a symbolic
link (to the reference, a classmate's folder, /dev/zero), a device, a FIFO, a socket or a hard
link from outside is left out, and the report says so. At most limits.submission_files files
and limits.submission_mb MiB are read; a submission over either is refused with a message.
A notebook is turned into modules in a bounded child (platforms/nbgrader.py, convert), never parsed here.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from grader.errors import GradeError, SubmissionProblem
from grader.reports.formats import printable

if TYPE_CHECKING:
    from grader.config import Course

GRADED = (".py", ".ipynb")  # what grading can use; anything else is left where it is
SKIP = ("__pycache__",)  # bytecode runs code the instructor cannot read: never copied
MAX_DEPTH = 8
MAX_ENTRIES = 100_000  # files and folders looked at, graded or not: a walk must end quickly


class SubmissionError(SubmissionProblem):
    """The submission cannot be graded; str(self) says which file and why."""


# Control characters, the line and paragraph separators, and the marks and overrides that turn
# the direction of the text around them ("Trojan Source").
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u2028-\u202e\u2066-\u2069]")


def shown(name: str | bytes) -> str:
    """A file name as text that any terminal, CSV, CI log or JSON can carry: bytes that are not
    UTF-8 and control characters (a newline, ESC: git keeps them in names) become escapes, so a
    name can neither start a line of its own (a workflow command, a Markdown row) nor move a
    terminal's cursor (red team)."""
    return printable(os.fsencode(name).decode("utf-8", "backslashreplace"), CONTROL)


@dataclass
class Taken:
    folder: Path  # the private copy
    files: dict = field(default_factory=dict)  # relative path (str) -> bytes, in name order
    skipped: list = field(default_factory=list)  # "name: why", for the report


def take(source: Path | str, dest: Path | str, max_files: int, max_bytes: int) -> Taken:
    """Copy source's graded files into dest (made here, readable by the child's uid). Returns
    a Taken; raises SubmissionError for a submission that is not a folder or is over a limit."""
    try:  # source itself is the caller's choice (a path on the command line): it may be a link
        root = os.open(source, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as exc:
        raise SubmissionError(f"{shown(str(source))}: not a folder the grader can read ({exc.strerror})") from None
    taken = Taken(Path(dest))
    # (device, inode) -> ([names], link count): a file linked from outside has names we never saw
    inodes: dict[tuple[int, int], tuple[list[str], int]] = {}
    try:
        _walk(root, Path(), 0, taken, inodes, max_files, max_bytes, [0])
    finally:
        os.close(root)
    for names, links in inodes.values():
        if len(names) < links:
            for name in names:
                del taken.files[name]
                taken.skipped.append(f"{shown(name)}: a hard link to a file outside the submission")
    taken.folder.mkdir(parents=True, exist_ok=True)
    os.chmod(taken.folder, 0o755)  # the child runs as a uid of its own: it must read the copy
    for name, data in taken.files.items():
        path = taken.folder / name
        path.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
        path.write_bytes(data)
        os.chmod(path, 0o644)
    return taken


def _walk(dir_fd, rel, depth, taken, inodes, max_files, max_bytes, seen):
    entries = []
    for entry in os.scandir(dir_fd):
        seen[0] += 1
        if seen[0] > MAX_ENTRIES:
            raise SubmissionError(f"{shown(str(rel))}: the submission holds more than {MAX_ENTRIES} files and folders")
        entries.append(entry)
    for entry in sorted(entries, key=lambda e: os.fsencode(e.name)):
        name, path = entry.name, rel / entry.name
        if name.startswith(".") or name in SKIP:  # .git, .ipynb_checkpoints, bytecode
            continue
        info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        if stat.S_ISLNK(info.st_mode):
            taken.skipped.append(f"{shown(str(path))}: a symbolic link (only regular files are graded)")
        elif stat.S_ISDIR(info.st_mode):
            if depth >= MAX_DEPTH:
                taken.skipped.append(f"{shown(str(path))}: deeper than {MAX_DEPTH} folders")
                continue
            try:
                fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
            except OSError as exc:
                taken.skipped.append(f"{shown(str(path))}: cannot be read ({exc.strerror})")
                continue
            try:
                _walk(fd, path, depth + 1, taken, inodes, max_files, max_bytes, seen)
            finally:
                os.close(fd)
        elif not name.endswith(GRADED):
            continue
        elif not stat.S_ISREG(info.st_mode):
            taken.skipped.append(f"{shown(str(path))}: not a regular file (a device, FIFO or socket)")
        else:
            if len(taken.files) >= max_files:
                raise SubmissionError(
                    f"{shown(str(path))}: the submission has more than {max_files} .py and .ipynb "
                    "files (limits.submission_files)"
                )
            used = sum(len(d) for d in taken.files.values())
            data = _read(dir_fd, name, info, max_bytes - used)
            if data is None:
                continue
            if len(data) > max_bytes - used:
                raise SubmissionError(
                    f"{shown(str(path))}: the submission's .py and .ipynb files hold more than "
                    f"{max_bytes / (1 << 20):g} MiB (limits.submission_mb)"
                )
            taken.files[str(path)] = data
            if info.st_nlink > 1:
                names, _ = inodes.setdefault((info.st_dev, info.st_ino), ([], info.st_nlink))
                names.append(str(path))


def _read(dir_fd, name, info, budget):
    """The bytes of a regular file, opened without following links, reading at most budget + 1
    (enough to tell it is over); None if it is no longer the file we looked at."""
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
    except OSError:
        return None
    try:
        now = os.fstat(fd)
        if not stat.S_ISREG(now.st_mode) or (now.st_dev, now.st_ino) != (info.st_dev, info.st_ino):
            return None  # swapped for something else since we looked
        want = min(now.st_size, budget + 1)  # never more than it said it held (a file may grow meanwhile)
        chunks, size = [], 0
        while size < want:
            chunk = os.read(fd, min(1 << 20, want - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


@dataclass
class Prepared:
    folder: Path  # the modules the child imports (a private copy, or modules made from a notebook)
    taken: Taken  # every file read
    where: str  # what in the submission was graded: "", "exercises/<id>" or the notebook's relative path
    replaced: tuple[str, ...] = ()  # the given files the submission held otherwise (see given)

    @property
    def notes(self) -> list[str]:
        """Lines for the report about what was not graded, and why."""
        return [f"not graded: {line}" for line in self.taken.skipped] + [
            f"{name}: the assignment gives it, and the grader used the assignment's own copy, not yours"
            for name in self.replaced
        ]


def given(folder: Path, course: Course) -> tuple[str, ...]:
    """Put the assignment's own copy of each file that only gives functions (network.py, see
    Course.given_modules) into the prepared folder, over the student's: training calls them, and
    what a student does not write must not change a grade. Returns the files the submission
    held with other contents."""
    replaced = []
    for module in course.given_modules:
        ours, theirs = course.exercises / f"{module}.py", folder / f"{module}.py"
        if not ours.is_file():
            raise GradeError(f"{ours}: missing; it gives functions training calls: run `grade generate`")
        text = ours.read_bytes()
        if theirs.is_file() and not theirs.is_symlink() and theirs.read_bytes() != text:
            replaced.append(theirs.name)
        theirs.unlink(missing_ok=True)
        theirs.write_bytes(text)
    return tuple(replaced)


def locate(taken: Taken, course: Course) -> tuple[str, str] | tuple[None, None]:
    """What to grade in a copy: ("notebook", relative path) or ("modules", folder ("", a clone's
    "exercises/<id>" or an older one's "exercises")), in the order batch grading has always looked
    (nbgrader's layout first)."""
    names, assignment_id = set(taken.files), course.assignment_id

    def has_modules(folder):
        return any(f"{folder}{m}.py" in names for m in course.blank_modules)

    for folder in (f"{assignment_id}/", ""):
        if f"{folder}{assignment_id}.ipynb" in names:
            return "notebook", f"{folder}{assignment_id}.ipynb"
        candidates = [n for n in names if n.startswith(folder) and "/" not in n[len(folder) :] and n.endswith(".ipynb")]
        if len(candidates) == 1 and not has_modules(""):
            return "notebook", candidates[0]
    for folder in ("", f"exercises/{assignment_id}/", "exercises/"):
        if has_modules(folder):
            return "modules", folder.rstrip("/")
    return None, None


def prepare(source: Path | str, workdir: Path | str, course: Course) -> Prepared:
    """Copy the submission at source into workdir (a fresh folder of the grader's) and return
    what to grade. Raises SubmissionError (or nbgrader.NotebookError) with the reason."""
    from grader.platforms import nbgrader

    limits = course.limits
    taken = take(source, Path(workdir) / "files", limits.submission_files, limits.submission_mb << 20)
    kind, where = locate(taken, course)
    if where is not None and kind == "notebook":  # where is None exactly when kind is
        folder = nbgrader.convert(taken.folder / where, Path(workdir) / "from-notebook", limits, course.modules)
        return Prepared(folder, taken, where, given(folder, course))
    if where is not None and kind == "modules":
        return Prepared(taken.folder / where, taken, where, given(taken.folder / where, course))
    files = ", ".join(f"{m}.py" for m in course.blank_modules)
    skipped = "".join(f"; {line}" for line in taken.skipped)
    raise SubmissionError(
        f"no {files} (nor exercises/{course.assignment_id}/ holding them, nor a notebook {course.assignment_id}.ipynb) "
        f"in {shown(str(source))}{skipped}"
    )


PRIVATE: set[str] = set()  # this process's private folders not yet removed (see remove_private_folders)


@contextlib.contextmanager
def private_folder() -> Iterator[str]:
    """A fresh folder for one submission's copy, removed on the way out. Its name carries this
    process's pid, so that the copies of a grader that was killed outright are found and removed
    by the next (sweep_private_folders)."""
    from grader.sandbox.bounds import remove_tree

    sweep_private_folders()
    folder = tempfile.mkdtemp(prefix=f"grade-submission-{os.getpid()}-")
    PRIVATE.add(folder)
    try:
        yield folder
    finally:
        remove_tree(folder)  # however deep, never following a link
        PRIVATE.discard(folder)


def remove_private_folders() -> None:
    """For a process about to be killed itself (a batch worker at its time limit)."""
    from grader.sandbox.bounds import remove_trees

    remove_trees(list(PRIVATE))
    PRIVATE.clear()


def sweep_private_folders() -> None:
    """Remove the private folders of graders that have died since."""
    from grader.sandbox.bounds import remove_trees

    stale = []
    with contextlib.suppress(OSError):
        for entry in os.scandir(tempfile.gettempdir()):
            parts = entry.name.split("-")
            if (
                entry.name.startswith("grade-submission-")
                and len(parts) >= 4
                and parts[2].isdigit()
                and not os.path.exists(f"/proc/{parts[2]}")
                and sys.platform.startswith("linux")
            ):
                stale.append(entry.path)
    remove_trees(stale)
