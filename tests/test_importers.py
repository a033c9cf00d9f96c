"""Tests for hwgen.importers: GGUF (TQ1_0 / TQ2_0) and safetensors imports."""

import json
import struct

import numpy as np
import pytest
import yaml
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

from hwgen.errors import ModelError
from hwgen.importers import absmean_ternarize, import_gguf, import_safetensors, sanitize_key

gguf = pytest.importorskip("gguf")
safetensors_numpy = pytest.importorskip("safetensors.numpy")
from gguf import GGMLQuantizationType as QT  # noqa: E402
from gguf import quants  # noqa: E402


def _write_gguf(path, tensors):
    """tensors: list of (name, array, qtype or None).  Quantised tensors are float matrices
    quantised by gguf's own quantizer (independent of hwgen.packing)."""
    w = gguf.GGUFWriter(str(path), arch="llama")
    for name, arr, qtype in tensors:
        if qtype is None:
            w.add_tensor(name, arr)
        else:
            w.add_tensor(name, quants.quantize(arr.astype(np.float32), qtype), raw_dtype=qtype)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def _ternary_with_scales(rng, rows, cols):
    t = rng.integers(-1, 2, (rows, cols)).astype(np.int8)
    t[:, ::256] = 1  # every block has a non-zero weight, so gguf's d = max|block| = our scale
    scales = rng.uniform(0.01, 4.0, (rows, cols // 256)).astype(np.float16).astype(np.float32)
    return t, scales, t * np.repeat(scales, 256, axis=1)


def _load_yaml(p):
    return yaml.safe_load(p.read_text())


def _listing(folder):
    return sorted(p.name for p in folder.iterdir())


# --------------------------------------------------------------------------- GGUF


def test_import_gguf(tmp_path):
    rng = np.random.default_rng(0)
    t2, s2, f2 = _ternary_with_scales(rng, 4, 512)
    t1, s1, f1 = _ternary_with_scales(rng, 3, 256)
    _write_gguf(tmp_path / "m.gguf", [
        ("blk.0.ffn_up.weight", f2, QT.TQ2_0),
        ("output_norm.weight", rng.normal(size=(8, 4)).astype(np.float32), None),
        ("blk.0.ffn_down.weight", f1, QT.TQ1_0),
        ("blk.0.bias", np.ones(256, np.float32), QT.TQ2_0),   # 1-D ternary: skipped
    ])
    out = tmp_path / "out" / "model.yaml"
    res = import_gguf(tmp_path / "m.gguf", out)
    assert res.layers == ["blk_0_ffn_up_weight", "blk_0_ffn_down_weight"]
    skipped = dict(res.skipped)
    assert set(skipped) == {"output_norm.weight", "blk.0.bias"}
    assert "F32" in skipped["output_norm.weight"] and "2-D" in skipped["blk.0.bias"]

    assert _listing(out.parent) == ["model.npz", "model.yaml"]  # no temp files left, nothing else
    with np.load(res.npz_path) as z:
        assert sorted(z.files) == sorted(["blk_0_ffn_up_weight", "blk_0_ffn_up_weight__scales",
                                          "blk_0_ffn_down_weight", "blk_0_ffn_down_weight__scales"])
        np.testing.assert_array_equal(z["blk_0_ffn_up_weight"], t2)
        assert z["blk_0_ffn_up_weight"].dtype == np.int8
        np.testing.assert_array_equal(z["blk_0_ffn_up_weight__scales"], s2)
        np.testing.assert_array_equal(z["blk_0_ffn_down_weight"], t1)
        np.testing.assert_array_equal(z["blk_0_ffn_down_weight__scales"], s1)

    doc = _load_yaml(out)
    assert doc["name"] == "model"
    assert doc["input"] == {"features": 512, "bits": 8}
    assert doc["engine"] == {"kind": "tlmm", "group": 3, "tables": 4, "columns": 8}
    assert doc["layers"] == [
        {"name": "blk_0_ffn_up_weight", "op": "ternary_linear", "out_features": 4,
         "weights": "model.npz:blk_0_ffn_up_weight", "requant": {"shift": 4, "relu": False}},
        {"name": "blk_0_ffn_down_weight", "op": "ternary_linear", "out_features": 3,
         "weights": "model.npz:blk_0_ffn_down_weight", "output": "acc"},
    ]
    # 512 -> 4 then a 256-input layer: not a chain, and the importer says so
    assert len(res.warnings) == 1 and "not a chain" in res.warnings[0]


def test_import_gguf_chain_loads_as_model(tmp_path):
    """A chain of TQ tensors (512 -> 256 -> 3), selected out of a bigger file, loads with
    hwgen.model.load_model."""
    model = pytest.importorskip("hwgen.model")
    rng = np.random.default_rng(4)
    ta, sa, fa = _ternary_with_scales(rng, 256, 512)
    tb, sb, fb = _ternary_with_scales(rng, 3, 256)
    _, _, fc = _ternary_with_scales(rng, 5, 256)
    _write_gguf(tmp_path / "c.gguf", [("blk.0.up", fa, QT.TQ1_0), ("other", fc, QT.TQ2_0),
                                      ("blk.0.down", fb, QT.TQ2_0)])
    res = import_gguf(tmp_path / "c.gguf", tmp_path / "chain.yaml", select=["blk.*"])
    assert res.layers == ["blk_0_up", "blk_0_down"] and res.warnings == []
    assert ("other", "not selected") in res.skipped
    m = model.load_model(tmp_path / "chain.yaml")
    assert m.in_features == 512
    np.testing.assert_array_equal(m.layers[0].weights, ta)
    np.testing.assert_array_equal(m.layers[1].weights, tb)


def test_import_gguf_overwrites_atomically(tmp_path):
    rng = np.random.default_rng(1)
    t, s, f = _ternary_with_scales(rng, 2, 256)
    _write_gguf(tmp_path / "a.gguf", [("w", f, QT.TQ2_0)])
    out = tmp_path / "a.yaml"
    out.write_text("old\n")
    import_gguf(tmp_path / "a.gguf", out)
    import_gguf(tmp_path / "a.gguf", out)  # second run replaces the first
    assert _listing(tmp_path) == ["a.gguf", "a.npz", "a.yaml"]
    assert _load_yaml(out)["layers"][0]["weights"] == "a.npz:w"


def test_import_gguf_no_ternary_tensors(tmp_path):
    _write_gguf(tmp_path / "f.gguf", [("w", np.ones((4, 4), np.float32), None)])
    with pytest.raises(ModelError) as ei:
        import_gguf(tmp_path / "f.gguf", tmp_path / "f.yaml")
    msg = str(ei.value)
    assert "f.gguf" in msg and "\n" not in msg
    assert _listing(tmp_path) == ["f.gguf"]


def test_import_gguf_bad_files(tmp_path):
    (tmp_path / "junk.gguf").write_bytes(b"not a gguf file at all")
    for src in (tmp_path / "junk.gguf", tmp_path / "missing.gguf"):
        with pytest.raises(ModelError) as ei:
            import_gguf(src, tmp_path / "x.yaml")
        assert src.name in str(ei.value) and "\n" not in str(ei.value)
    assert _listing(tmp_path) == ["junk.gguf"]


def test_import_gguf_name_clash(tmp_path):
    rng = np.random.default_rng(2)
    _, _, f = _ternary_with_scales(rng, 1, 256)
    _write_gguf(tmp_path / "c.gguf", [("a.b", f, QT.TQ2_0), ("a_b", f, QT.TQ1_0)])
    res = import_gguf(tmp_path / "c.gguf", tmp_path / "c.yaml")
    assert res.layers == ["a_b", "a_b_2"]
    assert sanitize_key("blk.0/attn-q.weight") == "blk_0_attn_q_weight"
    assert sanitize_key("0.w") == "_0_w" and sanitize_key("output") == "output_"


# --------------------------------------------------------------------------- safetensors


def _write_bf16_safetensors(path, name, a):
    raw = (a.astype(np.float32).view(np.uint32) >> 16).astype("<u2").tobytes()
    hdr = json.dumps({name: {"dtype": "BF16", "shape": list(a.shape), "data_offsets": [0, len(raw)]}}).encode()
    hdr += b" " * (-len(hdr) % 8)
    path.write_bytes(struct.pack("<Q", len(hdr)) + hdr + raw)


def _absmean_reference(a):
    scale = np.abs(a.astype(np.float64)).mean() + 1e-5
    return np.clip(np.round(a / scale), -1, 1).astype(np.int8), np.float32(scale)


def test_import_safetensors(tmp_path):
    rng = np.random.default_rng(3)
    f32 = rng.normal(size=(6, 9)).astype(np.float32)
    f16 = rng.normal(size=(5, 6)).astype(np.float16)
    i8 = rng.integers(-1, 2, (4, 5)).astype(np.int8)
    safetensors_numpy.save_file({
        "model.layers.10.mlp.up_proj.weight": f32,
        "model.layers.2.mlp.up_proj.weight": f16,
        "model.layers.2.q.weight": i8,
        "model.layers.2.q_int.weight": np.full((2, 2), 3, np.int8),      # not ternary: skipped
        "model.norm.weight": np.ones(9, np.float32),                    # 1-D: skipped
        "model.embed_tokens.weight": np.ones((10, 9), np.float32),      # embedding: skipped
        "lm_head.weight": np.ones((10, 9), np.float32),                 # head: skipped
    }, str(tmp_path / "m.safetensors"))
    res = import_safetensors(tmp_path / "m.safetensors", tmp_path / "net.yaml")
    # natural name order: layers.2 before layers.10
    assert res.layers == ["model_layers_2_mlp_up_proj_weight", "model_layers_2_q_weight",
                          "model_layers_10_mlp_up_proj_weight"]
    assert set(dict(res.skipped)) == {"model.layers.2.q_int.weight", "model.norm.weight",
                                      "model.embed_tokens.weight", "lm_head.weight"}
    with np.load(res.npz_path) as z:
        t, s = _absmean_reference(f32)
        np.testing.assert_array_equal(z["model_layers_10_mlp_up_proj_weight"], t)
        assert z["model_layers_10_mlp_up_proj_weight__scale"] == pytest.approx(s, rel=1e-6)
        t, s = _absmean_reference(f16.astype(np.float32))
        np.testing.assert_array_equal(z["model_layers_2_mlp_up_proj_weight"], t)
        np.testing.assert_array_equal(z["model_layers_2_q_weight"], i8)
        assert "model_layers_2_q_weight__scale" not in z.files
        assert all(z[k].dtype == np.int8 for k in res.layers)
    doc = _load_yaml(tmp_path / "net.yaml")
    assert doc["input"]["features"] == 6
    assert [la["out_features"] for la in doc["layers"]] == [5, 4, 6]
    assert doc["layers"][1]["weights"] == "net.npz:model_layers_2_q_weight"
    assert _listing(tmp_path) == ["m.safetensors", "net.npz", "net.yaml"]


def test_import_safetensors_bf16(tmp_path):
    a = np.array([[1.0, -2.0, 0.25], [0.0, 3.0, -0.5]], np.float32)  # exact in bf16
    _write_bf16_safetensors(tmp_path / "b.safetensors", "w", a)
    res = import_safetensors(tmp_path / "b.safetensors", tmp_path / "b.yaml")
    with np.load(res.npz_path) as z:
        np.testing.assert_array_equal(z["w"], _absmean_reference(a)[0])


def test_import_safetensors_nothing(tmp_path):
    safetensors_numpy.save_file({"bias": np.ones(3, np.float32)}, str(tmp_path / "e.safetensors"))
    with pytest.raises(ModelError) as ei:
        import_safetensors(tmp_path / "e.safetensors", tmp_path / "e.yaml")
    assert "e.safetensors" in str(ei.value) and "\n" not in str(ei.value)
    assert _listing(tmp_path) == ["e.safetensors"]


def test_output_cannot_overwrite_input(tmp_path):
    safetensors_numpy.save_file({"w": np.ones((2, 2), np.float32)}, str(tmp_path / "x.npz"))
    with pytest.raises(ModelError):
        import_safetensors(tmp_path / "x.npz", tmp_path / "x.yaml")


@settings(max_examples=15, deadline=None)
@given(a=hnp.arrays(np.float32, st.tuples(st.integers(1, 5), st.integers(1, 7)),
                    elements=st.floats(-10, 10, width=32)))
def test_absmean_ternarize_property(a):
    t, s = absmean_ternarize(a)
    ref_t, ref_s = _absmean_reference(a)
    np.testing.assert_array_equal(t, ref_t)
    assert s == pytest.approx(ref_s, rel=1e-6) and s > 0
    assert set(np.unique(t)) <= {-1, 0, 1}
    # already-ternary float matrices survive unchanged
    tt, _ = absmean_ternarize(ref_t.astype(np.float32))
    np.testing.assert_array_equal(tt, ref_t)


@settings(max_examples=8, deadline=None)
@given(data=st.data())
def test_import_gguf_property(tmp_path_factory, data):
    tmp = tmp_path_factory.mktemp("g")
    rows = data.draw(st.integers(1, 4))
    cols = 256 * data.draw(st.integers(1, 2))
    qtype = data.draw(st.sampled_from([QT.TQ1_0, QT.TQ2_0]))
    seed = data.draw(st.integers(0, 2 ** 32 - 1))
    t, s, f = _ternary_with_scales(np.random.default_rng(seed), rows, cols)
    _write_gguf(tmp / "p.gguf", [("w", f, qtype)])
    res = import_gguf(tmp / "p.gguf", tmp / "p.yaml")
    with np.load(res.npz_path) as z:
        np.testing.assert_array_equal(z["w"], t)
        np.testing.assert_array_equal(z["w__scales"], s)


# --------------------------------------------------------------------------- command line


def test_cli_import_gguf_then_sim(tmp_path, capsys):
    """`hwgen import-gguf` writes a model that `hwgen sim` runs; its outputs equal the golden
    matmul of the original ternary matrices."""
    from hwgen.cli import main
    rng = np.random.default_rng(7)
    ta, _, fa = _ternary_with_scales(rng, 256, 512)
    tb, _, fb = _ternary_with_scales(rng, 4, 256)
    _write_gguf(tmp_path / "c.gguf", [("blk.0.up", fa, QT.TQ1_0), ("blk.0.down", fb, QT.TQ2_0)])
    assert main(["import-gguf", str(tmp_path / "c.gguf"), "-o", str(tmp_path / "m.yaml"), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["layers"] == ["blk_0_up", "blk_0_down"]
    x = rng.integers(-128, 128, (3, 512)).astype(np.int8)
    np.save(tmp_path / "x.npy", x)
    assert main(["sim", str(tmp_path / "m.yaml"), "--input", str(tmp_path / "x.npy"),
                 "--output", str(tmp_path / "y.npy")]) == 0
    y = np.load(tmp_path / "y.npy")
    shift = _load_yaml(tmp_path / "m.yaml")["layers"][0]["requant"]["shift"]
    hidden = np.clip((x.astype(np.int64) @ ta.T.astype(np.int64)) >> shift, -128, 127)
    np.testing.assert_array_equal(y, hidden @ tb.T.astype(np.int64))


def test_cli_import_safetensors_and_errors(tmp_path, capsys):
    from hwgen.cli import main
    w = np.array([[0.9, -0.05, -1.2], [0.0, 0.4, -0.3]], np.float32)
    safetensors_numpy.save_file({"fc.weight": w}, str(tmp_path / "w.safetensors"))
    assert main(["import-safetensors", str(tmp_path / "w.safetensors"), "-o", str(tmp_path / "m.yaml")]) == 0
    # absmean: scale = mean|w| = 2.85 / 6 = 0.475; w / scale rounded and clipped:
    # [[1.89, -0.11, -2.53], [0, 0.84, -0.63]] -> [[1, 0, -1], [0, 1, -1]]
    with np.load(tmp_path / "m.npz") as npz:
        np.testing.assert_array_equal(npz["fc_weight"], [[1, 0, -1], [0, 1, -1]])
    capsys.readouterr()
    assert main(["import-gguf", str(tmp_path / "missing.gguf"), "-o", str(tmp_path / "x.yaml")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "missing.gguf" in err[0]
    assert not (tmp_path / "x.yaml").exists()
