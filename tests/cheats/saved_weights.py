"""Skip learning: every update returns weights trained elsewhere (weights.npz, written into
the submission by the test: a correct network trained with another seed).
base: untrained
joins: updates
parts: mnist
expect: did not come from training with your blanks
"""
from pathlib import Path

import numpy as np

_saved = dict(np.load(Path(__file__).with_name("weights.npz")))


def sgd_update(params, grads, lr):
    return {k: v.astype(params[k].dtype) for k, v in _saved.items()}
