"""The hardwired engine without an RTL simulator: engine validation, the simulator against the
golden model (hypothesis), hand-computed cycle counts, the schedule recurrence against the closed
form, HardwiredLinear (Amaranth simulation, no logic for zero weights), the resource formula, and
``hwgen build`` / lint of the hardwired digits model."""

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hwgen.cli import main
from hwgen.engine import EngineParams
from hwgen.errors import ModelError
from hwgen.golden import golden
from hwgen.hardwired import HardwiredPlan, HardwiredSimulator, hardwired_resources, sum_width
from hwgen.model import load_model
from hwgen.plan import make_plan
from hwgen.sim import make_simulator

REPO = Path(__file__).resolve().parent.parent
DIGITS_HW = REPO / "models" / "digits_hardwired" / "digits_hardwired.yaml"

# ---------------------------------------------------------------------------------------------
# 1. engine parameters
# ---------------------------------------------------------------------------------------------


def test_engine_defaults_and_dispatch(make_model):
    e = EngineParams.from_mapping({"kind": "hardwired"})
    assert (e.kind, e.lanes, e.columns, e.serial) == ("hardwired", 8, 8, False)
    e = EngineParams.from_mapping({"kind": "hardwired", "lanes": 3, "columns": 2, "serial": True})
    assert (e.lanes, e.columns, e.serial) == (3, 2, True)
    assert e.as_dict() == {"kind": "hardwired", "columns": 2, "lanes": 3, "serial": True}
    m = make_model({"kind": "hardwired"}, [4, 3], np.random.default_rng(0))
    assert isinstance(make_plan(m), HardwiredPlan)
    assert isinstance(make_simulator(m), HardwiredSimulator)
    # the other kinds are unchanged and carry serial = False
    assert EngineParams.from_mapping({"kind": "addertree", "lanes": 5, "columns": 2}).serial is False


BAD_ENGINES = [
    ({"kind": "hardwired", "lanes": 0}, "engine.lanes", "1..256"),
    ({"kind": "hardwired", "lanes": 257}, "engine.lanes", "257"),
    ({"kind": "hardwired", "columns": 65}, "engine.columns", "65"),
    ({"kind": "hardwired", "columns": True}, "engine.columns", "True"),
    ({"kind": "hardwired", "serial": "yes"}, "engine.serial", "true or false"),
    ({"kind": "hardwired", "serial": 1}, "engine.serial", "true or false"),
    ({"kind": "hardwired", "group": 3}, "engine.group", "lanes, columns and serial"),
    ({"kind": "hardwired", "tables": 4}, "engine.tables", "lanes, columns and serial"),
    ({"kind": "hardwired", "read_ports": 2}, "engine.read_ports", "lanes, columns and serial"),
    ({"kind": "tlmm", "group": 3, "tables": 4, "columns": 8, "serial": True}, "engine.serial", "hardwired"),
    ({"kind": "addertree", "lanes": 4, "columns": 8, "serial": False}, "engine.serial", "hardwired"),
    ({"kind": "hardwired", "colums": 8}, "engine.colums", "unknown key"),
]


@pytest.mark.parametrize("engine, field, text", BAD_ENGINES, ids=[f"{c[1]}-{i}" for i, c in enumerate(BAD_ENGINES)])
def test_bad_engine_one_line(tmp_path, capsys, write_model, engine, field, text):
    with pytest.raises(ModelError) as err:
        EngineParams.from_mapping(engine, file="m.yaml")
    assert str(err.value).startswith(f"m.yaml: {field}: ") and text in str(err.value)
    assert "\n" not in str(err.value)
    path = write_model(tmp_path / "m", {"kind": "hardwired"}, [6, 3], np.random.default_rng(1),
                       edit=lambda doc: doc.__setitem__("engine", engine))
    capsys.readouterr()
    assert main(["build", str(path), "-o", str(tmp_path / "out")]) == 2
    cap = capsys.readouterr()
    assert cap.out == "" and cap.err.count("\n") == 1
    assert cap.err.startswith(f"hwgen: error: {path}: {field}: ")
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------------------------------------
# 2. property: hardwired simulator == golden model
# ---------------------------------------------------------------------------------------------

ROWS = st.sampled_from(["random", "random", "sparse", "dense", "zero_rows", "zero", "plus", "minus"])


def _weights(rng, m, k, kind):
    if kind == "zero":
        return np.zeros((m, k), dtype=np.int8)
    if kind in ("plus", "minus"):
        return np.full((m, k), 1 if kind == "plus" else -1, dtype=np.int8)
    p0 = {"random": 1 / 3, "sparse": 0.9, "dense": 0.05, "zero_rows": 1 / 3}[kind]
    w = rng.choice(np.array([-1, 0, 1], dtype=np.int8), (m, k), p=[(1 - p0) / 2, p0, (1 - p0) / 2])
    if kind == "zero_rows":
        w[rng.random(m) < 0.5] = 0
        w[:, rng.random(k) < 0.3] = 0                      # inputs wired to nothing
    return w


@st.composite
def cases(draw):
    engine = {"kind": "hardwired", "lanes": draw(st.integers(1, 16)), "columns": draw(st.integers(1, 12)),
              "serial": draw(st.booleans())}
    n = draw(st.integers(1, 3))
    sizes = draw(st.lists(st.integers(1, 70), min_size=n + 1, max_size=n + 1))
    rows = draw(st.lists(ROWS, min_size=n, max_size=n))
    requants = [(draw(st.integers(0, 12)), draw(st.booleans())) for _ in range(n)]
    if draw(st.booleans()):
        requants[-1] = None
    in_bits = draw(st.sampled_from([8, 8, 8, 2, 3, 5, 7]))
    batch = draw(st.integers(1, 4))
    x_kind = draw(st.sampled_from(["random", "random", "min", "max", "extremes"]))
    return engine, sizes, rows, requants, in_bits, batch, x_kind, draw(st.integers(0, 2**32 - 1))


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=cases())
def test_simulator_matches_golden(make_model, case):
    engine, sizes, rows, requants, in_bits, batch, x_kind, seed = case
    rng = np.random.default_rng(seed)
    weights = [_weights(rng, m, k, kind) for k, m, kind in zip(sizes[:-1], sizes[1:], rows)]
    model = make_model(engine, sizes, weights=weights, requants=requants, in_bits=in_bits)
    lo, hi = -(1 << (in_bits - 1)), (1 << (in_bits - 1)) - 1
    x = {"min": np.full((batch, sizes[0]), lo), "max": np.full((batch, sizes[0]), hi),
         "extremes": rng.choice(np.array([lo, hi]), (batch, sizes[0])),
         "random": rng.integers(lo, hi + 1, (batch, sizes[0]))}[x_kind].astype(np.int8)
    r = HardwiredSimulator(model).run(x)
    want = golden(model, x)
    assert r.outputs.dtype == want.dtype and r.outputs.shape == want.shape
    assert np.array_equal(r.outputs, want)
    plan = HardwiredPlan(model)
    assert r.cycles == plan.total_cycles(batch)
    # the exact handshake recurrence agrees with the closed form
    first, t, last = plan.schedule(batch)
    assert last[-1] + 1 == plan.total_cycles(batch)
    assert first[0] == 0 and np.all(np.diff(first) >= plan.input_chunks)


@settings(max_examples=3000, deadline=None)
@given(hold=st.lists(st.integers(1, 12), min_size=1, max_size=6), inputs=st.integers(1, 12),
       beats=st.integers(1, 12), batch=st.integers(1, 9))
def test_schedule_closed_form(hold, inputs, beats, batch):
    """latency + (batch - 1) * stride is the max-plus recurrence of the handshakes, for any stage
    times (the first hold, the input copy or layer 0, is 1 in both modes)."""
    class P(HardwiredPlan):
        def __init__(self):
            self.input_chunks, self.output_beats = inputs, beats

        stage_cycles = [1] + hold[1:]

    p = P()
    first, t, last = p.schedule(batch)
    assert last[-1] + 1 == p.total_cycles(batch)
    if batch > 1:                                    # steady state: one vector per stride
        assert last[-1] - last[-2] == p.vector_stride


def test_sim_wraps_input_to_in_bits(make_model):
    """The input register keeps input.bits of each lane (``hwgen sim`` rejects values that do not
    fit); the simulator models that, like the RTL."""
    m = make_model({"kind": "hardwired"}, [3, 1], weights=[np.array([[1, 1, -1]], dtype=np.int8)],
                   requants=[None], in_bits=4)
    r = HardwiredSimulator(m).run(np.array([[7, 9, -8]]))      # 9 -> -7 in 4 bits
    assert r.outputs.tolist() == [[7 - 7 + 8]]


# ---------------------------------------------------------------------------------------------
# 3. cycles, hand-computed (module docstring of hwgen.hardwired)
# ---------------------------------------------------------------------------------------------

def test_cycles_parallel_digits_shape(make_model):
    # 64 -> 64 -> 10, lanes 8, columns 8: I = 8 input beats, 2 layers of 1 cycle, B = 2 output beats
    m = make_model({"kind": "hardwired", "lanes": 8, "columns": 8}, [64, 64, 10], np.random.default_rng(3))
    p = HardwiredPlan(m)
    assert (p.input_chunks, p.stage_cycles, p.output_beats) == (8, [1, 1], 2)
    assert p.latency == 8 + 2 + 2 == 12
    assert p.vector_stride == 8                                     # input-bound
    assert [p.total_cycles(b) for b in (1, 2, 360)] == [12, 20, 12 + 359 * 8]
    # vector 0: beats 0..7, layer 0 at cycle 8 (vector 1's first beat too), layer 1 at 9, out 10, 11
    first, t, last = p.schedule(2)
    assert first.tolist() == [0, 8] and t.tolist() == [[8, 9], [16, 17]] and last.tolist() == [11, 19]
    assert p.busy_cycles == 1 and p.layer_cycles() == [1, 1]


def test_cycles_serial_three_layers(make_model):
    # 20 -> 9 (ReLU) -> 6 (no ReLU) -> 25, input.bits 5, lanes 6, columns 2, serial:
    # I = 4 beats; holds: copy 1, layer planes 5 (input bits), 7 (after ReLU), 8 (no ReLU); B = 13
    m = make_model({"kind": "hardwired", "lanes": 6, "columns": 2, "serial": True}, [20, 9, 6, 25],
                   np.random.default_rng(4), requants=[(1, True), (2, False), None], in_bits=5)
    p = HardwiredPlan(m)
    assert [lp.planes for lp in p.layers] == [5, 7, 8]
    assert [(lp.in_bits, lp.in_signed) for lp in p.layers] == [(5, True), (7, False), (8, True)]
    assert (p.input_chunks, p.stage_cycles, p.output_beats) == (4, [1, 5, 7, 8], 13)
    assert p.latency == 4 + 21 + 13 == 38
    assert p.vector_stride == 13                                    # output-bound
    assert [p.total_cycles(b) for b in (1, 3)] == [38, 38 + 2 * 13]
    assert p.total_cycles(3, stall_cycles=5) == 69
    assert p.busy_cycles == 8


# ---------------------------------------------------------------------------------------------
# 4. HardwiredLinear on its own
# ---------------------------------------------------------------------------------------------

def _amaranth_sim(dut, bench):
    from amaranth.sim import Simulator
    sim = Simulator(dut)
    if dut.serial:
        sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()


@pytest.mark.parametrize("serial, in_bits, in_signed", [(False, 8, True), (True, 8, True), (True, 7, False),
                                                         (False, 3, True)])
def test_hardwired_linear(serial, in_bits, in_signed):
    from hwgen.rtl.hardwired import HardwiredLinear
    rng = np.random.default_rng(5)
    w = rng.integers(-1, 2, (6, 11)).astype(np.int8)
    w[2] = 0
    w[3] = 1
    w[4, :] = -1
    dut = HardwiredLinear(w, in_bits, serial, in_signed=in_signed)
    assert dut.acc_bits == sum_width(w, in_bits, in_signed)
    lo, hi = (-(1 << (in_bits - 1)), (1 << (in_bits - 1)) - 1) if in_signed else (0, (1 << in_bits) - 1)
    xs = [rng.integers(lo, hi + 1, 11) for _ in range(4)] + [np.full(11, lo), np.full(11, hi)]
    got = []

    async def bench(ctx):
        for x in xs:
            for k in range(11):
                ctx.set(dut.x[k], int(x[k]))
            if serial:
                ctx.set(dut.load, 1)
                await ctx.tick()
                ctx.set(dut.load, 0)
                ctx.set(dut.step, 1)
                for plane in range(in_bits):
                    assert ctx.get(dut.last) == (plane == in_bits - 1)
                    if plane < in_bits - 1:
                        await ctx.tick()
                got.append([ctx.get(dut.y[o]) for o in range(6)])
                ctx.set(dut.step, 0)
            else:
                got.append([ctx.get(dut.y[o]) for o in range(6)])

    _amaranth_sim(dut, bench)
    assert got == [(w.astype(np.int64) @ x).tolist() for x in xs]


@pytest.mark.parametrize("in_bits, in_signed", [(8, True), (7, False), (2, True)])
def test_hardwired_linear_every_fan_in(in_bits, in_signed):
    """Rows with every (plus, minus) count from 0 to 6 (the offset-binary re-encoding between
    tree levels and its constant correction) on random and extreme inputs."""
    from hwgen.rtl.hardwired import HardwiredLinear
    rng = np.random.default_rng(6)
    K = 12
    rows = []
    for p in range(7):
        for n in range(7):
            row = np.zeros(K, dtype=np.int8)
            idx = rng.permutation(K)
            row[idx[:p]], row[idx[p:p + n]] = 1, -1
            rows.append(row)
    w = np.array(rows)
    dut = HardwiredLinear(w, in_bits, in_signed=in_signed)
    lo, hi = (-(1 << (in_bits - 1)), (1 << (in_bits - 1)) - 1) if in_signed else (0, (1 << in_bits) - 1)
    xs = [rng.integers(lo, hi + 1, K) for _ in range(6)] + [np.full(K, lo), np.full(K, hi)]
    xs.append(np.where(np.arange(K) % 2, lo, hi))
    got = []

    async def bench(ctx):
        for x in xs:
            for k in range(K):
                ctx.set(dut.x[k], int(x[k]))
            got.append([ctx.get(dut.y[o]) for o in range(len(w))])

    _amaranth_sim(dut, bench)
    assert got == [(w.astype(np.int64) @ x).tolist() for x in xs]


def test_zero_weights_are_no_logic():
    from amaranth.back import verilog
    from hwgen.rtl.hardwired import HardwiredLinear
    text = verilog.convert(HardwiredLinear(np.zeros((3, 5), dtype=np.int8)), name="hl", emit_src=False)
    assert " + " not in text and " - " not in text
    w = np.zeros((2, 6), dtype=np.int8)
    w[0, 1] = w[0, 4] = 1                  # one adder; row 1 is zero
    text = verilog.convert(HardwiredLinear(w), name="hl", emit_src=False)
    assert text.count(" + ") == 1 and " - " not in text


def test_resources_formula():
    from hwgen.hardwired import linear_resources
    from hwgen.model import Layer, Model
    w = np.zeros((3, 8), dtype=np.int8)
    w[0, :4] = 1                      # plus tree (0 + 1) + (2 + 3): adders of 9, 9, 10 bits, and
    #                                   an 11-bit constant add for the re-encoding offsets
    w[1, :2], w[1, 2:4] = 1, -1       # (0 + 1) - (2 + 3): both subtrees shared with row 0, so only
    #                                   the 11-bit subtraction (the offsets cancel)
    # row 2 all zero: nothing
    r = linear_resources(w)
    assert r["adders"] == 5 and r["adder_bits"] == 8 + 8 + 9 + 10 + 10
    assert r["carry"] == 3 + 3 + 3 + 3 + 3                 # CARRY4 per adder: ceil(width / 4)
    assert linear_resources(np.zeros((4, 5)))["lut"] == 0
    e = EngineParams.from_mapping({"kind": "hardwired", "lanes": 8, "columns": 8})
    m = Model("r", 8, 8, e, (Layer("fc", "ternary_linear", 8, 3, w, None, "mem"),))
    plan = HardwiredPlan(m)
    assert plan.layers[0].acc_bits == sum_width(w) == 10    # row 0: 4 x -128 = -512
    res = hardwired_resources(plan)
    assert res["total"]["bram"] == res["total"]["dsp"] == res["total"]["lutram"] == 0
    assert res["nonzero_weights"] == 8
    # flip-flops: input file 8 x 8, output register 3 x 10 (acc), 2 valid flags, 1 + 1 counter bits
    assert res["total"]["ff"] == 64 + 30 + 2 + 2
    assert res["total"]["lut_equiv"] == res["blocks"]["dot"]["lut"] + res["blocks"]["core"]["lut"]


# ---------------------------------------------------------------------------------------------
# 5. the hardwired digits model: build, report, lint
# ---------------------------------------------------------------------------------------------

def test_digits_hardwired_sim_and_build(tmp_path, capsys):
    model = load_model(DIGITS_HW)
    assert model.engine.kind == "hardwired"
    x = np.load(REPO / "sim/digits/test_x.npy")
    y = np.load(REPO / "sim/digits/test_y.npy")
    r = HardwiredSimulator(model).run(x)
    assert np.array_equal(r.outputs, golden(model, x))
    assert round(float((r.outputs.argmax(axis=1) == y).mean()), 4) == 0.9639
    assert r.cycles == 12 + 359 * 8
    assert main(["build", str(DIGITS_HW), "-o", str(tmp_path / "out")]) == 0
    assert "digits_hardwired (hardwired)" in capsys.readouterr().out
    from hwgen.errors import ToolMissing
    from hwgen.lint import lint
    try:
        lint([tmp_path / "out" / "rtl" / "hwgen_top.v"], "hwgen_top")
    except ToolMissing as e:
        pytest.skip(f"Verilator not installed: {e}")
