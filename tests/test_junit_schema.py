"""JUnit XML against the schema Jenkins' xunit plugin validates reports with (junit-10.xsd,
fetched from pytest's source distribution, see helpers.junit_xsd), read back with junitparser: a passing
report, a failing one, and the old layout the schema rejects (test the tester)."""
import copy

import pytest
from lxml import etree

from grader.config import load
from grader.grading.plugin import Result
from grader.reports.formats import junit
from helpers import ROOT, junit_schema

SCHEMA = junit_schema()
COURSE = load(ROOT / "course.yaml", "backprop")


def results(passed=True):
    """Three checks of the activations part and two of updates, 15 points each part; when not
    passed, one wrong answer and one crash whose output is hostile to XML and CI logs."""
    rows = [("activations", "relu matches the reference", 5), ("activations", "sigmoid matches the reference", 5),
            ("activations", "relu_prime matches the reference", 5), ("updates", "sgd_update moves W", 7.5),
            ("updates", "sgd_update moves b", 7.5)]
    out = []
    for i, (part, name, points) in enumerate(rows):
        title = COURSE.parts[part].title
        out.append(Result(f"id{i}", f"{title}: {name}", part, points, passed=True, seconds=0.01 * i,
                          score=points, max_score=points))
    if not passed:
        out[0].passed, out[0].score, out[0].output = False, 0.0, "relu(-1) gave -1, the reference 0 <&> ]]>"
        out[3].passed, out[3].error, out[3].score = False, True, 0.0
        out[3].output = "the process running your code exited (code 0)\n::error::forged\x1b[31m\ud800"
    return out


def validate(xml_text):
    """The report, parsed as the plugin does, against the schema; the parsed tree."""
    tree = etree.fromstring(xml_text.encode("utf-8"))
    SCHEMA.assertValid(tree)  # raises DocumentInvalid, naming the element and the rule it breaks
    return tree


def points(xml_text):
    """{(suite, case): (score, max_score)} as a reader finds them, with junitparser: in each
    testsuite's properties, score:<case> and max_score:<case>."""
    from junitparser import JUnitXml

    found = {}
    for suite in JUnitXml.fromstring(xml_text.encode("utf-8")):  # bytes: it declares its encoding
        props = {p.name: float(p.value) for p in suite.properties()}
        for case in suite:
            found[suite.name, case.name] = (props[f"score:{case.name}"], props[f"max_score:{case.name}"])
        assert props["score"] == pytest.approx(sum(s for (name, _), (s, _) in found.items() if name == suite.name))
    return found


@pytest.mark.parametrize("passed", [True, False], ids=["passing", "failing"])
def test_report_is_valid_junit_10(passed):
    rs = results(passed)
    xml_text = junit(rs, COURSE, 1.5)
    tree = validate(xml_text)
    assert tree.tag == "testsuites" and "skipped" not in tree.attrib
    assert [s.get("name") for s in tree] == ["Activation functions", "Weight updates"]
    assert not tree.findall(".//testcase/properties")  # what the schema forbids
    got = points(xml_text)
    assert len(got) == 5
    assert got["Activation functions", "relu matches the reference"] == ((5.0 if passed else 0.0), 5.0)
    assert got["Weight updates", "sgd_update moves W"] == ((7.5 if passed else 0.0), 7.5)
    assert sum(s for s, _ in got.values()) == pytest.approx(sum(r.score for r in rs))
    assert tree.get("failures") == ("0" if passed else "1") and tree.get("errors") == ("0" if passed else "1")


def test_failure_and_error_read_back_with_junitparser():
    from junitparser import Error, Failure, JUnitXml

    xml = JUnitXml.fromstring(junit(results(passed=False), COURSE, 1.5).encode("utf-8"))
    outcomes = {case.name: [type(r) for r in case.result] for suite in xml for case in suite}
    assert outcomes["relu matches the reference"] == [Failure]
    assert outcomes["sgd_update moves W"] == [Error]
    assert outcomes["sgd_update moves b"] == []
    error = next(case for suite in xml for case in suite if case.name == "sgd_update moves W").result[0]
    assert "\x1b" not in error.text and "\n| ::error::forged" in error.text  # neutralised, still readable


def test_schema_rejects_the_old_layout():
    """Test the tester: the layout written before (points as properties inside each testcase,
    and a skipped count on testsuites) fails this schema, and so would any such regression."""
    good = validate(junit(results(passed=False), COURSE, 1.5))
    assert SCHEMA.validate(good)

    in_case = copy.deepcopy(good)
    case = in_case.find(".//testcase")
    props = etree.Element("properties")
    etree.SubElement(props, "property", name="score", value="5.0000")
    case.insert(0, props)
    skipped_on_root = copy.deepcopy(good)
    skipped_on_root.set("skipped", "0")
    no_name = copy.deepcopy(good)
    del no_name.find(".//testcase").attrib["name"]
    for broken in (in_case, skipped_on_root, no_name):
        assert not SCHEMA.validate(broken)
    with pytest.raises(etree.DocumentInvalid, match="properties"):
        SCHEMA.assertValid(in_case)
    with pytest.raises(etree.DocumentInvalid, match="skipped"):
        SCHEMA.assertValid(skipped_on_root)


def test_repeated_check_names_stay_apart():
    """Points are looked up by testcase name: two checks of one name in a part get distinct names."""
    rs = results()
    rs[1].name = rs[0].name
    xml_text = junit(rs, COURSE, 1.0)
    validate(xml_text)
    got = points(xml_text)
    assert ("Activation functions", "relu matches the reference [2]") in got
    assert len(got) == 5
