"""The built wheel carries everything `grade` reads at run time: a wheel without the MNIST
manifest could not fetch the data (it once lived outside the package, in datasets/)."""
import subprocess
import sys
import zipfile

import pytest

from helpers import ROOT

RUN_TIME_DATA = ("grader/data/mnist.json", "grader/grading/checks/pytest.ini", "grader/child/network.py",
                 "grader/grading/checks/test_mnist.py", "grader/platforms/templates/grade.yml", "grader/platforms/templates/dependabot.yml",
                 "grader/platforms/templates/gradescope_setup.sh")


@pytest.mark.slow
def test_the_wheel_holds_the_manifest_and_every_run_time_file(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(tmp_path),
                           str(ROOT)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    [wheel] = tmp_path.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = [name for name in RUN_TIME_DATA if name not in names]
    missing += [] if any(name.endswith(".dist-info/licenses/LICENSE") for name in names) else ["LICENSE"]
    assert not missing, missing
    # test the tester: nothing outside the package, which a wheel could not hold, is asked for
    assert not any(name.startswith(("datasets/", "solutions/", "hidden/")) for name in names)
