"""Spiking (lif) models: parsing, the neuron rule, simulator vs golden model, the cycle model,
``hwgen sim`` / ``hwgen build`` on spiking models, and the default model digits_snn."""

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hwgen.cli import main
from hwgen.lif import (LifPlan, LifSimulator, lif_golden, lif_layer, make_lif_model, predict)
from hwgen.model import load_model
from hwgen.plan import make_plan
from hwgen.sim import make_simulator

ROOT = Path(__file__).resolve().parent.parent
SNN_YAML = ROOT / "models" / "digits_snn" / "digits_snn.yaml"
SNN_SIM = ROOT / "sim" / "digits_snn"


def write_lif(tmp_path, layers=None, engine=None, inp=None, weights=None):
    rng = np.random.default_rng(0)
    weights = weights or {"a": rng.integers(-1, 2, (6, 5)), "b": rng.integers(-1, 2, (3, 6))}
    np.savez(tmp_path / "w.npz", **weights)
    layers = layers or [
        {"name": "a", "op": "lif", "out_features": 6, "weights": "w.npz:a", "threshold": 2, "leak_shift": 3},
        {"name": "b", "op": "lif", "out_features": 3, "weights": "w.npz:b", "threshold": 1, "leak_shift": None,
         "reset": "subtract", "threshold_compare": "ge", "membrane_bits": 8, "output": "membrane"},
    ]
    doc = {"name": "snn", "input": inp or {"features": 5}, "engine": engine or {"kind": "lif", "neurons": 2, "lanes": 4},
           "layers": layers}
    path = tmp_path / "snn.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


# ---- parsing ----

def test_lif_model_loads(tmp_path):
    m = load_model(write_lif(tmp_path))
    assert m.engine.kind == "lif" and (m.engine.neurons, m.engine.lanes, m.engine.mode) == (2, 4, "event")
    a, b = m.layers
    assert (a.in_features, a.out_features, a.threshold, a.leak_shift, a.reset, a.compare) == (5, 6, 2, 3, "zero", "gt")
    assert (b.reset, b.compare, b.membrane_bits, b.output, b.leak_shift) == ("subtract", "ge", 8, "membrane", None)
    assert m.in_bits == 1 and m.output_dtype == np.int8


@pytest.mark.parametrize("change, field", [
    (lambda d: d["layers"][0].update(threshold=1 << 15), "layers[0].threshold"),
    (lambda d: d["layers"][0].update(threshold=-1), "layers[0].threshold"),
    (lambda d: d["layers"][0].pop("leak_shift"), "layers[0].leak_shift"),
    (lambda d: d["layers"][0].update(leak_shift=40), "layers[0].leak_shift"),
    (lambda d: d["layers"][0].update(reset="hold"), "layers[0].reset"),
    (lambda d: d["layers"][0].update(threshold_compare="lt"), "layers[0].threshold_compare"),
    (lambda d: d["layers"][0].update(membrane_bits=1), "layers[0].membrane_bits"),
    (lambda d: d["layers"][0].update(weight_bits=9), "layers[0].weight_bits"),
    (lambda d: d["layers"][0].update(output="membrane"), "layers[0].output"),
    (lambda d: d["layers"][0].update(op="ternary_linear"), "layers[0].op"),
    (lambda d: d["layers"][0].update(requant={"shift": 1}), "layers[0].requant"),
    (lambda d: d["layers"][1].update(out_features=4), "layers[1].weights"),
    (lambda d: d["engine"].update(mode="auto"), "engine.mode"),
    (lambda d: d["engine"].update(neurons=0), "engine.neurons"),
    (lambda d: d["engine"].update(group=3), "engine.group"),
    (lambda d: d["input"].update(bits=8), "input.bits"),
])
def test_bad_lif_model(tmp_path, capsys, change, field):
    path = write_lif(tmp_path)
    doc = yaml.safe_load(path.read_text())
    change(doc)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    assert main(["build", str(path), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{path}: {field}: " in err[0], err
    assert not (tmp_path / "out").exists()


def test_lif_op_needs_lif_engine(tmp_path, capsys):
    path = write_lif(tmp_path, engine={"kind": "tlmm", "group": 3, "tables": 2, "columns": 4},
                     inp={"features": 5, "bits": 8})
    assert main(["build", str(path), "-o", str(tmp_path / "out")]) == 2
    assert "layers[0].op: op lif needs engine.kind: lif" in capsys.readouterr().err


def test_weight_bits(tmp_path):
    w = {"a": np.array([[7, -7, 0, 3, -2]] * 6), "b": np.ones((3, 6), dtype=np.int8)}
    layers = [{"name": "a", "op": "lif", "out_features": 6, "weights": "w.npz:a", "threshold": 9,
               "leak_shift": None, "weight_bits": 4},
              {"name": "b", "op": "lif", "out_features": 3, "weights": "w.npz:b", "threshold": 1, "leak_shift": 1}]
    m = load_model(write_lif(tmp_path, layers=layers, weights=w))
    assert m.layers[0].weight_bits == 4 and m.layers[0].weights.max() == 7
    w["a"][0, 0] = 8
    with pytest.raises(Exception, match=r"-7\.\.7"):
        load_model(write_lif(tmp_path, layers=layers, weights=w))


# ---- the neuron rule ----

def one_neuron(w, thr, spikes, **kw):
    model = make_lif_model("n", len(w), [lif_layer("l", [w], thr, output="membrane", **kw)], neurons=1, lanes=4)
    s, v = lif_golden(model, np.array(spikes))
    return s[0, :, 0].tolist(), v[0, :, 0].tolist()


def test_golden_integrate_and_fire_reset_zero():
    # I = 1 per step, threshold 2 (v > 2): v = 1, 2, 3 -> spike, 0, 1, ...
    assert one_neuron([1], 2, [[1]] * 5) == ([0, 0, 1, 0, 0], [1, 2, 0, 1, 2])


def test_golden_reset_subtract_and_ge():
    s, v = one_neuron([1, 1], 2, [[1, 1]] * 3, reset="subtract", compare="ge")
    assert (s, v) == ([1, 1, 1], [0, 0, 0])
    s, v = one_neuron([1, 1], 3, [[1, 1]] * 4, reset="subtract")
    assert (s, v) == ([0, 1, 0, 1], [2, 1, 3, 2])


def test_golden_leak_is_arithmetic_shift():
    # v - (v >> 1): 8 -> 4 -> 2 -> 1 -> 1 (1 >> 1 = 0); -3 -> -1 (-3 >> 1 = -2) -> 0 (-1 >> 1 = -1)
    _, v = one_neuron([8], 100, [[1], [0], [0], [0], [0]], leak_shift=1, weight_bits=5)
    assert v == [8, 4, 2, 1, 1]
    _, v = one_neuron([-3], 100, [[1], [0], [0]], leak_shift=1, weight_bits=3)
    assert v == [-3, -1, 0]


def test_golden_saturates():
    s, v = one_neuron([7], 7, [[1]] * 3, membrane_bits=4, weight_bits=4, compare="ge")
    assert s == [1, 1, 1] and v == [0, 0, 0]
    s, v = one_neuron([-7], 7, [[1]] * 3, membrane_bits=4, weight_bits=4)
    assert s == [0, 0, 0] and v == [-7, -8, -8]


# ---- simulator == golden, and the cycle model ----

def random_lif_model(rng, sizes, neurons, lanes, mode, membrane_bits=None, out_membrane=True):
    layers = []
    for i, (k, n) in enumerate(zip(sizes[:-1], sizes[1:])):
        mb = int(membrane_bits or rng.integers(3, 12))
        wb = int(rng.choice([2, 2, 3]))
        lim = (1 << (wb - 1)) - 1
        w = rng.integers(-lim, lim + 1, (n, k))
        thr = int(rng.integers(0, min(6, (1 << (mb - 1)) - 1) + 1))
        leak = None if rng.random() < 0.4 else int(rng.integers(0, 6))
        last = i == len(sizes) - 2
        layers.append(lif_layer(f"l{i}", w, thr, leak_shift=leak, reset=str(rng.choice(["zero", "subtract"])),
                                compare=str(rng.choice(["gt", "ge"])), membrane_bits=mb, weight_bits=wb,
                                output="membrane" if last and out_membrane else "spikes"))
    return make_lif_model("rand", sizes[0], layers, neurons=neurons, lanes=lanes, mode=mode)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2 ** 31), nl=st.integers(1, 3), neurons=st.integers(1, 9), lanes=st.integers(1, 40),
       mode=st.sampled_from(["event", "dense"]), density=st.sampled_from([0.0, 0.05, 0.3, 0.7, 1.0]))
def test_simulator_matches_golden(seed, nl, neurons, lanes, mode, density):
    rng = np.random.default_rng(seed)
    sizes = [int(s) for s in rng.integers(1, 40, nl + 1)]
    model = random_lif_model(rng, sizes, neurons, lanes, mode)
    x = (rng.random((2, int(rng.integers(1, 6)), sizes[0])) < density).astype(np.uint8)
    r = make_simulator(model).run(x)
    gs, gm = lif_golden(model, x)
    assert np.array_equal(r.outputs, gs) and np.array_equal(r.membranes, gm)
    # cycle model: every timestep's count, from its spikes, by the closed form
    plan = make_plan(model)
    assert r.cycles == int(r.timestep_cycles.sum()) + 2
    assert (r.timestep_cycles <= plan.vector_stride).all()
    assert (r.timestep_cycles >= plan.best_stride).all()
    if mode == "dense":
        assert (r.timestep_cycles == plan.vector_stride).all()


def independent_timestep_cycles(model, layer_inputs):
    """The cycle formula of the docs written out once more, input by input."""
    e = model.engine
    total = -(-model.in_features // e.lanes) + len(model.layers) - 1
    for l, s in zip(model.layers, layer_inputs):
        B = -(-l.out_features // e.neurons)
        if e.mode == "dense":
            total += l.in_features * B
        else:
            for c in range(0, l.in_features, e.lanes):
                pop = int(np.sum(s[c:c + e.lanes]))
                total += pop * B if pop else 1
        total += B
    return total


def test_cycle_formula_by_hand():
    rng = np.random.default_rng(3)
    model = random_lif_model(rng, [37, 19, 11], neurons=4, lanes=8, mode="event", membrane_bits=10)
    x = (rng.random((1, 6, 37)) < 0.2).astype(np.uint8)
    r = LifSimulator(model).run(x)
    for t in range(6):
        ins = [x[0, t]]
        for li in range(len(model.layers) - 1):
            sub = make_lif_model("p", 37, model.layers[:li + 1], neurons=4, lanes=8)
            ins.append(lif_golden(sub, x[:, :t + 1])[0][0, t])
        assert r.timestep_cycles[0, t] == independent_timestep_cycles(model, ins)
    # no spikes at all: one cycle per scanner word, plus the update phases
    silent = LifSimulator(model).run(np.zeros((1, 2, 37), dtype=np.uint8))
    plan = LifPlan(model)
    assert (silent.timestep_cycles == plan.best_stride).all()
    assert plan.best_stride == 5 + 1 + (5 + 5) + (3 + 3)   # beats + drain + (words + B) per layer


def test_event_beats_dense_on_sparse_input():
    rng = np.random.default_rng(1)
    model = random_lif_model(rng, [256, 128], neurons=8, lanes=32, mode="event")
    x = (rng.random((4, 8, 256)) < 0.1).astype(np.uint8)
    ev = LifSimulator(model).run(x).timestep_cycles.mean()
    dense = LifPlan(model.replace(engine=model.engine.__class__("lif", 8, 32, "dense"))).vector_stride
    assert dense / ev > 5


def test_weight_memory_layout():
    w = np.array([[1, -1, 0], [0, 1, 1], [-1, 0, 1]])
    model = make_lif_model("m", 3, [lif_layer("l", w, 1)], neurons=2, lanes=4)
    plan = LifPlan(model)
    # word (input j, block b) = j * B + b, neuron n at bits 2n; -1 is 0b11, padding neuron 0
    assert plan.weight_memory == [0b0001, 0b11, 0b0111, 0b00, 0b0100, 0b01]


def test_input_beats_and_output_unpack():
    model = make_lif_model("m", 10, [lif_layer("l", np.ones((5, 10)), 1, output="membrane")], neurons=4, lanes=4)
    plan = LifPlan(model)
    x = np.zeros((2, 3, 10), dtype=np.uint8)
    x[0, 0, [0, 5, 9]] = 1
    words, last = plan.pack_input(x)
    assert len(words) == 6 and words[0] == [0b1, 0b10, 0b10]
    assert last.tolist() == [[0, 0, 0], [0, 0, 0], [0, 0, 1]] * 2


def test_predict_ties_use_membrane():
    s = np.zeros((1, 2, 3), dtype=np.int8)
    s[0, 0, 1] = s[0, 1, 2] = 1
    v = np.zeros((1, 2, 3), dtype=np.int32)
    v[0, -1] = [0, 1, 5]
    assert predict(s).tolist() == [1] and predict(s, v).tolist() == [2]


# ---- the command line and the default spiking model ----

def test_digits_snn_sim_cli(tmp_path, capsys):
    out = tmp_path / "y.npy"
    rc = main(["sim", str(SNN_YAML), "--input", str(SNN_SIM / "test_x.npy"), "--output", str(out),
               "--labels", str(SNN_SIM / "test_y.npy"), "--json"])
    summary = json.loads(capsys.readouterr().out)
    assert rc == 0 and summary["golden_match"]
    assert summary["accuracy"] >= 0.95
    assert summary["cycles"] == summary["sim_cycles"]
    y = np.load(out)
    assert y.shape == (360, 16, 10) and y.dtype == np.int8
    assert np.load(summary["membranes"]).shape == (360, 16, 10)


def test_sim_cli_2d_input(tmp_path, capsys):
    x = np.load(SNN_SIM / "test_x.npy")[0]
    np.save(tmp_path / "x.npy", x.astype(bool))
    assert main(["sim", str(SNN_YAML), "--input", str(tmp_path / "x.npy"), "--output", str(tmp_path / "y.npy")]) == 0
    assert np.load(tmp_path / "y.npy").shape == (1, 16, 10)


@pytest.mark.parametrize("x, msg", [
    (np.full((2, 3, 64), 2, dtype=np.int64), "spikes must be 0 or 1"),
    (np.zeros((2, 3, 63), dtype=np.int64), "shape"),
    (np.zeros((3, 64), dtype=np.float32), "integer or bool"),
])
def test_sim_cli_bad_spikes(tmp_path, capsys, x, msg):
    np.save(tmp_path / "x.npy", x)
    assert main(["sim", str(SNN_YAML), "--input", str(tmp_path / "x.npy"), "--output", str(tmp_path / "y.npy")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--input" in err[0] and msg in err[0]
    assert not (tmp_path / "y.npy").exists()


def test_build_lif(tmp_path):
    out = tmp_path / "b"
    assert main(["build", str(SNN_YAML), "-o", str(out)]) == 0
    rep = json.loads((out / "report.json").read_text())
    assert rep["engine"]["kind"] == "lif" and rep["engine"]["mode"] == "event"
    assert rep["plan"]["cycles_per_timestep_worst"] == 2 + 1 + (64 * 8 + 8) + (64 * 2 + 2)
    text = (out / "rtl" / "hwgen_top.v").read_text()
    assert "module hwgen_top" in text and "s_axis_tlast" in text
    first = (out / "rtl" / "hwgen_top.v").read_bytes()
    assert main(["build", str(SNN_YAML), "-o", str(out)]) == 0
    assert (out / "rtl" / "hwgen_top.v").read_bytes() == first
