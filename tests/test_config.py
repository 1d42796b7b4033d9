"""course.yaml: the shipped one loads; every bad value gets one error naming key, value and why."""
import pytest
import yaml

from grader.config import ConfigError, find, load
from helpers import ROOT

ROOT_COURSE = ROOT / "course.yaml"


def test_the_course_loads_with_the_default_points():
    course = load(ROOT / "course.yaml")
    assert {k: p.points for k, p in course.parts.items()} == {
        "activations": 15, "softmax_ce": 20, "backprop": 25, "updates": 15, "mnist": 25}
    assert course.hidden_sizes == (128,) and course.budget["batch_size"] == 32
    assert find(ROOT / "grader") == ROOT / "course.yaml"


def edited(tmp_path, change):
    tree = yaml.safe_load((ROOT / "course.yaml").read_text())
    change(tree)
    path = tmp_path / "course.yaml"
    path.write_text(yaml.safe_dump(tree))
    return path


@pytest.mark.parametrize("change, words", [
    (lambda t: t["thresholds"].update(mnist_accuracy=1.5), "thresholds.mnist_accuracy = 1.5: must be between 0 and 1"),
    (lambda t: t["training"].update(epochs="ten"), "training.epochs = 'ten': must be a whole number"),
    (lambda t: t["training"].update(epochs=2.5), "training.epochs = 2.5: must be a whole number"),
    (lambda t: t["training"].update(hidden_sizes=[]), "training.hidden_sizes = []: must be a non-empty list"),
    (lambda t: t["limits"].update(call_seconds=-1), "limits.call_seconds = -1: must be between"),
    (lambda t: t["limits"].update(memory_mb="lots"), "limits.memory_mb = 'lots': must be a whole number"),
    (lambda t: t["limits"].update(memroy_mb=1), "limits.memroy_mb = 1: unknown key"),
    (lambda t: t.update(isolation="yes"), "isolation = 'yes': must be auto, required or off"),
    (lambda t: t.update(treshold=1), "treshold = 1: unknown key"),
    (lambda t: t["assignment"]["parts"].update(bonus={"title": "x", "points": 1}), "assignment.parts.bonus"),
    (lambda t: t["assignment"]["parts"]["mnist"].update(points="lots"), "assignment.parts.mnist.points = 'lots'"),
    (lambda t: t.pop("training"), "training = None: must be a mapping"),
    (lambda t: t["training"].update(learning_rate=True), "training.learning_rate = True: must be a number"),
    (lambda t: t["assignment"].update(id="Back Prop"), "assignment.id = 'Back Prop': must be lower-case"),
    (lambda t: t["assignment"].update(pass_mark=101), "assignment.pass_mark = 101: must be between 0 and 100"),
])
def test_bad_values_are_named(tmp_path, change, words):
    with pytest.raises(ConfigError) as info:
        load(edited(tmp_path, change))
    assert words in str(info.value)
    assert "course.yaml" in str(info.value)


def test_broken_yaml_and_missing_file(tmp_path):
    (tmp_path / "a").mkdir()
    bad = tmp_path / "a" / "course.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load(bad)
    with pytest.raises(ConfigError, match="cannot read"):
        load(tmp_path / "nope.yaml")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="no course.yaml"):
        find(tmp_path / "empty")


def test_unquoted_off_means_isolation_off(tmp_path):
    """YAML 1.1 reads `isolation: off` as false; the course file says off, so it means off."""
    path = tmp_path / "course.yaml"
    path.write_text((ROOT_COURSE.read_text()).replace("isolation: auto", "isolation: off"))
    assert load(path).isolation == "off"


def test_assignment_id_and_pass_mark_defaults(tmp_path):
    text = "".join(line for line in ROOT_COURSE.read_text().splitlines(keepends=True)
                   if not line.lstrip().startswith(("id:", "pass_mark:")))
    path = tmp_path / "course.yaml"
    path.write_text(text)
    course = load(path)
    assert course.assignment_id == "backprop" and course.pass_mark == 100


def test_a_yaml_syntax_error_names_the_file(tmp_path):
    path = tmp_path / "course.yaml"
    path.write_text("name: x\nassignment: {name: [\n")
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert "<unicode string>" not in str(caught.value) and str(path) in str(caught.value).split(": not valid YAML")[1]
