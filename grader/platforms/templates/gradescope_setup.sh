#!/usr/bin/env bash
# Gradescope runs this once, as root, to build the autograder's image; the bundle is in
# /autograder/source. It installs Python >= 3.11 and bubblewrap, the grader in its own venv,
# and MNIST (downloaded and checked against the official checksums in grader/data/mnist.json).
set -euo pipefail
cd /autograder/source
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap python3 python3-venv >/dev/null
PYTHON=python3
if ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3.11 python3.11-venv >/dev/null
  PYTHON=python3.11
fi
"$PYTHON" -m venv /autograder/venv
/autograder/venv/bin/python -m pip install --quiet --upgrade pip
/autograder/venv/bin/python -m pip install --quiet /autograder/source
/autograder/venv/bin/grade fetch-data --dest /autograder/source/datasets/mnist --course /autograder/source/course.yaml
# Train the reference once now, into the image's cache, rather than beside every submission: grade
# the bundle's reference (solutions/<id>/, its one assignment), which must pass (exit 0).
for reference in /autograder/source/solutions/*/; do
  /autograder/venv/bin/grade check "$reference" --course /autograder/source/course.yaml \
    --format json --output /dev/null --report-dir /tmp/grade-warmup
done
