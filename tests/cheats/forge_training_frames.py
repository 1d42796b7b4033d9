"""During training, write extra progress frames with made-up weights straight into the reply
pipe, and claim a longer history than the course's epochs.
base: untrained
joins: updates
parts: mnist
expect: a reply to a request it was not sent
"""
import sys

import numpy as np

_sent = []


def sgd_update(params, grads, lr):
    if not _sent:
        from grader.child.protocol import write_message
        fake = {k: np.zeros(v.shape) for k, v in params.items()}
        for epoch in (1, 99):
            write_message(int(sys.argv[2]), {"progress": epoch, "total": 10, "params": fake})
        _sent.append(True)
    return params
