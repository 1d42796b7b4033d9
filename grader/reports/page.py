"""The feedback page: one self-contained HTML file per run (images embedded as data: URLs,
no script, no request anywhere), for a student to open after `grade check`.

It shows the per-part table, each failed check with its diagnosis, the network's results
(loss and accuracy curves, the confusion matrix, accuracy per digit, and the test digits it
got most wrong) and the design-choice experiments (grader/grading/experiments.py): each one's
figure, what to look for in it, and the runs that did not complete. Every text from a
check, a run or course.yaml is escaped: messages quote student code.
"""

from __future__ import annotations

import base64
import html
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from grader.files import atomic_write
from grader.reports.formats import fmt, part_rows

if TYPE_CHECKING:  # annotations only
    from grader.config import Course
    from grader.grading.experiments import Experiment
    from grader.grading.plugin import Result
    from grader.grading.scoring import MnistRun

# No script may run, and nothing may load from anywhere: only the inline style and data: images.
POLICY = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"

STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
table { border-collapse: collapse; } th, td { padding: .3rem .8rem; border-bottom: 1px solid #ddd; text-align: left; }
td.n { text-align: right; } li { white-space: pre-line; }
.pass { color: #1a7f37; } .fail { color: #cf222e; font-weight: 600; }
pre { white-space: pre-wrap; background: #f6f8fa; padding: .6rem .8rem; border-radius: 6px; font-size: 13px; }
.plots img { max-width: 100%; margin: .5rem 0; } .gallery { display: flex; flex-wrap: wrap; gap: .8rem; }
.gallery figure { margin: 0; text-align: center; font-size: 12px; } .gallery img { image-rendering: pixelated; }
.look-for { border-left: 3px solid #0969da; padding-left: .6rem; }
"""


def _img(png, alt, cls=""):
    data = base64.b64encode(png).decode("ascii")
    return f'<img{f" class={cls!r}" if cls else ""} alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def page(
    results: Sequence[Result],
    course: Course,
    seconds: float,
    footer: Sequence[str] = (),
    run: MnistRun | None = None,
    images: dict[str, bytes] | None = None,
    experiments: Sequence[Experiment] | None = None,
    experiment_images: dict[str, bytes] | None = None,
) -> str:
    """The page as a string. run: the MNIST run (scoring.MnistRun) or None; images: its
    figures (plots.figures), or None to leave them out (matplotlib takes half a second).
    experiments: the design-choice experiments run, if any; experiment_images: experiment
    id -> its figure (plots.experiment_png), or None when plots are off."""
    e = html.escape
    total, possible = sum(r.score for r in results), sum(r.max_score for r in results)
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{POLICY}">',
        f"<title>{e(course.assignment)}: {fmt(total)} / {fmt(possible)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{e(course.assignment)}</h1>",
        f"<p><strong>{fmt(total)} / {fmt(possible)}</strong> points, graded in {seconds:.1f} s</p>",
        "<table><tr><th>part</th><th>points</th><th>checks</th><th>result</th></tr>",
    ]
    for title, points, checks, verdict in part_rows(results, course):
        out.append(
            f"<tr><td>{e(title)}</td><td class=n>{points}</td><td class=n>{checks}</td>"
            f"<td class={'pass' if verdict == 'pass' else 'fail'}>{e(verdict)}</td></tr>"
        )
    out.append("</table>")
    failed = [r for r in results if not r.passed]
    if failed:
        out.append(f"<h2>Checks that did not pass ({len(failed)})</h2>")
        for r in failed:
            out.append(
                f"<h3 class=fail>{'ERROR: ' if r.error else ''}{e(r.name)}</h3><pre>{e(r.output or 'failed')}</pre>"
            )
    notes = [r for r in results if r.passed and r.output]
    if notes:
        out.append("<h2>Notes from checks that passed</h2><ul>")
        out += [f"<li>{e(r.name)}: {e(r.output)}</li>" for r in notes]
        out.append("</ul>")
    if run is not None:
        out += mnist_section(run, images)
    if experiments:
        out += experiments_section(experiments, experiment_images)
    if footer:
        out.append("<h2>About this run</h2><ul>" + "".join(f"<li>{e(line)}</li>" for line in footer) + "</ul>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def mnist_section(run: MnistRun, images: dict[str, bytes] | None) -> list[str]:
    from grader.reports.plots import digit_png

    out = [
        f"<h2>Your network on MNIST</h2><p>Test accuracy <strong>{run.accuracy:.4f}</strong> on "
        f"{int(run.confusion.sum()):,} test images, trained in {run.seconds:.1f} s.</p>"
    ]
    if images is None:
        return [*out, "<p>(Plots were not drawn: run <code>grade check</code> without <code>--no-plots</code>.)</p>"]
    captions = {
        "loss_curves": "Loss per epoch",
        "accuracy_curves": "Accuracy per epoch",
        "confusion_matrix": "Confusion matrix: rows are the true digit, columns the prediction",
        "per_digit_accuracy": "Test accuracy of each digit",
    }
    out.append('<div class="plots">')
    out += [f"<h3>{captions[name]}</h3>{_img(png, captions[name], 'plot')}" for name, png in images.items()]
    out.append("</div>")
    if len(run.worst):
        assert run.worst_images is not None, "scoring keeps the pixels of the worst digits it lists"
        out.append(
            "<h3>The test digits it got most wrong</h3><p>Misclassified test images, the ones the network "
            "was surest of first: true digit, what it answered, and the probability it gave that answer.</p>"
            '<div class="gallery">'
        )
        for (index, label, predicted, confidence), pixels in zip(run.worst, run.worst_images, strict=True):
            alt = f"test image {index}: a {label}, predicted {predicted}"
            out.append(
                f"<figure>{_img(digit_png(pixels), alt, 'digit')}<figcaption>#{index}: {label} &rarr; "
                f"{predicted}<br>{confidence:.0%}</figcaption></figure>"
            )
        out.append("</div>")
    return out


def experiments_section(experiments: Sequence[Experiment], images: dict[str, bytes] | None) -> list[str]:
    """The experiments, one after another: title, the sentence saying what to look for, the
    figure, and each run that did not complete with its error. images: experiment id -> PNG
    (plots.experiment_png), or None when plots are off (the page then says how to get them)."""
    out = [
        "<h2>Experiments: the notes' design choices</h2><p>The same network trained once per "
        "configuration, with your own blanks. They are not graded on what they show, only on running.</p>"
    ]
    if images is None:
        out.append("<p>(Plots were not drawn: run <code>grade check</code> without <code>--no-plots</code>.)</p>")
    for experiment in experiments:
        out += _experiment(experiment, None if images is None else images.get(experiment.id))
    return out


def _experiment(experiment: Experiment, png: bytes | None) -> list[str]:
    """One experiment's part of the section; png None when there is no figure to show."""
    e = html.escape
    out = [f"<h3>{e(experiment.title)}</h3>", f'<p class="look-for">{e(experiment.look_for)}</p>']
    if png is not None:
        out.append(f'<div class="plots">{_img(png, f"Experiment: {experiment.title}", "plot")}</div>')
    failed = [r for r in experiment.runs if r.error]
    if failed:
        # why a run is missing from the figure (no data) or stops early in it (failed partway)
        out.append("<p>Runs that did not complete (a run that produced no data is not drawn):</p><ul>")
        out += [f'<li class="failed-run"><strong>{e(r.label)}</strong>: {e(r.error)}</li>' for r in failed]
        out.append("</ul>")
    return out


def experiment_file(experiment: Experiment) -> str:
    """The file name of an experiment's figure beside the page: experiment_<id>.png. The id
    comes from course.yaml and names a file, so it must be a plain name (no path, no dots)."""
    if not re.fullmatch(r"[A-Za-z0-9_-]+", experiment.id):
        raise ValueError(f"experiment id {experiment.id!r}: use letters, digits, _ and - only (it names a file)")
    return f"experiment_{experiment.id}.png"


def draw_experiments(experiments: Sequence[Experiment], folder: Path) -> dict[str, bytes]:
    """Each experiment's figure by id (plots.experiment_png), each also written into folder
    as experiment_<id>.png."""
    from grader.reports.plots import experiment_png

    images = {}
    for experiment in experiments:
        name = experiment_file(experiment)  # a bad id fails before the half-second of drawing
        images[experiment.id] = experiment_png(experiment)
        atomic_write(folder / name, images[experiment.id])
    return images


def write(
    path: str | os.PathLike[str],
    results: Sequence[Result],
    course: Course,
    seconds: float,
    footer: Sequence[str] = (),
    run: MnistRun | None = None,
    plots: bool = True,
    experiments: Sequence[Experiment] | None = None,
) -> Path:
    """Write the page to path (the folder is made) in one step, a reader never sees half;
    with plots, also each MNIST figure beside it as <name>.png and each experiment's as
    experiment_<id>.png (CI keeps them as artifacts)."""
    from grader.reports.plots import figures

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    images = figures(run.history, run.confusion, "MNIST", course.network.loss) if run is not None and plots else None
    for name, png in (images or {}).items():
        atomic_write(path.parent / f"{name}.png", png)
    experiment_images = draw_experiments(experiments or (), path.parent) if plots else None
    return atomic_write(path, page(results, course, seconds, footer, run, images, experiments, experiment_images))
