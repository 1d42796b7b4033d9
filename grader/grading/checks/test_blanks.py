"""The checks derived from the blanks' declarations in course.yaml, for any blank of any
assignment: its values against the reference's (a batch, and its edge cases: one example for
blanks of example columns, square matrices for blanks of three sizes or more; a pair's two
arrays one at a time), its gradient against central differences (of the blank it
differentiates, of a loss through an output or a hidden layer for a delta, of the network's
loss for backward), its stability at extreme inputs, a loss's mean over the batch, an
optimiser step's descent, backward with the student's own helpers, and (once per part) that
the part's blanks leave their inputs unchanged. The plugin parametrizes these two tests with
one case per declared check (plugin.pytest_generate_tests, from cases() here): a blank an
instructor declares gets all of this without a line of grader code.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pytest

from grader.config import helpers as config_helpers, inputs_of
from grader.grading.checks.common import (
    Trial,
    all_unchanged,
    call,
    central_check,
    diagnosed,
    equation_of,
    loss_relation,
    not_judged,
    relation,
    value_check,
)
from grader.grading.diagnose import overflow, side_by_side
from grader.grading.gradcheck import (
    VALUE_FLOOR,
    CheckFailed,
    assert_close,
    assert_same_structure_close,
    relative_error,
)
from grader.grading.inputs import COLUMNS, STRESS, generator, square
from grader.sandbox.process import StudentError

if TYPE_CHECKING:
    from grader.child.blanks import Blank
    from grader.config import Part

WHAT = {  # a check's title, from its kind
    "values": "{name} matches the reference",
    "gradient": "{name} agrees with central differences of {of}",
    "stable": "{name} is finite and exact {where}",
    "mean": "{name} is the mean over the columns: repeating the batch leaves it unchanged",
    "descent": "{name} moves every parameter by -lr times its gradient",
    "helpers": "{name} with your own helpers gives what they give when called as the notes' recursion does",
}
# the edge cases a values check takes too, where the vectors hold them, and what its title says of them
EDGES = {
    "one_example": " (a batch, and one example)",
    "square": " (and where the matrices are square, so a transpose shows)",
}
PROPERTIES = ("stable", "mean", "descent", "helpers")  # judged whatever the values (see plugin.withhold)


def differentiated(blank: Blank) -> str:
    """What a gradient check holds the blank against: the blank it differentiates, the loss
    through the output it is the delta of, the step back through a hidden layer, or the loss."""
    if blank.delta_of:
        output, loss = blank.delta_of
        return f"{loss}({output}(z), y)"
    if blank.hidden_delta_of:
        return f"L = sum(delta_next * (W_next {blank.hidden_delta_of}(z)))"
    if blank.gradient_of == "network":
        return "the network's mean loss, for every W and b of a small net"
    return blank.derivative_of


def called(blank: Blank) -> str:
    """How a gradient check's message names the blank's answer ({} for a key of a dict)."""
    if blank.delta_of:
        return f"{blank.name}({blank.delta_of[0]}(z), y)"
    if blank.hidden_delta_of:
        return f"{blank.name}(W_next, delta_next, z)"
    if blank.gradient_of == "network":
        return f"{blank.name}'s dL/d{{}}"
    return f"{blank.name}(z)"


def vouches(name: str, component: str | None = None) -> str:
    """What a check vouches for (its blanks marker): a blank, or one array of a pair's
    ("layer_gradients' dW"), so that a wrong db costs the db checks alone (plugin.withhold)."""
    return f"{name}{chr(39) if name.endswith('s') else chr(39) + 's'} {component}" if component else name


def listed(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def cases(blanks: Mapping[str, Blank]) -> list[pytest.ParameterSet]:
    """test_blank's cases: each declared check of each blank, in declaration order."""
    out = []
    for blank in blanks.values():
        inputs = [generator(i) for i in inputs_of(blank, dict(blanks))]
        edges = "".join(text for edge, text in EDGES.items() if edge_of(inputs_of(blank, dict(blanks)), edge))
        where = STRESS[inputs[0]][1] if inputs and inputs[0] in STRESS else ""
        for kind, points in blank.checks:
            base, _, component = kind.partition(" ")
            name = vouches(blank.name, component or None)
            what = WHAT[base].format(name=name, of=differentiated(blank), where=where)
            out.append(
                pytest.param(
                    blank.name,
                    kind,
                    what + (edges if base == "values" else ""),
                    id=f"{blank.name}-{kind.replace(' ', '-')}",
                    marks=[
                        pytest.mark.part(blank.part),
                        pytest.mark.points(points),
                        pytest.mark.blanks(name),
                        *([pytest.mark.property] if base in PROPERTIES else []),
                    ],
                )
            )
    return out


def edge_of(inputs: Sequence[str], edge: str) -> bool:
    """Does a blank of these inputs get this edge case (vectors.declared_cases makes them)?"""
    if edge == "one_example":
        return any(generator(i) in COLUMNS for i in inputs)
    return square(inputs)


def part_cases(parts: Mapping[str, Part], blanks: Mapping[str, Blank]) -> list[pytest.ParameterSet]:
    """test_unchanged's cases: one per part with points for it, over the part's derived blanks."""
    out = []
    for part in parts.values():
        names = [b.name for b in blanks.values() if b.part == part.id and b.checks]
        if part.unchanged and names:
            out.append(
                pytest.param(
                    tuple(names),
                    f"{listed(names)} {'does not modify its' if len(names) == 1 else 'do not modify their'} inputs",
                    id=part.id,
                    marks=[
                        pytest.mark.part(part.id),
                        pytest.mark.points(part.unchanged),
                        pytest.mark.blanks(*names),
                        pytest.mark.property,
                    ],
                )
            )
    return out


def test_blank(name, kind, what, student, vectors, course, note):
    """{what}"""
    base, _, component = kind.partition(" ")
    edges = [f"{name}/{edge}" for edge in EDGES if f"{name}/{edge}" in vectors]
    if base == "values" and component:
        for case in (name, *edges):
            component_check(student, vectors, course, case, component)
    elif base == "values":
        for case in (name, *edges):
            value_check(student, vectors, case, course.value_rel_error)
    elif base == "gradient":
        blank = course.blanks[name]
        central_check(student, vectors, course, name, called(blank), differentiated(blank))
    elif base == "stable":
        stable(student, vectors, course, name, note)
    elif base == "mean":
        mean(student, vectors, course, name)
    elif base == "descent":
        descent(student, vectors, course, name)
    elif base == "helpers":
        helpers(student, vectors, course, name)
    else:  # config.KINDS and WHAT agree: a kind without a check here is ours to fix
        raise RuntimeError(f"no check for the kind {kind!r}")


def test_unchanged(names, what, student, vectors, course):
    """{what}"""
    # each alone: a blank that calls another on its case has it replayed; a modified input fails
    # whichever blank did it; an optimiser step is judged an attempt by its step, not by the
    # parameters it starts from (see common.all_unchanged)
    replayed = [n for n in names if vectors.calls.get(n)]
    steps = [n for n in names if "step" in map(generator, inputs_of(course.blanks[n], course.blanks))]
    all_unchanged(student, vectors, course, names, replayed=replayed, steps=steps)


def component_check(student, vectors, course, case, component):
    """One array of a pair (layer_gradients' dW, its db) against the reference's, diagnosed as
    that array ("layer_gradients dW" in diagnose.MISTAKES)."""
    name = case.split("/")[0]
    args, expected = vectors[case]
    index = course.blanks[name].components.index(component)
    got = call(student, name, *args)
    shown = f"{name}({', '.join('x'.join(map(str, a.shape)) + ' array' for a in args)})'s {component}"
    with diagnosed(f"{name} {component}", got[index], expected[index], args, equation_of(student, name)):
        assert_close(shown, got[index], expected[index], course.value_rel_error)


def mean(student, vectors, course, name):
    """A loss over a batch is the mean over its columns: the batch twice over gives the same
    number. Judged once the blank's answer is an attempt at the reference's loss: one constant
    times it (a loss summed over the m examples is m times it, and fails here, once) or a
    listed mistake, on batches whose reference losses differ (loss_relation): a constant, or
    a[0, 0] + 0.3, is trivially a mean."""
    args, _ = vectors[name]
    try:
        once = student.call(name, *args)
        twice = student.call(name, *[np.hstack([a, a]) for a in args])
        found = loss_relation(student, vectors, course, name, once)
    except StudentError as exc:
        raise not_judged(f"whether {name} is a mean", exc) from None
    if not found:
        raise CheckFailed(
            f"not graded: {name} is not yet an attempt at the reference's loss ({found.why}): whether it is "
            "a mean counts once it computes the loss from its inputs"
        )
    if abs(twice - once) > course.value_rel_error * max(1e-8, abs(once) + abs(twice)):
        raise CheckFailed(
            f"{name} of the batch repeated twice is {float(twice):.6g}, but of the batch "
            f"once {float(once):.6g}: average over the m columns (divide by m = y.shape[1])"
        )


def stable(student, vectors, course, name, note):
    """The blank on its input's stress case (inputs.STRESS: +-1000 for an element-wise blank,
    columns shifted by +-1000 for logits) is finite, and there agrees with the reference's answer
    the way it does on its value case: equal to it, k times it (0.5 sigma(z): the factor is the
    values check's to count, once), or what the same listed mistake gives there (its formula
    is judged where it is finite itself). An exp that overflows (or a 0 / 0) shows as NaN or
    inf; a form right on the value case only (a table of the public answers, zeros elsewhere)
    or at the extremes only fails at the stress case's extremes or its moderate entries (+-1,
    +-3). Judged once the answer on its value case is one of those (relation(); an answer that
    merely tracks the reference says nothing of what it should give at +-1000)."""
    (z,), expected = vectors[f"{name}/stable"]
    kind = generator(inputs_of(course.blanks[name], course.blanks)[0])
    shown = f"{name}([{', '.join(f'{v:g}' for v in np.ravel(z))}])" if z.size <= 12 else f"{name} of {STRESS[kind][2]}"
    args, answer = vectors[name]
    try:
        attempt = student.call(name, *args)
        got = call(student, name, z)  # the last call: its warnings are the ones shown below
    except StudentError as exc:
        if exc.kind != "nonfinite":
            raise not_judged(f"{name}'s stability", exc) from None
        raise
    found = relation([Trial(attempt, answer, args)], blank=name, tol=course.value_rel_error)
    if found.how not in ("factor", "mistake"):
        why = found.why or (
            "it rises and falls with it, but is neither it, nor one constant times it, nor a typical mistake the "
            "grader knows, so what it should give at the extremes is not known"
        )
        raise CheckFailed(
            f"not graded: {name}'s answer on its value case is not yet an attempt at the reference's ({why}): "
            "stability counts once it is"
        )
    if found.mistake:
        description, formula = found.mistake
        with np.errstate(all="ignore"):
            target = np.asarray(formula(z), float)
        what = "what that mistake gives"
        lead = f"on its value case {name} gives what a typical mistake gives ({description}); at the extremes, "
    else:
        target = found.factor * expected
        exact = abs(found.factor - 1) <= course.value_rel_error
        what = "the reference's answer" if exact else f"{found.factor:.4g} times the reference's answer"
        lead = "" if exact else f"on its value case {name} gives {found.factor:.4g} times the reference's answer; "
    judged = np.isfinite(target)  # a mistake's plain formula may itself overflow there: judged where it does not
    if (
        got.shape != target.shape
        or not np.all(np.isfinite(got))
        or relative_error(got[judged] / found.factor, target[judged] / found.factor, VALUE_FLOOR).max(initial=0)
        > course.value_rel_error
    ):
        text = np.array2string
        found_text = (
            f"gave {text(np.ravel(got), precision=4)}; expected {text(np.ravel(target), precision=4)}"
            if got.size <= 12 or got.shape != target.shape
            else f"differs from {what}: {side_by_side(got, target)}"
        )
        if lead or found.mistake:
            found_text += f" ({what})"
        raise CheckFailed(f"{lead}{shown} {found_text}")
    # The verdict is the answer's. A warning is only the child's account of itself (a child
    # can say anything, or nothing): it is shown, never scored; the overflow advice only for
    # a warning of an overflow.
    if student.last_warnings:
        advice = overflow(name, equation_of(student, name)).removeprefix("diagnosis: ").split("\n")[0]
        overflowed = any("overflow" in w for w in student.last_warnings)
        agrees = "right" if not lead and not found.mistake else f"finite and agrees with {what}"
        note(
            f"the answer is {agrees}, but numpy warned in your code: {'; '.join(student.last_warnings)}"
            + (f". {advice}" if overflowed else "")
        )


def descent(student, vectors, course, name):
    """An optimiser step (inputs: [step]) moves every parameter by -lr times its gradient, at a
    rate of the grader's choosing as well as the case's. Judged once its step at the case's rate
    is an attempt at the reference's, whichever its sign: the direction is this check's verdict."""
    (params, grads, case_lr), expected = vectors[name]
    lr = 0.05
    try:
        new = student.call(name, params, grads, lr)
        at_case = student.call(name, params, grads, case_lr)
    except StudentError as exc:
        raise not_judged(f"how {name} moves the parameters", exc) from None
    found = relation([Trial(at_case, expected, (params, grads, case_lr), params)], either_sign=True, blank=name)
    if not found:
        raise CheckFailed(
            f"not graded: {name}'s step at lr = {case_lr:g} is not yet an attempt at the "
            f"reference's ({found.why}): how it scales with lr counts once it is"
        )
    for key in params:
        if key not in new:
            raise CheckFailed(f"{name}'s result has no {key!r}")
        if new[key].shape != params[key].shape:
            raise CheckFailed(f"{name}'s {key} has shape {new[key].shape}; expected {params[key].shape}")
        moved = new[key] - params[key]
        if not moved.any():
            raise CheckFailed(f"{name} left {key} unchanged; it should move by -lr * d{key}")
        if np.sum(moved * grads[key]) >= 0:
            raise CheckFailed(f"{name} moved {key} along its gradient, not against it: use {key} - lr * d{key}")
        # judged as the values are: at the course's tolerance (a float32 result is right)
        if (
            relative_error(moved, -lr * grads[key], VALUE_FLOOR).max() > course.value_rel_error * 10
            and relative_error(new[key], params[key] - lr * grads[key], VALUE_FLOOR).max() > course.value_rel_error
        ):
            raise CheckFailed(f"{name} moved {key} by something other than -lr * d{key} (lr = {lr})")


def failure(exc: StudentError) -> str | tuple[str, str]:
    """What a failed call comes down to, to tell two failures apart: the blank that was not
    implemented, or the kind and the line of student code that raised."""
    text = exc.args[0]
    if exc.kind == "not_implemented":
        return text.split(" (called by")[0]
    if exc.is_error:  # a timeout, a crash: where it happened is not in the message (red team)
        return exc.kind
    return (exc.kind, exc.where or text)


def own_file_fails(exc: StudentError, module: str) -> bool:
    """Did the blank's own file fail to import (a syntax error in it, say)? Then the helpers in
    that file fail the same way, and that says nothing of how the blank calls them."""
    text, file = exc.args[0], f"{module}.py"
    return file in text.split("\n")[0] and any(
        word in text for word in (f"SyntaxError in {file}", f"importing {file}", f"{file} is not valid")
    )


def helpers(student, vectors, course, name):
    """The network's gradient (gradient_of: network) with the student's own helpers gives what
    they give when called as the notes' recursion does: delta(L) from the output delta, then
    for l = L..1 the layer's gradients from delta(l) and a(l-1) and, while l > 1, delta(l-1)
    from W(l), delta(l) and z(l-1). Right with the reference's answers, it passes whatever the
    helpers do; wrong, it fails only where the glue is what is wrong (see right_alone)."""
    roles = config_helpers(course.blanks, course.network)
    if roles is None:  # config.validate refuses a helpers check without them: ours to fix
        raise RuntimeError(f"{name}'s helpers check has no recursion to compose")
    (params, cache, y), expected = vectors[name]
    tol = course.value_rel_error
    try:
        own = student.call(name, params, cache, y)  # no replay: your own helpers answer
    except StudentError as exc:
        own = exc
    if not isinstance(own, StudentError):
        try:
            assert_same_structure_close(name, own, expected, tol)
            return  # right, whatever the helpers do
        except CheckFailed:
            pass
    try:  # the recursion as the notes state it, each step a call of your own helper
        top = len(params) // 2
        composed, delta = {}, student.call(roles["output_delta"], cache[f"a{top}"], y)
        for layer in reversed(range(1, top + 1)):
            below = layer - 1
            composed[f"W{layer}"], composed[f"b{layer}"] = student.call(
                roles["layer_gradients"], delta, cache[f"a{below}"]
            )
            if below:
                delta = student.call(roles["hidden_delta"], params[f"W{layer}"], delta, cache[f"z{below}"])
    except StudentError as exc:
        module = course.blanks[name].module
        if isinstance(own, StudentError) and failure(own) == failure(exc) and not own_file_fails(own, module):
            # Both stop at the same helper's failure: the glue cannot be seen through it.
            right_alone(student, vectors, tol, name, f"{name} with your own helpers stops where they do ({exc})")
            return
        raise CheckFailed(
            f"{name} with your own helpers: {own if isinstance(own, StudentError) else 'gave an answer'}"
            f"; calling your helpers as the notes' recursion does: {exc}"
        ) from None
    if isinstance(own, StudentError):
        raise CheckFailed(
            f"{name} with your own helpers failed ({own}), but calling your helpers as the notes' recursion "
            f"does works, when the grader passes each helper's answer on to the next as a float64 array: check "
            f"how {name} calls them, and what each of them returns (an array, as its docstring says)"
        ) from None
    try:
        assert_same_structure_close(f"{name} with your own helpers", own, composed, tol)
    except CheckFailed as exc:
        raise CheckFailed(
            f"{exc}, where calling your own helpers as the notes' recursion does gives "
            f"the expected value: check how {name} calls them (arguments, their order, "
            "which layer's W, z and a)"
        ) from None
    # It agrees with your helpers, which are wrong: glue and helpers could both be no attempt at all
    # (zeros everywhere agree with each other).
    right_alone(student, vectors, tol, name, f"{name} with your own helpers agrees with them, but they are wrong")


def right_alone(student, vectors, tol, name, why):
    """The glue counts where helpers hide it only if the blank is right with the reference's
    helpers (a helper's bug then costs that helper's checks, not this one); otherwise its own
    value check has said what is wrong, and this check is not graded."""
    try:
        value_check(student, vectors, name, tol)
    except (CheckFailed, StudentError):
        raise CheckFailed(
            f"not graded: {why}, and {name} is not right with the reference's helpers either (its value check says how)"
        ) from None
