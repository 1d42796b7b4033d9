"""The pytest plugin behind `grade check`: fixtures for the checks, and points collection.

Checks are plain pytest tests in grader/grading/checks/, marked with the part they belong to
and their points; most are made from the blanks' declarations (the parametrizing below). A
part's points (course.yaml) are shared among its checks in proportion to their markers.
Student code is reached only through the `student` fixture (a Sandbox).
"""

from __future__ import annotations

import concurrent.futures
import re
import time
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import pytest

from grader.grading import experiments, scoring, vectors as vector_file
from grader.grading.gradcheck import CheckFailed, NotGraded
from grader.reports.formats import neutralise
from grader.sandbox.process import Sandbox, StudentError

if TYPE_CHECKING:
    from grader.config import Course
    from grader.sandbox.bounds import Bound


@dataclass
class Result:
    nodeid: str
    name: str
    part: str
    weight: float
    passed: bool = False
    error: bool = False  # the check could not finish: the process running student code died or was killed
    output: str = ""
    seconds: float = 0.0
    score: float = 0.0
    max_score: float = 0.0
    hidden: bool = False  # a hidden check: graded officially, shown to students after publication
    blanks: tuple = ()  # the blanks whose correctness this check vouches for (its blanks marker)
    withheld: bool = False  # passed on the public inputs, but a blank of it failed its hidden check
    is_property: bool = False  # a property check (purity, stability, ...), judged whatever the values
    not_graded: bool = False  # could not be graded here (gradcheck.NotGraded): 0 points, and the part says so
    grader_error: bool = False  # our own code failed in this check: never the submission's doing (exit 3)

    @property
    def status(self) -> str:
        return "passed" if self.passed else "error" if self.error else "failed"


@dataclass
class Session:
    results: list = field(default_factory=list)
    mnist: scoring.MnistRun | None = None
    experiments: dict = field(default_factory=dict)  # id -> experiments.Experiment, once they ran
    notes: list = field(default_factory=list)  # said once in the report: isolation, limits not enforced
    printed: bytes = b""  # what student code printed during the checks (the first limits.output_kb)
    printed_total: int = 0


# A file that does not compile fails every check that calls into it; it is shown in full once.
# Linear on any message (a student's exception text can be 400,000 backslashes; an unbounded
# \S+ before a literal made this quadratic and hung the grader: the cheat suite found it).
FILE_ERRORS = (
    re.compile(
        r"(SyntaxError in \w{1,100}\.py line \d+: [^\n]*)(?:\n    [^\n]*\n    [^\n]*)?"
        r"(?:\nPython stops at the first syntax error in a file, so nothing in it could run: fix this line "
        r"\(or the one above it\) and run again)?"
    ),
    re.compile(r"(\b\w{1,100}\.py is not valid UTF-8 \(line \d+\))(?:: [^\n]*?or retype the character)?"),
)


def shown_once(message: str, said: set[str]) -> str:
    """message, with a file's syntax or encoding error that `said` already holds cut to its first
    line (\"shown in full above\"); adds those it shows in full to said."""

    def shorten(match):
        if match.group(1) in said:
            return f"{match.group(1)} (shown in full above)"
        said.add(match.group(1))
        return match.group(0)

    for pattern in FILE_ERRORS:
        message = pattern.sub(shorten, message)
    return message


def one_line(excinfo: pytest.ExceptionInfo[BaseException]) -> tuple[str, bool]:
    """What a student sees for a failed check, and whether it is an error rather than a
    wrong answer: our own message, never a traceback."""
    exc = excinfo.value
    if isinstance(exc, StudentError):
        return ("ERROR: " if exc.is_error else "") + str(exc), exc.is_error
    if isinstance(exc, CheckFailed):  # a verdict, then (from diagnose.py) what it most likely is
        return (str(exc) or "check failed"), False
    return f"ERROR in the grader (please report it): {type(exc).__name__}: {exc}", True


class GradePlugin:
    def __init__(
        self,
        submission: Path | str,
        course: Course,
        load_data: Callable[[], Any] | None = None,
        hidden: vector_file.Cases | None = None,
        training: concurrent.futures.Future[scoring.MnistRun] | None = None,
        bound: Bound | None = None,
        reference: scoring.Params | None = None,
    ) -> None:
        """hidden: the hidden vectors (vectors.load_hidden) to run the hidden checks, and only
        them; None to run the public checks. The two never share a session (see session.py).
        training: a future of scoring.train_and_score already under way, if any.
        bound: the submission's bounds.Bound, which every child of it joins. reference: the
        reference's trained weights, when the caller has them (see scoring.reference_weights)."""
        self.submission, self.cfg, self.load_data, self.hidden = submission, course, load_data, hidden
        self.bound, self.reference = bound, reference
        self.session = Session()
        self.by_id: dict[str, Result] = {}
        self.pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
        self.future = training
        self.experiments: concurrent.futures.Future[dict[str, experiments.Experiment]] | None = None
        self.collected: list[Result] = []  # every check of the graded parts, before any -k selection
        self.said: set[str] = set()  # file errors shown in full (see shown_once)

    # -- markers, order, and the MNIST run started early ---------------------------------------------
    def pytest_configure(self, config: pytest.Config) -> None:
        config.addinivalue_line("markers", "points(n): the check's weight within its part")
        config.addinivalue_line("markers", "part(id): the course.yaml part the check belongs to")
        config.addinivalue_line("markers", "hidden: runs only with the hidden vectors (grade check --hidden)")
        config.addinivalue_line(
            "markers",
            "blanks(*names): the blanks the check vouches for; with hidden checks its points count once theirs pass",
        )
        config.addinivalue_line("markers", "property: the check judges a property whatever the values (see withhold)")

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        """Checks made from course.yaml's blank declarations: the hidden checks (one per blank) and
        the derived ones (test_blanks.py)."""
        name = metafunc.function.__name__
        if name == "test_hidden":
            from grader.grading.checks import test_hidden

            metafunc.parametrize("blank,component,what", test_hidden.cases(self.cfg.blanks))
        elif name == "test_experiment":
            from grader.grading.checks import test_experiments

            metafunc.parametrize("experiment,what", test_experiments.cases(self.cfg.experiments, self.cfg.blanks))
        elif name in ("test_blank", "test_unchanged"):
            from grader.grading.checks import test_blanks

            if name == "test_blank":
                metafunc.parametrize("name,kind,what", test_blanks.cases(self.cfg.blanks))
            else:
                metafunc.parametrize("names,what", test_blanks.part_cases(self.cfg.parts, self.cfg.blanks))

    @pytest.hookimpl(tryfirst=True)  # before pytest's own -k deselection
    def pytest_collection_modifyitems(
        self, session: pytest.Session, config: pytest.Config, items: list[pytest.Function]
    ) -> None:  # the checks are test functions: Function items
        order = list(self.cfg.parts)
        kept = []
        for item in items:
            part, points = item.get_closest_marker("part"), item.get_closest_marker("points")
            blanks = item.get_closest_marker("blanks")
            if part is None and item.get_closest_marker("skip") is not None:
                continue  # a derived check with no case (pytest's empty parameter set): none declared here
            if part is None or points is None or blanks is None:
                raise pytest.UsageError(f"{item.nodeid}: every check needs a part, a points and a blanks marker")
            hidden = item.get_closest_marker("hidden") is not None
            if part.args[0] not in self.cfg.parts or hidden != (self.hidden is not None):
                continue  # a part the course does not grade, or the other session's checks
            if any(name.split("'")[0] not in self.cfg.blanks for name in blanks.args):
                continue  # a check written for another assignment's blanks ("layer_gradients' dW")
            doc = (item.function.__doc__ or item.name).strip().splitlines()[0]
            if hasattr(item, "callspec"):
                doc = doc.format(**item.callspec.params)
            result = Result(
                item.nodeid,
                f"{self.cfg.parts[part.args[0]].title}: {doc}",
                part.args[0],
                float(points.args[0]),
                hidden=hidden,
                blanks=tuple(blanks.args),
                is_property=item.get_closest_marker("property") is not None,
            )
            self.by_id[item.nodeid] = result
            kept.append(item)
        kept.sort(key=lambda item: order.index(self.by_id[item.nodeid].part))  # stable: file order within a part
        items[:] = kept
        # Points are shared over every check of a part, also those a -k expression leaves out:
        # a check selected alone is worth what it is worth in the whole assignment.
        self.collected = [self.by_id[item.nodeid] for item in kept]

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.session.results = [self.by_id[item.nodeid] for item in session.items]
        if any(r.part == "mnist" for r in self.session.results) and self.future is None:
            # Training is the long pole; start it now in its own child so the other checks
            # run meanwhile (its process waits on BLAS, ours on a pipe: both cores work).
            self.future = self.pool.submit(self._train)
        if any(r.part == "experiments" for r in self.session.results):
            self.experiments = self.pool.submit(self._experiments)  # after the training, if both: one core each

    def _train(self) -> scoring.MnistRun:
        assert self.load_data is not None, "grading the mnist part needs load_data"
        return scoring.train_and_score(
            self.submission, self.cfg, self.load_data, bound=self.bound, reference=self.reference
        )

    def _experiments(self) -> dict[str, experiments.Experiment]:
        assert self.load_data is not None, "grading the experiments part needs load_data"
        data = self.load_data()
        return {
            spec.id: experiments.run(self.submission, self.cfg, data, spec, self.bound) for spec in self.cfg.experiments
        }

    # -- fixtures ---------------------------------------------------------------------------------
    @pytest.fixture(scope="session")
    def course(self) -> Course:
        return self.cfg

    @pytest.fixture(scope="session")
    def vectors(self) -> vector_file.Cases:
        return vector_file.load(self.cfg.vectors, self.cfg.blanks)

    @pytest.fixture(scope="session")
    def student(self) -> Iterator[Sandbox]:
        # While training runs beside them, the checks' child runs at a lower priority: on two cores
        # the checks (0.2 s of CPU) otherwise slowed training, which is the verdict's time.
        nice = 5 if self.future is not None and not self.future.done() else 0
        with Sandbox(
            self.submission, self.cfg.limits, self.cfg.isolation, self.bound, blanks=self.cfg.blanks, nice=nice
        ) as sandbox:
            yield sandbox
        self.note_once(sandbox.describe())
        self.session.printed, self.session.printed_total = bytes(sandbox.tap.head), sandbox.tap.total

    @pytest.fixture(scope="session")
    def hidden_vectors(self) -> vector_file.Cases | None:
        return self.hidden

    @pytest.fixture(scope="session")
    def hidden_student(self) -> Iterator[Sandbox]:
        """A child of its own for the hidden checks, whose printed output is dropped: what
        the student's code prints there could be the hidden inputs."""
        with Sandbox(
            self.submission, self.cfg.limits, self.cfg.isolation, self.bound, blanks=self.cfg.blanks
        ) as sandbox:
            yield sandbox

    def note_once(self, lines: Iterable[str]) -> None:
        self.session.notes += [line for line in lines if line not in self.session.notes]

    @pytest.fixture
    def note(self, request: pytest.FixtureRequest) -> Callable[[str], None]:
        """note(text): add a line to the check's output (shown even when it passes)."""
        return lambda text: self.add_output(self.by_id[request.node.nodeid], text)

    @staticmethod
    def add_output(result: Result, text: str, limit: int = 2000) -> None:
        """Append a line to a check's output: neutralised, and at most `limit` characters of
        it (messages quote student code, whose exceptions can be any size)."""
        if len(text) > limit:
            text = f"{text[:limit]}... ({len(text) - limit} more characters)"
        result.output = (result.output + "\n" + neutralise(text)).strip()

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_call(self, item: pytest.Function) -> Generator[None, Any, None]:
        # One wall-time budget for all the calls a check makes, on top of each call's own.
        sandbox = cast(Sandbox | None, item.funcargs.get("student") or item.funcargs.get("hidden_student"))
        if sandbox is not None:
            sandbox.deadline = time.monotonic() + self.cfg.limits.check_seconds
        yield
        if sandbox is not None:
            sandbox.deadline = None
            events = sandbox.take_events()
            if sandbox is item.funcargs.get("student"):  # a hidden check's events would say things of its inputs
                for event in events:
                    self.add_output(self.by_id[item.nodeid], event)

    @pytest.fixture(scope="session")
    def experiments_run(self) -> Callable[[], dict[str, experiments.Experiment]]:
        def result() -> dict[str, experiments.Experiment]:
            assert self.experiments is not None, "started in pytest_collection_finish"
            self.session.experiments = self.experiments.result()
            return self.session.experiments

        return result

    @pytest.fixture(scope="session")
    def mnist_run(self) -> Callable[[], scoring.MnistRun]:
        def result() -> scoring.MnistRun:
            assert self.future is not None, "started in pytest_collection_finish"
            self.session.mnist = self.future.result()
            self.note_once(self.session.mnist.notes)
            return self.session.mnist

        return result

    # -- results ------------------------------------------------------------------------------
    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
        outcome = yield
        report = outcome.get_result()
        result = self.by_id.get(item.nodeid)
        if result is None:
            return
        if call.when == "call" and not result.hidden:  # a hidden check's time could carry its inputs out
            result.seconds = call.duration
        if report.failed:
            result.passed = False
            if call.excinfo:
                message, error = one_line(call.excinfo)
                if not result.hidden:
                    message = shown_once(message, self.said)
            else:
                message, error = report.longreprtext.splitlines()[-1], True
            result.error = result.error or error
            result.not_graded = call.excinfo is not None and isinstance(call.excinfo.value, NotGraded)
            result.grader_error = result.grader_error or (
                call.excinfo is not None and not isinstance(call.excinfo.value, StudentError | CheckFailed)
            )
            self.add_output(result, message)
        elif call.when == "call" and report.passed:
            result.passed = True

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        self.pool.shutdown(wait=True)
        share_points(self.collected, self.cfg)


def withhold(results: Sequence[Result]) -> None:
    """Official grading: a public check's points count once every blank it vouches for passes
    its hidden check too. An answer key of the public vectors (they ship with every release)
    passes the public checks and no hidden one; a blank right only on the inputs it was written
    for is not right. A property check (marked property) is withheld only for a blank whose
    public value checks all passed, the answer key's signature: a blank wrong in the open has
    lost its value checks already, and its properties were judged on their own (one bug, one
    deduction). A withheld check says why, and like the hidden checks it is shown to students
    only once grades are published (its verdict is a hidden check's)."""
    failed = {blank for r in results if r.hidden and not r.passed for blank in r.blanks}
    wrong_in_public = {
        blank for r in results if not r.hidden and not r.is_property and not r.passed for blank in r.blanks
    }
    for r in results:
        wrong = [b for b in r.blanks if b in failed and not (r.is_property and b in wrong_in_public)]
        if r.hidden or not r.passed or not wrong:
            continue
        r.passed, r.withheld, r.score = False, True, 0.0
        r.output = (
            f"passed on the public inputs, but {', '.join(wrong)} "
            f"{'does' if len(wrong) == 1 else 'do'} not give the reference's answers on the hidden "
            "inputs, so this check's points are withheld: a blank's points count once it is right on "
            "inputs it was not written for\n" + r.output
        ).strip()


def share_points(results: Sequence[Result], course: Course) -> None:
    """Share each part's course points among its checks (public and hidden), by weight."""
    for part in course.parts.values():
        mine = [r for r in results if r.part == part.id]
        total = sum(r.weight for r in mine)
        for r in mine:
            r.max_score = part.points * r.weight / total if total else 0.0
            r.score = r.max_score if r.passed else 0.0
