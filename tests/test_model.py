"""Model loading and validation: the digits model, the graph, and every bad input through the CLI.

Each bad input is run through ``hwgen.cli.main`` and must give exit code 2, exactly one line on
stderr naming the file and the field, and no output folder (or an untouched one).
"""

import shutil
from pathlib import Path

import numpy as np
import pytest

from hwgen.cli import main
from hwgen.model import load_model

SIZES = [12, 10, 4]
ENGINE = {"kind": "tlmm", "group": 3, "tables": 2, "columns": 4}


# ---- the digits model ----

def test_digits_model_loads(digits_yaml):
    m = load_model(digits_yaml)
    assert m.name == "digits"
    assert (m.in_features, m.in_bits) == (64, 8)
    assert (m.engine.kind, m.engine.group, m.engine.tables, m.engine.columns) == ("tlmm", 3, 4, 8)
    fc1, fc2 = m.layers
    assert (fc1.name, fc1.in_features, fc1.out_features) == ("fc1", 64, 64)
    assert (fc2.name, fc2.in_features, fc2.out_features) == ("fc2", 64, 10)
    assert (fc1.requant.shift, fc1.requant.relu) == (2, True)
    assert fc2.requant is None and fc2.outputs_acc
    assert m.output_dtype == np.int32
    with np.load(digits_yaml.parent / "digits.npz") as npz:
        for layer in m.layers:
            assert layer.weights.dtype == np.int8
            np.testing.assert_array_equal(layer.weights, npz[layer.name])
            assert set(np.unique(layer.weights)) <= {-1, 0, 1}


def test_digits_graph(digits_yaml):
    m = load_model(digits_yaml)
    g = m.graph()
    assert set(g.nodes) == {"input", "fc1", "fc2", "output"}
    assert sorted(g.edges) == sorted([("input", "fc1"), ("fc1", "fc2"), ("fc2", "output")])
    assert g.edges["input", "fc1"]["features"] == 64
    assert g.edges["fc1", "fc2"]["features"] == 64
    assert g.edges["fc2", "output"]["features"] == 10
    assert g.nodes["input"]["kind"] == "input" and g.nodes["output"]["kind"] == "output"
    assert g.nodes["fc1"]["layer"] is m.layers[0]
    assert [l.name for l in m.layers_in_order()] == ["fc1", "fc2"]


def test_good_model_builds_and_loads(tmp_path, write_model):
    path = write_model(tmp_path / "m", ENGINE, SIZES, np.random.default_rng(0))
    m = load_model(path)
    assert [(l.in_features, l.out_features) for l in m.layers] == [(12, 10), (10, 4)]
    assert main(["build", str(path), "-o", str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "report.json").is_file()


# ---- bad model descriptions ----

def _edit(fn):
    """Case helper: write the default model with ``fn(doc)`` applied to the YAML document."""
    def make(folder, write_model, rng):
        return write_model(folder, ENGINE, SIZES, rng, edit=fn)
    return make


def _weights(**arrays):
    def make(folder, write_model, rng):
        return write_model(folder, ENGINE, SIZES, rng, weights=arrays)
    return make


def _text(text):
    def make(folder, write_model, rng):
        write_model(folder, ENGINE, SIZES, rng)
        p = Path(folder) / "model.yaml"
        p.write_text(text)
        return p
    return make


def _set(path, value):
    def fn(doc):
        d = doc
        for k in path[:-1]:
            d = d[k]
        d[path[-1]] = value
    return fn


def _acc_on_first(doc):
    del doc["layers"][0]["requant"]
    doc["layers"][0]["output"] = "acc"


def _no_requant_on_first(doc):
    del doc["layers"][0]["requant"]


def _value(v, dtype):
    w = np.zeros((10, 12), dtype=dtype)
    w[3, 5] = v
    return w


# (id, maker, field the message must name, other substrings it must contain)
BAD_MODELS = [
    ("yaml_syntax", _text("name: t\ninput: {features: 12, bits: 8\nengine: {kind: tlmm}\n"),
     "line ", ["malformed YAML"]),
    ("top_not_mapping", _text("- name\n- input\n"), None, ["top level must be a mapping"]),
    ("unknown_key", _edit(_set(["layers", 0, "bias"], 1)), "layers[0].bias", ["unknown key"]),
    ("unknown_engine_key", _edit(_set(["engine", "colums"], 8)), "engine.colums", ["unknown key"]),
    ("missing_weights_file", _edit(_set(["layers", 0, "weights"], "nope.npz:fc0")),
     "layers[0].weights", ["nope.npz", "not found"]),
    ("missing_npz_key", _edit(_set(["layers", 0, "weights"], "w.npz:fc9")), "layers[0].weights", ["fc9"]),
    ("wrong_shape", _weights(fc0=np.zeros((10, 11), dtype=np.int8)), "layers[0].weights",
     ["(10, 12)", "(10, 11)"]),
    ("value_2", _weights(fc0=_value(2, np.int8)), "layers[0].weights", ["[3, 5]", "not ternary"]),
    ("float_half", _weights(fc0=_value(0.5, np.float32)), "layers[0].weights", ["0.5", "not ternary"]),
    ("group_5", _edit(_set(["engine", "group"], 5)), "engine.group", ["5"]),
    ("tables_0", _edit(_set(["engine", "tables"], 0)), "engine.tables", ["0"]),
    ("columns_65", _edit(_set(["engine", "columns"], 65)), "engine.columns", ["65"]),
    ("kind_foo", _edit(_set(["engine", "kind"], "foo")), "engine.kind", ["'foo'"]),
    # layer 0 outputs 10 features, but fc1's weights were made for 11 inputs
    ("sizes_do_not_chain", _weights(fc1=np.zeros((4, 11), dtype=np.int8)), "layers[1].weights",
     ["(4, 10)", "(4, 11)"]),
    ("acc_not_last", _edit(_acc_on_first), "layers[0].output", ["last layer"]),
    ("missing_requant", _edit(_no_requant_on_first), "layers[0].requant", []),
    ("duplicate_names", _edit(_set(["layers", 1, "name"], "fc0")), "layers[1].name", ["duplicate", "fc0"]),
]


def _snapshot(folder):
    """Every file and folder under ``folder`` with its bytes (None for folders)."""
    folder = Path(folder)
    return {str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else None)
            for p in sorted(folder.rglob("*"))}


def _one_error_line(capsys):
    cap = capsys.readouterr()
    lines = cap.err.splitlines()
    assert len(lines) == 1, cap.err
    assert cap.err.endswith("\n") and cap.err.count("\n") == 1
    assert cap.out == ""
    return lines[0]


@pytest.fixture(scope="module")
def good_out(tmp_path_factory, write_model):
    """An output folder from a successful build (a failing build must leave such a folder alone)."""
    root = tmp_path_factory.mktemp("good")
    path = write_model(root / "m", ENGINE, SIZES, np.random.default_rng(1))
    assert main(["build", str(path), "-o", str(root / "out")]) == 0
    return root / "out"


@pytest.mark.parametrize("maker, field, extra", [c[1:] for c in BAD_MODELS], ids=[c[0] for c in BAD_MODELS])
def test_bad_model_cli(tmp_path, capsys, write_model, good_out, maker, field, extra):
    model = maker(tmp_path / "m", write_model, np.random.default_rng(2))
    capsys.readouterr()

    # 1. no output folder existed: none is left behind, nor any temporary sibling
    out = tmp_path / "build" / "out"
    assert main(["build", str(model), "-o", str(out)]) == 2
    line = _one_error_line(capsys)
    assert line.startswith("hwgen: error: ")
    assert str(model) in line
    if field is not None:
        assert f": {field}" in line
    for s in extra:
        assert s in line
    assert not out.exists()
    assert not (tmp_path / "build").exists() or list((tmp_path / "build").iterdir()) == []

    # 2. the output folder holds an earlier good build: it stays byte-identical
    prev = tmp_path / "prev" / "out"
    shutil.copytree(good_out, prev)
    before = _snapshot(prev.parent)
    assert main(["build", str(model), "-o", str(prev)]) == 2
    assert _one_error_line(capsys) == line
    assert _snapshot(prev.parent) == before


# ---- bad simulator inputs ----

def _bad_shape(path):
    np.save(path, np.zeros((3, 11), dtype=np.int8))


def _bad_dtype(path):
    np.save(path, np.zeros((3, 12), dtype=np.float32))


def _bad_range(path):
    x = np.zeros((3, 12), dtype=np.int16)
    x[1, 4] = 200
    np.save(path, x)


def _bad_range_low(path):
    x = np.zeros((3, 12), dtype=np.int16)
    x[2, 0] = -129
    np.save(path, x)


def _missing(path):
    pass


BAD_INPUTS = [
    ("wrong_shape", _bad_shape, ["(batch, 12)", "(3, 11)"]),
    ("float_dtype", _bad_dtype, ["float32"]),
    ("out_of_range_high", _bad_range, ["-128..127"]),
    ("out_of_range_low", _bad_range_low, ["-128..127"]),
    ("missing_file", _missing, ["not found"]),
]


@pytest.mark.parametrize("maker, extra", [c[1:] for c in BAD_INPUTS], ids=[c[0] for c in BAD_INPUTS])
def test_bad_sim_input_cli(tmp_path, capsys, write_model, maker, extra):
    model = write_model(tmp_path / "m", ENGINE, SIZES, np.random.default_rng(3))
    x = tmp_path / "x.npy"
    maker(x)
    y = tmp_path / "y" / "y.npy"
    capsys.readouterr()
    assert main(["sim", str(model), "--input", str(x), "--output", str(y)]) == 2
    line = _one_error_line(capsys)
    assert line.startswith("hwgen: error: ")
    assert str(x) in line
    assert ": --input: " in line
    for s in extra:
        assert s in line
    assert not y.exists()


def test_input_bits_range_follows_model(tmp_path, capsys, write_model):
    """With input.bits = 4 the allowed range is -8..7: 8 is rejected, 7 and -8 are accepted."""
    model = write_model(tmp_path / "m", ENGINE, SIZES, np.random.default_rng(4),
                        edit=_set(["input", "bits"], 4))
    x = tmp_path / "x.npy"
    np.save(x, np.array([[8] + [0] * 11], dtype=np.int8))
    assert main(["sim", str(model), "--input", str(x), "--output", str(tmp_path / "y.npy")]) == 2
    line = _one_error_line(capsys)
    assert ": --input: " in line and "-8..7" in line
    np.save(x, np.array([[7, -8] + [0] * 10], dtype=np.int8))
    assert main(["sim", str(model), "--input", str(x), "--output", str(tmp_path / "y.npy")]) == 0
    assert (tmp_path / "y.npy").is_file()
