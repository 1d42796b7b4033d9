"""Rewrite the worker so that every reply says the arguments came back as they were sent (the
child's own account of its purity, which the grader once read: in-place bugs scored full
marks), while sgd_update updates params in place.
base: wrong
joins: updates
parts: updates
expect: sgd_update modified its input
"""
import copy

import grader.child.worker as _worker

_run = _worker.run


def _forged(submission, fn, args, returns, *rest):
    before = copy.deepcopy(args)
    reply = _run(submission, fn, args, returns, *rest)
    reply["args_after"] = before  # "as they were sent"
    return reply


_worker.run = _forged


def sgd_update(params, grads, lr):
    for name in params:
        params[name] -= lr * grads[name]  # in place: the caller's arrays change
    return params
