"""One bound on everything a submission runs: its processes, memory and CPU share together.

RLIMITs (limits.py) bound each process on its own: a submission that forks gets them again
in every fork, and root is exempt from RLIMIT_NPROC. A Bound holds every process of one
submission -- the child running its checks, the child training it, the hidden checks' child,
and all they fork -- under one bound:

- a cgroup, where the grader can make one (root on a machine with cgroup v1 hierarchies, as
  here; cgroup v2 where the grader's cgroup can delegate controllers): pids.max, a memory
  limit for all of them together, and the default CPU weight, so that every submission graded
  at once gets the same share of the CPU however many processes it runs;
- an unprivileged user id of its own, when the grader is root: the child drops to it before
  any student code runs (worker.py), so RLIMIT_NPROC counts the submission's processes (root
  is exempt), the child has none of the grader's rights, and whatever it leaves is found by uid;
- `sweep()`, when a submission's public checks are over (before any hidden check runs) and
  again at its end (`close()`), kills every process it left behind: the cgroup's, the uid's,
  and orphans that re-parented to the grader (a child subreaper), so a setsid() daemon never
  outlives its session, and the reports are written after that; as root it also removes what
  the uid left in the folders anyone may write.

Where none of this is possible (an ordinary user, no delegated cgroup), `describe()` says what
bound is in force instead.
"""

import contextlib
import ctypes
import errno
import functools
import os
import secrets
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Collection, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from grader.child.limits import Limits

# Each child of a submission costs the kit up to three processes (bwrap, its init in the PID
# namespace, the worker) and two children run at once (the checks and the training): the cgroup
# allows these on top of limits.processes, which is what student code may add.
KIT_PROCESSES = 6
# Per-submission user ids: 0x70000000.. is unused by distributions and by systemd's own ranges
# (systemd's UIDS-GIDS.md), below 2^31 where some tools turn signed.
UID_BASE, UID_SPAN = 0x70000000, 0x0F000000
NOBODY = 65534
PREFIX = "grade-"


def fresh_uid() -> int:
    return UID_BASE + secrets.randbelow(UID_SPAN)


def is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


# -- processes, read from /proc -------------------------------------------------------------------
def _stat(pid):
    """(ppid, real uid, state) of a process, or None once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    state, ppid = stat.rsplit(")", 1)[1].split()[:2]
    uid = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("Uid:")), -1)
    return int(ppid), uid, state


def processes(spare: Collection[int] = (), reap: bool = True) -> dict[int, tuple[int, int]]:
    """{pid: (ppid, uid)} of every live process this one can see. Zombies are left out, and
    with reap this process's own are reaped (but for those in spare, which their owners wait
    for): a subreaper inherits the dead, bwrap's PID-namespace init among them, once the process
    that started them is gone. Without reap (on another thread than the one that tracks the
    children) nothing is: a reaped child's exit status would be lost to its Popen."""
    table, me = {}, os.getpid()
    for name in os.listdir("/proc"):
        if name.isdigit():
            info = _stat(int(name))
            if info is None:
                continue
            ppid, uid, state = info
            if state in ("Z", "X"):
                if reap and ppid == me and int(name) not in spare:
                    _reap([int(name)])
                continue
            table[int(name)] = (ppid, uid)
    return table


def descendants(roots: Iterable[int], table: dict[int, tuple[int, int]]) -> set[int]:
    """roots and every process below them in table."""
    found, frontier = set(), set(roots)
    while frontier:
        found |= frontier
        frontier = {pid for pid, (ppid, _) in table.items() if ppid in frontier} - found
    return found


def _kill_until_gone(find, rounds=100):
    """SIGKILL whatever find() returns until it returns nothing (a forking process may add one
    between a look and a kill; every round kills all it saw). Returns how many processes were
    killed (each once, however many rounds it took to die)."""
    killed = set()
    for _ in range(rounds):
        pids = find()
        if not pids:
            break
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
                killed.add(pid)
        _reap(pids)
        time.sleep(0.005)
    return len(killed)


def _reap(pids):
    """Collect the zombies of killed orphans that re-parented to us (our children now)."""
    for pid in pids:
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(pid, os.WNOHANG)


@functools.cache
def become_subreaper() -> bool:
    """Make this process the reaper of its orphaned descendants (Linux 3.4+): a process that
    leaves its session with setsid() and double-forks re-parents here instead of to init, where
    close() finds it. Returns whether it worked."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        return False


# -- cgroups ------------------------------------------------------------------------------------------
def _mounts():
    """[(mount point, root within its hierarchy, fs type, super options)] of cgroup mounts."""
    found: list[tuple[Path, str, str, set[str]]] = []
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return found
    for line in lines:
        left, _, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if len(fields) >= 5 and len(tail) >= 3 and tail[0] in ("cgroup", "cgroup2"):
            point = fields[4].replace("\\040", " ")
            found.append((Path(point), fields[3], tail[0], set(tail[2].split(","))))
    return found


def _own_paths():
    """{controller: this process's cgroup path}, "" for the v2 hierarchy."""
    paths: dict[str, str] = {}
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return paths
    for line in lines:
        _, controllers, path = line.split(":", 2)
        for name in controllers.split(",") if controllers else [""]:
            paths[name] = path
    return paths


def _inside(mount_root, path, point):
    """The folder of cgroup `path` under a mount of hierarchy subtree `mount_root`, or None."""
    rel = os.path.relpath(path, mount_root)
    return None if rel.startswith("..") else (point / rel).resolve()


def _write(path, value):
    path.write_text(f"{value}\n")


def _read_key(path, key):
    """The number after `key` in a flat-keyed cgroup file (memory.events, memory.oom_control)."""
    with contextlib.suppress(OSError, ValueError):
        for line in path.read_text().splitlines():
            name, _, value = line.partition(" ")
            if name == key:
                return int(value)
    return 0


class Cgroup:
    """A cgroup (one folder in v2; one per controller in v1) holding one submission."""

    def __init__(self, version: str, dirs: dict[str, Path]) -> None:
        self.version, self.dirs = version, dirs  # dirs: {controller: folder}; v2: every key the same folder

    @property
    def folders(self) -> list[Path]:
        return list(dict.fromkeys(self.dirs.values()))

    @classmethod
    def make(cls, pids_max: int, memory_bytes: int, name: str) -> tuple["Cgroup | None", str | None]:
        """A new cgroup with these limits; (Cgroup, None) or (None, why it cannot be made)."""
        if not sys.platform.startswith("linux"):
            return None, f"cgroups need Linux (this is {sys.platform})"
        mounts, own = _mounts(), _own_paths()
        problems = []
        for make in (cls._v2, cls._v1):
            try:
                group = make(mounts, own, name)
            except OSError as exc:
                problems.append(f"{exc.filename or ''}: {exc.strerror}".strip(": "))
                continue
            if isinstance(group, str):
                problems.append(group)
                continue
            try:
                group._limit(pids_max, memory_bytes)
            except OSError as exc:
                group.remove()
                problems.append(f"cgroup {group.version}: {exc.filename}: {exc.strerror}")
                continue
            return group, None
        return None, "; ".join(problems)

    @classmethod
    def _v2(cls, mounts, own, name):
        mount = next(((p, r) for p, r, kind, _ in mounts if kind == "cgroup2"), None)
        if mount is None or "" not in own:
            return "no cgroup v2 hierarchy"
        here = _inside(mount[1], own[""], mount[0])
        if here is None:
            return "cgroup v2: this process's cgroup is outside the mounted hierarchy"
        available = (
            set((here / "cgroup.controllers").read_text().split()) if (here / "cgroup.controllers").exists() else set()
        )
        if not {"pids", "memory"} <= available:
            return f"cgroup v2: {here} offers no pids and memory controllers (they are in v1 hierarchies here)"
        # A cgroup that holds processes cannot hand controllers to children ("no internal
        # processes"): when this process is alone in its cgroup it moves into a leaf first.
        base = here.parent if here.name == f"{PREFIX}grader" else here
        wanted = {"pids", "memory"} | ({"cpu"} & available)
        enabled = set((base / "cgroup.subtree_control").read_text().split())
        if not wanted <= enabled:
            try:
                _write(base / "cgroup.subtree_control", " ".join(f"+{c}" for c in sorted(wanted - enabled)))
            except OSError as exc:
                if exc.errno != errno.EBUSY:
                    raise
                members = set((base / "cgroup.procs").read_text().split())
                if members != {str(os.getpid())}:
                    return (
                        f"cgroup v2: {base} holds other processes too, so it cannot delegate controllers "
                        "(run grade in a cgroup of its own, e.g. systemd-run --scope -p Delegate=yes grade ...)"
                    )
                leaf = base / f"{PREFIX}grader"
                leaf.mkdir(exist_ok=True)
                _write(leaf / "cgroup.procs", os.getpid())
                _write(base / "cgroup.subtree_control", " ".join(f"+{c}" for c in sorted(wanted - enabled)))
        _sweep_stale(base)
        folder = base / name
        folder.mkdir()
        return cls("v2", dict.fromkeys(wanted, folder))

    @classmethod
    def _v1(cls, mounts, own, name):
        dirs = {}
        for controller in ("pids", "memory", "cpu"):
            mount = next(((p, r) for p, r, kind, opts in mounts if kind == "cgroup" and controller in opts), None)
            if mount is None or controller not in own:
                if controller == "cpu":
                    continue  # the CPU share is a nicety; processes and memory are the bound
                return f"cgroup v1: no {controller} hierarchy"
            parent = _inside(mount[1], own[controller], mount[0])
            if parent is None:
                return f"cgroup v1: this process's {controller} cgroup is outside the mounted hierarchy"
            dirs[controller] = parent
        group = cls("v1", {})
        try:
            for controller, parent in dirs.items():
                if not os.access(parent, os.W_OK):
                    return f"cgroup v1: {parent} is not writable (cgroups need root or a delegated subtree)"
                _sweep_stale(parent)
                folder = parent / name
                folder.mkdir()
                group.dirs[controller] = folder
        except OSError:
            group.remove()
            raise
        return group

    def _limit(self, pids_max, memory_bytes):
        _write(self.dirs["pids"] / "pids.max", pids_max)
        memory = self.dirs["memory"]
        if self.version == "v2":
            _write(memory / "memory.max", memory_bytes)
            if (memory / "memory.swap.max").exists():
                _write(memory / "memory.swap.max", 0)
            if "cpu" in self.dirs:
                _write(self.dirs["cpu"] / "cpu.weight", 100)  # everyone's default: an equal share
        else:
            _write(memory / "memory.limit_in_bytes", memory_bytes)
            if (memory / "memory.memsw.limit_in_bytes").exists():  # memory + swap, where swap is accounted
                _write(memory / "memory.memsw.limit_in_bytes", memory_bytes)
            if "cpu" in self.dirs:
                _write(self.dirs["cpu"] / "cpu.shares", 1024)

    def procs_files(self) -> list[str]:
        return [str(folder / "cgroup.procs") for folder in self.folders]

    def members(self) -> set[int]:
        pids = set()
        for path in self.procs_files():
            with contextlib.suppress(OSError, ValueError):
                pids |= {int(p) for p in Path(path).read_text().split()}
        return pids

    def current(self) -> int:
        """How many tasks are in it now (pids.current)."""
        with contextlib.suppress(OSError, ValueError):
            return int((self.dirs["pids"] / "pids.current").read_text())
        return len(self.members())

    def oom_kills(self) -> int:
        memory = self.dirs["memory"]
        return _read_key(memory / ("memory.events" if self.version == "v2" else "memory.oom_control"), "oom_kill")

    def kill(self) -> int:
        """Kill every process in it: no new one can start (pids.max 0), then SIGKILL them all;
        then the limit is what it was (the group may hold the submission's next child)."""
        limit = self.dirs["pids"] / "pids.max"
        with contextlib.suppress(OSError):
            before = limit.read_text().strip()
            _write(limit, 0)
        if self.version == "v2" and (self.dirs["pids"] / "cgroup.kill").exists():
            with contextlib.suppress(OSError):
                _write(self.dirs["pids"] / "cgroup.kill", 1)
        killed = _kill_until_gone(lambda: self.members())
        with contextlib.suppress(OSError, NameError):
            _write(limit, before)
        return killed

    def remove(self) -> None:
        for folder in reversed(self.folders):
            for _ in range(100):  # a killed task leaves its cgroup a moment after it dies
                try:
                    folder.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.01)


def _sweep_stale(parent):
    """Clear the cgroups of graders that have died since (each is named after its grader's pid):
    kill what still runs in them (a killed grader's children outlive it) and remove them."""
    with contextlib.suppress(OSError):
        for folder in parent.iterdir():
            parts = folder.name.split("-")
            ours = folder.is_dir() and folder.name.startswith(PREFIX) and len(parts) == 3 and parts[1].isdigit()
            if ours and not Path(f"/proc/{parts[1]}").exists():
                stale = Cgroup("stale", {"pids": folder})
                _kill_until_gone(stale.members, rounds=20)
                stale.remove()


# Where any user may write: without isolation a child leaves files there that outlive it (600 MB
# in /dev/shm, which is memory, once: red team). Their owner, the submission's uid, tells them.
SHARED_FOLDERS = ("/dev/shm", "/tmp", "/var/tmp", "/dev/mqueue", "/run/lock")  # memory first


def remove_trees(paths: Iterable[str | os.PathLike[str]]) -> None:
    """Remove each path and all below it, never following a link, however deep: GNU rm's walk
    (openat, no path re-resolved) is made for exactly this, as root, in folders others write.
    shutil.rmtree recursed once per level (a folder 1,500 deep raised RecursionError in the
    grader) and resolved paths again (red team). A thousand paths to an rm: one rm for each of
    211,000 folders took six minutes."""
    one_fs = ["--one-file-system"] if sys.platform.startswith("linux") else []
    paths = [str(p) for p in paths]
    for start in range(0, len(paths), 1000):
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            subprocess.run(["rm", "-rf", *one_fs, "--", *paths[start : start + 1000]], capture_output=True, timeout=600)


def remove_tree(path: str | os.PathLike[str]) -> None:
    remove_trees([path])


def remove_leftovers_of(
    owners: Callable[[os.stat_result], bool], folders: Iterable[str] = SHARED_FOLDERS, depth: int = 2
) -> int:
    """Remove the entries owners(stat result) says yes to from the folders anyone may write. Only
    root's sticky folders are looked into (there nobody but root may rename an entry, so a path
    cannot be swapped for a link to something else while it is removed: another student's
    folder once was, and root deleted what the link pointed at: red team), and each such entry
    is removed whole."""
    doomed = []

    def walk(folder, depth):
        try:
            info = os.stat(folder, follow_symlinks=False)
            entries = list(os.scandir(folder))
        except OSError:
            return
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != 0 or not info.st_mode & stat.S_ISVTX:
            return
        for entry in entries:
            try:
                mine = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if owners(mine):
                doomed.append(entry.path)
            elif depth and stat.S_ISDIR(mine.st_mode) and mine.st_mode & 0o002:
                walk(entry.path, depth - 1)  # root's, sticky and world-writable, checked above

    for folder in folders:
        walk(folder, depth)
    remove_trees(doomed)
    return len(doomed)


def ours(uid: int) -> bool:
    """Is uid one that bounds hands to submissions?"""
    return UID_BASE <= uid < UID_BASE + UID_SPAN


def _quietly(job):
    with contextlib.suppress(Exception):  # another grader's leftovers: never this grading's business
        job()


def remove_orphaned_leftovers(folders: Iterable[str] = SHARED_FOLDERS) -> int:
    """What submissions of graders that died (or timed out) left in the shared folders: files
    of a uid from this kit's range that no process runs as any more. Every such file should have
    gone with its grading's sweep; a grader killed outright never swept."""
    alive, now = {uid for _, uid in processes(reap=False).values()}, time.time()
    # ... and old enough: a process of another grader's may be starting as its uid right now
    return remove_leftovers_of(
        lambda info: ours(info.st_uid) and info.st_uid not in alive and now - info.st_ctime > 60, folders
    )


OPEN: set["Bound"] = set()  # this process's Bounds not yet closed (see close_all)


def close_all(before_files: Callable[[], object] = lambda: None) -> None:
    """Close every open Bound: for a process about to be killed itself (a batch worker stopped at
    its time limit), whose submission's processes would otherwise outlive it. What is quick
    goes first (the processes, the cgroups, then before_files()), the files last: the process
    may be killed outright before it is done."""
    bounds = list(OPEN)
    for bound in bounds:
        bound.kill()
        if bound.cgroup is not None:
            bound.cgroup.remove()
        bound.closed = True
        OPEN.discard(bound)
    before_files()
    for bound in bounds:
        bound.remove_files()


class Bound:
    """The bound on one submission. Every Sandbox of the submission gets it; close() once the
    grading is over kills whatever the submission left and removes the cgroup."""

    def __init__(self, limits: "Limits") -> None:
        OPEN.add(self)
        self.limits = limits
        become_subreaper()
        self.children_before = self._our_children()
        self.uid = fresh_uid() if is_root() else None
        if self.uid is not None:  # what graders that died left: removed meanwhile, on no student's clock
            threading.Thread(target=_quietly, args=(remove_orphaned_leftovers,), daemon=True).start()
        name = f"{PREFIX}{os.getpid()}-{secrets.token_hex(6)}"
        self.cgroup, self.cgroup_problem = Cgroup.make(limits.processes + KIT_PROCESSES, limits.memory_mb << 20, name)
        self.closed, self.killed = False, 0  # killed: processes close() found left over, and killed

    def command(self, argv: list[str]) -> list[str]:
        """argv, started inside the cgroup (a shell joins it, then execs argv: everything argv
        starts is in it from its first instruction)."""
        if self.cgroup is None:
            return argv
        files = self.cgroup.procs_files()
        script = 'for f in "$@"; do [ "$f" = -- ] && break; echo $$ > "$f" || exit 126; shift; done; shift; exec "$@"'
        return ["/bin/sh", "-c", script, "sh", *files, "--", *argv]

    def _our_children(self):
        me = os.getpid()
        return {pid for pid, (ppid, _) in processes(reap=False).items() if ppid == me}

    def oom_kills(self) -> int:
        return self.cgroup.oom_kills() if self.cgroup else 0

    def leftovers(self, tracked: Collection[int] = ()) -> set[int]:
        """Processes of this submission still alive: in its cgroup, of its uid, or orphans that
        re-parented to this process (other than its tracked children and those it had before)."""
        table = processes(spare=set(tracked))
        found = set(self.cgroup.members()) if self.cgroup else set()
        if self.uid is not None:
            found |= {pid for pid, (_, uid) in table.items() if uid == self.uid}
        me = os.getpid()
        orphans = {pid for pid, (ppid, _) in table.items() if ppid == me} - self.children_before - set(tracked)
        return (found | descendants(orphans, table)) - {me}

    def sweep(self, tracked: Collection[int] = ()) -> int:
        """Kill what the submission left running, and (as its own uid) remove the files it left
        where anyone may write: between its public and hidden sessions (so that hidden checks run
        alone, also without isolation) and at the end. tracked: this process's children that are
        not the submission's (other sandboxes, in another thread). Returns how many processes
        were killed."""
        # A stopped child's own processes (bwrap's, and in bubblewrap everything in its PID
        # namespace) end by themselves a moment after it: wait for those, kill what stays.
        deadline = time.monotonic() + 0.5
        while self.leftovers(tracked) and time.monotonic() < deadline:
            time.sleep(0.01)
        killed = self.kill(tracked)
        self.remove_files()
        return killed

    def kill(self, tracked: Collection[int] = ()) -> int:
        """Kill every process of the submission still running (no wait): how many there were."""
        killed = 0
        if self.cgroup is not None and self.cgroup.members():
            killed += self.cgroup.kill()
        return killed + _kill_until_gone(lambda: self.leftovers(tracked))

    def remove_files(self) -> None:
        """As root, remove what the submission's uid left in the folders anyone may write."""
        if self.uid is not None:
            with contextlib.suppress(Exception):  # a clean-up must never cost the grading
                remove_leftovers_of(lambda info: info.st_uid == self.uid)

    def close(self, tracked: Collection[int] = ()) -> int:
        """sweep(), and the cgroup removed: the submission is over. Idempotent."""
        if self.closed:
            return 0
        killed = self.sweep(tracked)
        if self.cgroup is not None:
            self.cgroup.remove()
        self.closed, self.killed = True, killed
        OPEN.discard(self)
        return killed

    def describe(self) -> list[str]:
        """Lines for the report: which bound held the submission as a whole."""
        lines = []
        if self.cgroup is not None:
            cpu = ", an equal share of the CPU" if "cpu" in self.cgroup.dirs else ""
            lines.append(
                f"bound: one cgroup ({self.cgroup.version}) for all of the submission's processes: at most "
                f"{self.limits.processes} more processes, {self.limits.memory_mb} MiB of memory in total{cpu}"
            )
        else:
            lines.append(
                f"bound: per process only (no cgroup: {self.cgroup_problem}): memory and processes are "
                "limited for each process of the submission, not for all of them together"
            )
        if self.uid is not None:
            lines.append(
                "student code ran as a user of its own (a uid drawn for this grading), with no rights of the grader's"
            )
        return lines
