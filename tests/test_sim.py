"""The cycle-accurate simulator against the golden model, hand-computed vectors and schedules,
and the plan's layout (padding, input packing, weight-memory encoding)."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hwgen.golden import golden
from hwgen.plan import Plan
from hwgen.sim import Simulator, decode_weight_memory

# ---------------------------------------------------------------------------------------------
# 1. property: simulator == golden model
# ---------------------------------------------------------------------------------------------

engines = st.one_of(
    st.fixed_dictionaries({"kind": st.just("tlmm"), "group": st.sampled_from([2, 3, 4]),
                           "tables": st.integers(1, 6), "columns": st.integers(1, 12),
                           "read_ports": st.integers(1, 4)}),
    st.fixed_dictionaries({"kind": st.just("addertree"), "lanes": st.integers(1, 16),
                           "columns": st.integers(1, 12)}),
)
FILLS = st.sampled_from([None, None, None, 0, 1, -1])     # random, or all-zero / all +1 / all -1


@st.composite
def cases(draw):
    engine = draw(engines)
    n = draw(st.integers(1, 3))
    sizes = draw(st.lists(st.integers(1, 70), min_size=n + 1, max_size=n + 1))
    fills = draw(st.lists(FILLS, min_size=n, max_size=n))
    requants = [(draw(st.integers(0, 12)), draw(st.booleans())) for _ in range(n)]
    if draw(st.booleans()):
        requants[-1] = None                                  # last layer: output: acc
    batch = draw(st.integers(1, 4))
    x_kind = draw(st.sampled_from(["random", "random", "min", "max", "extremes"]))
    seed = draw(st.integers(0, 2**32 - 1))
    return engine, sizes, fills, requants, batch, x_kind, seed


def _inputs(rng, batch, features, kind):
    if kind == "min":
        return np.full((batch, features), -128, dtype=np.int8)
    if kind == "max":
        return np.full((batch, features), 127, dtype=np.int8)
    if kind == "extremes":
        return rng.choice(np.array([-128, 127], dtype=np.int8), (batch, features))
    return rng.integers(-128, 128, (batch, features)).astype(np.int8)


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=cases())
def test_simulator_matches_golden(make_model, case):
    engine, sizes, fills, requants, batch, x_kind, seed = case
    rng = np.random.default_rng(seed)
    weights = []
    for k, m, fill in zip(sizes[:-1], sizes[1:], fills):
        w = np.full((m, k), fill, dtype=np.int8) if fill is not None else rng.integers(-1, 2, (m, k)).astype(np.int8)
        weights.append(w)
    model = make_model(engine, sizes, weights=weights, requants=requants)
    x = _inputs(rng, batch, sizes[0], x_kind)

    want = golden(model, x)
    got = Simulator(model).run(x).outputs
    expected_dtype = np.int32 if requants[-1] is None else np.int8
    assert want.dtype == expected_dtype
    assert got.dtype == expected_dtype
    assert got.shape == (batch, sizes[-1])
    np.testing.assert_array_equal(got, want)


# ---------------------------------------------------------------------------------------------
# 2. hand-computed vectors (golden AND simulator against literals)
# ---------------------------------------------------------------------------------------------

SMALL_ENGINES = [
    {"kind": "tlmm", "group": 2, "tables": 1, "columns": 1},
    {"kind": "tlmm", "group": 3, "tables": 4, "columns": 8},
    {"kind": "tlmm", "group": 4, "tables": 2, "columns": 3},
    {"kind": "addertree", "lanes": 2, "columns": 1},
    {"kind": "addertree", "lanes": 16, "columns": 5},
]


def _both(model, x):
    x = np.asarray(x, dtype=np.int8)
    return golden(model, x), Simulator(model).run(x).outputs


@pytest.mark.parametrize("engine", SMALL_ENGINES, ids=lambda e: "-".join(str(v) for v in e.values()))
class TestHandVectors:
    W = [[1, 0, -1], [1, 1, 1]]
    X = [[10, 20, -5]]

    def test_acc(self, make_model, engine):
        # [1*10 + 0*20 - 1*(-5), 10 + 20 - 5] = [15, 25]
        m = make_model(engine, [3, 2], weights=[self.W], requants=[None])
        for y in _both(m, self.X):
            assert y.dtype == np.int32
            assert y.tolist() == [[15, 25]]

    def test_requant_shift2_relu(self, make_model, engine):
        # 15 >> 2 = 3, 25 >> 2 = 6
        m = make_model(engine, [3, 2], weights=[self.W], requants=[(2, True)])
        for y in _both(m, self.X):
            assert y.dtype == np.int8
            assert y.tolist() == [[3, 6]]

    def test_saturation(self, make_model, engine):
        # 8 inputs of 125: row of +1 -> acc 1000, row of -1 -> acc -1000, row of 0 -> 0
        w = [[1] * 8, [-1] * 8, [0] * 8]
        x = [[125] * 8]
        m = make_model(engine, [8, 3], weights=[w], requants=[None])
        for y in _both(m, x):
            assert y.tolist() == [[1000, -1000, 0]]
        m = make_model(engine, [8, 3], weights=[w], requants=[(0, False)])
        for y in _both(m, x):
            assert y.tolist() == [[127, -128, 0]]            # saturated to int8
        m = make_model(engine, [8, 3], weights=[w], requants=[(0, True)])
        for y in _both(m, x):
            assert y.tolist() == [[127, 0, 0]]               # ReLU after saturation

    def test_shift_rounds_toward_minus_infinity(self, make_model, engine):
        # acc = [-5, 5, -1, -8]; >> 1: floor(-2.5) = -3, floor(2.5) = 2, floor(-0.5) = -1, -4
        w = [[1], [-1], [0], [0]]
        m = make_model(engine, [1, 4], weights=[w], requants=[(1, False)])
        for y in _both(m, [[-5]]):
            assert y.tolist() == [[-3, 2, 0, 0]]
        w = [[1, 0], [0, 1]]
        m = make_model(engine, [2, 2], weights=[w], requants=[(1, False)])
        for y in _both(m, [[-1, -8]]):
            assert y.tolist() == [[-1, -4]]

    def test_two_layers(self, make_model, engine):
        # layer 0: acc [15, 25] -> >>2, relu -> [3, 6]; layer 1 W = [[1, -1], [-1, -1]] -> [-3, -9]
        m = make_model(engine, [3, 2, 2], weights=[self.W, [[1, -1], [-1, -1]]],
                       requants=[(2, True), None])
        for y in _both(m, self.X):
            assert y.tolist() == [[-3, -9]]


# ---------------------------------------------------------------------------------------------
# 3. cycle counts against hand-computed schedules (plan.py docstring)
#
# layer = build + (chunks - 1) * period + blocks + DRAIN,  period = max(blocks, build, MIN_PERIOD)
# vector = input_chunks + sum(layers) + (OUTPUT_LATENCY - DRAIN)
# batch B: B * (input_chunks + sum(layers)) + (OUTPUT_LATENCY - DRAIN)
# with DRAIN = 5, MIN_PERIOD = 3, OUTPUT_LATENCY - DRAIN = 1 (hwgen/engine.py: DOT_STAGES = 2),
# tlmm build = entries = (3**G + 1) / 2: G=2 -> 5, G=3 -> 14, G=4 -> 41; addertree build = 0.
# ---------------------------------------------------------------------------------------------

def _check_cycles(model, per_batch, layer_cycles):
    plan = Plan(model)
    assert plan.layer_cycles() == layer_cycles
    sim = Simulator(model)
    rng = np.random.default_rng(0)
    for batch, cycles in per_batch.items():
        x = rng.integers(-128, 128, (batch, model.in_features)).astype(np.int8)
        r = sim.run(x)
        assert r.cycles == cycles
        assert plan.total_cycles(batch) == cycles
        assert r.layer_cycles == layer_cycles


def test_cycles_tlmm_one_layer(make_model):
    # tlmm G=3 T=4 N=8, 64 -> 10: lanes 12, chunks ceil(64/12) = 6, blocks ceil(10/8) = 2,
    # build 14, period max(2, 14, 3) = 14; layer = 14 + 5*14 + 2 + 5 = 91; vector = 6 + 91 + 1 = 98;
    # batch 3: 3 * (6 + 91) + 1 = 292
    m = make_model({"kind": "tlmm", "group": 3, "tables": 4, "columns": 8}, [64, 10],
                   np.random.default_rng(1))
    _check_cycles(m, {1: 98, 3: 292}, [91])


def test_cycles_tlmm_many_blocks(make_model):
    # tlmm G=2 T=3 N=2, 13 -> 20: lanes 6, chunks ceil(13/6) = 3, blocks 10, build 5,
    # period max(10, 5, 3) = 10; layer = 5 + 2*10 + 10 + 5 = 40; vector = 3 + 40 + 1 = 44;
    # batch 2: 2 * (3 + 40) + 1 = 87
    m = make_model({"kind": "tlmm", "group": 2, "tables": 3, "columns": 2}, [13, 20],
                   np.random.default_rng(2))
    _check_cycles(m, {1: 44, 2: 87}, [40])


def test_cycles_tlmm_g4(make_model):
    # tlmm G=4 T=1 N=3, 9 -> 7: lanes 4, chunks 3, blocks 3, build 41, period 41;
    # layer = 41 + 2*41 + 3 + 5 = 131; vector = 3 + 131 + 1 = 135
    m = make_model({"kind": "tlmm", "group": 4, "tables": 1, "columns": 3}, [9, 7],
                   np.random.default_rng(3), requants=[(0, False)])
    _check_cycles(m, {1: 135, 5: 5 * 134 + 1}, [131])


def test_cycles_addertree_one_layer(make_model):
    # addertree lanes 8 N=4, 20 -> 30: chunks ceil(20/8) = 3, blocks ceil(30/4) = 8, build 0,
    # period max(8, 0, 3) = 8; layer = 0 + 2*8 + 8 + 5 = 29; vector = 3 + 29 + 1 = 33;
    # batch 4: 4 * 32 + 1 = 129
    m = make_model({"kind": "addertree", "lanes": 8, "columns": 4}, [20, 30], np.random.default_rng(4))
    _check_cycles(m, {1: 33, 4: 129}, [29])


def test_cycles_addertree_min_period(make_model):
    # addertree lanes 16 N=12, 40 -> 5: chunks 3, blocks 1, period max(1, 0, 3) = 3;
    # layer = 0 + 2*3 + 1 + 5 = 12; vector = 3 + 12 + 1 = 16
    m = make_model({"kind": "addertree", "lanes": 16, "columns": 12}, [40, 5], np.random.default_rng(5))
    _check_cycles(m, {1: 16, 2: 2 * 15 + 1}, [12])


def test_cycles_tlmm_two_layers(make_model):
    # tlmm G=3 T=4 N=8 (lanes 12), 64 -> 10 -> 5.
    # Layout: subchunks = ceil(8/12) = 1, row_lanes = 12, blocks_per_row = 12 // 8 = 1.
    # Layer 0: 91 cycles (as above). Its 10 outputs in 2 blocks:
    #   block 0 = features 0..7 -> row 0, lanes 0..7;  block 1 = features 8, 9 -> row 1, lanes 0, 1.
    # Layer 1 reads one chunk per row: chunk 0 = [0..7, -, -, -, -], chunk 1 = [8, 9, -, ...]
    #   -> 2 chunks (not ceil(10/12) = 1), blocks 1, period max(1, 14, 3) = 14;
    #   layer = 14 + 1*14 + 1 + 5 = 34.
    # vector = 6 + 91 + 34 + 1 = 132; batch 2: 2 * 131 + 1 = 263
    m = make_model({"kind": "tlmm", "group": 3, "tables": 4, "columns": 8}, [64, 10, 5],
                   np.random.default_rng(6))
    _check_cycles(m, {1: 132, 2: 263}, [91, 34])
    assert Plan(m).layers[1].in_map.tolist() == [[0, 1, 2, 3, 4, 5, 6, 7, -1, -1, -1, -1],
                          [8, 9, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1]]


def test_cycles_addertree_two_blocks_per_row(make_model):
    # addertree lanes 8 N=3, 20 -> 10 -> 4.
    # Layout: subchunks = ceil(3/8) = 1, row_lanes = 8, blocks_per_row = 8 // 3 = 2.
    # Layer 0: chunks 3, blocks ceil(10/3) = 4, period max(4, 0, 3) = 4; layer = 0 + 2*4 + 4 + 5 = 17.
    # Its outputs: block b -> row b // 2, lane (b % 2) * 3:
    #   block 0 (0, 1, 2) -> row 0 lanes 0-2; block 1 (3, 4, 5) -> row 0 lanes 3-5;
    #   block 2 (6, 7, 8) -> row 1 lanes 0-2; block 3 (9)       -> row 1 lane 3.
    # Layer 1: 2 chunks, blocks ceil(4/3) = 2, period max(2, 0, 3) = 3; layer = 0 + 1*3 + 2 + 5 = 10.
    # vector = 3 + 17 + 10 + 1 = 31; batch 4: 4 * 30 + 1 = 121
    m = make_model({"kind": "addertree", "lanes": 8, "columns": 3}, [20, 10, 4], np.random.default_rng(7))
    _check_cycles(m, {1: 31, 4: 121}, [17, 10])
    assert Plan(m).layers[1].in_map.tolist() == [[0, 1, 2, 3, 4, 5, -1, -1],
                                                 [6, 7, 8, 9, -1, -1, -1, -1]]


def test_cycles_addertree_subchunks(make_model):
    # addertree lanes 2 N=5, 7 -> 6 -> 3 -> 2.
    # Layout: subchunks = ceil(5/2) = 3, row_lanes = 6, blocks_per_row = 1.
    # Layer 0: chunks ceil(7/2) = 4, blocks 2, period max(2, 0, 3) = 3; layer = 0 + 3*3 + 2 + 5 = 16.
    #   outputs: block 0 (0..4) -> row 0 lanes 0-4; block 1 (5) -> row 1 lane 0.
    # Layer 1 reads chunk c = row c // 3, lanes 2*(c % 3) .. +1:
    #   chunk 0 = [0, 1], chunk 1 = [2, 3], chunk 2 = [4, -], chunk 3 = [5, -]  -> 4 chunks,
    #   blocks 1, period 3; layer = 0 + 3*3 + 1 + 5 = 15.  outputs 0..2 -> row 0 lanes 0-2.
    # Layer 2: chunk 0 = [0, 1], chunk 1 = [2, -] -> 2 chunks, blocks 1; layer = 0 + 1*3 + 1 + 5 = 9.
    # vector = 4 + 16 + 15 + 9 + 1 = 45; batch 3: 3 * 44 + 1 = 133
    m = make_model({"kind": "addertree", "lanes": 2, "columns": 5}, [7, 6, 3, 2], np.random.default_rng(8))
    _check_cycles(m, {1: 45, 3: 133}, [16, 15, 9])
    plan = Plan(m)
    assert plan.layers[1].in_map.tolist() == [[0, 1], [2, 3], [4, -1], [5, -1]]
    assert plan.layers[2].in_map.tolist() == [[0, 1], [2, -1]]


def test_cycles_digits(digits_yaml):
    # digits: tlmm G=3 T=4 N=8, 64 -> 64 -> 10.
    # fc1: chunks 6, blocks 8, period max(8, 14, 3) = 14; 14 + 5*14 + 8 + 5 = 97.
    # fc2: 8 blocks of layer fc1 -> rows 0..7 (blocks_per_row 1) -> 8 chunks, blocks 2, period 14;
    #      14 + 7*14 + 2 + 5 = 119.   vector = 6 + 97 + 119 + 1 = 223
    from hwgen.model import load_model
    _check_cycles(load_model(digits_yaml), {1: 223, 2: 2 * 222 + 1}, [97, 119])


# ---------------------------------------------------------------------------------------------
# 4. the plan's layout: padding, input packing, weight-memory encoding
# ---------------------------------------------------------------------------------------------

LAYOUT_CASES = [
    ({"kind": "tlmm", "group": 3, "tables": 4, "columns": 8}, [64, 10, 5]),
    ({"kind": "tlmm", "group": 2, "tables": 3, "columns": 2}, [13, 20, 7]),
    ({"kind": "tlmm", "group": 4, "tables": 2, "columns": 5}, [17, 11, 3]),
    ({"kind": "tlmm", "group": 3, "tables": 1, "columns": 7}, [5, 23, 9, 2]),
    ({"kind": "addertree", "lanes": 8, "columns": 3}, [20, 10, 4]),
    ({"kind": "addertree", "lanes": 2, "columns": 5}, [7, 6, 3, 2]),
]
LAYOUT_IDS = [f"{e['kind']}-{'x'.join(map(str, s))}-{i}" for i, (e, s) in enumerate(LAYOUT_CASES)]


def _nonzero_model(make_model, engine, sizes, seed):
    """Weights with no zeros, so a zero in the plan can only come from padding."""
    rng = np.random.default_rng(seed)
    ws = [rng.choice(np.array([-1, 1], dtype=np.int8), (m, k)) for k, m in zip(sizes[:-1], sizes[1:])]
    return make_model(engine, sizes, weights=ws)


@pytest.mark.parametrize("engine, sizes", LAYOUT_CASES, ids=LAYOUT_IDS)
def test_padding_and_weight_permutation(make_model, engine, sizes):
    m = _nonzero_model(make_model, engine, sizes, 11)
    plan = Plan(m)
    for lp, layer in zip(plan.layers, m.layers):
        w = lp.weights                                   # (chunks, lanes, blocks * columns)
        pad = lp.in_map == -1
        assert (w[pad] == 0).all()                       # padded input positions: zero weights
        assert (w[:, :, layer.out_features:] == 0).all()  # padded output columns: zero weights
        # every real feature sits at exactly one position, with its own weight column
        feats = lp.in_map[~pad]
        assert sorted(feats.tolist()) == list(range(layer.in_features))
        c, p = np.nonzero(~pad)
        np.testing.assert_array_equal(w[c, p, :layer.out_features], layer.weights.T[lp.in_map[c, p]])


@pytest.mark.parametrize("engine, sizes", LAYOUT_CASES, ids=LAYOUT_IDS)
def test_pack_input_round_trip(make_model, engine, sizes):
    m = make_model(engine, sizes, np.random.default_rng(12))
    plan = Plan(m)
    rng = np.random.default_rng(13)
    x = rng.integers(-128, 128, (3, sizes[0])).astype(np.int8)
    beats = plan.pack_input(x)
    lanes = plan.engine.lanes
    # the input streams in order: chunk c holds features c*lanes .. c*lanes + lanes - 1
    assert beats.shape == (3, -(-sizes[0] // lanes), lanes)
    flat = beats.reshape(3, -1)
    np.testing.assert_array_equal(flat[:, :sizes[0]], x)
    assert (flat[:, sizes[0]:] == 0).all()
    m0 = plan.layers[0].in_map
    np.testing.assert_array_equal(beats[:, m0 >= 0], x[:, m0[m0 >= 0]])


MAG_BITS = {2: 3, 3: 4, 4: 6}   # max |v| = (3**G - 1) / 2 = 4, 13, 40


def _balanced_index(digits, mag_bits):
    """TLMM index of one group of ternary weights w_0..w_{G-1}: v = sum w_i 3^i, sign above |v|."""
    v = 0
    for i, w in enumerate(digits):
        v += int(w) * 3 ** i
    return abs(v) | ((1 if v < 0 else 0) << mag_bits)


@pytest.mark.parametrize("engine, sizes", [c for c in LAYOUT_CASES if c[0]["kind"] == "tlmm"],
                         ids=[i for i, c in zip(LAYOUT_IDS, LAYOUT_CASES) if c[0]["kind"] == "tlmm"])
def test_weight_memory_decode_tlmm(make_model, engine, sizes):
    m = make_model(engine, sizes, np.random.default_rng(14))
    plan = Plan(m)
    G, T, N = engine["group"], engine["tables"], engine["columns"]
    mb = MAG_BITS[G]
    for lp, layer in zip(plan.layers, m.layers):
        fields = decode_weight_memory(plan, lp)        # (chunks, blocks, columns, tables)
        assert fields.shape == (lp.chunks, lp.blocks, N, T)
        for c in range(lp.chunks):
            for b in range(lp.blocks):
                for n in range(N):
                    o = b * N + n                       # output feature
                    for t in range(T):
                        group = []
                        for i in range(G):
                            f = lp.in_map[c, t * G + i]
                            group.append(layer.weights[o, f] if (f >= 0 and o < layer.out_features) else 0)
                        assert fields[c, b, n, t] == _balanced_index(group, mb), (c, b, n, t, group)


def test_balanced_index_examples():
    # the reference itself, by hand: G=3, w = (1, -1, 1): v = 1 - 3 + 9 = 7 -> 7
    assert _balanced_index([1, -1, 1], 4) == 7
    # w = (-1, 0, -1): v = -1 - 9 = -10 -> 10 | 1 << 4 = 26
    assert _balanced_index([-1, 0, -1], 4) == 26
    # G=4 all -1: v = -40 -> 40 | 64 = 104
    assert _balanced_index([-1, -1, -1, -1], 6) == 104


@pytest.mark.parametrize("engine, sizes", [c for c in LAYOUT_CASES if c[0]["kind"] == "addertree"],
                         ids=[i for i, c in zip(LAYOUT_IDS, LAYOUT_CASES) if c[0]["kind"] == "addertree"])
def test_weight_memory_decode_addertree(make_model, engine, sizes):
    m = make_model(engine, sizes, np.random.default_rng(15))
    plan = Plan(m)
    N, L = engine["columns"], engine["lanes"]
    code = {0: 0, 1: 1, -1: 3}                          # 2-bit two's complement
    for lp, layer in zip(plan.layers, m.layers):
        fields = decode_weight_memory(plan, lp)        # (chunks, blocks, columns, lanes)
        assert fields.shape == (lp.chunks, lp.blocks, N, L)
        for c in range(lp.chunks):
            for b in range(lp.blocks):
                for n in range(N):
                    o = b * N + n
                    for x in range(L):
                        f = lp.in_map[c, x]
                        w = layer.weights[o, f] if (f >= 0 and o < layer.out_features) else 0
                        assert fields[c, b, n, x] == code[int(w)]
