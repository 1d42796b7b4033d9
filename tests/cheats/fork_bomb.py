"""A bounded fork bomb whose children sleep, some in a new session to escape the process
group; the blank then returns a wrong answer.
base: wrong
joins: activations
parts: activations
expect: relative error
"""
import os
import time

import numpy as np


def relu(z):
    for i in range(100):
        try:
            pid = os.fork()
        except OSError:
            break
        if pid == 0:
            if i % 2:
                os.setsid()
            time.sleep(300)
            os._exit(0)
    return np.zeros_like(z)
