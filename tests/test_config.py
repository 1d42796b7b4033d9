"""course.yaml: the shipped one loads; every bad value gets one error naming key, value and why."""
import dataclasses

import pytest
import yaml

from grader.config import ConfigError, find, load, load_all, only_assignment
from grader.errors import GradeError
from helpers import ROOT

ROOT_COURSE = ROOT / "course.yaml"


def test_the_course_loads_with_the_default_points():
    course = load(ROOT / "course.yaml", "backprop")
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


def BLANKS(tree):  # noqa: N802 (a table's short name)
    return tree["assignments"]["backprop"]["blanks"]


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
    (lambda t: t["assignments"]["backprop"]["parts"].update(bonus={"title": "x", "points": 1}), "assignments.backprop.parts.bonus = {'points': 1, 'title': 'x'}: no blank is in this part"),
    (lambda t: t["assignments"]["backprop"]["blanks"]["relu"].update(returns="tuple"),
     "assignments.backprop.blanks.relu.returns = 'tuple': must be one of array, scalar, pair, dict"),
    (lambda t: t["assignments"]["backprop"]["blanks"]["relu"].pop("part"),
     "assignments.backprop.blanks.relu.part = None: missing"),
    (lambda t: t["assignments"]["backprop"]["parts"]["mnist"].update(points="lots"), "assignments.backprop.parts.mnist.points = 'lots'"),
    (lambda t: t.pop("training"), "training = None: must be a mapping"),
    (lambda t: t["training"].update(learning_rate=True), "training.learning_rate = True: must be a number"),
    (lambda t: t["assignments"].update({"Back Prop": t["assignments"].pop("backprop")}),
     "assignments.Back Prop = 'Back Prop': an id must be lower-case"),
    (lambda t: t["assignments"]["backprop"].update(pass_mark=101),
     "assignments.backprop.pass_mark = 101: must be between 0 and 100"),
    (lambda t: t["assignments"]["backprop"].update(training={"epochs": 0}),
     "training.epochs = 0: must be between 1 and 1000"),
    (lambda t: t["assignments"]["backprop"].update(training={"epoch": 2}),
     "assignments.backprop.training.epoch = 2: unknown key"),
    (lambda t: t.update(assignment=t.pop("assignments")["backprop"]), "assignment = '...': a course now holds several"),
    (lambda t: t.update(assignments={}), "assignments = {}: must be a mapping from each assignment's id"),
    (lambda t: t["assignments"]["backprop"].update(network={"hidden": "tanh"}),
     "assignments.backprop.network.hidden = 'tanh': must be one of relu, sigmoid"),
    (lambda t: t["assignments"]["backprop"].update(network={"output": "sigmoid"}),
     "output and loss must be one of: softmax with cross_entropy, sigmoid with mse"),
    # declarations of the derived checks (red team: each accepted, or named the wrong key)
    (lambda t: BLANKS(t)["backward"].update(inputs=["net(n)"]),
     "blanks.backward.inputs[0] = 'net(n)': net's sizes are its layers' widths: 3 letters or more"),
    (lambda t: BLANKS(t)["sgd_update"].update(inputs=["step(n)"]), "step's sizes are its layers' widths"),
    (lambda t: BLANKS(t)["hidden_delta"].update(inputs=["normal(k)", "normal(k, m)", "z"]),
     "blanks.hidden_delta.inputs[0] = 'normal(k)': an array's sizes are two letters"),
    (lambda t: BLANKS(t)["hidden_delta"]["delta_of"].update(hidden="softmax"),
     "blanks.hidden_delta.delta_of.hidden = 'softmax': a hidden layer's activation is an element-wise blank"),
    (lambda t: BLANKS(t)["hidden_delta"]["delta_of"].update(hidden="tanh"),
     "blanks.hidden_delta.delta_of.hidden = 'tanh': not a blank of this assignment"),
    (lambda t: BLANKS(t)["hidden_delta"]["delta_of"].update(loss="cross_entropy"),
     "blanks.hidden_delta.delta_of = {'hidden': 'relu', 'loss': 'cross_entropy'}: either {hidden: f}"),
    (lambda t: BLANKS(t)["layer_gradients"].update(inputs=["net"]),
     "blanks.layer_gradients.inputs = ['net']: a blank declared gradient_of: layer is called with 2 arguments, "
     "(delta, a_prev); these make 3"),
    (lambda t: BLANKS(t)["layer_gradients"]["checks"].update(gradient=1),
     "blanks.layer_gradients.gradient_of = 'layer': a layer's gradients are a pair"),
    (lambda t: BLANKS(t)["hidden_delta"]["checks"].update(helpers=1),
     "blanks.hidden_delta.checks.helpers = 1.0: a helpers check is of the network's gradient"),
    (lambda t: BLANKS(t)["relu"]["checks"].update(descent=1),
     "blanks.relu.checks.descent = 1.0: a descent check is of an optimiser step"),
    (lambda t: BLANKS(t)["backward"].update(gradient_of="loss"),
     "blanks.backward.gradient_of = 'loss': must be one of network, layer"),
    (lambda t: BLANKS(t)["relu"]["checks"].update(values={"a": 1, "b": 1}),
     "blanks.relu.checks.values = {'a': 1, 'b': 1}: points per array are for a pair"),
])
def test_bad_values_are_named(tmp_path, change, words):
    with pytest.raises(ConfigError) as info:
        load(edited(tmp_path, change), "backprop")
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
    assert load(path, "backprop").isolation == "off"


def test_pass_mark_defaults_to_every_point(tmp_path):
    text = "".join(line for line in ROOT_COURSE.read_text().splitlines(keepends=True)
                   if not line.lstrip().startswith("pass_mark:"))
    path = tmp_path / "course.yaml"
    path.write_text(text)
    course = load(path, "backprop")
    assert course.assignment_id == "backprop" and course.pass_mark == 100


def two_assignments(tmp_path):
    """The course with a second assignment, `second`, that trains 2 epochs and passes at 0.5."""
    block = ("  # the second one\n  second:\n    name: Second\n    parts:\n      activations: {title: A, points: 10}\n"
             "    blanks:\n      relu: {part: activations}\n"
             "    training: {epochs: 2}\n    thresholds: {mnist_accuracy: 0.5}\n")
    text = ROOT_COURSE.read_text().replace("\nthresholds:", "\n" + block + "thresholds:", 1)
    path = tmp_path / "course.yaml"
    path.write_text(text)
    return path


def test_several_assignments_each_with_its_own_settings(tmp_path):
    path = two_assignments(tmp_path)
    with pytest.raises(GradeError, match=r"has 3 assignments \(backprop, design-choices, second\): choose one with"):
        load(path)
    with pytest.raises(GradeError, match="--assignment third: no such assignment"):
        load(path, "third")
    first, second = load(path, "backprop"), load(path, "second")
    assert (first.epochs, second.epochs) == (6, 2)  # its own training value over the course-wide one
    assert (first.mnist_accuracy, second.mnist_accuracy) == (0.96, 0.5)
    assert second.batch_size == first.batch_size and second.limits == first.limits  # the rest is the course's
    assert second.solutions == tmp_path / "solutions" / "second" and second.vectors.parts[-3:] == (
        "exercises", "second", "vectors.json")
    assert [c.assignment_id for c in load_all(path)] == ["backprop", "design-choices", "second"]
    assert list(second.blanks) == ["relu"] and len(first.blanks) == 11  # which functions are blanks: its own


def test_only_assignment_keeps_one_and_its_comments(tmp_path):
    path = two_assignments(tmp_path)
    for aid in ("backprop", "second"):
        text = only_assignment(load(path, aid))
        assert list(yaml.safe_load(text)["assignments"]) == [aid]
        assert "# The one course config" in text and "# test accuracy the student's training must reach" in text
        (tmp_path / aid).mkdir()
        (tmp_path / aid / "course.yaml").write_text(text)
        assert load(tmp_path / aid / "course.yaml") == dataclasses.replace(
            load(path, aid), path=tmp_path / aid / "course.yaml", assignment_ids=(aid,),
            reference=tmp_path / aid / "solutions" / aid)


def test_a_yaml_syntax_error_names_the_file(tmp_path):
    path = tmp_path / "course.yaml"
    path.write_text("name: x\nassignment: {name: [\n")
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert "<unicode string>" not in str(caught.value) and str(path) in str(caught.value).split(": not valid YAML")[1]
