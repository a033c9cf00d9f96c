"""RTL regression of streamed weights: the accelerator with ``memory: {weights: stream}`` in Verilator.

Three configurations (tile per chunk, per layer, and per word budget; 1, 2 and 3 beats per weight
word; tlmm and adder tree), each built once and run under several DRAM streams: one beat per
cycle, random ``tvalid`` gaps (the stalling DRAM), and a slow throttled stream with output
backpressure, or the stream prefetched ahead of the inputs. The cocotb bench (tb_weightbuf.py)
checks inside the simulation that every output beat equals the simulator's, and that the cycle
count and the output stall count equal ``hwgen.streaming.StreamModel``'s exactly; here the outputs
are also checked against the golden model. The ``sim`` backend checks the Python side alone.
"""

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from cases import engine, random_model
from hwgen.engine import EngineParams
from hwgen.golden import golden
from hwgen.plan import Plan
from hwgen.rtl.verilog import TOP, accelerator_verilog
from hwgen.rtlsim.runner import run_rtl
from hwgen.sim import Simulator
from hwgen.streaming import DramPattern, MemoryParams, StreamModel, weight_beats

BENCH = Path(__file__).with_name("tb_weightbuf.py")


@dataclass
class Stream:
    name: str
    dram: str = "full"            # full | gaps (random, density `rate`) | rate (evenly spread)
    rate: float = 1.0
    lead: int = 0
    backpressure: bool = False
    expect_stalls: bool = None    # True: weight stalls must occur; False: none may


@dataclass
class StreamCase:
    name: str
    engine: EngineParams
    sizes: list
    memory: dict
    streams: list
    batch: int = 3
    seed: int = 0
    options: dict = field(default_factory=dict)
    strict: bool = True           # a backpressure stream must hold the output at least once

    def model(self):
        rng = np.random.default_rng(self.seed)
        m = random_model(rng, self.engine, self.sizes, **self.options)
        m = m.replace(memory=MemoryParams.from_mapping(dict(self.memory, weights="stream")))
        x = rng.integers(-128, 128, (self.batch, self.sizes[0])).astype(np.int8)
        return m, x

    def pattern(self, s):
        rng = np.random.default_rng(self.seed + 7)
        if s.dram == "gaps":
            p = (rng.random(101) < s.rate).astype(np.uint8)
            p[0] = 1
            dram = DramPattern(p)
        elif s.dram == "rate":
            dram = DramPattern.rate(s.rate)
        else:
            dram = DramPattern.full()
        ready = None
        if s.backpressure:
            ready = (rng.random(89) < 0.5).astype(np.uint8)
            ready[:2] = (0, 1)
        return dram, ready


CASES = [
    StreamCase("tlmm-g3-3beats-tile20", engine("tlmm", 3, 4, 8), [64, 64, 24],
               {"dram_bits": 64, "tile": 20, "buffer": "bram"},
               [Stream("full"), Stream("gaps", "gaps", 0.45, expect_stalls=True),
                Stream("slow-backpressure", "rate", 0.3, lead=5, backpressure=True, expect_stalls=True)]),
    StreamCase("addertree-1beat-layer", EngineParams("addertree", 1, 7, 3), [20, 11, 6],
               {"dram_bits": 128, "tile": "layer"},
               [Stream("prefetched", lead=200, expect_stalls=False), Stream("gaps", "gaps", 0.3, expect_stalls=True)],
               batch=4, options={"acc_output": False}),
    StreamCase("tlmm-g2-2beats-chunk-3layers", engine("tlmm", 2, 3, 5, read_ports=2), [33, 17, 29, 8],
               {"dram_bits": 32, "tile": "chunk", "buffer": "uram"},
               [Stream("full-backpressure", backpressure=True),
                Stream("gaps", "gaps", 0.55, lead=3, expect_stalls=True)]),
]


def random_case(seed):
    """A random configuration with two random streams (for the slow regression)."""
    rng = np.random.default_rng(2000 + seed)
    if rng.random() < 0.7:
        eng = engine("tlmm", int(rng.integers(2, 5)), int(rng.integers(1, 6)), int(rng.integers(1, 11)),
                     read_ports=int(rng.integers(1, 5)))
    else:
        eng = EngineParams("addertree", 1, int(rng.integers(1, 13)), int(rng.integers(1, 11)))
    sizes = [int(v) for v in rng.integers(1, 60, int(rng.integers(2, 5)))]
    tile = ["chunk", "layer", "auto", int(rng.integers(1, 40))][int(rng.integers(0, 4))]
    memory = {"dram_bits": int(rng.choice([8, 16, 24, 32, 64, 96, 128, 256])), "tile": tile}
    streams = [Stream(f"gaps{i}", "gaps", float(rng.uniform(0.1, 0.9)), lead=int(rng.integers(0, 50)),
                      backpressure=bool(rng.random() < 0.5)) for i in range(2)]
    return StreamCase(f"random{seed}", eng, sizes, memory, streams, batch=int(rng.integers(1, 4)), seed=seed,
                      options={"acc_output": bool(rng.random() < 0.7)}, strict=False)


SLOW = [random_case(s) for s in range(8)]


def expected_beats(plan, outputs):
    padded = np.zeros((len(outputs), plan.layers[-1].blocks * plan.columns), dtype=np.int64)
    padded[:, :outputs.shape[1]] = outputs
    return padded.reshape(len(outputs), -1, plan.columns)


def check_model(case, s, want):
    """The Python side: simulator outputs == golden; the stream model's cycles and stalls."""
    model, x = case.model()
    plan = Plan(model)
    dram, ready = case.pattern(s)
    sim = Simulator(model).run(x)
    assert np.array_equal(sim.outputs, want)
    r = StreamModel(plan).run(len(x), dram=dram, lead=s.lead, ready=ready)
    assert r.cycles == r.compute_cycles + r.weight_stall_cycles + r.output_stall_cycles
    assert r.compute_cycles == plan.total_cycles(len(x))
    if s.expect_stalls is not None:
        assert (r.weight_stall_cycles > 0) == s.expect_stalls, (s.name, r.weight_stall_cycles)
    if s.backpressure and case.strict:
        assert r.output_stall_cycles > 0
    return plan, sim, dram, ready, r


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_stream_model(case):
    model, x = case.model()
    want = golden(model, x)
    for s in case.streams:
        check_model(case, s, want)


@pytest.mark.rtl
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_stream_rtl(case, tmp_path):
    check_rtl(case, tmp_path)


@pytest.mark.slow
@pytest.mark.rtl
@pytest.mark.parametrize("case", SLOW, ids=lambda c: c.name)
def test_stream_rtl_random(case, tmp_path):
    check_rtl(case, tmp_path)


def check_rtl(case, tmp_path):
    model, x = case.model()
    want = golden(model, x)
    plan = Plan(model)
    verilog = tmp_path / "rtl" / f"{TOP}.v"
    verilog.parent.mkdir()
    verilog.write_text(accelerator_verilog(plan))
    wbeats = weight_beats(plan)
    for s in case.streams:
        plan, sim, dram, ready, r = check_model(case, s, want)
        expected = {"expected": expected_beats(plan, sim.outputs), "expected_cycles": r.cycles,
                    "expected_output_stalls": r.output_stall_cycles, "wbeats": wbeats,
                    "dram": dram.pattern.astype(np.uint8), "lead": s.lead}
        # one Verilator build per configuration: the work folder (and its build cache) is shared
        out = run_rtl(plan, verilog, x, tmp_path, ready=ready, bench=BENCH, expected=expected,
                      max_cycles=2 * r.cycles + s.lead + 200)
        assert np.array_equal(out.outputs, want), f"{case.name}/{s.name}: outputs differ from the golden model"
        assert out.cycles == r.cycles
        assert out.stalls == r.output_stall_cycles


@pytest.mark.rtl
def test_cli_sim_rtl_drives_the_weight_stream(tmp_path, capsys):
    """`hwgen sim --rtl` on a streaming model: hwgen's own bench feeds the weight stream, and the
    outputs equal the golden model with the simulator's cycle count."""
    import json
    import shutil

    from hwgen.cli import main
    root = Path(__file__).resolve().parent.parent
    shutil.copy(root / "models/digits/digits.npz", tmp_path / "digits.npz")
    text = (root / "models/digits/digits.yaml").read_text().replace("name: digits", "name: digits_stream")
    (tmp_path / "m.yaml").write_text(text + "memory: {weights: stream, dram_bits: 64}\n")
    np.save(tmp_path / "x.npy", np.load(root / "sim/digits/test_x.npy")[:4])
    args = ["sim", str(tmp_path / "m.yaml"), "--input", str(tmp_path / "x.npy"), "--json"]
    assert main(args + ["--output", str(tmp_path / "y_sim.npy")]) == 0
    sim = json.loads(capsys.readouterr().out)
    assert main(args + ["--output", str(tmp_path / "y_rtl.npy"), "--rtl", "-o", str(tmp_path / "work")]) == 0
    rtl = json.loads(capsys.readouterr().out)
    assert rtl["golden_match"] and sim["golden_match"]
    assert rtl["cycles"] == sim["cycles"] > 0
    np.testing.assert_array_equal(np.load(tmp_path / "y_rtl.npy"), np.load(tmp_path / "y_sim.npy"))
