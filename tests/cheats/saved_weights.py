"""Skip learning: every update returns weights trained elsewhere (a correct network trained
with another seed), carried in a module of the submission (weights_data.py, written by the
test: only .py and .ipynb files are graded, so a saved .npz would not even reach the child).
base: untrained
joins: updates
parts: mnist
expect: went somewhere else than the reference
"""
import base64
import io

import numpy as np
from weights_data import NPZ

_saved = dict(np.load(io.BytesIO(base64.b64decode(NPZ))))


def sgd_update(params, grads, lr):
    return {k: v.astype(params[k].dtype) for k, v in _saved.items()}
