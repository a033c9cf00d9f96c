"""RTL regression of the LIF core: generated Verilog in Verilator (cocotb) against the simulator and
the golden model.

The bench (``hwgen.lif.lif_bench``, run by ``hwgen.lif.run_lif_rtl``) drives spike beats back to
back with an output-ready pattern, and checks inside the simulation every output beat (spikes and
membranes), ``tlast`` and the exact cycle count (the simulator's count plus the held cycles).
Afterwards the outputs must equal ``lif_golden``. Samples of one case span spike densities from 0
to 1; cases cover both modes, both resets, both comparisons, saturating membranes, multi-bit
weights, padding (neurons not a multiple of ``neurons``, inputs not a multiple of ``lanes``) and
backpressure. Three Verilator builds by default (about 2 minutes on 2 cores); ``pytest -m slow``
adds random configurations.
"""

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from hwgen.build import write_rtl
from hwgen.cli import main
from hwgen.lif import LifPlan, LifSimulator, lif_golden, lif_layer, make_lif_model

ROOT = Path(__file__).resolve().parent.parent
DENSITIES = (0.0, 0.01, 0.1, 0.5, 1.0)


@dataclass
class Case:
    name: str
    sizes: list
    neurons: int
    lanes: int
    mode: str
    layer_opts: list                 # per layer: dict of lif_layer options
    timesteps: int = 3
    backpressure: bool = False
    densities: tuple = DENSITIES
    seed: int = 0
    extra: dict = field(default_factory=dict)

    def build(self):
        rng = np.random.default_rng(self.seed)
        layers = []
        for i, (k, n) in enumerate(zip(self.sizes[:-1], self.sizes[1:])):
            opts = dict(self.layer_opts[i])
            wb = opts.get("weight_bits", 2)
            lim = (1 << (wb - 1)) - 1
            w = rng.integers(-lim, lim + 1, (n, k))
            thr = opts.pop("threshold")
            layers.append(lif_layer(f"l{i}", w, thr, **opts))
        model = make_lif_model(self.name.replace("-", "_"), self.sizes[0], layers, neurons=self.neurons,
                               lanes=self.lanes, mode=self.mode)
        x = np.concatenate([(rng.random((1, self.timesteps, self.sizes[0])) < d) for d in self.densities])
        ready = None
        if self.backpressure:
            ready = (rng.random(89) < 0.6).astype(np.uint8)
            ready[:2] = (0, 1)
        return model, x.astype(np.uint8), ready


CASES = [
    Case("event-three-layers-saturating", [45, 23, 17, 9], neurons=4, lanes=8, mode="event", backpressure=True,
         layer_opts=[
             {"threshold": 2, "leak_shift": 2, "reset": "zero", "compare": "gt", "membrane_bits": 8},
             {"threshold": 3, "leak_shift": None, "reset": "subtract", "compare": "ge", "membrane_bits": 4,
              "weight_bits": 3},
             {"threshold": 0, "leak_shift": 0, "reset": "subtract", "compare": "gt", "membrane_bits": 6,
              "output": "membrane"},
         ]),
    Case("dense-one-layer-padding", [21, 13], neurons=5, lanes=6, mode="dense", timesteps=2, densities=(0.0, 0.3, 1.0),
         layer_opts=[{"threshold": 1, "leak_shift": 1, "reset": "subtract", "compare": "ge", "membrane_bits": 3}]),
]


def random_case(seed):
    rng = np.random.default_rng(500 + seed)
    nl = int(rng.integers(1, 4))
    sizes = [int(s) for s in rng.integers(1, 50, nl + 1)]
    opts = []
    for i in range(nl):
        mb = int(rng.integers(3, 14))
        opts.append({"threshold": int(rng.integers(0, min(8, (1 << (mb - 1)) - 1) + 1)),
                     "leak_shift": None if rng.random() < 0.4 else int(rng.integers(0, 6)),
                     "reset": str(rng.choice(["zero", "subtract"])), "compare": str(rng.choice(["gt", "ge"])),
                     "membrane_bits": mb, "weight_bits": int(rng.choice([2, 2, 3, 4])),
                     "output": "membrane" if i == nl - 1 and rng.random() < 0.5 else "spikes"})
    return Case(f"random{seed}", sizes, neurons=int(rng.integers(1, 10)), lanes=int(rng.integers(1, 40)),
                mode=str(rng.choice(["event", "dense"])), layer_opts=opts, timesteps=int(rng.integers(1, 4)),
                backpressure=bool(rng.random() < 0.5), seed=seed)


SLOW = [random_case(s) for s in range(8)]


def check_case(case, work):
    model, x, ready = case.build()
    sim = LifSimulator(model).run(x)
    gs, gm = lif_golden(model, x)
    assert np.array_equal(sim.outputs, gs)
    plan = LifPlan(model)
    verilog = write_rtl(plan, work / "rtl")
    from hwgen.lif import run_lif_rtl
    r = run_lif_rtl(plan, verilog, x, work, ready=ready, expected=sim)
    assert np.array_equal(r.outputs, gs), f"{case.name}: spikes differ from the golden model"
    if plan.out_membrane:
        assert np.array_equal(r.membranes, gm), f"{case.name}: membranes differ from the golden model"
    assert r.cycles == sim.cycles + r.stalls
    assert int(r.lasts.sum()) == len(x) and r.lasts[-1] == 1
    if case.backpressure:
        assert r.stalls > 0
    return sim


@pytest.mark.rtl
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_lif_rtl(case, tmp_path):
    sim = check_case(case, tmp_path)
    if case.mode == "event":       # the densities really exercise the event path: 0 and 1 differ
        assert sim.timestep_cycles[0].max() < sim.timestep_cycles[-1].min()


@pytest.mark.rtl
@pytest.mark.slow
@pytest.mark.parametrize("case", SLOW, ids=lambda c: c.name)
def test_lif_rtl_random(case, tmp_path):
    check_case(case, tmp_path)


@pytest.mark.rtl
def test_digits_snn_rtl_cli(tmp_path, capsys):
    """``hwgen sim --rtl`` on the shipped spiking model reproduces the golden model's spikes and
    membranes, in exactly the simulator's cycles."""
    out = tmp_path / "y.npy"
    rc = main(["sim", str(ROOT / "models/digits_snn/digits_snn.yaml"), "--input",
               str(ROOT / "sim/digits_snn/smoke_x.npy"), "--labels", str(ROOT / "sim/digits_snn/smoke_y.npy"),
               "--output", str(out), "--rtl", "--json", "-o", str(tmp_path / "work")])
    summary = json.loads(capsys.readouterr().out)
    assert rc == 0 and summary["golden_match"] and summary["backend"] == "rtl"
    assert summary["cycles"] == summary["sim_cycles"]
    assert np.load(out).shape == (12, 16, 10)
