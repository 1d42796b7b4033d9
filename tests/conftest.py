import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/helpers.py

# The README's command sets GRADE_DATA_DIR=../shared/datasets/mnist, relative to where pytest
# starts; the tests start `grade` from other folders, where that path means something else
# (6 failed, 3 errors on a fresh clone). Resolve it once, here, against the folder pytest
# started in.
if os.environ.get("GRADE_DATA_DIR"):
    os.environ["GRADE_DATA_DIR"] = str(Path(os.environ["GRADE_DATA_DIR"]).expanduser().absolute())

# The kit's course has two assignments; the tests grade the backprop one unless they say
# otherwise (`grade` reads GRADE_ASSIGNMENT as --assignment). Tests of choosing, or of
# design-choices, pass --assignment or leave this out of the environment they give `grade`.
os.environ.setdefault("GRADE_ASSIGNMENT", "backprop")
