"""The feedback page in a real browser: Debian's chromium, headless, driven by Playwright.
It must render with every image loaded, no console error and no script run, and show the
failures with their diagnoses. CI installs chromium (.ci/run); CHROMIUM names another."""
import base64
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from helpers import GRADE, ROOT, SOLUTIONS, copy_of

pytestmark = pytest.mark.slow  # grades, then renders the page in chromium (0.4-6.2 s each)

PLOTS = ("Loss per epoch", "Accuracy per epoch", "Confusion matrix", "Test accuracy of each digit")


def open_page(browser, path):
    """Load path; return (page, console messages and page errors, requests made)."""
    page = browser.new_page(viewport={"width": 1000, "height": 800})
    events, requests = [], []
    page.on("console", lambda m: events.append(f"console {m.type}: {m.text}"))
    page.on("pageerror", lambda e: events.append(f"page error: {e}"))
    page.on("dialog", lambda d: (events.append(f"dialog: {d.message}"), d.dismiss()))
    page.on("request", lambda r: requests.append(r.url))
    page.goto(Path(path).resolve().as_uri())
    page.wait_for_load_state("load")
    return page, events, requests


def broken_images(page):
    """Images the browser could not decode (alt text of each)."""
    return page.evaluate("Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0)"
                         ".map(i => i.alt)")


def painted(page, alt_prefix, tmp_path):
    """Screenshot the image whose alt starts with alt_prefix; return its pixels (h, w, 3)."""
    import matplotlib.image

    shot = tmp_path / "element.png"
    page.locator(f'img[alt^="{alt_prefix}"]').first.screenshot(path=str(shot))
    return matplotlib.image.imread(str(shot))[..., :3]


@pytest.fixture(scope="module")
def graded_page(tmp_path_factory):
    """A submission with a wrong sigmoid (not used in training) and a relu whose error
    message is HTML: the page has a failure, a diagnosis, the MNIST plots and the gallery."""
    tmp = tmp_path_factory.mktemp("page")
    sub = copy_of(SOLUTIONS, tmp / "sub")
    with open(sub / "activations.py", "a") as f:
        f.write("\n\ndef sigmoid(z):\n    return 1 / (1 + np.exp(z))\n\n\n"
                "def relu_prime(z):\n    if z.shape == (4, 5):\n"
                "        raise ValueError('<img src=x onerror=alert(1)><script>alert(2)</script>')\n"
                "    return (z > 0).astype(z.dtype)\n")
    report = tmp / "report"
    proc = subprocess.run([*GRADE, "check", str(sub), "--report-dir", str(report)], capture_output=True,
                          text=True, cwd=ROOT, timeout=300)
    assert f"feedback page: {report}/report.html" in proc.stdout, proc.stdout + proc.stderr
    return report / "report.html"


def test_page_renders_with_every_image_and_no_console_error(browser, graded_page, tmp_path):
    page, events, requests = open_page(browser, graded_page)
    assert events == []  # no console message, no script error, no dialog: the student's HTML stayed text
    assert requests == [graded_page.resolve().as_uri()]  # nothing fetched: the page is self-contained
    assert broken_images(page) == []
    alts = page.evaluate("Array.from(document.images).map(i => i.alt)")
    assert [a for a in alts if a.startswith(PLOTS)] and len([a for a in alts if a.startswith("test image")]) == 16
    # the screenshot test: each plot's pixels are really painted, not a blank box or a broken icon
    for alt in PLOTS:
        pixels = painted(page, alt, tmp_path)
        assert pixels.shape[0] > 200 and pixels.shape[1] > 400, alt
        assert pixels.std() > 0.05, f"{alt}: looks blank"
    blue = painted(page, "Confusion matrix", tmp_path)
    assert np.sum((blue[..., 2] > 0.4) & (blue[..., 0] < 0.2)) > 1000  # the diagonal's dark blue cells
    digit = painted(page, "test image", tmp_path)
    assert digit.min() < 0.2 and digit.max() > 0.9  # ink on paper


def test_page_shows_the_table_the_failures_and_their_diagnoses(browser, graded_page):
    page, _, _ = open_page(browser, graded_page)
    text = page.inner_text("body")
    assert re.search(r"Activation functions\s+\d+\.\d\d / 15\.00\s+\d / 8\s+FAIL", text), text[:800]
    assert "diagnosis: it computes 1 / (1 + exp(z)) = sigma(-z): the minus in the exponent is missing" in text
    assert "sigmoid should compute sigma(z) = 1 / (1 + exp(-z))" in text
    assert "<img src=x onerror=alert(1)><script>alert(2)</script>" in text  # shown as text, never run
    assert re.search(r"Test accuracy 0\.9[6-9]\d\d", text) and "The test digits it got most wrong" in text, text


def test_the_checker_fails_a_page_whose_images_do_not_load(browser, graded_page, tmp_path):
    """Test the tester: a plot whose data is not a PNG is found broken, and its screenshot blank."""
    html = graded_page.read_text()
    broken = re.sub(r'(alt="Loss per epoch" src="data:image/png;base64,)[^"]+',
                    lambda m: m.group(1) + base64.b64encode(b"not a png").decode(), html)
    assert broken != html
    path = tmp_path / "broken.html"
    path.write_text(broken)
    page, _, _ = open_page(browser, path)
    assert broken_images(page) == ["Loss per epoch"]
    assert painted(page, "Loss per epoch", tmp_path).std() < 0.05 or \
        painted(page, "Loss per epoch", tmp_path).shape[1] < 400


def test_page_without_plots_still_reports(tmp_path):
    sub = copy_of(SOLUTIONS, tmp_path / "sub")
    report = tmp_path / "report"
    subprocess.run([*GRADE, "check", str(sub), "--part", "activations", "--report-dir", str(report),
                    "--format", "json", "--output", str(tmp_path / "r.json")], check=True, cwd=ROOT, timeout=300,
                   capture_output=True)
    html = (report / "report.html").read_text()
    assert "Activation functions" in html and "<img" not in html and "Your network on MNIST" not in html
