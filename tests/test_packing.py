"""Tests for hwgen.packing: round trips, sizes, hand vectors, llama.cpp layouts vs gguf."""

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

from hwgen import packing
from hwgen.packing import FORMATS

gguf = pytest.importorskip("gguf")
from gguf import GGMLQuantizationType as QT  # noqa: E402
from gguf import quants  # noqa: E402

FAST = settings(max_examples=25, deadline=None)
TERNARY = st.sampled_from([-1, 0, 1])


@st.composite
def ternary_arrays(draw, block=1, sherry=False):
    """Flat or 2-D int8 ternary arrays; for block > 1 the row length is a multiple of block."""
    two_d = draw(st.booleans())
    if block > 1:
        cols = block * draw(st.integers(0 if not two_d else 1, 3 if block >= 256 else 12))
        rows = draw(st.integers(1, 3)) if two_d else None
    else:
        cols = draw(st.integers(0, 70))
        rows = draw(st.integers(1, 4)) if two_d else None
    shape = (rows, cols) if two_d else (cols,)
    if sherry:
        ngroups = int(np.prod(shape)) // 4
        pos = draw(hnp.arrays(np.int64, ngroups, elements=st.integers(0, 3)))
        sign = draw(hnp.arrays(np.int8, (ngroups, 4), elements=st.sampled_from([-1, 1])))
        g = sign.copy()
        g[np.arange(ngroups), pos] = 0
        return g.reshape(shape)
    return draw(hnp.arrays(np.int8, shape, elements=TERNARY))


def _one_line_value_error(fn, *args, **kw):
    with pytest.raises(ValueError) as ei:
        fn(*args, **kw)
    assert "\n" not in str(ei.value) and str(ei.value)
    return str(ei.value)


# --------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("name", sorted(FORMATS))
@FAST
@given(data=st.data())
def test_round_trip(name, data):
    fmt = FORMATS[name]
    w = data.draw(ternary_arrays(block=fmt.block, sherry=(name == "sherry")))
    packed = fmt.pack(w)
    assert packed.dtype == np.uint8 and packed.ndim == 1
    assert packed.size == fmt.packed_size(w.size)
    out = fmt.unpack(packed, w.size)
    assert out.dtype == np.int8
    np.testing.assert_array_equal(out, w.ravel())
    # bytes input works too
    np.testing.assert_array_equal(fmt.unpack(packed.tobytes(), w.size), w.ravel())


@pytest.mark.parametrize("name", ["tq1_0", "tq2_0"])
@FAST
@given(data=st.data())
def test_round_trip_with_scales(name, data):
    fmt = FORMATS[name]
    w = data.draw(ternary_arrays(block=256))
    nb = w.size // 256
    scales = data.draw(hnp.arrays(np.float16, nb, elements=st.floats(-1000, 1000, width=16)))
    out, s = fmt.unpack_with_scales(fmt.pack(w, scales), w.size)
    np.testing.assert_array_equal(out, w.ravel())
    assert s.dtype == np.float32
    np.testing.assert_array_equal(s, scales.astype(np.float32))
    # module-level functions return (weights, scales) as well
    mod = getattr(packing, f"unpack_{name}")(getattr(packing, f"pack_{name}")(w, scales), w.size)
    np.testing.assert_array_equal(mod[0], w.ravel())


def test_default_scale_is_one():
    w = np.zeros(256, np.int8)
    for name in ("tq1_0", "tq2_0"):
        _, s = FORMATS[name].unpack_with_scales(FORMATS[name].pack(w), 256)
        assert s.tolist() == [1.0]
    assert FORMATS["2bit"].unpack_with_scales(FORMATS["2bit"].pack(w), 256)[1] is None


# --------------------------------------------------------------------------- sizes


DOCUMENTED_BPW = {"2bit": Fraction(2), "tq2_0": Fraction(66 * 8, 256), "trit5": Fraction(8, 5),
                  "tq1_0": Fraction(54 * 8, 256), "tlmm4": Fraction(2), "tlmm5": Fraction(5, 3),
                  "tlmm7": Fraction(7, 4), "sherry": Fraction(5, 4)}


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_bits_per_weight(name):
    assert set(FORMATS) == set(DOCUMENTED_BPW)
    fmt = FORMATS[name]
    n = 3840  # a multiple of 256, 3, 4, 5 and 32: every format packs with no padding
    rng = np.random.default_rng(1)
    w = rng.integers(-1, 2, n).astype(np.int8)
    if name == "sherry":
        w = packing.enforce_3_4(w, rng.normal(size=n))
    measured = Fraction(len(fmt.pack(w)) * 8, n)
    assert measured == DOCUMENTED_BPW[name]
    assert fmt.bits_per_weight == pytest.approx(float(DOCUMENTED_BPW[name]), abs=1e-12)


def test_reference_bpw_figures():
    assert FORMATS["tq2_0"].bits_per_weight == 2.0625
    assert FORMATS["tq1_0"].bits_per_weight == 1.6875
    assert FORMATS["trit5"].bits_per_weight == 1.6
    assert FORMATS["sherry"].bits_per_weight == 1.25
    assert round(FORMATS["tlmm5"].bits_per_weight, 2) == 1.67


# --------------------------------------------------------------------------- llama.cpp layouts vs gguf


def _scaled(w, scales):
    return (w.reshape(-1, 256).astype(np.float32) * scales.astype(np.float32)[:, None]).reshape(w.shape)


@pytest.mark.parametrize("name,qtype", [("tq1_0", QT.TQ1_0), ("tq2_0", QT.TQ2_0)])
@settings(max_examples=20, deadline=None)
@given(data=st.data())
def test_tq_layout_matches_gguf(name, qtype, data):
    rows = data.draw(st.integers(1, 3))
    cols = 256 * data.draw(st.integers(1, 3))
    w = data.draw(hnp.arrays(np.int8, (rows, cols), elements=TERNARY))
    nb = rows * cols // 256
    scales = data.draw(hnp.arrays(np.float16, nb, elements=st.floats(2.0 ** -10, 100, width=16)))
    ours = FORMATS[name].pack(w, scales)
    # gguf dequantizes our bytes to the same float matrix
    deq = quants.dequantize(ours.reshape(rows, -1), qtype)
    np.testing.assert_array_equal(deq, _scaled(w, scales))
    # and gguf's quantizer produces our bytes (blocks with a non-zero weight: gguf stores
    # d = max|block|, which is our scale; all-zero blocks get d = 0 there)
    ref = quants.quantize(_scaled(w, scales).astype(np.float32), qtype).reshape(nb, -1)
    mine = ours.reshape(nb, -1)
    live = np.abs(w.reshape(nb, 256)).max(axis=1) > 0
    np.testing.assert_array_equal(mine[live], ref[live])
    np.testing.assert_array_equal(mine[~live, :-2], ref[~live, :-2])
    # and unpacking gguf's bytes gives back the weights
    back, s = FORMATS[name].unpack_with_scales(ref.ravel(), rows * cols)
    np.testing.assert_array_equal(back, w.ravel())
    np.testing.assert_array_equal(s[live], scales[live].astype(np.float32))


def test_tq1_0_every_five_trit_byte():
    """All 243 base-3 values in the qs[0..31] bytes decode as gguf decodes them."""
    combos = np.array(np.unravel_index(np.arange(256) % 243, (3,) * 5)).T - 1  # (256, 5), trit n=0 first
    nb = 8
    w = np.zeros((nb, 256), np.int8)
    for b in range(nb):
        c = combos[32 * b: 32 * b + 32]          # 32 bytes m, trits n
        w[b, :160] = c.T.ravel()                  # weight m + 32n
    packed = packing.pack_tq1_0(w)
    np.testing.assert_array_equal(quants.dequantize(packed.reshape(nb, 54), QT.TQ1_0), w)
    # qs byte = ceil(q * 256 / 243) with trit n = 0 the most significant digit
    q = ((combos + 1) * np.array([81, 27, 9, 3, 1])).sum(axis=1)
    np.testing.assert_array_equal(packed.reshape(nb, 54)[:, :32].ravel(), -(-q * 256 // 243))


def test_tq2_0_hand_layout():
    w = np.zeros(256, np.int8)
    w[1 + 32 * 2] = 1       # half 0, byte 1, bits 4..5 -> code 2
    w[128 + 5 + 32 * 3] = -1  # half 1, byte 5, bits 6..7 -> code 0
    b = packing.pack_tq2_0(w, [0.5])
    zero = 0b01010101
    assert b[1] == zero & ~(3 << 4) | (2 << 4)
    assert b[32 + 5] == zero & ~(3 << 6)
    assert b[0] == zero and b.size == 66
    assert b[64:66].view("<f2")[0] == 0.5


# --------------------------------------------------------------------------- hand vectors


def test_2bit_hand_vector():
    assert packing.pack_2bit(np.array([-1, 0, 1, 1], np.int8)).tolist() == [0 | 1 << 2 | 2 << 4 | 2 << 6]
    assert packing.pack_2bit(np.array([1], np.int8)).tolist() == [0b01010110]  # padding = weight 0


def test_trit5_hand_vector():
    # byte = sum (w_k + 1) 3^k
    assert packing.pack_trit5(np.array([1, 0, -1, 0, 0], np.int8)).tolist() == [2 + 3 + 0 + 27 + 81]
    assert packing.pack_trit5(np.array([1, 1, 1, 1, 1, -1], np.int8)).tolist() == [242, 0 + 3 + 9 + 27 + 81]


@pytest.mark.parametrize("group,w,code", [
    (3, (1, 0, -1), 0b11000),        # v = 1 - 9 = -8 -> sign 1, |v| 8
    (3, (1, 1, 1), 13),
    (3, (-1, -1, -1), 0b11101),
    (3, (0, 0, 0), 0),
    (3, (0, 1, 0), 3),
    (3, (-1, 0, 1), 8),              # v = -1 + 9 = 8
    (2, (1, 1), 4),
    (2, (-1, -1), 0b1100),
    (2, (1, -1), 0b1010),            # v = 1 - 3 = -2
    (4, (1, 1, 1, 1), 40),
    (4, (0, 0, 0, -1), 0b1011011),   # v = -27
])
def test_tlmm_index_hand_vectors(group, w, code):
    w = np.array(w, np.int8)
    assert packing.tlmm_index(w, group).tolist() == [code]
    assert packing.tlmm_decode(np.array([code]), group).tolist() == list(w)
    assert packing.tlmm_index_bits(group) == {2: 4, 3: 5, 4: 7}[group]


def test_tlmm_values_and_padding_per_row():
    w = np.array([[1, 0, -1, 1], [0, 0, 0, -1]], np.int8)
    assert packing.tlmm_values(w, 3).tolist() == [[-8, 1], [0, -1]]
    idx = packing.tlmm_index(w, 3)
    assert idx.shape == (2, 2)
    assert packing.tlmm_decode(idx, 3).tolist() == [[1, 0, -1, 1, 0, 0], [0, 0, 0, -1, 0, 0]]
    assert packing.tlmm_index(np.zeros((2, 0), np.int8), 3).shape == (2, 0)
    assert packing.tlmm_decode(np.zeros((2, 0), np.uint8), 3).shape == (2, 0)


@pytest.mark.parametrize("group", [2, 3, 4])
def test_tlmm_exhaustive(group):
    codes = np.arange(3 ** group)
    w = (np.array(np.unravel_index(codes, (3,) * group)).T - 1).astype(np.int8)
    v = packing.tlmm_values(w, group)
    assert sorted(v[:, 0].tolist()) == list(range(-(3 ** group - 1) // 2, (3 ** group - 1) // 2 + 1))
    np.testing.assert_array_equal(v[:, 0], (w * 3 ** np.arange(group)).sum(axis=1))
    idx = packing.tlmm_index(w, group)
    assert idx.max() < 2 ** packing.tlmm_index_bits(group)
    np.testing.assert_array_equal(packing.tlmm_decode(idx, group), w)


def test_tlmm5_bit_stream():
    # codes 24 then 13, 5 bits each, little-endian: 24 | 13 << 5 = 440 -> bytes 184, 1
    assert packing.pack_tlmm(np.array([1, 0, -1, 1, 1, 1], np.int8), 3).tolist() == [184, 1]
    assert FORMATS["tlmm5"].pack(np.array([1, 0, -1, 1, 1, 1], np.int8)).tolist() == [184, 1]


def test_sherry_hand_vectors():
    w = np.array([0, 1, -1, 1, 1, 1, 1, 0, -1, 0, -1, -1], np.int8)
    # codes: pos 0 signs (+,-,+) -> 0b01000 = 8; pos 3 -> 3; pos 1 signs (-,-,-) -> 0b11101 = 29
    stream = 8 | 3 << 5 | 29 << 10
    assert packing.pack_sherry(w).tolist() == [stream & 0xFF, stream >> 8]
    np.testing.assert_array_equal(packing.unpack_sherry(packing.pack_sherry(w), 12), w)


def test_sherry_all_32_codes():
    data = packing._pack_bits(np.arange(32), 5)
    w = packing.unpack_sherry(data, 128).reshape(32, 4)
    assert ((w == 0).sum(axis=1) == 1).all()
    np.testing.assert_array_equal(packing.pack_sherry(w.ravel()), data)


# --------------------------------------------------------------------------- 3:4 sparsity


def test_check_3_4():
    w = np.array([[0, 1, 1, 1, 1, 1, 1, 1], [0, 0, 1, 1, -1, 0, 1, 1]], np.int8)
    r = packing.check_3_4(w)
    assert (r.groups, r.count, r.first, r.ok) == (4, 2, (1, 2), False)
    assert "2 of 4 groups" in str(r)
    assert packing.check_3_4(np.array([0, 1, 1, 1], np.int8)).ok


def test_enforce_3_4_rules():
    w = np.array([1, -1, 1, 1, 0, 0, 0, 1, 0, 1, -1, 1], np.int8)
    s = np.array([0.9, -0.2, 0.5, 0.7, -0.3, 0.1, 0.0, 0.8, 0.0, 0.5, -0.5, 0.5])
    e = packing.enforce_3_4(w, s)
    # group 0: smallest |score| at position 1 zeroed
    # group 1: zeros at 0,1,2 with |s| .3 .1 0 -> keep 2 as zero, 0 -> sign(-.3) = -1, 1 -> +1
    # group 2: already 3:4, unchanged
    assert e.tolist() == [1, 0, 1, 1, -1, 1, 0, 1, 0, 1, -1, 1]
    assert e.dtype == np.int8
    # without scores: a group with no zero gets position 0 zeroed; 2+ zeros raise
    assert packing.enforce_3_4(np.ones((2, 4), np.int8)).tolist() == [[0, 1, 1, 1]] * 2
    msg = _one_line_value_error(packing.enforce_3_4, np.array([1, 1, 1, 1, 0, 0, 1, 1], np.int8))
    assert "group 1" in msg
    # score 0 for a zero that must become non-zero -> +1
    assert packing.enforce_3_4(np.zeros(4, np.int8), np.array([0.0, 0.0, 0.0, 0.0])).tolist() == [0, 1, 1, 1]


@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_enforce_3_4_property(data):
    rows = data.draw(st.integers(1, 4))
    cols = 4 * data.draw(st.integers(1, 6))
    w = data.draw(hnp.arrays(np.int8, (rows, cols), elements=TERNARY))
    s = data.draw(hnp.arrays(np.float64, (rows, cols), elements=st.floats(-2, 2)))
    e = packing.enforce_3_4(w, s)
    assert e.shape == w.shape and packing.check_3_4(e).ok
    g, ge, gs = w.reshape(-1, 4), e.reshape(-1, 4), s.reshape(-1, 4)
    for a, b, sc in zip(g, ge, gs):
        nz = (a == 0).sum()
        if nz == 1:
            assert (a == b).all()
        elif nz == 0:
            p = int(np.argmin(np.abs(sc)))
            assert b[p] == 0 and (np.delete(a, p) == np.delete(b, p)).all()
        else:
            zeros = np.flatnonzero(a == 0)
            keep = zeros[np.argmin(np.abs(sc[zeros]))]
            assert b[keep] == 0
            for z in zeros:
                if z != keep:
                    assert b[z] == (1 if sc[z] >= 0 else -1)
            assert (b[a != 0] == a[a != 0]).all()
    np.testing.assert_array_equal(FORMATS["sherry"].unpack(FORMATS["sherry"].pack(e), e.size), e.ravel())


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_bad_weights(name):
    fmt = FORMATS[name]
    n = 256
    good = np.zeros(n, np.int8)
    if name == "sherry":
        good = np.tile(np.array([0, 1, 1, 1], np.int8), n // 4)
    bad = good.copy()
    bad[7] = 2
    assert "7" in _one_line_value_error(fmt.pack, bad)
    _one_line_value_error(fmt.pack, good.astype(np.float32))
    _one_line_value_error(fmt.pack, good.reshape(4, 8, 8))
    if not fmt.has_scales:
        _one_line_value_error(fmt.pack, good, scales=[1.0])
    packed = fmt.pack(good)
    _one_line_value_error(fmt.unpack, packed[:-1], n)
    _one_line_value_error(fmt.unpack, np.concatenate([packed, packed[:1]]), n)
    _one_line_value_error(fmt.unpack, packed, -1)
    _one_line_value_error(fmt.unpack, packed, 2.0)
    _one_line_value_error(fmt.unpack, packed.astype(np.int16), n)
    if fmt.block > 1:
        _one_line_value_error(fmt.pack, good[:-1])                      # length not a block multiple
        rows_not_blocked = np.zeros((2, 6 if fmt.block == 4 else 128), np.int8)
        assert "row length" in _one_line_value_error(fmt.pack, rows_not_blocked)
        _one_line_value_error(fmt.unpack, packed, n - 1)


def test_bad_scales():
    w = np.zeros(512, np.int8)
    for pack in (packing.pack_tq1_0, packing.pack_tq2_0):
        _one_line_value_error(pack, w, [1.0])
        _one_line_value_error(pack, w, [1.0, 1e6])
        _one_line_value_error(pack, w, [1.0, np.nan])


def test_invalid_codes():
    _one_line_value_error(packing.unpack_2bit, bytes([0xFF]), 4)
    assert packing.unpack_2bit(bytes([0b11000000]), 3).tolist() == [-1, -1, -1]  # padding ignored
    _one_line_value_error(packing.unpack_trit5, bytes([243]), 5)
    _one_line_value_error(packing.tlmm_decode, np.array([16]), 3)   # negative zero
    _one_line_value_error(packing.tlmm_decode, np.array([14]), 3)   # |v| > 13
    _one_line_value_error(packing.tlmm_decode, np.array([5]), 2)
    _one_line_value_error(packing.tlmm_index, np.array([1, 0, 1]), 6)
    bad_tq2 = np.zeros(66, np.uint8)
    bad_tq2[0] = 3
    _one_line_value_error(packing.unpack_tq2_0, bad_tq2, 256)


def test_sherry_pack_rejects_non_3_4():
    w = np.array([0, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1], np.int8)
    msg = _one_line_value_error(packing.pack_sherry, w)
    assert "group 1" in msg and "2 zeros" in msg
    _one_line_value_error(packing.pack_sherry, np.ones(6, np.int8))
