"""Isolation of the child on Linux with bubblewrap (bwrap, the sandbox Flatpak uses).

The child sees a read-only view of the system's libraries, the Python installation, the
few grader modules it runs and the submission -- nothing else: not solutions/, not the data
folder, not the report path, not other submissions. It has its own PID, network, IPC and UTS
namespaces (no network at all; its processes all die with it), a private tmpfs /tmp as
working directory, and a new session (no terminal to inject keystrokes into).

Who the child is depends on who grades. An ordinary user's bwrap makes a user namespace too
(the child is "nobody" in it). Root's bwrap makes none: a user namespace of root's maps the
child to root outside, which RLIMIT_NPROC exempts. Instead the worker drops to the
submission's own unprivileged uid (bounds.py) before any student code runs, and the folders
bwrap makes for its binds are created world-readable, so that uid can reach the Python
installation even where it lives under /root. Where bwrap is missing or cannot create
namespaces, available() says why and the grader carries on without, saying so in the report.
"""

import functools
import os
import shutil
import subprocess
import sys
from pathlib import Path

GRADER = Path(__file__).resolve().parents[1]  # grader/
# What the child imports from the grader, by folder: child/ (the worker, its wire format, its
# limits, the blanks' table, the training loop), with the package's __init__.py. Not the
# checks, the vectors or anything else: a file the child needs goes into child/.
CHILD_FILES = ("__init__.py", "child")
SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/etc/ld.so.cache", "/etc/alternatives")
NAMESPACES = [
    "--unshare-all",
    "--unshare-user",
    "--uid",
    "65534",
    "--gid",
    "65534",
    "--die-with-parent",
    "--new-session",
]
# root: no user namespace (the worker drops to an unprivileged uid itself; see above)
ROOT_NAMESPACES = [
    "--unshare-ipc",
    "--unshare-pid",
    "--unshare-net",
    "--unshare-uts",
    "--unshare-cgroup-try",
    "--die-with-parent",
    "--new-session",
]


def as_root(bwrap: str) -> bool:
    """Does this bwrap run without a user namespace, the worker dropping to a uid of its own?
    Root's does, where bwrap can set the mode of the folders it makes (--perms, 0.5 and later)."""
    return hasattr(os, "geteuid") and os.geteuid() == 0 and "--perms" in help_text(bwrap)


def namespaces(bwrap: str) -> list[str]:
    return ROOT_NAMESPACES if as_root(bwrap) else NAMESPACES


@functools.cache
def available() -> tuple[str | None, str | None]:
    """(path of a working bwrap, None) or (None, why not)."""
    if not sys.platform.startswith("linux"):
        return None, f"bubblewrap needs Linux (this is {sys.platform})"
    path = shutil.which("bwrap")
    if path is None:
        return None, "bubblewrap is not installed (Debian/Ubuntu: apt-get install bubblewrap)"
    try:
        probe = subprocess.run(
            [path, "--ro-bind", "/", "/", *namespaces(path), "--", "/bin/true"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"bwrap could not run: {exc}"
    if probe.returncode != 0:
        why = probe.stderr.strip().splitlines()[-1:] or [f"exit code {probe.returncode}"]
        return None, f"bwrap cannot create namespaces here ({why[0]})"
    return path, None


def python_paths() -> list[str]:
    """Folders the child's Python needs: its installation, the venv, and numpy's site-packages."""
    import numpy

    paths = {sys.base_prefix, sys.prefix, sys.exec_prefix, str(Path(numpy.__file__).resolve().parent.parent)}
    paths.add(str(Path(sys.executable).resolve().parent.parent))
    return sorted(paths)


@functools.cache
def help_text(bwrap: str) -> str:
    return subprocess.run([bwrap, "--help"], capture_output=True, text=True).stdout


def sizes_tmpfs(bwrap: str) -> bool:
    """bwrap 0.8 and later can cap a tmpfs (memory-backed: unbounded, it is a memory bomb)."""
    return "--size" in help_text(bwrap)


def command(bwrap: str, submission: str | os.PathLike[str], tmp_bytes: int) -> list[str]:
    """The bwrap arguments that run a command in the child's view of the world."""
    root = as_root(bwrap)
    # The tmpfs first: the submission may live under /tmp, and a later mount hides an earlier one.
    # Root's child writes there as its own uid: the tmpfs is world-writable, like any /tmp.
    size = ["--size", str(tmp_bytes)] if sizes_tmpfs(bwrap) else []
    args = [
        bwrap,
        *namespaces(bwrap),
        "--dev",
        "/dev",
        "--proc",
        "/proc",
        *size,
        *(["--perms", "1777"] if root else []),
        "--tmpfs",
        "/tmp",
    ]
    binds = [(path, path) for path in (*SYSTEM, *python_paths())]
    binds += [(str(GRADER / name), str(GRADER / name)) for name in CHILD_FILES]
    if root:  # bwrap makes a bind's missing parents 0700, which the child's uid could not cross
        parents = {str(p) for _, dest in [*binds, (None, str(submission))] for p in Path(dest).parents}
        for folder in sorted(parents - {"/", "/tmp"}, key=lambda p: (p.count("/"), p)):
            args += ["--perms", "0755", "--dir", folder]
    for source, dest in binds:
        args += ["--ro-bind-try", source, dest]  # a system folder this machine lacks (/lib32) is left out
    # bwrap's own root and /dev are writable tmpfs mounts, unsized: a memory bomb outside
    # RLIMIT_AS. Read-only after setup; only the sized /tmp stays writable.
    args += [
        "--ro-bind",
        str(submission),
        str(submission),
        "--remount-ro",
        "/dev",
        "--remount-ro",
        "/",
        "--chdir",
        "/tmp",
        "--",
    ]
    return args
