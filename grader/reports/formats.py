"""Rendering a graded session, all from the same results: a terminal table, Gradescope's
results.json, JUnit XML, Markdown, GitHub annotations, and GitHub Classroom's test result."""

from __future__ import annotations

import base64
import io
import json
import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grader.child.blanks import Blank

if TYPE_CHECKING:  # annotations only: plugin imports this module
    from rich.console import Console

    from grader.config import Course, Part
    from grader.grading.plugin import Result

# All control characters but tab and newline (no terminal escapes), the Unicode line and
# paragraph separators, which a terminal renderer turns into line breaks, and the marks and
# overrides that turn the direction of the text around them around ("Trojan Source").
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u2028-\u202e\u2066-\u2069]")


def printable(text: str, control: re.Pattern[str] = CONTROL) -> str:
    """Control characters (terminal escapes, direction overrides) shown as escapes: \\x1b, \\u202e.
    control: the characters to escape (a file name escapes tab and newline too, see intake.shown)."""
    return control.sub(
        lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 256 else f"\\u{ord(m.group()):04x}", text
    )


def neutralise(text: str) -> str:
    """Student-controlled text made safe to echo into a CI log: control characters shown as
    escapes, and no line that a CI runner would take as a command (GitHub's workflow commands
    start a line with '::' after any spaces; its older '##[' form may appear anywhere)."""
    text = printable(text).replace("##[", "# #[")
    return "\n".join("| " + line if line.lstrip().startswith("::") else line for line in text.split("\n"))


def fmt(points: float) -> str:
    """Points as every report and gradebook shows them: two decimals, always (13.42 / 15.00,
    20.00 / 20.00). A part's points are shares added up in floats, which can land a hair off a
    whole number (14.999999999999998): printed as "15" or "15.00" by whether they did, one
    table had both."""
    return f"{round(points, 2) + 0.0:.2f}"  # + 0.0: a -0.0 prints as 0.00


def part_rows(results: Sequence[Result], course: Course) -> Iterator[tuple[str, str, str, str]]:
    """One row per graded part, as every format shows it: title, "earned / possible",
    "passed / checks", and the verdict (pass, FAIL, or ERROR (n) when n checks errored)."""
    for part in course.parts.values():
        mine = [r for r in results if r.part == part.id]
        if mine:
            passed, errors = sum(r.passed for r in mine), sum(r.error for r in mine)
            verdict = (
                "pass"
                if passed == len(mine)
                else f"ERROR ({errors})"
                if errors
                else "not graded"
                if all(r.not_graded for r in mine)
                else "FAIL"
            )
            yield (
                part.title,
                f"{fmt(sum(r.score for r in mine))} / {fmt(sum(r.max_score for r in mine))}",
                f"{passed} / {len(mine)}",
                verdict,
            )


def warm() -> None:
    """Import rich, which text_report needs (25 ms): session.grade calls this while the network
    trains, so that the verdict does not wait for it after the training."""
    import rich.console
    import rich.table
    import rich.text  # noqa: F401


def text_report(
    results: Sequence[Result],
    course: Course,
    seconds: float,
    console: Console | None = None,
    footer: Iterable[str] = (),
) -> None:
    """Per part: earned / possible and pass or fail; then one line per failed check."""
    # rich only here: `grade check` imports this module before the training starts (see warm)
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = console or Console(highlight=False)
    table = Table(title=f"{course.assignment}", title_justify="left")
    table.add_column("part")
    table.add_column("points", justify="right")
    table.add_column("checks", justify="right")
    table.add_column("result")
    for title, points, checks, verdict in part_rows(results, course):
        table.add_row(
            Text(title),
            points,
            checks,
            Text(verdict, style={"pass": "green", "not graded": "yellow"}.get(verdict, "red")),
        )
    total, possible = sum(r.score for r in results), sum(r.max_score for r in results)
    table.add_row("[bold]total[/bold]", f"[bold]{fmt(total)} / {fmt(possible)}[/bold]", "", "")
    console.print(table)
    # Names and outputs quote student code and messages: they go in as plain Text, never
    # through rich's markup parser (which turns "\\[" into "[", and backtracks for minutes
    # on long runs of backslashes: both found by red-teaming).
    for r in results:
        if not r.passed:
            output = "\n    ".join(r.output.splitlines())
            console.print(Text.assemble(("E" if r.error else "x", "red"), f" {r.name}\n    {output}"), soft_wrap=True)
    for r in results:
        if r.passed and r.output:
            console.print(Text.assemble(("ok", "green"), f" {r.name}: {r.output}"), soft_wrap=True)
    errors = sum(r.error and not r.grader_error for r in results)
    if errors:
        console.print(
            f"[red]{errors} check(s) ended in an ERROR[/red]: the process running your code crashed, "
            "exited or was stopped; those checks score 0 (see E above)",
            soft_wrap=True,
        )
    if any(r.grader_error for r in results):
        console.print(
            "[red]the grader itself failed in a check[/red] (ERROR in the grader, above): not your code's "
            "doing; please report it",
            soft_wrap=True,
        )
    for line in footer:
        console.print(Text(neutralise(line)), soft_wrap=True)
    console.print(f"graded in {seconds:.1f} s")


def gradescope(results: Sequence[Result], seconds: float, output: str = "") -> dict[str, Any]:
    """Gradescope's results.json: top-level score, execution_time, output, tests. Gradescope
    knows only passed/failed, so a check that ended in an error says so three ways: its
    output starts with "ERROR:", extra_data.status is "error", and the top-level output
    counts them."""
    errors = sum(r.error and not r.grader_error for r in results)
    if errors:
        output = (
            f"{errors} check(s) ended in an ERROR (the process running the submission crashed, exited "
            f"or was stopped), not a wrong answer.\n{output}"
        ).strip()
    scores, maxima = rounded_points(results)
    return {
        "score": round(sum(scores), 4),  # the sum of what the tests show, not a separate rounding
        "execution_time": round(seconds, 3),
        "output": output,
        "output_format": "text",
        "tests": [
            {
                "name": r.name,
                "number": str(i),
                "score": score,
                "max_score": maximum,
                "status": "passed" if r.passed else "failed",
                "output": r.output,
                "visibility": "after_published" if r.hidden or r.withheld else "visible",
                "extra_data": {"part": r.part, "status": r.status, "seconds": round(r.seconds, 4)},
            }
            for i, (r, score, maximum) in enumerate(zip(results, scores, maxima, strict=True), start=1)
        ],
    }


def rounded_points(results: Sequence[Result]) -> tuple[list[float], list[float]]:
    """(scores, maxima) per check, as every report gives them: the rounded maximum of
    rounded_maxima, earned whole by a check that passed, else 0."""
    maxima = rounded_maxima(results)
    return [m if r.passed else 0.0 for r, m in zip(results, maxima, strict=True)], maxima


def rounded_maxima(results: Sequence[Result], places: int = 4) -> list[float]:
    """Each check's max_score to `places` decimals, such that every part's still add up to its
    points exactly (largest remainder): rounded one by one, a part of 25 shared by 27 checks
    added up to 25.0001, and the whole to 100.0001."""
    unit = 10**places
    out = [0.0] * len(results)
    for part in dict.fromkeys(r.part for r in results):
        mine = [i for i, r in enumerate(results) if r.part == part]
        exact = [results[i].max_score * unit for i in mine]
        floors = [int(x) for x in exact]
        short = round(sum(exact)) - sum(floors)
        for k in sorted(range(len(mine)), key=lambda k: floors[k] - exact[k])[: max(0, short)]:
            floors[k] += 1
        for i, units in zip(mine, floors, strict=True):
            out[i] = units / unit
    return out


NOT_XML = re.compile("[\ud800-\udfff\ufffe\uffff]")  # what XML 1.0 forbids beyond CONTROL


def junit(results: Sequence[Result], course: Course, seconds: float) -> str:
    """JUnit XML as Jenkins' xunit plugin's schema (junit-10.xsd) has it: a testsuite per part, a
    testcase per check (classname = the part's id), <failure> for a wrong answer and <error> for a
    check that ended in an ERROR. That schema allows <properties> only on a testsuite, so the
    points go there: the part's `score` and `max_score`, and each check's as
    `score:<testcase name>` and `max_score:<testcase name>` (the same numbers as results.json's)."""

    def clean(text):
        return NOT_XML.sub("?", neutralise(text))

    def counts(rs):
        return {
            "tests": str(len(rs)),
            "failures": str(sum(not r.passed and not r.error for r in rs)),
            "errors": str(sum(r.error for r in rs)),
        }

    points_of = dict(zip(map(id, results), zip(*rounded_points(results), strict=True), strict=True))
    root = ET.Element("testsuites", name=course.assignment, time=f"{seconds:.3f}", **counts(results))
    for part in course.parts.values():
        mine = [r for r in results if r.part == part.id]
        if not mine:
            continue
        suite = ET.SubElement(
            root, "testsuite", name=part.title, time=f"{sum(r.seconds for r in mine):.3f}", skipped="0", **counts(mine)
        )
        names = case_names(mine, part)
        points = [points_of[id(r)] for r in mine]
        entries = [("score", sum(s for s, _ in points)), ("max_score", sum(m for _, m in points))]
        for name, (score, maximum) in zip(names, points, strict=True):
            entries += [(f"score:{name}", score), (f"max_score:{name}", maximum)]
        props = ET.SubElement(suite, "properties")
        for key, value in entries:
            ET.SubElement(props, "property", name=clean(key), value=f"{value:.4f}")
        for r, name in zip(mine, names, strict=True):
            case = ET.SubElement(suite, "testcase", classname=part.id, name=clean(name), time=f"{r.seconds:.4f}")
            if not r.passed:
                outcome = ET.SubElement(
                    case, "error" if r.error else "failure", message=clean((r.output or "failed").splitlines()[0])
                )
                outcome.text = clean(r.output)
            elif r.output:
                ET.SubElement(case, "system-out").text = clean(r.output)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def case_names(results: Sequence[Result], part: Part) -> list[str]:
    """Each check's testcase name: its name without the part's title, made unique within the
    part (" [2]", " [3]" on repeats), since the points are looked up by it."""
    names: list[str] = []
    seen: dict[str, int] = {}
    for r in results:
        name = r.name.removeprefix(f"{part.title}: ")
        seen[name] = seen.get(name, 0) + 1
        names.append(name if seen[name] == 1 else f"{name} [{seen[name]}]")
    return names


def markdown(results: Sequence[Result], course: Course, seconds: float, footer: Iterable[str] = ()) -> str:
    """A Markdown summary (for $GITHUB_STEP_SUMMARY, a pull request comment, a README): the
    per-part table, then each failed check with its message as an indented code block, which
    no text inside can break out of."""

    def cell(text):
        return text.replace("|", "\\|")

    lines = [f"## {cell(course.assignment)}", "", "| part | points | checks | result |", "| --- | ---: | ---: | --- |"]
    for title, points, checks, verdict in part_rows(results, course):
        lines.append(f"| {cell(title)} | {points} | {checks} | {verdict} |")
    lines.append(
        f"| **total** | **{fmt(sum(r.score for r in results))} / {fmt(sum(r.max_score for r in results))}** | | |"
    )
    failed = [r for r in results if not r.passed]
    if failed:
        lines += ["", "### Checks that did not pass", ""]
        for r in failed:
            lines += [f"- **{'ERROR' if r.error else 'failed'}**: {cell(r.name)}", ""]
            lines += ["      " + line for line in neutralise(r.output or "failed").splitlines()] + [""]
    # The notes (isolation, limits, files left out) as a block of their own, indented: a file
    # name in them can make no table row or heading.
    lines += [
        "",
        *("    " + line for line in neutralise("\n".join(footer)).splitlines()),
        "",
        f"graded in {seconds:.1f} s",
        "",
    ]
    return "\n".join(lines)


WHERE = re.compile(r"\(at (\w+\.py):(\d+) in ")  # how the worker names the student's line


def def_line(path: Path, name: str) -> int:
    """The line of the last top-level `def name` in path (the one Python uses), else 1. The
    file is the student's: scanned line by line (at most 1 MiB of it), never parsed or run."""
    try:
        source = path.read_bytes()[: 1 << 20].decode("utf-8", "replace")
    except OSError:
        return 1
    found = [n for n, line in enumerate(source.splitlines(), start=1) if re.match(rf"def\s+{name}\s*\(", line)]
    return found[-1] if found else 1


def locate(result: Result, blanks: Mapping[str, Blank], submission: Path) -> tuple[str, int] | tuple[None, None]:
    """(file name, line) in the submission that a failed check points at: the line an
    exception came from, else the definition of the first blank its message names (the one
    that failed), else of the first the check's name names; (None, None) if none."""
    match = WHERE.search(result.output)
    if match and (submission / match.group(1)).is_file():
        return match.group(1), int(match.group(2))
    for word in re.findall(r"[a-z_]+", result.output + " " + result.name.split(": ", 1)[-1]):
        if word in blanks:
            name = f"{blanks[word].module}.py"
            return name, def_line(submission / name, word)
    return None, None


def github(
    results: Sequence[Result], blanks: Mapping[str, Blank], submission: Path, shown: Path | str | None = None
) -> list[str]:
    """GitHub Actions annotations, one `::error` per check that did not pass, at the student's
    file and line: files are read in submission (the grader's copy) and named as in shown (the
    student's folder). Student text is percent-encoded as the runner expects, so it stays inside
    its own annotation (a newline becomes %0A: no second command can start)."""

    def data(text):
        return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")

    def prop(text):
        return data(text).replace(":", "%3A").replace(",", "%2C")

    lines = []
    for r in results:
        if r.passed:
            continue
        name, line = locate(r, blanks, submission)
        where = f"file={prop(os.path.relpath(Path(shown or submission) / name))},line={line}," if name else ""
        title = ("ERROR: " if r.error else "") + r.name
        lines.append(f"::error {where}title={prop(title)}::{data(r.output or 'failed')}")
    return lines


def verdict(results: Sequence[Result], pass_mark: float | None = None) -> bool:
    """Did this run pass? With a pass mark, once the score reaches it; without, only when every
    check passed; never with no checks. The exit code and Classroom's status both ask here."""
    if not results:
        return False
    if pass_mark is None:
        return all(r.passed for r in results)
    return sum(r.score for r in results) >= pass_mark - 1e-9


def classroom(results: Sequence[Result], pass_mark: float | None = None) -> dict[str, Any]:
    """GitHub Classroom's test result, as its graders (autograding-command-grader and the like)
    write it -- base64 of this JSON as their step output `result`, see classroom_output -- and
    its grading reporter (classroom-resources/autograding-grading-reporter) reads it from the
    variable `<STEP ID>_RESULTS`. What the reporter does with each field:

    - Classroom gets the sum of the tests' `score` out of the top-level `max_score`, so each
      check carries its own points (the 4-decimal maxima of `gradescope`, which add up to each
      part's points). The reporter's own log table splits a result's points equally among its
      tests instead (its issue #10): with unequal points, that table is approximate.
    - The top-level `status` "fail" (or "error") fails its job, so it is this run's verdict, as
      the exit code: "pass" once the score reaches pass_mark when one is given, else only when
      every check passed.
    - It prints each test's `name`, the `message` of a test whose status is "error", and
      `test_code` when not empty (for a check that did not pass: the command that runs it
      alone); " - line N" follows the name unless `line_no` is 0. It echoes them into the CI
      log, where a line starting "::" is a workflow command: student text is neutralised."""
    scores, maxima = rounded_points(results)
    passed = verdict(results, pass_mark)  # the exit code's own
    status = {"passed": "pass", "failed": "fail", "error": "error"}
    return {
        "version": 1,
        "status": "pass" if passed else "fail",
        "max_score": round(sum(maxima), 4),
        "tests": [
            {
                "name": neutralise(r.name),
                "status": status[r.status],
                "score": score,
                "max_score": maximum,
                "message": neutralise(r.output or r.status),
                "test_code": "" if r.passed or r.hidden else f"grade check -k {check_function(r)}",
                "filename": "",
                "line_no": 0,
                "duration": round(r.seconds * 1000),
            }
            for r, score, maximum in zip(results, scores, maxima, strict=True)
        ],
    }


def check_function(result: Result) -> str:
    """The check's name as -k selects it alone: its node id's last part, with the parameters of a
    check made from a declaration (test_blank[relu-values])."""
    return result.nodeid.rsplit("::", 1)[-1]


def classroom_output(results_json: dict[str, Any]) -> str:
    """The classroom result as a grader's step output carries it: base64 of compact JSON, one
    line (what the reporter decodes with Buffer.from(value, "base64"))."""
    return base64.b64encode(json.dumps(results_json, separators=(",", ":")).encode("utf-8")).decode("ascii")


def dumps(results_json: dict[str, Any]) -> str:
    return json.dumps(results_json, indent=2) + "\n"


@dataclass(frozen=True)
class Report:
    """What every format is made from: one grading's results, the course, its time, the lines
    said once below the table, and the pass mark a CI job holds the score to (or None)."""

    results: Sequence[Result]
    course: Course
    seconds: float
    footer: Sequence[str] = ()
    pass_mark: float | None = None


def as_text(report: Report) -> str:
    """The text table as a file holds it (120 columns, no colour)."""
    from rich.console import Console

    out = io.StringIO()
    text_report(report.results, report.course, report.seconds, Console(file=out, width=120), report.footer)
    return out.getvalue()


# The one registry of report formats, by name: `grade check --format`, its --output, --results-json
# and --junit-xml, `grade batch`'s per-student reports and the Gradescope runner (which runs
# `grade check --format json`) all render through it.
FORMATS: dict[str, Callable[[Report], str]] = {
    "text": as_text,
    "json": lambda r: dumps(gradescope(r.results, r.seconds, "\n".join(r.footer))),
    "junit": lambda r: junit(r.results, r.course, r.seconds),
    "markdown": lambda r: markdown(r.results, r.course, r.seconds, r.footer),
    "classroom": lambda r: dumps(classroom(r.results, r.pass_mark)),
}


def render(fmt: str, report: Report) -> str:
    """report in format fmt (a key of FORMATS)."""
    return FORMATS[fmt](report)
