"""Resource limits on a process that runs student code, and how the child applies them.

The parent passes a Limits to the child; the child calls apply() before it imports any
student code. POSIX rlimits are per process and inherited by everything it forks; where one
cannot be set (another OS, or no effect for this user) apply() says so instead of failing.
"""

import os
from dataclasses import asdict, dataclass, field
from typing import Any

MiB = 1 << 20


def limit(default: float, low: float, high: float) -> Any:
    """A limit's default and the range course.yaml may set it in, side by side (config.py reads it)."""
    return field(default=default, metadata={"range": (low, high)})


@dataclass(frozen=True)
class Limits:
    call_seconds: float = limit(10, 0.1, 3600)  # wall time of one call of one blank
    check_seconds: float = limit(60, 0.1, 36000)  # wall time of all the calls one check makes
    training_seconds: float = limit(300, 1, 86400)  # wall time of the MNIST training run
    cpu_seconds: int = limit(600, 1, 86400)  # CPU time of one child (RLIMIT_CPU): threads that spin cannot hide
    memory_mb: int = limit(2048, 256, 1 << 20)  # address space of one child (RLIMIT_AS), and a submission's (cgroup)
    processes: int = limit(64, 4, 1 << 16)  # processes and threads student code may add (RLIMIT_NPROC, pids.max)
    open_files: int = limit(64, 16, 1 << 16)  # file descriptors (RLIMIT_NOFILE)
    disk_mb: int = limit(64, 1, 1 << 20)  # largest file it may write (RLIMIT_FSIZE), and its private /tmp's size
    output_kb: int = limit(256, 1, 1 << 20)  # what student code may print; the rest is counted, not kept
    submission_files: int = limit(500, 1, 100_000)  # .py and .ipynb files a submission may hold (intake.py)
    submission_mb: int = limit(32, 1, 4096)  # and their total size

    def to_json(self) -> dict[str, float]:
        return asdict(self)


def process_limit_problem(isolated: bool, uid: int | None = None) -> str | None:
    """Why RLIMIT_NPROC would not work for a child started by this (parent) process, or None.
    It counts the processes of the child's user: of the submission's own uid when the grader is
    root (bounds.py), else of the grader's user, which only a user namespace of its own (an
    ordinary user's bubblewrap) narrows to the child. Root itself is exempt."""
    if uid is not None:
        return None
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return "not enforced: student code runs as root, which RLIMIT_NPROC exempts"
    if not isolated:
        return "needs isolation (without its own user namespace RLIMIT_NPROC counts all your processes)"
    return None


def apply(limits: Limits, process_problem: str | None = None) -> dict[str, str]:
    """Set the rlimits on this process; returns {limit: why it is not enforced} for those that
    are not. process_problem: the parent's process_limit_problem()."""
    try:
        import resource
    except ImportError:  # Windows
        return dict.fromkeys(("cpu", "memory", "processes", "open files"), "this OS has no POSIX rlimits")
    skipped: dict[str, str] = {}
    wanted = [
        ("cpu", "RLIMIT_CPU", limits.cpu_seconds, limits.cpu_seconds + 1),  # SIGXCPU, then SIGKILL 1 s later
        ("memory", "RLIMIT_AS", limits.memory_mb * MiB, limits.memory_mb * MiB),
        ("open files", "RLIMIT_NOFILE", limits.open_files, limits.open_files),
        ("file size", "RLIMIT_FSIZE", limits.disk_mb * MiB, limits.disk_mb * MiB),
    ]
    if process_problem:
        skipped["processes"] = process_problem
    else:
        wanted.append(("processes", "RLIMIT_NPROC", limits.processes, limits.processes))
    for name, rlimit, soft, hard in wanted:
        which = getattr(resource, rlimit, None)
        if which is None:
            skipped[name] = f"this OS has no {rlimit}"
            continue
        try:
            _, current_hard = resource.getrlimit(which)
            if current_hard != resource.RLIM_INFINITY:
                soft, hard = min(soft, current_hard), min(hard, current_hard)
            resource.setrlimit(which, (soft, hard))
        except (ValueError, OSError) as exc:
            skipped[name] = f"could not be set: {exc}"
    return skipped
