"""Grade one submission folder: run the checks (pytest, our plugin, nothing else), keep what
the student's code printed; then, once the verdict is out, the feedback page with the MNIST
plots (page()). Shared by `grade check` and `grade batch`; rendering the results is
report.py's and html_report.py's job."""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grader.errors import GraderFailure
from grader.grading import scoring

if TYPE_CHECKING:
    from grader.config import Course
    from grader.grading.plugin import GradePlugin, Result
    from grader.grading.vectors import Cases
    from grader.sandbox.bounds import Bound

CHECKS = Path(__file__).resolve().parent / "checks"


class GraderBroken(GraderFailure):
    """Our own checks could not run: never the student's fault."""


@dataclass
class Graded:
    results: list  # plugin.Result, in course order, hidden checks last
    footer: list  # lines said once, below the table
    hidden_seconds: float = 0.0  # the hidden session's time: reported nowhere (it could carry inputs out)
    mnist: scoring.MnistRun | None = None  # when the mnist part ran and training succeeded
    left: int = 0  # processes the public session left running, killed before the hidden one
    experiments: list = field(default_factory=list)  # experiments.Experiment, when the experiments part ran

    @property
    def score(self) -> float:
        return sum(r.score for r in self.results)


class Alone:
    """Who may run student code when: `shared()` around the public checks, `exclusive()`
    around the hidden ones. Two processes running student code at once can signal to each
    other through the files they both see (a lock's byte range on a read-only library, say),
    so the hidden checks' child must run when no other child does: within one grading the
    sessions follow each other, which is all `grade check` needs; `grade batch` passes a lock
    its workers share (batch.py)."""

    @contextlib.contextmanager
    def shared(self) -> Iterator[None]:
        yield

    exclusive = shared


def run_session(plugin: GradePlugin, keyword: str | None = None) -> list[Result]:
    import pytest

    # Only our checks and our plugin: no conftest.py (the submission's or anyone's), no ini
    # file from the current folder, no third-party plugins, no cache written anywhere.
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    os.environ.pop("PYTEST_ADDOPTS", None)
    args = [
        str(CHECKS),
        "-c",
        str(CHECKS / "pytest.ini"),
        "--rootdir",
        str(CHECKS),
        "--noconftest",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:terminal",
        "-p",
        "no:stepwise",
        # its clean-up runs gc.collect() over the grader's heap (MNIST's arrays among it): 0.04 s
        # between the last check and the verdict; no exception of student code is raised here
        "-p",
        "no:unraisableexception",
        "--import-mode=importlib",
    ]
    if keyword:
        args += ["-k", keyword]
    code = pytest.main(args, plugins=[plugin])
    if code == pytest.ExitCode.INTERRUPTED:  # Ctrl-C: pytest caught it; the person meant to stop, nothing broke
        raise KeyboardInterrupt
    # NO_TESTS_COLLECTED: the hidden session of a course narrowed to parts without hidden checks (mnist)
    if code not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED, pytest.ExitCode.NO_TESTS_COLLECTED):
        raise GraderBroken(f"the grader's own checks could not run (pytest exit code {int(code)})")
    return plugin.session.results


def grade(
    folder: Path | str,
    course: Course,
    load_data: Callable[[], Any],
    hidden: Cases | None = None,
    report_dir: Path | str = "grade-report",
    alone: Alone = Alone(),
    keyword: str | None = None,
    reference: scoring.Params | None = None,
) -> Graded:
    """Grade folder with course (already narrowed to the parts wanted). load_data() returns
    the MNIST data; hidden is vectors.load_hidden's table or None. The public checks (and
    MNIST) run first; the hidden ones after every process of theirs has exited, in a session
    of their own. Every child of the submission is held by one bound (bounds.py), and whatever
    they left running is killed before this returns, so that nothing of theirs outlives the
    grading or touches the reports written after it. Drawing is not done here, so that no plot
    delays a verdict: see page(), which imports matplotlib too (importing it on a thread while
    the network trained cost the verdict 0.3 s: the thread took the GIL from the checks and
    from the reader of training's replies). keyword: a pytest -k expression selecting checks by name
    (test_blank[relu-values], ...). reference: the reference's MNIST weights if the caller has them."""
    with bounded(course) as bound:
        graded = _grade(folder, course, load_data, hidden, report_dir, alone, keyword, reference, bound)
    # What the hidden session leaves is killed too, but never counted aloud: a number of
    # processes left behind could carry something of the hidden inputs out.
    left = graded.left if hidden is not None else graded.left + bound.killed
    if left:
        graded.footer.append(f"your code left {left} process(es) running after its checks; they were stopped")
    return graded


@contextlib.contextmanager
def bounded(course: Course) -> Iterator[Bound]:
    """One bounds.Bound for a submission's children; on the way out, whatever they left
    running is killed (bound.killed says how many)."""
    from grader.sandbox import bounds, process as sandbox

    bound = bounds.Bound(course.limits)
    try:
        yield bound
    finally:
        bound.close(tracked=set(sandbox.LIVE))


def _grade(folder, course, load_data, hidden, report_dir, alone, keyword, reference, bound):
    from grader.sandbox import process as sandbox

    with alone.shared():
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            # Training is the long pole: it starts first, in its own child, and the checks run
            # while it trains -- pytest's and the plugin's imports too (0.28 s before training
            # started, when they came first: bench/benchmark.py's timeline).
            training = None
            if "mnist" in course.parts and not keyword:  # -k may leave MNIST out: the plugin decides
                training = pool.submit(
                    lambda: scoring.train_and_score(folder, course, load_data, bound=bound, reference=reference)
                )
                from grader.reports.formats import warm

                warm()  # what the verdict needs once the training ends, imported while it runs
            from grader.grading.plugin import GradePlugin, share_points, withhold

            plugin = GradePlugin(folder, course, load_data, training=training, bound=bound, reference=reference)
            results = run_session(plugin, keyword)
        # Nothing of the public session outlives it, not even without isolation (a setsid()
        # daemon once lived on beside the hidden checks: red team), and it dies before the lock
        # is let go, while no hidden check of anyone's can run.
        left = bound.sweep(tracked=set(sandbox.LIVE))
    hidden_seconds = 0.0
    if hidden is not None:
        start = time.perf_counter()
        with alone.exclusive():
            secret = GradePlugin(folder, course, None, hidden, bound=bound)
            results = results + run_session(secret, keyword)
            bound.sweep(tracked=set(sandbox.LIVE))  # before anyone else's code may run; how many, never told
        share_points(plugin.collected + secret.collected, course)
        withhold(results)
        hidden_seconds = time.perf_counter() - start

    footer = list(plugin.session.notes)
    if keyword:
        footer.append(
            f"-k {keyword}: {len(plugin.session.results)} of the {len(plugin.collected)} checks of the "
            "graded parts (each worth its share of its part)"
        )
    if hidden is None:
        footer.append(
            "these are the public checks: official grading adds hidden ones (each blank again, "
            "on inputs you do not see)"
        )
    if plugin.session.printed_total:  # print() is how students debug: keep it, but out of the report
        path = Path(report_dir) / "output.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        cut = plugin.session.printed_total - len(plugin.session.printed)
        path.write_bytes(plugin.session.printed + (f"\n[... {cut} more bytes not kept]\n".encode() if cut else b""))
        footer.append(f"your code printed {plugin.session.printed_total} bytes during the checks: see {path}")
    run = plugin.session.mnist
    if run is not None:
        footer.append(f"MNIST: trained in {run.seconds:.1f} s")
    return Graded(results, footer, hidden_seconds, run, left, list(plugin.session.experiments.values()))


def page(graded: Graded, course: Course, seconds: float, report_dir: Path | str, plots: bool = True) -> Path | str:
    """Write the feedback page (report_dir/report.html) and, with plots, the MNIST figures
    beside it as PNG files; return the page's path, or the reason it could not be written."""
    from grader.reports import page as html_report

    try:  # the curves come partly from the child: a plot must never cost the report
        return html_report.write(
            Path(report_dir) / "report.html",
            graded.results,
            course,
            seconds,
            graded.footer,
            graded.mnist,
            plots,
            experiments=graded.experiments,
        )
    except (ValueError, OverflowError, OSError) as exc:
        return f"the feedback page could not be written ({exc})"
