"""RTL regression: generated Verilog in Verilator (cocotb) against the simulator and the golden model.

One test body runs against each backend: ``sim`` (the Python cycle-accurate model) and ``rtl``
(the Verilog, through the cocotb bench in tb_accelerator.py, which also checks every beat and the
cycle count against the simulator inside the simulation). Both must reproduce the golden model
(plain integer matmul + requant) exactly, and take ``Plan.total_cycles`` plus any cycles the
output was held by backpressure.

``HWGEN_RTL_RANDOM`` sets how many extra random configurations the default run draws (3);
``pytest -m slow rtl_tests`` runs a longer random regression.
"""

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from cases import BENCH, engine, random_model
from hwgen.build import write_rtl
from hwgen.engine import EngineParams
from hwgen.golden import golden
from hwgen.model import load_model
from hwgen.plan import make_plan
from hwgen.rtlsim.runner import run_rtl
from hwgen.sim import make_simulator

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Case:
    name: str
    engine: EngineParams
    sizes: list
    batch: int = 3
    backpressure: bool = False
    inputs: str = "random"          # random | extreme (rows of 127 and -128, saturating)
    options: dict = field(default_factory=dict)
    seed: int = 0

    def build(self):
        rng = np.random.default_rng(self.seed)
        model = random_model(rng, self.engine, self.sizes, **self.options)
        if self.inputs == "extreme":
            x = np.where(rng.random((self.batch, self.sizes[0])) < 0.5, 127, -128)
            x[0], x[-1] = 127, -128
        else:
            x = rng.integers(-128, 128, (self.batch, self.sizes[0]))
        ready = None
        if self.backpressure:
            ready = (rng.random(97) < 0.55).astype(np.uint8)
            ready[:2] = (0, 1)
        return model, x.astype(np.int8), ready


CASES = [
    Case("tlmm-g3-t4-n8", engine("tlmm", 3, 4, 8), [64, 64, 10], batch=5),
    Case("tlmm-g2-padding-backpressure", engine("tlmm", 2, 3, 5, read_ports=2), [17, 23, 9], backpressure=True),
    Case("tlmm-g4-columns-wider-than-chunk", engine("tlmm", 4, 2, 16), [40, 50, 7]),
    Case("tlmm-one-table-one-column", engine("tlmm", 3, 1, 1, read_ports=1), [5, 3], batch=4, backpressure=True),
    Case("tlmm-saturating-all-plus-minus-one", engine("tlmm", 3, 4, 8), [30, 20, 12], inputs="extreme",
         options={"weights": [1, -1], "shift": 0}),
    Case("tlmm-all-zero-weights", engine("tlmm", 2, 2, 4), [9, 6, 5], options={"weights": [0, None]}),
    Case("tlmm-three-layers", engine("tlmm", 2, 5, 4), [33, 17, 29, 8], backpressure=True),
    Case("addertree-backpressure", EngineParams("addertree", 1, 7, 3), [20, 11, 6], batch=4, backpressure=True),
    Case("addertree-int8-output", engine("addertree", 3, 4, 8), [26, 30, 9], options={"acc_output": False}),
]


def random_case(seed):
    rng = np.random.default_rng(1000 + seed)
    if rng.random() < 0.7:
        eng = engine("tlmm", int(rng.integers(2, 5)), int(rng.integers(1, 7)), int(rng.integers(1, 13)),
                     read_ports=int(rng.integers(1, 5)))
    else:
        eng = EngineParams("addertree", 1, int(rng.integers(1, 17)), int(rng.integers(1, 13)))
    sizes = [int(s) for s in rng.integers(1, 70, int(rng.integers(2, 5)))]
    return Case(f"random{seed}", eng, sizes, batch=int(rng.integers(1, 5)),
                backpressure=bool(rng.random() < 0.5), options={"acc_output": bool(rng.random() < 0.7)},
                seed=seed)


N_RANDOM = int(os.environ.get("HWGEN_RTL_RANDOM", "3"))
RANDOM = [random_case(s) for s in range(N_RANDOM)]
SLOW = [random_case(s) for s in range(N_RANDOM, N_RANDOM + 20)]


def expected_beats(plan, outputs):
    """Simulator outputs as output beats; padded columns carry zero weights, so they read 0."""
    padded = np.zeros((len(outputs), plan.layers[-1].blocks * plan.columns), dtype=np.int64)
    padded[:, :outputs.shape[1]] = outputs
    return padded.reshape(len(outputs), -1, plan.columns)


def queued(plan):
    """True for tops with an output queue (``Plan.output_schedule`` predicts cycles and held
    cycles for a ready pattern); False for stalled-core tops (hardwired), where each held cycle
    delays the engine by exactly one."""
    return hasattr(plan, "output_schedule")


def run_sim_backend(model, x, ready, work):
    plan = make_plan(model)
    if queued(plan):
        r = make_simulator(model).run(x, ready)
        return r.outputs, r.cycles, r.stalls
    r = make_simulator(model).run(x)
    return r.outputs, r.cycles, 0


def run_rtl_backend(model, x, ready, work):
    plan = make_plan(model)
    sim = make_simulator(model).run(x, ready) if queued(plan) else make_simulator(model).run(x)
    verilog = write_rtl(plan, work / "rtl")
    r = run_rtl(plan, verilog, x, work, ready=ready, bench=BENCH,
                expected={"expected": expected_beats(plan, sim.outputs), "expected_cycles": sim.cycles,
                          "expected_stalls": sim.stalls if queued(plan) else -1})
    return r.outputs, r.cycles, r.stalls


BACKENDS = {"sim": run_sim_backend, "rtl": run_rtl_backend}
BACKEND_PARAMS = ["sim", pytest.param("rtl", marks=pytest.mark.rtl)]


def check_against_golden(case, backend, work):
    model, x, ready = case.build()
    out, cycles, stalls = BACKENDS[backend](model, x, ready, work)
    want = golden(model, x)
    assert out.dtype == want.dtype
    assert np.array_equal(out, want), f"{case.name}: outputs differ from the golden model"
    plan = make_plan(model)
    if ready is None:
        assert (cycles, stalls) == (plan.total_cycles(len(x)), 0)
    elif queued(plan):
        assert (cycles, stalls) == plan.output_schedule(len(x), ready)
        assert stalls > 0
    else:
        assert cycles == plan.total_cycles(len(x)) + stalls
        assert stalls > 0 or backend == "sim"


@pytest.mark.parametrize("backend", BACKEND_PARAMS)
@pytest.mark.parametrize("case", CASES + RANDOM, ids=lambda c: c.name)
def test_matches_golden(case, backend, tmp_path):
    check_against_golden(case, backend, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKEND_PARAMS)
@pytest.mark.parametrize("case", SLOW, ids=lambda c: c.name)
def test_random_regression(case, backend, tmp_path):
    check_against_golden(case, backend, tmp_path)


@pytest.mark.rtl
def test_default_model_predictions(tmp_path):
    """The shipped digits model in RTL reproduces the golden model's outputs on test vectors."""
    model = load_model(ROOT / "models/digits/digits.yaml")
    x = np.load(ROOT / "sim/digits/test_x.npy")[:48]
    out, cycles, _ = run_rtl_backend(model, x, None, tmp_path)
    want = golden(model, x)
    assert np.array_equal(out, want)
    assert np.array_equal(out.argmax(axis=1), want.argmax(axis=1))
    assert cycles == make_plan(model).total_cycles(len(x))
