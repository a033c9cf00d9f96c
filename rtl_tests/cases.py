"""Cases of the RTL regression: random ternary models and their engines."""

from pathlib import Path

import numpy as np

from hwgen.engine import EngineParams
from hwgen.model import Layer, Model, Requant

BENCH = Path(__file__).with_name("tb_accelerator.py")


def random_model(rng, engine, sizes, *, acc_output=True, weights=None, shift=None, relu=True):
    """A chain of ternary layers ``sizes[0] -> sizes[1] -> ...`` on ``engine``.

    ``weights`` may give a fill value per layer (-1, 0, 1) instead of random ternary values.
    """
    layers = []
    for i, (k, m) in enumerate(zip(sizes[:-1], sizes[1:])):
        last = i == len(sizes) - 2
        if weights is not None and weights[i] is not None:
            w = np.full((m, k), weights[i], dtype=np.int8)
        else:
            w = rng.integers(-1, 2, (m, k)).astype(np.int8)
        s = int(rng.integers(0, 8)) if shift is None else shift
        requant = None if (last and acc_output) else Requant(s, relu if not last else bool(rng.integers(0, 2)))
        layers.append(Layer(f"fc{i}", "ternary_linear", k, m, w, requant, "random"))
    return Model("rtl_case", sizes[0], 8, engine, tuple(layers))


def engine(kind, group=3, tables=4, columns=8, read_ports=4):
    return EngineParams(kind, group, tables, columns, read_ports)
