"""The `grade` command: check, train, generate, fetch-data."""

import dataclasses
import importlib.util
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

# Before numpy loads: the grader's own arithmetic is small, and its BLAS threads must not
# spin against the children's on a two-core machine (see sandbox.ONE_THREAD).
for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

from grader import config as course_config  # noqa: E402 (after the thread variables, before numpy)

if TYPE_CHECKING:  # annotations only: `grade --help` loads no numpy
    from grader.data.mnist import MNIST
    from grader.grading.experiments import Run

from grader.errors import BROKEN, FAILED, PASSED, USAGE, GradeError, GraderFailure, SubmissionProblem  # noqa: E402

EXIT_CODES = f"""Exit codes: {PASSED} every check passed (with --pass-mark: the pass mark was reached);
{FAILED} checks failed, or the submission could not be graded (its files refused, its notebook unreadable);
{USAGE} a usage or configuration error (no such folder, a bad option, course.yaml, hidden file or data folder);
{BROKEN} the grader could not grade (no MNIST where it must have it, isolation required but unavailable, a bug)."""


class Reported(click.ClickException):
    """A GradeError as click prints it ("Error: " and its message), exiting with its code."""

    def __init__(self, error: GradeError) -> None:
        super().__init__(str(error))
        self.exit_code = error.exit_code  # type: ignore[misc]  # click types it per class; ours is per error


class Grade(click.Group):
    """`grade`, with the one handler of every GradeError: its message and its exit code (errors.py
    says which is which). A bug of ours exits 3 with a one-line reason and where to report it,
    never 1, which CI would read as a student's failing checks."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except GradeError as exc:
            raise Reported(exc) from None
        except (
            click.exceptions.ClickException,
            click.exceptions.Exit,
            click.exceptions.Abort,
            SystemExit,
            KeyboardInterrupt,
        ):
            raise
        except Exception as exc:
            import traceback

            traceback.print_exc()
            raise Reported(
                GraderFailure(
                    f"the grader itself failed ({type(exc).__name__}: {exc}); this is a bug in the "
                    "grader, not in the submission: please report it with the traceback above"
                )
            ) from None


# Options several commands share, defined once.
hidden_option = click.option(
    "--hidden",
    "hidden_path",
    type=click.Path(dir_okay=False),
    help="Add the hidden checks from this file (hidden/<id>/vectors.json; official grading).",
)
data_dir_option = click.option(
    "--data-dir", type=click.Path(), help="MNIST folder (else GRADE_DATA_DIR, course.yaml, datasets/mnist)."
)
course_option = click.option("--course", "course_path", type=click.Path(dir_okay=False), help="course.yaml to use.")
assignment_option = click.option(
    "--assignment",
    metavar="ID",
    envvar="GRADE_ASSIGNMENT",
    help="The assignment (an id under course.yaml's assignments; else $GRADE_ASSIGNMENT). May be left out "
    "when the course has one, or when the submission (or the current folder) is inside its exercises/<id>/ "
    "or solutions/<id>/.",
)


def load_course(path: str | None, assignment: str | None = None, where: str | None = None) -> course_config.Course:
    """The course as `assignment` sees it; with none named, the one whose exercises/<id>/ or
    solutions/<id>/ holds where (the submission) or the current folder, if any."""
    course_yaml = Path(path) if path else course_config.find()
    root = course_yaml.resolve().parent
    place = Path(where).resolve() if where else Path.cwd().resolve()

    def inside(course: course_config.Course) -> str | None:
        """The assignment whose exercises/<id>/ or solutions/<id>/ holds place, if any."""
        for aid in course.assignment_ids:
            if any(place.is_relative_to(root / kind / aid) for kind in ("exercises", "solutions")):
                return aid
        return None

    try:
        course = course_config.load(course_yaml, assignment)
    except course_config.AssignmentChoiceError:
        if assignment is not None:
            raise
        found = inside(course_config.load_all(course_yaml)[0])
        if found is None:
            raise
        return course_config.load(course_yaml, found)
    found = inside(course)
    if assignment is not None and found is not None and found != assignment:
        what = "the submission" if where else "the current folder"
        raise GradeError(
            f"{place}: {what} is assignment {found}'s, but --assignment (or GRADE_ASSIGNMENT) says {assignment}: "
            f"pass --assignment {found} (or set GRADE_ASSIGNMENT to it)"
        )
    return course


def data_loader(
    course: course_config.Course, data_dir: str | None, quiet: bool = False, ahead: bool = False
) -> Callable[[], "MNIST"]:
    """A function that finds (downloading only into the default folder) and verifies MNIST.
    It raises mnist.ChosenFolderError for a folder someone chose that cannot be used (exit 2),
    DataError ending with how to get the data when the default folder has none (exit 3, unless
    the caller grades without MNIST), and ConfigError when training.validation would hold out
    every training image (exit 2). It loads once, for whichever thread asks first: every call
    returns that data, or raises that error (training asks from several threads at once). With
    ahead, the folder is found (or fetched) now, raising now, and its files are decoded on a
    thread of their own, beside whatever the caller does next."""
    from grader.data import fetch, mnist
    from grader.grading import scoring

    def explained(exc: Exception, source: str) -> Exception:
        if source != "default":
            return mnist.ChosenFolderError(f"data folder from {source}: {exc}")
        return mnist.DataError(f"{exc}\n{mnist.HOW_TO_GET}")

    def find() -> tuple[Path, str]:
        folder, source = mnist.resolve_data_dir(data_dir, course.data_dir, course.root / "datasets" / "mnist")
        if source == "default" and mnist.find_files(folder) is None:
            try:
                fetch.fetch_mnist(folder, fetch.course_manifest(course.root), progress=not quiet)
            except mnist.DataError as exc:
                raise explained(exc, source) from None
        return folder, source

    def read(folder: Path, source: str) -> "MNIST":
        try:
            data = mnist.load_mnist(folder)
        except mnist.DataError as exc:
            raise explained(exc, source) from None
        scoring.validation_cut(course, len(data.train_labels))  # a setting the data cannot meet: said now
        return data

    import concurrent.futures
    import threading

    loaded: concurrent.futures.Future[MNIST] = concurrent.futures.Future()
    first = threading.Lock()  # held by whoever loads: the first caller, or the thread started below

    def run(where: tuple[Path, str] | None = None) -> None:
        try:
            loaded.set_result(read(*(where or find())))
        except Exception as exc:  # handed to everyone who asks for the data
            loaded.set_exception(exc)

    def load() -> "MNIST":
        if first.acquire(blocking=False):
            run()
        return loaded.result()

    if ahead:
        where = find()
        first.acquire()
        # 0.09 s of gzip (zlib lets go of the GIL) beside the imports, the submission's intake and
        # the training child's start, where it had come before them all (bench/benchmark.py)
        threading.Thread(target=run, args=(where,), name="mnist", daemon=True).start()
    return load


def write_report(path: str | os.PathLike[str], text: str) -> None:
    """A report file, whole, in a folder made for it if need be."""
    from grader.files import atomic_write

    atomic_write(path, text)


def submission_folder(path: str | None, course: course_config.Course) -> Path:
    """The folder to grade: the one given, else the assignment's exercises/<id>/ (wherever in the
    course `grade` is typed)."""
    folder = Path(path) if path is not None else course.exercises
    if not folder.is_dir():
        raise GradeError(f"{folder}: no such folder (the submission to grade)")
    return folder.resolve()


@click.group(cls=Grade, epilog=EXIT_CODES)
@click.version_option(package_name="nn-from-scratch-grader", prog_name="grade")
def main() -> None:
    """Grade and train the from-scratch NumPy MLP."""


@main.command()
@click.argument("submission", required=False, type=click.Path())
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "junit", "markdown", "classroom", "github"]),
    default="text",
    show_default=True,
    help="json: Gradescope's results.json schema; junit: JUnit XML; "
    "markdown: a summary table; classroom: GitHub Classroom's test result (these four put only the "
    "report on stdout); github: an annotation per failed check, the text report, the Markdown summary "
    "appended to $GITHUB_STEP_SUMMARY, and the classroom result (base64) as the step output `result`.",
)
@click.option("--output", type=click.Path(dir_okay=False), help="Write the report here instead of stdout.")
@click.option("--results-json", type=click.Path(dir_okay=False), help="Also write Gradescope's results.json here.")
@click.option("--junit-xml", type=click.Path(dir_okay=False), help="Also write the JUnit XML report here.")
@click.option(
    "--pass-mark",
    "use_pass_mark",
    is_flag=True,
    help="Exit 0 once the score reaches the assignment's pass_mark in course.yaml (else: only when all pass).",
)
@click.option("--part", "parts", multiple=True, help="Only this part (repeatable), e.g. --part activations.")
@click.option(
    "-k",
    "keyword",
    metavar="EXPR",
    help='Only the checks whose names match, as pytest\'s -k: -k relu_prime, -k "relu and not prime".',
)
@hidden_option
@data_dir_option
@click.option(
    "--report-dir",
    type=click.Path(file_okay=False),
    default="grade-report",
    show_default=True,
    help="Where the feedback page (report.html), the MNIST plots and what your code printed go.",
)
@click.option(
    "--plots/--no-plots",
    default=True,
    show_default=True,
    help="Draw the MNIST run's plots (on the feedback page, and as PNG files beside it).",
)
@course_option
@assignment_option
def check(
    submission: str | None,
    fmt: str,
    output: str | None,
    results_json: str | None,
    junit_xml: str | None,
    use_pass_mark: bool,
    parts: tuple[str, ...],
    keyword: str | None,
    hidden_path: str | None,
    data_dir: str | None,
    report_dir: str,
    plots: bool,
    course_path: str | None,
    assignment: str | None,
) -> None:
    """Grade SUBMISSION (default: the assignment's exercises/<id>/). Exit 0 only when every check passes (or, with
    --pass-mark, the pass mark is reached), 1 when checks fail, 2 on a usage or configuration
    error, 3 when the grader could not grade. Without MNIST data the other parts are graded and
    MNIST is reported not graded, with how to get the data."""
    from grader.data import mnist
    from grader.grading import vectors

    start = time.perf_counter()
    course = load_course(course_path, assignment, submission)
    folder = submission_folder(submission, course)
    vectors.require(course.vectors, course.blanks)
    unknown = [p for p in parts if p not in course.parts]
    if unknown:
        raise GradeError(f"--part {unknown[0]}: no such part; the course has {', '.join(course.parts)}")
    if (parts or keyword) and use_pass_mark:
        raise GradeError("--pass-mark is about the whole assignment: leave out --part and -k")
    if parts:
        course = dataclasses.replace(course, parts={k: v for k, v in course.parts.items() if k in parts})
    if course.isolation == "required":
        from grader.sandbox import isolation

        _, problem = isolation.available()
        if problem:
            raise GraderFailure(f"{course.path}: isolation = required, but {problem}")
    hidden = vectors.load_hidden(hidden_path, course.blanks) if hidden_path else None
    trains = bool({"mnist", "experiments"} & set(course.parts)) and not keyword
    ahead = trains and hidden is None  # a student's check: decoded while grading starts
    try:  # for the parts that train, the data is found (or fetched) now, once
        load = data_loader(course, data_dir, quiet=fmt not in ("text", "github"), ahead=ahead)
        if trains and not ahead:
            load()  # official grading: decoded whole before any student code runs
    except mnist.DataError as missing:
        if hidden is not None or isinstance(missing, mnist.ChosenFolderError):
            raise  # official grading never goes on without MNIST; a chosen folder is to fix
        # 75 points need no data: grade them; the MNIST check says the fix
        ahead = False

        def load(missing=missing):
            raise missing

    from grader.grading import intake, session as grading  # while the data is decoded
    from grader.reports.formats import (
        Report,
        classroom,
        classroom_output,
        github,
        markdown,
        render,
        text_report,
        verdict,
    )

    with intake.private_folder() as work:  # the submission's files, copied; graded there, removed after
        prepared = intake.prepare(folder, work, course)
        graded = grading.grade(prepared.folder, course, load, hidden, report_dir, keyword=keyword)
        graded.footer[:0] = prepared.notes
        if fmt == "github":  # read from the copy, shown at the student's own paths
            annotations = github(graded.results, course.blanks, prepared.folder, folder / prepared.where)
    if ahead:  # a damaged file in a chosen folder is to fix, as a missing one is (exit 2)
        try:
            load()
        except mnist.ChosenFolderError:
            raise
        except mnist.DataError:
            pass  # the default folder's: the MNIST check said it, "not graded"
    if keyword and not graded.results:
        raise GradeError(
            f"-k {keyword}: no check's name matches (names are like test_blank[relu-values], "
            "test_backward_gradient; see grader/grading/checks/)"
        )
    results, footer = graded.results, graded.footer
    seconds = time.perf_counter() - start - graded.hidden_seconds
    pass_mark = course.pass_mark if use_pass_mark else None
    if fmt == "github":
        click.echo("\n".join(annotations))
        summary = os.environ.get("GITHUB_STEP_SUMMARY")
        if summary:
            with open(summary, "a", encoding="utf-8") as f:
                f.write(markdown(results, course, seconds, footer))
        if os.environ.get("GITHUB_OUTPUT"):  # what Classroom's grading reporter reads (see report.classroom)
            with open(os.environ["GITHUB_OUTPUT"], "a", encoding="utf-8") as f:
                f.write(f"result={classroom_output(classroom(results, pass_mark))}\n")
    report = Report(results, course, seconds, footer, pass_mark)
    try:
        for kind, path in (("json", results_json), ("junit", junit_xml)):
            if path:
                write_report(path, render(kind, report))
        if output:  # github's file is its text (its annotations and outputs go to stdout and GitHub)
            write_report(output, render("text" if fmt == "github" else fmt, report))
        elif fmt not in ("text", "github"):
            sys.stdout.write(render(fmt, report))
        else:
            text_report(results, course, seconds, footer=footer)  # to the terminal, in colour
    except OSError as exc:
        raise GradeError(f"{exc.filename}: cannot write the report there ({exc.strerror or exc})") from None
    # The verdict is out; only now the page and its plots (half a second of matplotlib).
    written = grading.page(graded, course, seconds, report_dir, plots)
    where = f"feedback page: {written}" if isinstance(written, Path) else written
    click.echo(where, err=fmt not in ("text", "github") and not output)
    passed = verdict(results, course.pass_mark if use_pass_mark else None)
    if use_pass_mark and fmt in ("text", "github"):
        click.echo(
            f"score {graded.score:.2f}: {'at or above' if passed else 'below'} the pass mark of {course.pass_mark:g}"
        )
    if any(r.grader_error for r in results):  # the reports say which check; the exit code says whose fault
        raise GraderFailure(
            "the grader itself failed in a check (ERROR in the grader, above): not the submission's doing; "
            "please report it"
        )
    sys.exit(0 if passed else 1)


@main.command()
@click.argument("submissions", type=click.Path(file_okay=False))
@click.option(
    "-j",
    "--jobs",
    type=click.IntRange(1, 64),
    default=os.cpu_count() or 1,
    show_default="CPU count",
    help="Submissions graded at once.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    default="batch-report",
    show_default=True,
    help="Where each student's report and the gradebook go.",
)
@hidden_option
@click.option("--force", is_flag=True, help="Grade again submissions already graded (unchanged since).")
@click.option(
    "--timeout",
    type=click.FloatRange(1),
    default=900,
    show_default=True,
    help="Seconds one submission may take before it is stopped and marked timeout.",
)
@click.option("--plots", is_flag=True, help="Also draw each student's MNIST plots (about 0.45 s each).")
@data_dir_option
@course_option
@assignment_option
@click.option(
    "--format",
    "book_format",
    type=click.Choice(["csv", "canvas"]),
    default="csv",
    show_default=True,
    help="canvas: also write canvas.csv, for Canvas's gradebook import (students by SIS Login ID).",
)
@click.option(
    "--cluster",
    metavar="tcp://HOST:PORT",
    help="Grade on this Dask distributed cluster's workers instead of -j local ones (pip install "
    "'nn-from-scratch-grader[cluster]'; every worker must see the kit, MNIST, SUBMISSIONS and --out at the "
    'same paths). See docs/instructor-guide.md, "Grade a class on a cluster".',
)
def batch(
    submissions: str,
    jobs: int,
    out_dir: str,
    hidden_path: str | None,
    force: bool,
    timeout: float,
    plots: bool,
    data_dir: str | None,
    course_path: str | None,
    assignment: str | None,
    book_format: str,
    cluster: str | None,
) -> None:
    """Grade every submission in SUBMISSIONS (a folder per student: .py files, a cloned repo with
    exercises/, or nbgrader's submitted/<student>/<assignment>/ notebooks) into a gradebook."""
    from rich.console import Console
    from rich.markup import escape  # a student's folder name is text, never markup
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from grader.grading import scoring, vectors
    from grader.platforms import batch as batches
    from grader.reports.formats import fmt

    course = load_course(course_path, assignment)
    if not Path(submissions).is_dir():
        raise GradeError(f"{submissions}: no such folder (the submissions to grade)")
    if cluster:
        from grader.platforms import cluster as dask_cluster

        dask_cluster.usable(course.isolation)
    vectors.require(course.vectors, course.blanks)
    subs = batches.discover(submissions, out_dir)
    if not subs:
        raise GradeError(f"{submissions}: no student folders in it")
    hidden = vectors.load_hidden(hidden_path, course.blanks) if hidden_path else None
    data = data_loader(course, data_dir)()  # never without MNIST: a class graded at 75 would be graded twice
    # Trained (or read from the cache) once, before the workers fork: they inherit it in memory
    # and never read the cache again, which a student's code might have reached meanwhile.
    reference = scoring.reference_weights(course, data)
    console = Console(stderr=True)
    counts = dict.fromkeys(batches.STATUSES, 0)
    start = time.perf_counter()
    with Progress(
        TextColumn("grading"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.description}"),
        console=console,
    ) as bar:
        task = bar.add_task("", total=len(subs))

        def done(row):
            counts[row["status"]] += 1
            bar.update(task, advance=1, description=f"{escape(row['student'])}: {fmt(row['total'])} ({row['status']})")

        if cluster:
            from grader.data import mnist

            folder, _ = mnist.resolve_data_dir(data_dir, course.data_dir, course.root / "datasets" / "mnist")
            job = dask_cluster.Job(
                str(course.path.resolve()),
                course.assignment_id,
                str(Path(folder).resolve()),  # the folder this client read, not the worker's own guess
                str(Path(hidden_path).resolve()) if hidden_path else None,
                str(Path(out_dir).resolve()),
                plots,
                force,
                timeout,
            )
            rows, skipped = dask_cluster.run(cluster, subs, job, reference, done)
        else:
            rows, skipped = batches.run(
                subs,
                course,
                lambda: data,
                hidden,
                hidden_path,
                Path(out_dir),
                jobs,
                timeout,
                force,
                done,
                plots,
                reference,
            )
    gradebook = Path(out_dir) / "gradebook.csv"
    batches.write_gradebook(gradebook, rows, course)
    seconds = time.perf_counter() - start
    click.echo(
        f"{len(rows)} submissions in {seconds:.1f} s {f'on {cluster}' if cluster else f'with -j {jobs}'}: "
        + ", ".join(f"{n} {k}" for k, n in counts.items())
        + (f" ({skipped} unchanged since their last grading, not graded again; --force to regrade)" if skipped else "")
    )
    click.echo(f"gradebook: {gradebook}; reports: {Path(out_dir) / 'students'}/<student>/")
    if book_format == "canvas":
        empty = batches.write_canvas(Path(out_dir) / "canvas.csv", rows, course)
        click.echo(
            f"Canvas import: {Path(out_dir) / 'canvas.csv'}"
            + (f" ({empty} not graded, left empty: see the gradebook's status)" if empty else "")
        )


@main.command()
@click.argument("submission", required=False, type=click.Path())
@data_dir_option
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    default="grade-report",
    show_default=True,
    help="Where to write the four plots: loss curves (train, validation), accuracy curves (train, validation, "
    "test), the confusion matrix, and accuracy per digit.",
)
@course_option
@assignment_option
def train(
    submission: str | None, data_dir: str | None, out_dir: str, course_path: str | None, assignment: str | None
) -> None:
    """Train on MNIST with SUBMISSION's blanks (default: the assignment's exercises/<id>/) and plot
    the results."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from grader.grading import experiments, intake, scoring, session as grading
    from grader.reports import page as html_report
    from grader.reports.formats import neutralise
    from grader.reports.plots import write_plots
    from grader.sandbox.process import StudentError

    course = load_course(course_path, assignment, submission)
    folder = submission_folder(submission, course)
    data = data_loader(course, data_dir)()
    sizes = [784, *course.hidden_sizes, 10]
    console = Console(stderr=True)
    held = course.validation
    console.print(
        f"training {'-'.join(map(str, sizes))} on {len(data.train_labels) - held:,} images from "
        f"{data.folder}" + (f" ({held:,} more held out for validation)" if held else "")
    )
    with (
        Progress(TextColumn("epoch"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console) as bar,
        intake.private_folder() as work,
    ):
        task = bar.add_task("train", total=course.epochs)
        try:
            prepared = intake.prepare(folder, work, course)
            with grading.bounded(course) as bound:
                run = scoring.train_and_score(
                    prepared.folder,
                    course,
                    lambda: data,
                    lambda done, total: bar.update(task, completed=done),
                    bound=bound,
                )
                done = [experiments.run(prepared.folder, course, data, spec, bound) for spec in course.experiments]
        except StudentError as exc:  # the student's code: like a failed check
            raise SubmissionProblem(neutralise(f"training failed: {exc}")) from None
    history = run.history
    for epoch in range(course.epochs):
        validation = (
            f"validation loss {history['validation_loss'][epoch]:.4f}  "
            f"validation accuracy {history['validation_accuracy'][epoch]:.4f}  "
            if "validation_loss" in history
            else ""
        )
        click.echo(
            f"epoch {epoch + 1:3d}  train loss {history['train_loss'][epoch]:.4f}  "
            f"train accuracy {history['train_accuracy'][epoch]:.4f}  {validation}"
            f"test accuracy {history['test_accuracy'][epoch]:.4f}"
        )
    paths = write_plots(history, run.confusion, out_dir, "MNIST", course.network.loss)
    click.echo(f"test accuracy {run.accuracy:.4f} (trained in {run.seconds:.1f} s)")
    if run.distance is not None:
        graded = f" (at most {course.mnist_weight_distance:g} passes)" if "mnist" in course.parts else ""
        click.echo(f"relative distance from the reference's weights {run.distance:.3f}{graded}")
    for experiment in done:  # the assignment's experiments (design-choices): each run's figures in short
        click.echo(f"experiment: {experiment.title}")
        for trained in experiment.runs:
            click.echo(f"  {neutralise(trained.label)}: {experiment_summary(trained)}")
    if done:
        html_report.draw_experiments(done, Path(out_dir))
        paths += [Path(out_dir) / html_report.experiment_file(e) for e in done]
    click.echo("wrote " + ", ".join(str(p) for p in paths))


def experiment_summary(trained: "Run") -> str:
    """One line of `grade train` for one run of an experiment: its validation accuracy per epoch
    and, where recorded, how the first layer's gradient norm compares with the last's."""
    import numpy as np

    from grader.reports.formats import neutralise

    if trained.error:
        return f"did not complete: {neutralise(trained.error)}"
    parts = []
    if trained.history.get("validation_accuracy"):
        accuracy = trained.history["validation_accuracy"]
        parts.append(f"validation accuracy {' '.join(f'{a:.3f}' for a in accuracy)} (per epoch)")
    norms = trained.gradient_norms
    if norms is not None and len(norms):
        ratio = float(np.median(norms[:, 0] / np.maximum(norms[:, -1], 1e-300)))
        parts.append(f"|dW(1)| / |dW(L)| median {ratio:.3g}")
    return "; ".join(parts) or "completed"


@main.command()
@course_option
@click.option(
    "--assignment",
    metavar="ID",
    help="Only this assignment (an id under course.yaml's assignments); default: every one.",
)
@click.option("--check", "check_only", is_flag=True, help="Change nothing; exit 1 if anything is stale.")
@click.option("--force", is_flag=True, help="Overwrite generated files even where they hold edits of someone's.")
def generate(course_path: str | None, assignment: str | None, check_only: bool, force: bool) -> None:
    """Write each assignment's exercises/<id>/ (the stubs and the public test vectors), its hidden
    vectors (hidden/<id>/) and its nbgrader notebook (notebooks/source/<id>/) from solutions/<id>/.
    A generated file edited since (generated.sha256 records what was written) is never
    overwritten without --force."""
    from grader.authoring.generate import generate as run
    from grader.sandbox.process import StudentError

    path = course_path or course_config.find()
    courses = [course_config.load(path, assignment)] if assignment else course_config.load_all(path)
    changed = []
    try:
        for course in courses:
            changed += run(course, check=check_only, force=force)
    except StudentError as exc:  # the reference's code failed: the instructor's to fix
        raise GradeError(str(exc)) from None
    if check_only:
        for path in changed:
            click.echo(f"stale: {path}", err=True)
        if changed:
            raise click.ClickException("generated files are stale: run `grade generate`")
        click.echo("up to date")
    else:
        for path in changed:
            click.echo(f"wrote {path}")
        click.echo("up to date" if not changed else f"{len(changed)} file(s) written")


def require_generated(course: course_config.Course) -> None:
    """Stop unless everything `grade generate` writes is up to date: a release or a bundle made
    from stale stubs or vectors would grade students against old answers."""
    from grader.authoring.generate import generate as run
    from grader.sandbox.process import StudentError

    try:
        stale = run(course, check=True)
    except StudentError as exc:  # the reference's code failed: the instructor's to fix
        raise GradeError(str(exc)) from None
    if stale:
        raise GradeError(f"stale: {', '.join(map(str, stale))}; run `grade generate` first")


@main.command()
@click.argument("out_dir", type=click.Path(file_okay=False))
@course_option
@assignment_option
def release(out_dir: str, course_path: str | None, assignment: str | None) -> None:
    """Write the student repository to OUT_DIR: exercises, grader, public vectors, README and CI
    workflow; never solutions/, hidden/ or notebooks/."""
    from grader.platforms.release import release as write

    course = load_course(course_path, assignment)
    require_generated(course)
    files = write(course, out_dir)
    click.echo(
        f"wrote {len(files)} files to {Path(out_dir)}: the student repository (no solutions, no hidden "
        "vectors); push it as the assignment's template"
    )


@main.group()
def export() -> None:
    """Package the course for a grading platform."""


@export.command("gradescope")
@click.argument("out_zip", type=click.Path(dir_okay=False))
@course_option
@assignment_option
@click.option(
    "--isolation",
    type=click.Choice(["auto", "required", "off"]),
    help="Set isolation in the bundled course.yaml (official grading: required).",
)
@click.option(
    "--seed",
    type=click.IntRange(0, 2**32 - 1),
    help="Set training.seed in the bundled course.yaml: a number you keep private.",
)
def export_gradescope(
    out_zip: str, course_path: str | None, assignment: str | None, isolation: str | None, seed: int | None
) -> None:
    """Write Gradescope's autograder bundle OUT_ZIP: setup.sh, run_autograder, the grader, the
    reference and the hidden vectors (none of it visible to students)."""
    from grader.platforms.gradescope import export as write, official_grading_warnings

    course = load_course(course_path, assignment)
    require_generated(course)
    names = write(course, out_zip, isolation, seed)
    for line in official_grading_warnings(course, isolation, seed):
        click.echo(line, err=True)
    click.echo(
        f"wrote {out_zip} ({len(names)} files): upload it as the assignment's autograder "
        "(Configure Autograder > Zip file upload)"
    )


@main.command("fetch-data")
@click.option("--dest", type=click.Path(file_okay=False), help="Folder to download into (default datasets/mnist/).")
@course_option
def fetch_data(dest: str | None, course_path: str | None) -> None:
    """Download MNIST, verify the official checksums, write atomically."""
    from grader.data import fetch

    course = course_config.load_all(course_path or course_config.find())[0]  # the data is the course's
    folder = Path(dest) if dest else course.root / "datasets" / "mnist"
    paths = fetch.fetch_mnist(folder, fetch.course_manifest(course.root))
    click.echo("\n".join(f"ok {p}" for p in paths))


# A student's repository (`grade release`) leaves out the modules that build the course from
# the solutions and grade a class: there, their commands say so instead of failing to import.
INSTRUCTOR_ONLY = {
    "generate": "authoring.generate",
    "release": "platforms.release",
    "export": "platforms.gradescope",
    "batch": "platforms.batch",
}


def instructor_only(name: str) -> click.Command:
    """A hidden stand-in for the command `name` that takes any arguments and says what it is."""

    @click.command(
        name,
        hidden=True,
        add_help_option=False,
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    )
    def stand_in():
        raise GradeError(
            f"`grade {name}` is an instructor's command: it is not in the student repository; run it in the course kit"
        )

    return stand_in


def shipped(module: str) -> bool:
    """Is grader.<module> here? (find_spec imports its parent package, which a student's release may
    lack altogether: authoring/.)"""
    try:
        return importlib.util.find_spec(f"grader.{module}") is not None
    except ModuleNotFoundError:
        return False


for _command, _module in INSTRUCTOR_ONLY.items():
    if not shipped(_module):
        main.add_command(instructor_only(_command))


if __name__ == "__main__":
    main()
