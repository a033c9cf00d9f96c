"""RTL regression of the hardwired engine: generated Verilog in Verilator (cocotb) against the
hardwired simulator and the golden model.

The same bench as the other engines (tb_accelerator.py, through test_accelerator's backends):
every output beat and ``tlast`` are checked against the simulator inside the simulation, and the
measured cycles must equal ``HardwiredPlan.total_cycles`` plus the cycles the output was held.
(The file name ends in ``_rtl`` because tests/test_hardwired.py exists: pytest's default import
mode needs unique test module basenames.)
"""

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pytest

from hwgen.engine import EngineParams
from hwgen.golden import golden
from hwgen.model import Requant, load_model
from hwgen.plan import make_plan
from test_accelerator import BACKEND_PARAMS, Case, check_against_golden, run_rtl_backend

ROOT = Path(__file__).resolve().parent.parent


def hardwired(lanes=8, columns=8, serial=False):
    return EngineParams.from_mapping({"kind": "hardwired", "lanes": lanes, "columns": columns, "serial": serial})


@dataclass
class HwCase(Case):
    """A ``Case`` with hand-made edges: ``rows`` {layer: {row: fill}} sets whole weight rows
    (0: an output wired to nothing; 1 / -1: widest sums), ``unused`` {layer: [input, ..]} zeroes
    weight columns (an input wired to nothing), ``relu`` {layer: bool} overrides a requant,
    ``in_bits`` narrows the input (inputs shifted into range)."""

    rows: dict = field(default_factory=dict)
    unused: dict = field(default_factory=dict)
    relu: dict = field(default_factory=dict)
    in_bits: int = 8

    def build(self):
        model, x, ready = super().build()
        layers = list(model.layers)
        for i, layer in enumerate(layers):
            w = layer.weights.copy()
            for r, fill in self.rows.get(i, {}).items():
                w[r] = fill
            w[:, self.unused.get(i, [])] = 0
            rq = layer.requant
            if i in self.relu:
                rq = Requant(rq.shift, self.relu[i])
            layers[i] = replace(layer, weights=w, requant=rq)
        x = (x.astype(np.int64) >> (8 - self.in_bits)).astype(np.int8)
        return model.replace(layers=tuple(layers), in_bits=self.in_bits), x, ready


# Four Verilator builds (about 20-40 s each on a shared 2-core machine).
CASES = [
    # 3 layers, in_features 17 = 3 beats of 7 lanes, 9 outputs = 3 beats of 4 (padding both
    # ways); zero rows and unused inputs; a hidden layer without ReLU (8-bit signed inputs next)
    HwCase("hardwired-three-layers-padding-backpressure", hardwired(7, 4), [17, 23, 12, 9], batch=4,
           backpressure=True, rows={0: {0: 0, 5: 0, 6: 1, 7: -1}}, unused={0: [3, 16], 1: [2]},
           relu={1: False}),
    # the same on the bit-serial datapath: planes of 8 (input), 7 (after ReLU), 8 (no ReLU) bits;
    # int8 output
    HwCase("hardwired-serial-three-layers-backpressure", hardwired(4, 5, serial=True), [33, 17, 29, 8],
           batch=4, backpressure=True, options={"acc_output": False}, rows={1: {0: 0, 3: -1}},
           unused={2: [0, 28]}, relu={1: False}, seed=3),
    # one bit-serial layer on saturating inputs, rows of all +1 / all -1 (widest sums); one output
    # per beat, so the output register (12 beats) is the bottleneck, not the 4 input beats
    HwCase("hardwired-serial-one-layer-saturating-output-bound", hardwired(8, 1, serial=True), [30, 12],
           batch=3, inputs="extreme", rows={0: {0: 1, 1: -1, 5: 0, 11: 1}}, backpressure=True, seed=7),
    # one parallel layer, 4-bit inputs in one beat, 3 output beats, int8 output
    HwCase("hardwired-one-layer-4-bit-inputs", hardwired(8, 1), [5, 3], batch=4, in_bits=4,
           options={"acc_output": False}, backpressure=True, seed=2),
]


@pytest.mark.parametrize("backend", BACKEND_PARAMS)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_hardwired_matches_golden(case, backend, tmp_path):
    check_against_golden(case, backend, tmp_path)


@pytest.mark.rtl
@pytest.mark.slow
@pytest.mark.parametrize("serial", [False, True], ids=["parallel", "serial"])
def test_digits_hardwired_predictions(serial, tmp_path):
    """The digits model on the hardwired engine, in RTL, reproduces the golden model (slow: the
    64x64 layer takes about a minute of C++ compilation; ``hwgen sim --rtl`` on
    models/digits_hardwired checks the parallel one on the whole test split)."""
    model = load_model(ROOT / "models/digits_hardwired/digits_hardwired.yaml")
    if serial:
        model = model.replace(engine=hardwired(8, 8, serial=True))
    x = np.load(ROOT / "sim/digits/test_x.npy")[:48]
    out, cycles, _ = run_rtl_backend(model, x, None, tmp_path)
    want = golden(model, x)
    assert np.array_equal(out, want)
    assert cycles == make_plan(model).total_cycles(len(x))
