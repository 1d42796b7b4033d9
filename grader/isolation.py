"""Isolation of the child on Linux with bubblewrap (bwrap, the sandbox Flatpak uses).

The child sees a read-only view of the system's libraries, the Python installation, the
few grader modules it runs and the submission -- nothing else: not solutions/, not the data
folder, not the report path, not other submissions. It has its own user, PID, network,
IPC and UTS namespaces (no network at all; its processes all die with it), a private
tmpfs /tmp as working directory, and a new session (no terminal to inject keystrokes into).
Where bwrap is missing or cannot create namespaces, available() says why and the grader
carries on with rlimits only, saying so in the report.
"""
import functools
import shutil
import subprocess
import sys
from pathlib import Path

GRADER = Path(__file__).resolve().parent
# What the child imports from the grader: not vectors.json, checks/ or anything else.
CHILD_FILES = ("__init__.py", "worker.py", "blanks.py", "protocol.py", "limits.py", "provided/network.py")
SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/etc/ld.so.cache", "/etc/alternatives")
NAMESPACES = ["--unshare-all", "--unshare-user", "--uid", "65534", "--gid", "65534",
              "--die-with-parent", "--new-session"]


@functools.cache
def available():
    """(path of a working bwrap, None) or (None, why not)."""
    if not sys.platform.startswith("linux"):
        return None, f"bubblewrap needs Linux (this is {sys.platform})"
    path = shutil.which("bwrap")
    if path is None:
        return None, "bubblewrap is not installed (Debian/Ubuntu: apt-get install bubblewrap)"
    try:
        probe = subprocess.run([path, "--ro-bind", "/", "/", *NAMESPACES, "--", "/bin/true"],
                               capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"bwrap could not run: {exc}"
    if probe.returncode != 0:
        why = probe.stderr.strip().splitlines()[-1:] or [f"exit code {probe.returncode}"]
        return None, f"bwrap cannot create namespaces here ({why[0]})"
    return path, None


def python_paths():
    """Folders the child's Python needs: its installation, the venv, and numpy's site-packages."""
    import numpy

    paths = {sys.base_prefix, sys.prefix, sys.exec_prefix, str(Path(numpy.__file__).resolve().parent.parent)}
    paths.add(str(Path(sys.executable).resolve().parent.parent))
    return sorted(paths)


@functools.cache
def sizes_tmpfs(bwrap):
    """bwrap 0.8 and later can cap a tmpfs (memory-backed: unbounded, it is a memory bomb)."""
    return "--size" in subprocess.run([bwrap, "--help"], capture_output=True, text=True).stdout


def command(bwrap, submission, tmp_bytes):
    """The bwrap arguments that run a command in the child's view of the world."""
    # The tmpfs first: the submission may live under /tmp, and a later mount hides an earlier one.
    size = ["--size", str(tmp_bytes)] if sizes_tmpfs(bwrap) else []
    args = [bwrap, *NAMESPACES, "--dev", "/dev", "--proc", "/proc", *size, "--tmpfs", "/tmp"]
    for path in (*SYSTEM, *python_paths()):
        args += ["--ro-bind-try", path, path]
    for name in CHILD_FILES:
        args += ["--ro-bind-try", str(GRADER / name), str(GRADER / name)]  # provided/ may not be generated yet
    # bwrap's own root and /dev are writable tmpfs mounts, unsized: a memory bomb outside
    # RLIMIT_AS. Read-only after setup; only the sized /tmp stays writable.
    args += ["--ro-bind", str(submission), str(submission), "--remount-ro", "/dev", "--remount-ro", "/",
             "--chdir", "/tmp", "--"]
    return args
