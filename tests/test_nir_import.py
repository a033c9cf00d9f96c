"""``hwgen import-nir``: NIR graphs built in code, converted to lif models.

The exactness test runs the NIR graph's own semantics (forward Euler, float) next to the imported
integer model: when the weights are a scale times ternary values and the neurons do not leak, the
spike trains must be identical.
"""

import json

import numpy as np
import pytest

nir = pytest.importorskip("nir")

from hwgen.cli import main  # noqa: E402
from hwgen.lif import lif_golden  # noqa: E402
from hwgen.model import load_model  # noqa: E402
from hwgen.nir_import import leak_shift_for, quantize  # noqa: E402

DT = 1e-4


def graph(layers, *, extra_nodes=None, extra_edges=None):
    """A chain Input -> (syn, neuron) ... -> Output from [(syn_node, neuron_node), ...]."""
    n_in = layers[0][0].weight.shape[1]
    nodes = {"input": nir.Input(input_type={"input": np.array([n_in])})}
    edges, prev = [], "input"
    for i, (syn, neu) in enumerate(layers):
        nodes[f"fc{i}"], nodes[f"lif{i}"] = syn, neu
        edges += [(prev, f"fc{i}"), (f"fc{i}", f"lif{i}")]
        prev = f"lif{i}"
    n_out = layers[-1][0].weight.shape[0]
    nodes["output"] = nir.Output(output_type={"output": np.array([n_out])})
    edges.append((prev, "output"))
    nodes.update(extra_nodes or {})
    edges += extra_edges or []
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)


def lif(n, tau=8 * DT, r=None, vth=1.0, v_leak=0.0, v_reset=0.0):
    return nir.LIF(tau=np.full(n, tau), r=np.full(n, r if r is not None else tau / DT), v_leak=np.full(n, v_leak),
                   v_threshold=np.full(n, vth), v_reset=np.full(n, v_reset))


def if_node(n, r=1 / DT, vth=0.75):
    return nir.IF(r=np.full(n, r), v_threshold=np.full(n, vth))


def run_import(tmp_path, g, *args):
    path = tmp_path / "g.nir"
    nir.write(str(path), g)
    out = tmp_path / "m" / "model.yaml"
    rc = main(["import-nir", str(path), "-o", str(out), "--json", *args])
    return rc, out


def nir_euler(g_layers, x, dt=DT):
    """Float reference: the NIR graph stepped with forward Euler (LIF/IF, reset to 0 on v > vth)."""
    s = x.astype(np.float64)
    batch, T, _ = s.shape
    vs = [np.zeros((batch, syn.weight.shape[0])) for syn, _ in g_layers]
    out = np.zeros((batch, T, g_layers[-1][0].weight.shape[0]), dtype=np.int8)
    for t in range(T):
        a = s[:, t]
        for li, (syn, neu) in enumerate(g_layers):
            cur = a @ np.asarray(syn.weight).T
            v = vs[li]
            if isinstance(neu, nir.LIF):
                v = v + dt / neu.tau * (neu.v_leak - v + neu.r * cur)
            else:
                v = v + dt * neu.r * cur
            fire = v > neu.v_threshold
            vs[li] = np.where(fire, 0.0, v)
            a = fire.astype(np.float64)
        out[:, t] = a
    return out


def test_if_graph_is_imported_exactly(tmp_path, capsys):
    rng = np.random.default_rng(0)
    t1 = rng.integers(-1, 2, (12, 20))
    t2 = rng.integers(-1, 2, (5, 12))
    layers = [(nir.Linear(weight=0.3 * t1), if_node(12, vth=0.75)),
              (nir.Linear(weight=0.2 * t2), if_node(5, vth=0.5))]
    rc, out = run_import(tmp_path, graph(layers), "--membrane-bits", "16")
    rep = json.loads(capsys.readouterr().out)
    assert rc == 0
    assert [r["threshold"] for r in rep["layers"]] == [2, 2]          # floor(0.75 / 0.3), floor(0.5 / 0.2)
    assert all(r["weight_rel_error"] < 1e-9 and r["leak_shift"] is None for r in rep["layers"])
    model = load_model(out)
    assert np.array_equal(model.layers[0].weights, t1) and np.array_equal(model.layers[1].weights, t2)
    x = (rng.random((6, 10, 20)) < 0.4).astype(np.uint8)
    spikes, _ = lif_golden(model, x)
    assert spikes.sum() > 0
    assert np.array_equal(spikes, nir_euler(layers, x))


def test_lif_leak_and_cli_text(tmp_path, capsys):
    rng = np.random.default_rng(1)
    layers = [(nir.Affine(weight=rng.normal(size=(7, 9)), bias=np.zeros(7)), lif(7, tau=8 * DT))]
    path = tmp_path / "g.nir"
    nir.write(str(path), graph(layers))
    out = tmp_path / "snn.yaml"
    assert main(["import-nir", str(path), "-o", str(out), "--mode", "dense", "--neurons", "4"]) == 0
    text = capsys.readouterr().out
    assert "leak_shift 3" in text and "weight error" in text
    m = load_model(out)
    assert m.layers[0].leak_shift == 3 and m.layers[0].reset == "zero" and m.layers[0].compare == "gt"
    assert (m.engine.mode, m.engine.neurons) == ("dense", 4)
    assert (tmp_path / "snn.npz").is_file()
    x = (rng.random((2, 5, 9)) < 0.5).astype(np.uint8)
    np.save(tmp_path / "x.npy", x)
    assert main(["sim", str(out), "--input", str(tmp_path / "x.npy"), "--output", str(tmp_path / "y.npy")]) == 0


def test_leak_shift_rounding():
    assert leak_shift_for(1 - 1 / 8) == 3
    assert leak_shift_for(0.9) == 3          # 0.875 is closer than 0.9375
    assert leak_shift_for(0.95) == 4
    assert leak_shift_for(1.0) is None
    assert leak_shift_for(0.0) == 0


def test_multibit_weights_reduce_error():
    w = np.random.default_rng(2).normal(size=(32, 32))
    err = {}
    for b in (2, 4, 8):
        wi, q = quantize(w, b)
        assert np.abs(wi).max() <= (1 << (b - 1)) - 1
        err[b] = np.linalg.norm(w - q * wi) / np.linalg.norm(w)
    assert err[8] < err[4] < err[2]


def one_error(tmp_path, capsys, g, *args):
    rc, _ = run_import(tmp_path, g, *args)
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1, err
    assert not (tmp_path / "m" / "model.yaml").exists()
    return err[0]


def test_unsupported_node_named(tmp_path, capsys):
    n = 4
    cuba = nir.CubaLIF(tau_syn=np.full(n, 1e-3), tau_mem=np.full(n, 1e-3), r=np.ones(n), v_leak=np.zeros(n),
                       v_threshold=np.ones(n))
    g = graph([(nir.Linear(weight=np.ones((n, 3))), cuba)])
    msg = one_error(tmp_path, capsys, g)
    assert "node 'lif0': unsupported NIR node type CubaLIF" in msg


@pytest.mark.parametrize("make, needle", [
    (lambda: [(nir.Affine(weight=np.ones((3, 2)), bias=np.full(3, 0.5)), lif(3))], "node 'fc0': nonzero Affine bias"),
    (lambda: [(nir.Linear(weight=np.ones((3, 2))), lif(3, v_reset=0.2))], "node 'lif0': v_reset must be 0"),
    (lambda: [(nir.Linear(weight=np.ones((3, 2))), lif(3, v_leak=0.1))], "node 'lif0': v_leak must be 0"),
    (lambda: [(nir.Linear(weight=np.ones((3, 2))), lif(3, vth=-1.0))], "node 'lif0': v_threshold must be > 0"),
])
def test_refused_parameters(tmp_path, capsys, make, needle):
    assert needle in one_error(tmp_path, capsys, graph(make()))


def test_drop_bias(tmp_path, capsys):
    g = graph([(nir.Affine(weight=np.eye(3), bias=np.full(3, 0.5)), lif(3))])
    rc, out = run_import(tmp_path, g, "--drop-bias")
    rep = json.loads(capsys.readouterr().out)
    assert rc == 0 and rep["layers"][0]["bias_dropped_max"] == 0.5


def test_not_a_chain(tmp_path, capsys):
    layers = [(nir.Linear(weight=np.ones((3, 2))), lif(3))]
    g = graph(layers, extra_nodes={"out2": nir.Output(output_type={"output": np.array([3])})},
              extra_edges=[("lif0", "out2")])
    assert "node 'lif0': must feed exactly one node" in one_error(tmp_path, capsys, g)


def test_missing_file(tmp_path, capsys):
    assert main(["import-nir", str(tmp_path / "nope.nir"), "-o", str(tmp_path / "m.yaml")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nope.nir" in err[0]
