"""The design-choice experiments drawn (plots.experiment_figure / experiment_png) and shown on
the feedback page (html_report.experiments_section, write(..., experiments=...)).

The experiments here are synthetic, shaped like what the grader's runner returns: a net of 4
hidden layers (5 weight matrices) whose gradient norms shrink towards the input under sigmoid
(layer 1 100x below the output layer) and not under ReLU; and the curves of cross-entropy
against MSE. The fast tests inspect the matplotlib figures; the slow ones open the written page
in headless chromium, as tests/test_report_page.py does, and test that checker on a broken image."""
import base64
import html
import re

import numpy as np
import pytest
from helpers import ROOT
from test_report_page import broken_images, open_page, painted

from grader import config
from grader.reports import page as html_report
from grader.reports import plots
from grader.grading.experiments import Experiment, Run
from grader.grading.plugin import Result

LAYERS = 5  # 4 hidden layers and the output layer: W(1) .. W(5)
STEPS = np.arange(50, 1001, 50)  # the batch counts at which the norms were taken
VANISHING_LOOK_FOR = "Under sigmoid the input side's gradients are about 100 times smaller than the output's."
CURVES_LOOK_FOR = "Cross-entropy reaches a high validation accuracy in fewer epochs than MSE."
HOSTILE_LABEL = "MSE <script>alert(1)</script>, learning rate 50"
HOSTILE_ERROR = "Traceback: <img src=x onerror=alert(2)> overflow in exp"


def norms(scale_by_layer, seed):
    """(steps, layers) gradient norms: each layer's scale, decaying slowly over training, with noise."""
    rng = np.random.default_rng(seed)
    decay = np.exp(-np.arange(len(STEPS)) / 40)[:, None]
    return decay * np.asarray(scale_by_layer)[None, :] * (1 + 0.1 * rng.random((len(STEPS), LAYERS)))


def vanishing():
    """ReLU against sigmoid, plus a tanh run that failed before its first norm was taken."""
    return Experiment(
        "vanishing_gradient", "ReLU against sigmoid in a deep net", VANISHING_LOOK_FOR, "gradient_norms",
        [Run("ReLU", gradient_norms=norms(np.ones(LAYERS), 0), steps=STEPS),
         Run("sigmoid", gradient_norms=norms(np.geomspace(0.01, 1, LAYERS), 1), steps=STEPS),
         Run("tanh", error="the child exited (code -9): out of memory")])


def curves():
    """Cross-entropy against MSE, plus an MSE run that diverged after one epoch (its data is
    kept), whose label and error are hostile to HTML."""
    def history(loss, accuracy):
        return {"train_loss": loss, "train_accuracy": accuracy, "validation_loss": loss,
                "validation_accuracy": accuracy}
    return Experiment(
        "cross_entropy_vs_mse", "Cross-entropy against MSE", CURVES_LOOK_FOR, "curves",
        [Run("cross-entropy", history([0.42, 0.21, 0.15, 0.11], [0.90, 0.94, 0.96, 0.97])),
         Run("MSE", history([0.081, 0.052, 0.041, 0.035], [0.62, 0.80, 0.86, 0.89])),
         Run(HOSTILE_LABEL, history([0.09], [0.11]), error=HOSTILE_ERROR)])


def lines_per_panel(fig):
    return [len(ax.get_lines()) for ax in fig.axes]


# -- The figures (fast: no browser) ----------------------------------------------------------


def test_gradient_norms_has_one_panel_per_run_and_one_line_per_layer():
    fig = plots.experiment_figure(vanishing())
    assert [ax.get_title() for ax in fig.axes] == ["ReLU", "sigmoid"]  # tanh produced no norms: left out
    assert lines_per_panel(fig) == [LAYERS, LAYERS]
    for ax in fig.axes:
        assert ax.get_yscale() == "log"
        assert [t.get_text() for t in ax.get_legend().get_texts()] == [
            "layer 1 (input side)", "layer 2", "layer 3", "layer 4", "layer 5 (output)"]
        assert list(ax.get_lines()[0].get_xdata()) == list(STEPS)  # x is the batch count
    relu, sigmoid = fig.axes
    assert relu.get_shared_y_axes().joined(relu, sigmoid)  # one y axis: the panels compare directly
    # the lines are the data: sigmoid's layer 1 sits 100x below its output layer, ReLU's does not
    first, last = (sigmoid.get_lines()[l].get_ydata()[0] for l in (0, LAYERS - 1))
    assert 50 < last / first < 200
    first, last = (relu.get_lines()[l].get_ydata()[0] for l in (0, LAYERS - 1))
    assert 0.5 < last / first < 2


def test_the_line_count_follows_the_data():
    """Test the tester: a 3-layer net's figure fails the 5-lines-per-panel check."""
    three = Experiment("x", "three layers", "", "gradient_norms",
                       [Run("ReLU", gradient_norms=np.ones((4, 3)), steps=np.arange(1, 5))])
    assert lines_per_panel(plots.experiment_figure(three)) == [3]
    assert lines_per_panel(plots.experiment_figure(three)) != [LAYERS]


def test_curves_put_every_runs_accuracy_on_one_panel_and_each_runs_own_loss_on_the_other():
    fig = plots.experiment_figure(curves())
    accuracy, loss = fig.axes
    assert accuracy.get_ylabel() == "validation accuracy" and "each run its own" in loss.get_ylabel()
    assert lines_per_panel(fig) == [3, 3]  # the run that diverged after one epoch keeps its point
    assert [list(line.get_ydata()) for line in accuracy.get_lines()] == [
        [0.90, 0.94, 0.96, 0.97], [0.62, 0.80, 0.86, 0.89], [0.11]]
    assert list(loss.get_lines()[1].get_ydata()) == [0.081, 0.052, 0.041, 0.035]
    assert list(accuracy.get_lines()[0].get_xdata()) == [1, 2, 3, 4]  # epochs count from 1
    # a run has one colour on both panels
    assert [a.get_color() for a in accuracy.get_lines()] == [b.get_color() for b in loss.get_lines()]
    assert [t.get_text() for t in accuracy.get_legend().get_texts()] == ["cross-entropy", "MSE", HOSTILE_LABEL]


@pytest.mark.parametrize("make", [vanishing, curves], ids=["gradient_norms", "curves"])
def test_experiment_png_is_a_png_and_the_same_every_time(make):
    png = plots.experiment_png(make())
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(png) > 10_000  # a drawn figure, not an empty canvas
    assert plots.experiment_png(make()) == png  # deterministic: no clock, no randomness in the drawing


def test_a_label_with_dollars_is_drawn_as_written():
    """Matplotlib reads $...$ as TeX and fails on an unknown command; course text is drawn literally."""
    import io

    from matplotlib.figure import Figure

    label = r"MSE $\halve$ loss"
    broken = Figure()
    broken.text(0, 0, label)
    with pytest.raises(ValueError, match="halve"):  # the hazard is real: the same text, unescaped, cannot be drawn
        broken.savefig(io.BytesIO(), format="png")
    experiment = Experiment("x", label, "", "curves", [Run(label, {"validation_accuracy": [0.5, 0.6]})])
    assert plots.experiment_png(experiment)[:4] == b"\x89PNG"


def test_an_experiment_with_no_data_still_draws_and_an_unknown_plot_is_refused():
    nothing = Experiment("x", "nothing ran", "", "curves", [Run("a", error="killed")])
    assert plots.drawable_runs(nothing) == []
    assert plots.experiment_png(nothing)[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match="histogram"):
        plots.experiment_figure(Experiment("x", "t", "", "histogram", [Run("a")]))


# -- The page's HTML (fast) ------------------------------------------------------------------

COURSE = config.load(ROOT / "course.yaml", "backprop")


def results():
    """Two passed checks of the activations part: enough for a page."""
    title = COURSE.parts["activations"].title
    return [Result(f"id{i}", f"{title}: {name}", "activations", 5, passed=True, score=5, max_score=5)
            for i, name in enumerate(("relu matches the reference", "sigmoid matches the reference"))]


def test_without_plots_the_section_says_how_to_get_them_and_lists_the_failed_runs():
    text = html_report.page(results(), COURSE, 1.0, experiments=[vanishing(), curves()])
    assert "<h2>Experiments: the notes' design choices</h2>" in text and "<img" not in text
    assert "without <code>--no-plots</code>" in text
    assert f'<p class="look-for">{html.escape(VANISHING_LOOK_FOR)}</p>' in text
    assert "<strong>tanh</strong>: the child exited (code -9): out of memory" in text
    assert "<script>" not in text and "<img src=x" not in text  # escaped: text, never markup
    assert "<strong>MSE &lt;script&gt;alert(1)&lt;/script&gt;, learning rate 50</strong>" in text
    assert "Experiments" not in html_report.page(results(), COURSE, 1.0)  # no experiments, no section


def test_an_experiment_id_that_is_not_a_plain_name_is_refused():
    assert html_report.experiment_file(vanishing()) == "experiment_vanishing_gradient.png"
    with pytest.raises(ValueError, match="names a file"):
        html_report.experiment_file(Experiment("../escape", "t", "", "curves"))


# -- The page in chromium (slow) -------------------------------------------------------------


@pytest.fixture(scope="module")
def experiments_page(tmp_path_factory):
    """A page written with both experiments and their figures."""
    path = tmp_path_factory.mktemp("experiments") / "report" / "report.html"
    return html_report.write(path, results(), COURSE, 1.0, experiments=[vanishing(), curves()])


ALTS = ["Experiment: ReLU against sigmoid in a deep net", "Experiment: Cross-entropy against MSE"]


@pytest.mark.slow
def test_the_figures_are_written_beside_the_page_and_inlined_in_it(experiments_page):
    text = experiments_page.read_text()
    for alt, name in zip(ALTS, ("vanishing_gradient", "cross_entropy_vs_mse"), strict=True):
        [data] = re.findall(rf'alt="{alt}" src="data:image/png;base64,([^"]+)"', text)
        assert base64.b64decode(data) == (experiments_page.parent / f"experiment_{name}.png").read_bytes()


@pytest.mark.slow
def test_the_experiments_render_with_every_image_and_no_console_error(browser, experiments_page, tmp_path):
    page, events, requests = open_page(browser, experiments_page)
    assert events == []  # no console message, no script error, no dialog: the hostile label and error stayed text
    assert requests == [experiments_page.resolve().as_uri()]  # self-contained
    assert broken_images(page) == []
    assert page.evaluate("Array.from(document.images).map(i => i.alt)") == ALTS
    for alt in ALTS:  # really painted, not a blank box
        pixels = painted(page, alt, tmp_path)
        assert pixels.shape[1] > 400 and pixels.std() > 0.05, alt


@pytest.mark.slow
def test_the_experiments_text_is_visible(browser, experiments_page):
    page, _, _ = open_page(browser, experiments_page)
    for heading in ("Experiments: the notes' design choices", "ReLU against sigmoid in a deep net",
                    "Cross-entropy against MSE"):
        assert page.get_by_role("heading", name=heading, exact=True).is_visible(), heading
    for sentence in (VANISHING_LOOK_FOR, CURVES_LOOK_FOR):
        assert page.locator("p.look-for", has_text=sentence).is_visible(), sentence
    failed = page.locator("li.failed-run").all_inner_texts()
    assert failed == ["tanh: the child exited (code -9): out of memory", f"{HOSTILE_LABEL}: {HOSTILE_ERROR}"]
    # the label's <script> and the error's <img> are text: no element was made of them
    assert page.locator("script").count() == 0 and page.locator("img").count() == 2


@pytest.mark.slow
@pytest.mark.parametrize("corrupt", ["!!not base64!!", base64.b64encode(b"not a png").decode()],
                         ids=["bad base64", "not a png"])
def test_the_checker_fails_a_page_whose_experiment_image_is_corrupted(browser, experiments_page, tmp_path, corrupt):
    """Test the tester: an experiment figure whose data is not base64, or not a PNG, is found broken."""
    text = experiments_page.read_text()
    broken = re.sub(rf'(alt="{ALTS[0]}" src="data:image/png;base64,)[^"]+', lambda m: m.group(1) + corrupt, text)
    assert broken != text
    path = tmp_path / "broken.html"
    path.write_text(broken)
    page, _, _ = open_page(browser, path)
    assert broken_images(page) == [ALTS[0]]
