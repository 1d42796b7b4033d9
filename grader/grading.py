"""Grade one submission folder: run the checks (pytest, our plugin, nothing else), keep what
the student's code printed, draw the MNIST plots. Shared by `grade check` and `grade batch`;
rendering the results is report.py's job."""
import contextlib
import os
import time
from dataclasses import dataclass
from pathlib import Path

from grader.plugin import GradePlugin, share_points

CHECKS = Path(__file__).resolve().parent / "checks"


class GraderBroken(Exception):
    """Our own checks could not run: never the student's fault."""


@dataclass
class Graded:
    results: list  # plugin.Result, in course order, hidden checks last
    footer: list  # lines said once, below the table
    hidden_seconds: float = 0.0  # the hidden session's time: reported nowhere (it could carry inputs out)

    @property
    def score(self):
        return sum(r.score for r in self.results)


class Alone:
    """Who may run student code when: `shared()` around the public checks, `exclusive()`
    around the hidden ones. Two processes running student code at once can signal to each
    other through the files they both see (a lock's byte range on a read-only library, say),
    so the hidden checks' child must run when no other child does: within one grading the
    sessions follow each other, which is all `grade check` needs; `grade batch` passes a lock
    its workers share (batch.py)."""

    @contextlib.contextmanager
    def shared(self):
        yield

    exclusive = shared


def run_session(plugin):
    import pytest

    # Only our checks and our plugin: no conftest.py (the submission's or anyone's), no ini
    # file from the current folder, no third-party plugins, no cache written anywhere.
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    os.environ.pop("PYTEST_ADDOPTS", None)
    args = [str(CHECKS), "-c", str(CHECKS / "pytest.ini"), "--rootdir", str(CHECKS), "--noconftest",
            "-p", "no:cacheprovider", "-p", "no:terminal", "-p", "no:stepwise", "--import-mode=importlib"]
    code = pytest.main(args, plugins=[plugin])
    # NO_TESTS_COLLECTED: the hidden session of a course narrowed to parts without hidden checks (mnist)
    if code not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED, pytest.ExitCode.NO_TESTS_COLLECTED):
        raise GraderBroken(f"the grader's own checks could not run (pytest exit code {int(code)})")
    return plugin.session.results


def grade(folder, course, load_data, hidden=None, report_dir="grade-report", plots=True, alone=Alone()):
    """Grade folder with course (already narrowed to the parts wanted). load_data() returns
    the MNIST data; hidden is vectors.load_hidden's table or None; plots=False skips the
    MNIST plots (about 0.45 s of a grading). The public checks (and MNIST) run first; the
    hidden ones after every process of theirs has exited, in a session of their own."""
    plugin = GradePlugin(folder, course, load_data)
    with alone.shared():
        results = run_session(plugin)
    hidden_seconds = 0.0
    if hidden is not None:
        start = time.perf_counter()
        with alone.exclusive():
            results = results + run_session(GradePlugin(folder, course, None, hidden))
        share_points(results, course)
        hidden_seconds = time.perf_counter() - start

    footer = list(plugin.session.notes)
    if hidden is None:
        footer.append("these are the public checks: official grading adds hidden ones (each blank again, "
                      "on inputs you do not see)")
    if plugin.session.printed_total:  # print() is how students debug: keep it, but out of the report
        path = Path(report_dir) / "output.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        cut = plugin.session.printed_total - len(plugin.session.printed)
        path.write_bytes(plugin.session.printed + (f"\n[... {cut} more bytes not kept]\n".encode() if cut else b""))
        footer.append(f"your code printed {plugin.session.printed_total} bytes during the checks: see {path}")
    run = plugin.session.mnist
    if run is not None and not plots:
        footer.append(f"MNIST: trained in {run.seconds:.1f} s")
    elif run is not None:
        from grader.plots import write_plots

        try:  # the curves come partly from the child: a plot must never cost the report
            paths = write_plots(run.history, run.confusion, report_dir, "MNIST")
            footer.append(f"MNIST: trained in {run.seconds:.1f} s; plots in {Path(report_dir)}/ "
                          f"({', '.join(p.name for p in paths)})")
        except (ValueError, OverflowError, OSError) as exc:
            footer.append(f"MNIST: trained in {run.seconds:.1f} s; the plots could not be drawn ({exc})")
    return Graded(results, footer, hidden_seconds)
