"""Shared helpers for the hwgen tests: random ternary models, on disk and in memory.

The helpers are plain functions, handed to tests through session-scoped fixtures
(``write_model``, ``make_model``) so that no test imports ``conftest`` by name (rtl_tests/ has a
conftest.py of its own).
"""

from pathlib import Path

import numpy as np
import pytest
import yaml

from hwgen.engine import EngineParams
from hwgen.model import Layer, Model, Requant

DIGITS_YAML = Path(__file__).resolve().parent.parent / "models" / "digits" / "digits.yaml"


def ternary(rng, shape, fill=None):
    """Random int8 ternary weights, or a constant matrix when ``fill`` is -1, 0 or 1."""
    if fill is not None:
        return np.full(shape, fill, dtype=np.int8)
    return rng.integers(-1, 2, shape).astype(np.int8)


def layer_docs(sizes, *, shift=2, relu=True, last_acc=True, weights_file="w.npz"):
    """The ``layers:`` list of a model description for the chain ``sizes[0] -> sizes[1] -> ...``."""
    docs = []
    n = len(sizes) - 1
    for i in range(n):
        d = {"name": f"fc{i}", "op": "ternary_linear", "out_features": int(sizes[i + 1]),
             "weights": f"{weights_file}:fc{i}"}
        if i == n - 1 and last_acc:
            d["output"] = "acc"
        else:
            d["requant"] = {"shift": shift, "relu": relu}
        docs.append(d)
    return docs


def write_model_files(folder, engine, sizes, rng, *, name="t", shift=2, relu=True, last_acc=True,
                      weights=None, edit=None):
    """Write ``model.yaml`` and ``w.npz`` (random ternary weights) into ``folder``; return the YAML path.

    ``engine`` is the ``engine:`` mapping, ``sizes`` the feature counts of the layer chain.
    ``weights`` may override arrays by npz key (``{"fc0": array}``); ``edit(doc)`` may change the
    parsed document before it is written (for invalid-model tests).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {f"fc{i}": ternary(rng, (sizes[i + 1], sizes[i])) for i in range(len(sizes) - 1)}
    arrays.update(weights or {})
    np.savez(folder / "w.npz", **arrays)
    doc = {"name": name, "input": {"features": int(sizes[0]), "bits": 8}, "engine": dict(engine),
           "layers": layer_docs(sizes, shift=shift, relu=relu, last_acc=last_acc)}
    if edit is not None:
        edit(doc)
    path = folder / "model.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def make_model_obj(engine, sizes, rng=None, *, weights=None, requants=None, in_bits=8, name="t"):
    """A ``Model`` built in memory (no files).

    ``engine``: an ``engine:`` mapping (validated by ``EngineParams.from_mapping``).
    ``weights``: a list of int8 (out, in) arrays, or None for random ones from ``rng``.
    ``requants``: one entry per layer, a ``(shift, relu)`` pair or None for ``output: acc``
    (only the last layer); default: shift 2 with ReLU, last layer ``acc``.
    """
    e = EngineParams.from_mapping(engine)
    n = len(sizes) - 1
    if weights is None:
        weights = [ternary(rng, (sizes[i + 1], sizes[i])) for i in range(n)]
    if requants is None:
        requants = [(2, True)] * (n - 1) + [None]
    layers = []
    for i in range(n):
        w = np.asarray(weights[i], dtype=np.int8)
        assert w.shape == (sizes[i + 1], sizes[i])
        rq = None if requants[i] is None else Requant(*requants[i])
        layers.append(Layer(f"fc{i}", "ternary_linear", sizes[i], sizes[i + 1], w, rq, f"mem:fc{i}"))
    return Model(name, sizes[0], in_bits, e, tuple(layers))


@pytest.fixture(scope="session")
def write_model():
    return write_model_files


@pytest.fixture(scope="session")
def make_model():
    return make_model_obj


@pytest.fixture(scope="session")
def digits_yaml():
    return DIGITS_YAML
