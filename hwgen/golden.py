"""The golden reference: plain integer matrix products and the requant rule.

Deliberately independent of the engine, the plan and the simulator: the tests trust this.
"""

import numpy as np


def golden(model, x):
    """Run ``model`` on int8 inputs ``x`` of shape (batch, in_features).

    Returns int8 outputs (batch, out_features), or int32 accumulators when the last layer has
    ``output: acc``.
    """
    a = np.asarray(x, dtype=np.int64)
    for layer in model.layers:
        acc = a @ layer.weights.astype(np.int64).T
        if layer.requant is None:
            return acc.astype(np.int32)
        a = np.clip(acc >> layer.requant.shift, -128, 127)
        if layer.requant.relu:
            a = np.maximum(a, 0)
    return a.astype(np.int8)
