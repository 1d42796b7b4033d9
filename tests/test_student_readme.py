"""The release's README is the student guide, docs/student-guide.md, made for one assignment:
every placeholder replaced by that assignment's own name, folder, tables and pass mark, the
kit-only text left out. The guide itself still reads as a guide on GitHub (its placeholders are
comments, and none sits where GitHub would show it), and its stand-ins are what the first
assignment's release writes, so the page cannot drift from a README."""
import dataclasses
import re
import tempfile
from pathlib import Path

import pytest

from grader import config
from grader.platforms.release import GUIDE, ReleaseError, readme_values, student_readme
from helpers import MARKDOWN, ROOT, readme_problems

GUIDE_PATH = ROOT / GUIDE
ASSIGNMENTS = config.load(ROOT / "course.yaml", "backprop").assignment_ids
COMMENTS = re.compile(r"<!--.*?-->", re.S)


def course(assignment):
    return config.load(ROOT / "course.yaml", assignment)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_the_readme_is_the_guide_made_for_the_assignment(assignment):
    readme = student_readme(course(assignment))
    assert readme_problems(readme, course(assignment)) == []
    assert "`grade check`" in readme and "## Continuous integration" in readme and "## The rules" in readme
    assert "--data-dir DIR" in readme and "GRADE_DATA_DIR=DIR" in readme  # the set-up for a student offline


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_the_readme_check_fails_a_wrong_readme(assignment):
    """Test the tester: the guide as it is, a README made for another assignment, and one whose
    kit-only text stayed in are each found wrong."""
    this = course(assignment)
    other = course(next(a for a in ASSIGNMENTS if a != assignment))
    guide = GUIDE_PATH.read_text()
    assert readme_problems(guide, this)
    wrong = readme_problems(student_readme(other), this)
    assert any("title" in p for p in wrong) and any("parts table" in p for p in wrong)
    assert any("does not hold" in p for p in wrong) and any("blanks table" in p for p in wrong)
    kept = re.sub(r"<!-- /?kit-only -->", "", guide)
    assert any("grading.md" in p for p in readme_problems(readme_of(this, kept), this))


def readme_of(course, text):
    """The README made from text as the guide."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "student-guide.md"
        path.write_text(text, encoding="utf-8")
        return student_readme(course, path)


def test_changing_the_guide_changes_the_readme():
    backprop = course("backprop")
    guide = GUIDE_PATH.read_text()
    assert readme_of(backprop, guide) == student_readme(backprop)
    added = readme_of(backprop, guide + "\n## Office hours\n\nThursdays at four.\n")
    assert added.endswith("## Office hours\n\nThursdays at four.\n")
    edited = readme_of(backprop, guide.replace("Printing is fine", "Printing is welcome"))
    assert "Printing is welcome" in edited and "Printing is fine" not in edited
    # a stand-in is only a stand-in: the assignment's value replaces whatever it says
    stand_in = readme_of(backprop, guide.replace("-->Student guide<!--", "-->Any title<!--"))
    assert stand_in == student_readme(backprop)


def test_kit_only_text_goes_with_its_lines():
    backprop = course("backprop")
    text = "# <!-- assignment -->t<!-- /assignment -->\n\n1. one\n   <!-- kit-only -->\n   kit\n   <!-- /kit-only -->\n2. two\n"
    assert readme_of(backprop, text) == f"# {backprop.assignment}\n\n1. one\n2. two\n"
    note = "<!--\n  a note\n-->\n# <!-- assignment -->t<!-- /assignment -->\n\n\n\ntext <!-- a note --> more\n"
    assert readme_of(backprop, note) == f"# {backprop.assignment}\n\ntext  more\n"


@pytest.mark.parametrize("text, problem", [
    ("a\n<!-- title -->x<!-- /title -->\n", r":2: unknown placeholder 'title'; the known: assignment, course"),
    ("a\n\n<!-- parts -->\nx\n", r":3: placeholder 'parts' is never closed"),
    ("<!-- /parts -->\n", r":1: /parts out of place"),
    ("<!-- parts -->\n<!-- blanks -->x<!-- /blanks -->\n<!-- /parts -->\n", r":2: blanks out of place, inside 'parts' \(line 1\)"),
    ("<!-- parts -->x<!-- /blanks -->\n", r":1: /blanks out of place, inside 'parts'"),
    ("a\ntext <!-- a note never closed\n", r":2: a comment is never closed"),
])
def test_a_broken_guide_stops_the_release_naming_its_line(text, problem):
    with pytest.raises(ReleaseError, match=r"student-guide\.md" + problem):
        readme_of(course("backprop"), text)


def test_a_missing_guide_is_named(tmp_path):
    elsewhere = dataclasses.replace(course("backprop"), path=tmp_path / "course.yaml")
    with pytest.raises(ReleaseError, match=rf"^{tmp_path}/docs/student-guide\.md: no such file; the release's README"):
        student_readme(elsewhere)


# -- the guide as GitHub shows it -------------------------------------------------------------------
def stand_ins(text):
    """name -> the text the guide shows in that placeholder, whitespace collapsed."""
    return {m[1]: " ".join(m[2].split()) for m in re.finditer(r"<!-- (\w+) -->(.*?)<!-- /\1 -->", text, re.S)}


SHOWN = ("course", "network", "blanks", "parts", "pass_mark")  # the stand-ins that show backprop's values


def stale_stand_ins(guide, values):
    """The placeholders in SHOWN whose stand-in in guide is not values' (whitespace aside)."""
    shown = stand_ins(guide)
    return [name for name in SHOWN if shown.get(name) != " ".join(values[name].split())]


def test_the_guide_shows_the_first_assignments_values():
    """Its stand-ins are what backprop's release writes there: update them from
    `grade release --assignment backprop` when a table changes."""
    guide, written = GUIDE_PATH.read_text(), readme_values(course("backprop"))
    assert stale_stand_ins(guide, written) == []
    assert set(stand_ins(guide)) == set(written) - {"kit-only"}  # each placeholder is used (kit-only is not \w+)
    # test the tester: a table that changed, and design-choices' values, are found stale
    assert stale_stand_ins(guide.replace("| 15 |", "| 16 |", 1), written) == ["parts"]
    assert stale_stand_ins(guide, readme_values(course("design-choices"))) == ["network", "blanks", "parts"]


def hidden_from_github(markdown):
    """Where the guide's comments would show on GitHub: each problem a sentence, [] if none. A
    comment is invisible inline or as a block of its own, but shown as text in a code span or
    block, and a line of text that starts with one becomes a raw HTML block."""
    problems = []
    for token in MARKDOWN.parse(markdown):
        if token.type == "html_block" and COMMENTS.sub("", token.content).strip():
            problems.append(f"line {token.map[0] + 1}: text in an HTML block (it starts with a comment)")
        if token.type in ("fence", "code_block") and "<!--" in token.content:
            problems.append(f"line {token.map[0] + 1}: a comment in a code block")
        for child in token.children or []:
            if child.type == "code_inline" and "<!--" in child.content:
                problems.append(f"a comment in a code span: {child.content!r}")
    return problems


def visible_text(markdown):
    return COMMENTS.sub("", MARKDOWN.render(markdown))


def test_the_guide_reads_as_a_guide_on_github():
    guide = GUIDE_PATH.read_text()
    assert hidden_from_github(guide) == []
    html = visible_text(guide)
    assert html.lstrip().startswith("<h1>Student guide</h1>")
    assert html.count("<table>") == 2 and "<code>exercises/&lt;id&gt;/</code>" in html
    assert not re.search(r"kit-only|/parts|pass_mark|&lt;!--", html)
    # test the tester: a placeholder that starts a line of text, one in a code span, one in a block
    assert hidden_from_github(guide.replace("you train, <!-- network -->", "you train,\n<!-- network -->"))
    assert hidden_from_github(guide.replace("`exercises/<id>/`", "`exercises/<!-- id -->/`"))
    assert hidden_from_github(guide.replace("grade check  ", "grade check <!-- x --> ", 1))
