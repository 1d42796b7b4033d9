"""Exit codes with one meaning each (0 passed, 1 checks failed, 2 usage or configuration, 3 the
grader could not grade), and a first `grade check` that grades what it can without MNIST."""
import json
import os
import subprocess
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from click.testing import CliRunner

from helpers import GRADE, ROOT, SOLUTIONS, report_json, write_course


def offline_kit(tmp_path):
    """A course whose MNIST mirrors cannot be reached (as on a machine without internet) and
    whose data folder is the default, datasets/mnist/, not yet there."""
    kit = tmp_path / "kit"
    (kit / "datasets").mkdir(parents=True)
    manifest = json.loads((ROOT / "grader" / "data" / "mnist.json").read_text())
    manifest["mirrors"] = ["http://127.0.0.1:9/mnist/"]  # the discard port: connection refused at once
    (kit / "datasets" / "mnist.json").write_text(json.dumps(manifest))
    tree = yaml.safe_load((ROOT / "course.yaml").read_text())
    tree["training"]["reference"] = str(SOLUTIONS.parent)
    write_course(kit / "course.yaml", tree)
    return kit


@pytest.mark.slow
def test_offline_check_grades_everything_but_mnist_and_says_how_to_get_it(tmp_path):
    kit = offline_kit(tmp_path)
    env = {k: v for k, v in os.environ.items() if k != "GRADE_DATA_DIR"}
    proc = subprocess.run([*GRADE, "check", str(SOLUTIONS), "--format", "json", "--course", str(kit / "course.yaml"),
                           "--report-dir", str(tmp_path / "r")], capture_output=True, text=True, cwd=tmp_path,
                          env=env, timeout=300)
    assert proc.returncode == 1, proc.stderr  # as for a failed check: 25 points are not earned
    results = report_json(proc)
    mnist = [t for t in results["tests"] if t["extra_data"]["part"] == "mnist"]
    others = [t for t in results["tests"] if t["extra_data"]["part"] != "mnist"]
    assert len(mnist) == 1 and mnist[0]["score"] == 0 and mnist[0]["output"].startswith("not graded: no MNIST data")
    for fix in ("--data-dir DIR", "GRADE_DATA_DIR=DIR", "grade fetch-data"):
        assert fix in mnist[0]["output"], mnist[0]["output"]
    assert "127.0.0.1:9" in mnist[0]["output"]  # what was tried, and why it failed
    assert all(t["status"] == "passed" for t in others) and results["score"] == 75
    assert not (kit / "datasets" / "mnist").exists()  # the failed download leaves no empty folder
    # the text report's table calls the part "not graded", not FAIL
    text = subprocess.run([*GRADE, "check", str(SOLUTIONS), "--part", "mnist", "--course", str(kit / "course.yaml"),
                           "--report-dir", str(tmp_path / "r"), "--no-plots"], capture_output=True, text=True,
                          cwd=tmp_path, env=env, timeout=300)
    assert text.returncode == 1
    row = next(line for line in text.stdout.splitlines() if "MNIST accuracy" in line)
    assert "not graded" in row and "FAIL" not in row, text.stdout


def test_a_chosen_data_folder_that_is_wrong_is_a_configuration_error(tmp_path):
    """A typo in GRADE_DATA_DIR is the set-up's, not the student's: exit 2, naming the folder and
    where it came from, and no grading at 75 points for a whole class."""
    kit = offline_kit(tmp_path)
    for how, env in ((["--data-dir", str(tmp_path / "nowhere")], {}), ([], {"GRADE_DATA_DIR": str(tmp_path / "nowhere")})):
        proc = subprocess.run([*GRADE, "check", str(SOLUTIONS), "--part", "mnist", "--course", str(kit / "course.yaml"),
                               *how, "--report-dir", str(tmp_path / "r")], capture_output=True, text=True,
                              cwd=tmp_path, env={**os.environ, **env}, timeout=300)
        source = "--data-dir" if how else "GRADE_DATA_DIR"
        assert proc.returncode == 2, proc.stderr
        assert f"data folder from {source}: {tmp_path / 'nowhere'} does not exist" in proc.stderr, proc.stderr
        assert f"leave {source} out" in proc.stderr


def test_a_damaged_data_file_is_named_as_a_missing_one_is(tmp_path):
    """The files are decoded on a thread while grading starts (cli.data_loader's ahead): a damaged
    one still stops a chosen folder with exit 2 and official grading with exit 3, and leaves a
    student's own check at 75 points with the file named, as a missing folder does."""
    shared = os.environ["GRADE_DATA_DIR"]
    kit = offline_kit(tmp_path)
    data = kit / "datasets" / "mnist"
    data.mkdir()
    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz"):
        (data / name).symlink_to(os.path.join(shared, name))
    damaged = data / "t10k-labels-idx1-ubyte.gz"
    damaged.write_bytes(b"\x1f\x8b\x08\x00 not gzip after all")
    env = {k: v for k, v in os.environ.items() if k != "GRADE_DATA_DIR"}

    def check(*args):
        return subprocess.run([*GRADE, "check", str(SOLUTIONS), "--course", str(kit / "course.yaml"), "--report-dir",
                               str(tmp_path / "r"), "--no-plots", *args], capture_output=True, text=True, cwd=tmp_path,
                              env=env, timeout=300)

    chosen = check("--part", "mnist", "--data-dir", str(data))
    assert chosen.returncode == 2, chosen.stderr
    assert f"data folder from --data-dir: {damaged}: corrupt gzip data" in chosen.stderr, chosen.stderr
    official = check("--hidden", str(ROOT / "hidden" / "backprop" / "vectors.json"))
    assert official.returncode == 3 and f"{damaged}: corrupt gzip data" in official.stderr, official.stderr
    own = check("--format", "json")
    assert own.returncode == 1, own.stderr
    results = report_json(own)
    mnist = next(t for t in results["tests"] if t["extra_data"]["part"] == "mnist")
    assert mnist["output"].startswith("not graded: no MNIST data") and f"{damaged}: corrupt gzip" in mnist["output"]
    assert results["score"] == 75


def test_the_data_is_fetched_and_decoded_once_however_many_ask(tmp_path, monkeypatch):
    """Training asks for the data from three threads at once (train_and_score): with -k there is
    no decoding ahead, and two downloads into the same .part file had crashed the grader."""
    import hashlib
    import threading

    from grader import cli, config
    from grader.data import mnist

    shared = Path(os.environ["GRADE_DATA_DIR"])
    kit = offline_kit(tmp_path)
    files = []
    for name in mnist.FILE_NAMES.values():
        blob = (shared / f"{name}.gz").read_bytes()
        files.append({"name": f"{name}.gz", "size": len(blob), "md5": hashlib.md5(blob).hexdigest(),
                      "sha256": hashlib.sha256(blob).hexdigest()})
    manifest = {"description": "the shared folder, served as a mirror", "files": files, "mirrors": [f"{shared.as_uri()}/"]}
    (kit / "datasets" / "mnist.json").write_text(json.dumps(manifest))
    env = {k: v for k, v in os.environ.items() if k != "GRADE_DATA_DIR"}
    proc = subprocess.run([*GRADE, "check", str(SOLUTIONS), "-k", "mnist", "--course", str(kit / "course.yaml"),
                           "--no-plots", "--format", "json", "--report-dir", str(tmp_path / "r")], capture_output=True,
                          text=True, cwd=tmp_path, env=env, timeout=300)
    assert proc.returncode == 0 and report_json(proc)["score"] == 25, proc.stderr
    assert sorted(p.name for p in (kit / "datasets" / "mnist").iterdir()) == sorted(f["name"] for f in files)

    calls, data = [], SimpleNamespace(train_labels=range(24_345))
    monkeypatch.setattr(mnist, "load_mnist", lambda folder: calls.append(folder) or time.sleep(0.2) or data)
    monkeypatch.setenv("GRADE_DATA_DIR", str(shared))
    course = config.load(kit / "course.yaml", "backprop")
    for ahead in (False, True):
        calls.clear()
        load = cli.data_loader(course, None, quiet=True, ahead=ahead)
        got = []
        threads = [threading.Thread(target=lambda: got.append(load())) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert got == [data] * 3 and len(calls) == 1, (ahead, calls)


def test_a_validation_split_larger_than_the_data_is_named(tmp_path):
    tree = yaml.safe_load((ROOT / "course.yaml").read_text())
    tree["training"]["validation"] = 59_999  # the shared folder has 24,345 training images
    tree["training"]["reference"] = str(SOLUTIONS.parent)
    course = write_course(tmp_path / "course.yaml", tree)
    for command in (["check", str(SOLUTIONS), "--part", "mnist"], ["train", str(SOLUTIONS)]):
        proc = subprocess.run([*GRADE, *command, "--course", str(course)], capture_output=True, text=True,
                              cwd=tmp_path, timeout=300)
        assert proc.returncode == 2, (command, proc.stderr)
        assert f"{course}: training.validation: 59999 would hold out all" in proc.stderr, proc.stderr


def test_official_grading_never_goes_on_without_mnist(tmp_path):
    """With the hidden checks (Gradescope, a batch), a class graded at 75 would need grading
    again: the grader refuses, exit 3."""
    kit = offline_kit(tmp_path)
    env = {k: v for k, v in os.environ.items() if k != "GRADE_DATA_DIR"}
    proc = subprocess.run([*GRADE, "check", str(SOLUTIONS), "--course", str(kit / "course.yaml"), "--hidden",
                           str(ROOT / "hidden" / "backprop" / "vectors.json")], capture_output=True, text=True, cwd=tmp_path,
                          env=env, timeout=300)
    assert proc.returncode == 3 and "could not be downloaded from any mirror" in proc.stderr, proc.stderr


def test_reports_go_to_folders_made_for_them_and_an_unwritable_one_is_named(tmp_path):
    where = tmp_path / "new" / "deeper"
    proc = subprocess.run([*GRADE, "check", str(SOLUTIONS), "--part", "activations", "--no-plots", "--output",
                           str(where / "report.txt"), "--junit-xml", str(where / "junit.xml"), "--report-dir",
                           str(tmp_path / "r")], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "total" in (where / "report.txt").read_text() and (where / "junit.xml").is_file()
    (tmp_path / "a-file").write_text("")
    proc = subprocess.run([*GRADE, "check", str(SOLUTIONS), "--part", "activations", "--no-plots", "--junit-xml",
                           str(tmp_path / "a-file" / "junit.xml"), "--report-dir", str(tmp_path / "r")],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 2 and "cannot write the report there" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr


def test_usage_and_configuration_errors_exit_2(tmp_path):
    broken = tmp_path / "bad" / "course.yaml"
    broken.parent.mkdir()
    broken.write_text("name: [unclosed\n")
    for args, words in ((["check", "/no/such/folder"], "/no/such/folder: no such folder"),
                        (["check", str(SOLUTIONS), "--part", "nope"], "--part nope: no such part"),
                        (["check", str(SOLUTIONS), "--course", str(broken)], str(broken)),
                        (["batch", "/no/such/folder"], "/no/such/folder: no such folder"),
                        (["check", "--no-such-option"], "No such option")):
        proc = subprocess.run([*GRADE, *args], capture_output=True, text=True, cwd=ROOT, timeout=120)
        assert proc.returncode == 2 and words in proc.stderr, (args, proc.returncode, proc.stderr)


def test_missing_data_for_training_or_a_batch_exits_3(tmp_path):
    kit = offline_kit(tmp_path)
    env = {k: v for k, v in os.environ.items() if k != "GRADE_DATA_DIR"}
    (tmp_path / "class" / "ada").mkdir(parents=True)
    for args in (["train", str(SOLUTIONS), "--out", str(tmp_path / "plots")],
                 ["batch", str(tmp_path / "class"), "--out", str(tmp_path / "book")]):
        proc = subprocess.run([*GRADE, *args, "--course", str(kit / "course.yaml")], capture_output=True, text=True,
                              cwd=tmp_path, env=env, timeout=120)
        assert proc.returncode == 3 and "grade fetch-data" in proc.stderr, (args, proc.returncode, proc.stderr)
        assert "Traceback" not in proc.stderr


def test_a_bug_in_the_grader_exits_3_not_1(monkeypatch, tmp_path):
    """1 would tell CI the student failed. No student code runs here: grading itself is replaced."""
    from grader import cli
    from grader.grading import session as grading

    def broken(*args, **kwargs):
        raise KeyError("a key the grader forgot")

    monkeypatch.setattr(grading, "grade", broken)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli.main, ["check", str(SOLUTIONS), "--part", "activations", "--course",
                                           str(ROOT / "course.yaml")])
    assert result.exit_code == 3, result.output
    assert "a bug in the grader, not in the submission" in result.output and "KeyError" in result.output
    # test the tester: the same command, grading intact, passes
    monkeypatch.undo()
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli.main, ["check", str(SOLUTIONS), "--part", "activations", "--no-plots",
                                           "--course", str(ROOT / "course.yaml")])
    assert result.exit_code == 0, result.output


def test_a_grader_error_inside_a_check_exits_3(monkeypatch, tmp_path):
    """The checks run in the grader's process; an exception of ours in one of them is reported
    as "ERROR in the grader" in that check, and the run exits 3, not 1."""
    from grader import cli
    from grader.grading import gradcheck

    def broken(*args, **kwargs):
        raise ZeroDivisionError("the grader's own arithmetic")

    monkeypatch.setattr(gradcheck, "relative_error", broken)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli.main, ["check", str(SOLUTIONS), "--part", "activations", "--no-plots",
                                           "--course", str(ROOT / "course.yaml")])
    assert result.exit_code == 3, result.output
    assert "ERROR in the grader (please report it): ZeroDivisionError" in result.output
    assert "not the submission's doing" in result.output
    assert "the process running your code crashed" not in result.output  # that would blame the student


def test_help_documents_the_exit_codes():
    proc = subprocess.run([*GRADE, "--help"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0
    for code in ("0 every check passed", "1 checks failed", "2 a usage or configuration error",
                 "3 the grader could not grade"):
        assert code in " ".join(proc.stdout.split()), proc.stdout


def test_a_run_without_its_report_fails_the_test_with_the_reason():
    """The tests' own helper: a `grade` run that printed no JSON says its exit code and stderr,
    not a bare JSONDecodeError (a fresh clone once showed only that)."""
    proc = subprocess.CompletedProcess(["grade"], 2, stdout="", stderr="Error: GRADE_DATA_DIR: no such folder\n")
    with pytest.raises(AssertionError, match=r"(?s)exit code 2.*GRADE_DATA_DIR: no such folder"):
        report_json(proc)
    assert report_json(subprocess.CompletedProcess(["grade"], 0, stdout='{"score": 1}', stderr="")) == {"score": 1}
