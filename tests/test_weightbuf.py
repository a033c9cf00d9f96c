"""Streamed weights: the memory: section, tiles, the WeightBuffer contract, the stream cycle model,
and the buffer planner (hand-computed counts, the TeLLMe preset, and Yosys's own counts).

The RTL against the cycle model runs in rtl_tests/test_weightbuf_rtl.py (Verilator).
"""

import json
import shutil
import subprocess
from math import ceil

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from hwgen.bufplan import (DEVICES, bitnet_projections, blocks, plan_buffer, tellme_buffer)
from hwgen.cli import main
from hwgen.engine import OUTPUT_LATENCY, EngineParams
from hwgen.golden import golden
from hwgen.model import load_model
from hwgen.plan import Plan
from hwgen.rtl.verilog import accelerator_verilog
from hwgen.sim import Simulator
from hwgen.streaming import (DramPattern, LayerTiles, MemoryParams, StreamModel, TilePlan,
                             tile_plan, weight_beats)

ENGINE = {"kind": "tlmm", "group": 3, "tables": 4, "columns": 8}
SIZES = [64, 64, 24]


def stream_model(make_model, engine=ENGINE, sizes=SIZES, seed=0, **memory):
    m = make_model(engine, sizes, np.random.default_rng(seed))
    return m.replace(memory=MemoryParams.from_mapping(dict(memory, weights="stream")))


# ---------------------------------------------------------------------------------------------
# the memory: section
# ---------------------------------------------------------------------------------------------

def _with_memory(memory, engine=None):
    def edit(doc):
        doc["memory"] = memory
        if engine is not None:
            doc["engine"] = engine
    return edit


BAD_MEMORY = [
    ("not_mapping", 5, "memory", ["must be a mapping"]),
    ("unknown_key", {"weights": "stream", "bandwidth": 3}, "memory.bandwidth", ["unknown key"]),
    ("weights_dram", {"weights": "dram"}, "memory.weights", ["rom, stream", "'dram'"]),
    ("bits_not_byte", {"weights": "stream", "dram_bits": 100}, "memory.dram_bits", ["multiple of 8", "100"]),
    ("bits_too_wide", {"weights": "stream", "dram_bits": 8192}, "memory.dram_bits", ["8192"]),
    ("bits_bool", {"weights": "stream", "dram_bits": True}, "memory.dram_bits", ["True"]),
    ("buffer_lutram", {"weights": "stream", "buffer": "lutram"}, "memory.buffer", ["auto, uram, bram, ebr"]),
    ("tile_zero", {"weights": "stream", "tile": 0}, "memory.tile", ["auto, chunk, layer"]),
    ("tile_name", {"weights": "stream", "tile": "row"}, "memory.tile", ["'row'"]),
    ("rom_with_bits", {"weights": "rom", "dram_bits": 64}, "memory.dram_bits", ["only with weights: stream"]),
]


@pytest.mark.parametrize("case", BAD_MEMORY, ids=lambda c: c[0])
def test_bad_memory_section(case, tmp_path, write_model, capsys):
    _, memory, field, words = case
    path = write_model(tmp_path / "m", ENGINE, [12, 10, 4], np.random.default_rng(0), edit=_with_memory(memory))
    out = tmp_path / "out"
    assert main(["build", str(path), "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert f"model.yaml: {field}: " in err, err
    for w in words:
        assert w in err, err
    assert not out.exists()


def test_stream_needs_a_memory_engine(tmp_path, write_model, capsys):
    path = write_model(tmp_path / "m", ENGINE, [12, 10, 4], np.random.default_rng(0),
                       edit=_with_memory({"weights": "stream"}, {"kind": "hardwired", "lanes": 4, "columns": 4}))
    assert main(["build", str(path), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert "memory.weights: weights: stream needs engine kind tlmm or addertree" in err


def test_memory_section_loads(tmp_path, write_model):
    path = write_model(tmp_path / "m", ENGINE, [12, 10, 4], np.random.default_rng(0),
                       edit=_with_memory({"weights": "stream", "dram_bits": 64, "buffer": "uram", "tile": 20}))
    m = load_model(path)
    assert m.memory == MemoryParams("stream", 64, "uram", 20)
    assert m.memory.ram_style == "ultra"
    assert m.replace(name="x").memory == m.memory
    path = write_model(tmp_path / "r", ENGINE, [12, 10, 4], np.random.default_rng(0), edit=_with_memory({}))
    assert load_model(path).memory == MemoryParams()                 # {} = weights: rom
    assert MemoryParams.from_mapping({"weights": "stream"}) == MemoryParams("stream", 128, "auto", "auto")


def test_rom_default_verilog_unchanged(tmp_path, write_model):
    """``memory: {weights: rom}`` is today's design, byte for byte; a stream model gets the ports."""
    rng = np.random.default_rng(3)
    plain = load_model(write_model(tmp_path / "a", ENGINE, [20, 9, 5], rng))
    rom = plain.replace(memory=MemoryParams())
    assert accelerator_verilog(Plan(rom)) == accelerator_verilog(Plan(plain))
    text = accelerator_verilog(Plan(plain.replace(memory=MemoryParams("stream", 64, "uram", "chunk"))))
    for decl in ("input [63:0] s_axis_weights_tdata;", "input s_axis_weights_tvalid;",
                 "output s_axis_weights_tready;"):
        assert decl in text
    assert '(* ram_style = "ultra" *)' in text


# ---------------------------------------------------------------------------------------------
# tiles and the stream format
# ---------------------------------------------------------------------------------------------

def test_tile_plans_by_hand(make_model):
    # tlmm G=3 T=4 N=8: 12 lanes; 64 -> 64 -> 24: layer 0 has 6 chunks x 8 blocks, layer 1 reads
    # rows of one block (12 // 8 = 1 block per row): 8 chunks x 3 blocks
    m = stream_model(make_model, tile=20)
    plan = Plan(m)
    assert [(lp.chunks, lp.blocks) for lp in plan.layers] == [(6, 8), (8, 3)]
    tp = tile_plan(plan)
    l0, l1 = tp.layers[0]
    assert (l0.chunks_per_tile, l0.tiles, l0.full_words, l0.last_words) == (2, 3, 16, 16)
    # at most 20 // 3 = 6 chunks per tile -> 2 tiles, spread evenly: 4 + 4 chunks
    assert (l1.chunks_per_tile, l1.tiles, l1.full_words, l1.last_words) == (4, 2, 12, 12)
    assert (tp.slot_words, tp.depth, tp.word_bits) == (16, 32, 160)
    assert tile_plan(plan, MemoryParams("stream", 64, "auto", 7)).layers[0][1].chunks_per_tile == 2
    assert tile_plan(plan, MemoryParams("stream", 64, "auto", "chunk")).slot_words == 8
    assert tile_plan(plan, MemoryParams("stream", 64, "auto", "layer")).slot_words == 48
    assert tile_plan(plan, MemoryParams("stream", 64, "auto", "auto")).slot_words == 48   # 1024 fits all
    assert tile_plan(plan, MemoryParams("stream", 64, "auto", 3)).layers[0][0].chunks_per_tile == 1


def test_weight_beats_little_endian(make_model):
    m = stream_model(make_model, dram_bits=64)
    plan = Plan(m)
    beats = weight_beats(plan)
    assert beats.shape == (plan.weight_words * 3, 8)           # 160-bit words, 3 beats of 64 bits
    for i in (0, 7, plan.weight_words - 1):
        word = plan.weight_memory[i]
        parts = [int.from_bytes(beats[3 * i + j].tobytes(), "little") for j in range(3)]
        assert parts[0] | parts[1] << 64 | parts[2] << 128 == word
        assert parts[2] >> 32 == 0                              # bits above the word are zero


# ---------------------------------------------------------------------------------------------
# the WeightBuffer contract (Amaranth simulator)
# ---------------------------------------------------------------------------------------------

def test_weight_buffer_contract():
    from amaranth.sim import Simulator as AmSim
    from hwgen.rtl.weightbuf import WeightBuffer

    W, D = 20, 8                                          # 3 beats per word
    tp = TilePlan(((LayerTiles(3, 2, 2),),), 4, W, D)     # one layer, tiles of 4 and 2 words
    dut = WeightBuffer(tp)
    rng = np.random.default_rng(1)
    words = [int(v) for v in rng.integers(0, 1 << W, 6)]
    beats = [(w >> (D * j)) & 0xFF for w in words for j in range(3)]
    log = {}

    async def bench(ctx):
        ctx.set(dut.rd_en, 1)
        # fill tile 0 (12 beats) and tile 1 (6 beats), one beat per cycle
        for k, b in enumerate(beats):
            assert ctx.get(dut.s_axis_tready) == 1
            assert ctx.get(dut.tile_ready) == (1 if k >= 12 else 0)
            ctx.set(dut.s_axis_tdata, b)
            ctx.set(dut.s_axis_tvalid, 1)
            await ctx.tick()
        ctx.set(dut.s_axis_tvalid, 0)
        assert ctx.get(dut.tile_ready) == 1
        assert ctx.get(dut.s_axis_tready) == 0            # both slots full: the next tile waits
        # read tile 0: latency 1, data held while rd_en is low
        for i in range(4):
            ctx.set(dut.rd_issue, 1)
            await ctx.tick()
            ctx.set(dut.rd_issue, 0)
            assert ctx.get(dut.rd_data) == words[i]
            if i == 1:
                ctx.set(dut.rd_en, 0)
                await ctx.tick()
                assert ctx.get(dut.rd_data) == words[1]
                ctx.set(dut.rd_en, 1)
        log["tready_after_release"] = ctx.get(dut.s_axis_tready)
        assert ctx.get(dut.tile_ready) == 1               # tile 1 in slot 1
        for i in (4, 5):
            ctx.set(dut.rd_issue, 1)
            await ctx.tick()
            assert ctx.get(dut.rd_data) == words[i]
        ctx.set(dut.rd_issue, 0)
        assert ctx.get(dut.tile_ready) == 0               # the next vector's tile 0 is not there

    sim = AmSim(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert log["tready_after_release"] == 1


# ---------------------------------------------------------------------------------------------
# the cycle model
# ---------------------------------------------------------------------------------------------

def test_dram_pattern():
    p = DramPattern([0, 1, 1, 0, 1])
    assert [p.next_at(k) for k in range(7)] == [1, 1, 2, 4, 4, 6, 6]
    assert [p.pos(j) for j in range(5)] == [1, 2, 4, 6, 7]
    assert p.count(5) == 3 and p.count(6) == 3 and p.count(7) == 4
    r = DramPattern.rate(0.8)
    assert r.length == 5 and r.n_ones == 4
    assert DramPattern.rate(1 / 3).pattern.tolist() == [False, False, True]
    with pytest.raises(ValueError):
        DramPattern([0, 0])


def test_simulator_hook_and_golden(make_model):
    m = stream_model(make_model, dram_bits=64, tile=20)
    x = np.random.default_rng(5).integers(-128, 128, (3, 64)).astype(np.int8)
    r = Simulator(m).run(x)
    assert np.array_equal(r.outputs, golden(m, x))
    s = StreamModel(Plan(m)).run(3)
    assert r.cycles == s.cycles > Plan(m).total_cycles(3)      # 3 beats per word: some stalls


def _random_case(draw):
    kind = draw(st.sampled_from(["tlmm", "tlmm", "addertree"]))
    if kind == "tlmm":
        eng = {"kind": "tlmm", "group": draw(st.sampled_from([2, 3])), "tables": draw(st.integers(1, 4)),
               "columns": draw(st.integers(1, 8))}
    else:
        eng = {"kind": "addertree", "lanes": draw(st.integers(1, 12)), "columns": draw(st.integers(1, 8))}
    n = draw(st.integers(1, 3))
    sizes = draw(st.lists(st.integers(1, 60), min_size=n + 1, max_size=n + 1))
    return eng, sizes


@st.composite
def stream_cases(draw):
    eng, sizes = _random_case(draw)
    memory = {"dram_bits": draw(st.sampled_from([8, 16, 32, 64, 128, 256])),
              "tile": draw(st.sampled_from(["chunk", "layer", "auto", 1, 7, 30]))}
    pattern = draw(st.lists(st.integers(0, 1), min_size=1, max_size=13))
    assume(any(pattern))
    ready = draw(st.one_of(st.none(), st.lists(st.integers(0, 1), min_size=2, max_size=9)))
    if ready is not None:
        assume(any(ready))
    return eng, sizes, memory, pattern, ready, draw(st.integers(1, 3)), draw(st.integers(0, 40))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=stream_cases())
def test_never_faster_than_compute(make_model, case):
    eng, sizes, memory, pattern, ready, batch, lead = case
    plan = Plan(stream_model(make_model, eng, sizes, **memory))
    r = StreamModel(plan).run(batch, dram=pattern, lead=lead, ready=ready)
    assert r.compute_cycles == plan.total_cycles(batch)
    assert r.cycles == r.compute_cycles + r.weight_stall_cycles + r.output_stall_cycles
    assert r.cycles >= r.compute_cycles
    assert r.beats == batch * plan.weight_words * tile_plan(plan).beats_per_word
    assert sum(l.stall_cycles for l in r.layers) == r.weight_stall_cycles
    # a slower DRAM (every other allowed cycle of the pattern taken away) is never faster
    slower = np.asarray(pattern).copy()
    slower[np.flatnonzero(slower)[1::2]] = 0
    r2 = StreamModel(plan).run(batch, dram=slower, lead=lead, ready=ready)
    assert r2.cycles >= r.cycles
    # nor is more prefetch slower (full-rate DRAM and output always ready: the patterns are tied to
    # cycles, so a lead also shifts their phase)
    if lead:
        a, b = (StreamModel(plan).run(batch, lead=n).cycles for n in (lead // 2, lead))
        assert a >= b


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_ample_bandwidth_equals_compute(make_model, data):
    """One word per beat at one beat per cycle, the stream ahead of the input (lead), a tile per
    chunk, and layers that never grow in blocks: no stall, exactly the ROM design's cycles."""
    eng, sizes = _random_case(data.draw)
    e = EngineParams.from_mapping(eng)
    sizes = [sizes[0]] + sorted(sizes[1:], reverse=True)          # non-increasing block counts
    dram_bits = ceil(e.weight_word_bits / 8) * 8                   # one beat per word
    plan = Plan(stream_model(make_model, eng, sizes, dram_bits=dram_bits, tile="chunk"))
    assume(all(a.blocks >= b.blocks for a, b in zip(plan.layers, plan.layers[1:])))
    lead = 2 * tile_plan(plan).slot_words
    r = StreamModel(plan).run(1, lead=lead)
    assert r.weight_stall_cycles == 0
    assert r.cycles == plan.total_cycles(1)


@pytest.mark.parametrize("rate", [1 / 8, 1 / 20, 1 / 64])
def test_bandwidth_bound_is_bytes_over_bandwidth(make_model, rate):
    """Tiny compute, slow DRAM: cycles = bytes / bandwidth + the tail after the last tile."""
    m = stream_model(make_model, ENGINE, [200, 16, 8], dram_bits=32, tile="chunk")
    plan = Plan(m)
    dram = DramPattern.rate(rate)
    r = StreamModel(plan).run(1, dram=dram)
    bytes_ = r.beats * 32 // 8
    bandwidth = 32 / 8 * dram.density                              # bytes per cycle
    ideal = bytes_ / bandwidth
    last = plan.layers[-1]
    tail = last.cycles(plan.engine.build_cycles) + OUTPUT_LATENCY
    assert ideal <= r.cycles <= ideal + tail
    assert all(l.bound == "bandwidth" for l in r.layers)
    fast = StreamModel(plan).run(1, dram=DramPattern.full())
    assert fast.cycles < r.cycles


def test_layer_bounds_and_program(make_model):
    # layer 0: 6 chunks x 8 blocks = 48 words, layer 1: 24 words; 3 beats per word at full rate:
    # 144 / 72 DRAM cycles vs 14 + 5 x 14 + 8 + 5 = 97 and 14 + 7 x 14 + 3 + 5 = 120 compute cycles
    plan = Plan(stream_model(make_model, dram_bits=64, tile="chunk"))
    r = StreamModel(plan).run(2)
    assert [(l.compute_cycles, l.beats, l.bound) for l in r.layers] == [(97, 144, "bandwidth"), (120, 72, "compute")]
    # a program of the same plan twice = two vectors of it
    p = StreamModel([plan, plan], plan.model.memory).run(1)
    assert p.cycles == r.cycles and p.weight_stall_cycles == r.weight_stall_cycles
    assert len(r.starts) == 2 and r.starts[0] == 0
    # another packing format: fewer bits per weight, fewer beats
    q = StreamModel(plan).run(2, bits_per_weight=1.25)
    assert q.beats < r.beats and q.cycles <= r.cycles


# ---------------------------------------------------------------------------------------------
# the buffer planner
# ---------------------------------------------------------------------------------------------

# (width, depth, type) -> (primitive, count), counted by hand from the primitives' modes
HAND = [
    (72, 4096, "uram", "URAM288", 1), (73, 4096, "uram", "URAM288", 2), (72, 4097, "uram", "URAM288", 2),
    (100, 3000, "uram", "URAM288", 2), (144, 8192, "uram", "URAM288", 4), (2240, 4096, "uram", "URAM288", 32),
    (72, 512, "bram", "RAMB36E2", 1), (72, 1024, "bram", "RAMB36E2", 2), (36, 1024, "bram", "RAMB36E2", 1),
    (18, 1024, "bram", "RAMB18E2", 0.5), (60, 1000, "bram", "RAMB36E2", 2), (1, 32768, "bram", "RAMB36E2", 1),
    (2240, 4096, "bram", "RAMB36E2", 249),           # 4K x 9 mode: 249 wide, 1 deep
    (18, 1024, "ebr", "DP16KD", 1), (36, 512, "ebr", "DP16KD", 1), (72, 1024, "ebr", "DP16KD", 4),
    (60, 1000, "ebr", "DP16KD", 4),
]


@pytest.mark.parametrize("width,depth,kind,prim,count", HAND)
def test_blocks_by_hand(width, depth, kind, prim, count):
    b = blocks(width, depth, kind)
    assert (b.primitive, b.count) == (prim, count)
    assert 0 < b.utilization <= 1


def test_tellme_is_48_uram():
    t = tellme_buffer()
    assert t["word_bits"] == 140 and t["lanes"] == 84
    assert t["words"] == 3 * 1536 * 19 == 87552
    assert abs(t["bits"] / 1e6 - 12.3) < 0.05                      # REFERENCE: about 12.3 Mbit
    assert t["partition_depth"] == 10944
    assert t["partition_uram"]["wide"] == 2 and t["partition_uram"]["deep"] == 3
    assert t["uram288"] == 48 and t["device_share"] == 48 / 64
    # the figure does not hinge on the load unit: the largest single matrices give 48 too
    assert tellme_buffer(load_unit="gate")["uram288"] == 48
    assert tellme_buffer(load_unit="down")["uram288"] == 48
    assert [p[0] for p in bitnet_projections()] == ["q", "k", "v", "o", "gate", "up", "down"]


def test_plan_buffer_tellme_like_engine(make_model):
    """hwgen's own TeLLMe-like engine (G=3, T=28, N=16: 2240-bit words) streaming a 1536 x 1536
    layer: two slots of up to 2048 words fill one URAM288 column: 32 URAM288."""
    eng = {"kind": "tlmm", "group": 3, "tables": 28, "columns": 16}
    m = make_model(eng, [1536, 1536], np.random.default_rng(0), requants=[None])
    m = m.replace(memory=MemoryParams("stream", 768, "uram", "auto"))
    p = plan_buffer(Plan(m), "xcup")
    assert (p["width"], p["depth"]) == (2240, 2 * 1824)
    assert p["options"]["uram"]["count"] == 32 and p["selected"] == "uram" and p["recommended"] == "uram"
    assert p["options"]["bram"]["count"] == 249
    rom = plan_buffer(Plan(m.replace(memory=None)), "xcup")
    assert rom["memory"] == "weight ROM" and rom["selected"] == "bram"
    assert plan_buffer(Plan(m), "ecp5")["options"]["ebr"]["primitive"] == "DP16KD"
    assert set(DEVICES) == {"xcup", "xc7", "ecp5"}


# ---- Yosys: the planner's counts are Yosys 0.23's ----

def _mem_module(name, w, d, style):
    aw = max(1, (d - 1).bit_length())
    attr = f'(* ram_style = "{style}" *) ' if style else ""
    return (f"module {name}(input clk, input we, input [{aw - 1}:0] wa, input [{w - 1}:0] wd, input re,"
            f" input [{aw - 1}:0] ra, output reg [{w - 1}:0] rd);\n"
            f"  {attr}reg [{w - 1}:0] mem [0:{d - 1}];\n"
            f"  always @(posedge clk) if (we) mem[wa] <= wd;\n"
            f"  always @(posedge clk) if (re) rd <= mem[ra];\nendmodule\n")


def _synth_per_module(tmp_path, text, synth, tops):
    """One Yosys run over ``text``; ``tops`` (name, port declarations, instance) go into a wrapper
    ``top`` kept hierarchical so that ``stat`` counts each memory module on its own."""
    ports = ", ".join(["input clk"] + [p for _, decl, _ in tops for p in decl])
    text += "module top(" + ports + ");\n" + "\n".join(inst for _, _, inst in tops) + "\nendmodule\n"
    (tmp_path / "all.v").write_text(text)
    (tmp_path / "s.ys").write_text(f"read_verilog -sv all.v\nhierarchy -check -top top\n{synth} -top top\n"
                                   "tee -q -o stat.json stat -json\n")
    yosys = shutil.which("yosys")
    proc = subprocess.run(["nice", "-n", "10", yosys, "-q", "-s", "s.ys"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    stat = json.loads((tmp_path / "stat.json").read_text())["modules"]
    return {name.lstrip("\\"): mod["num_cells_by_type"] for name, mod in stat.items()}


def _mem_tops(mems):
    tops = []
    for i, (name, w, d, _) in enumerate(mems):
        aw = max(1, (d - 1).bit_length())
        decl = [f"input we{i}", f"input [{aw - 1}:0] wa{i}", f"input [{w - 1}:0] wd{i}", f"input re{i}",
                f"input [{aw - 1}:0] ra{i}", f"output [{w - 1}:0] rd{i}"]
        inst = f"  {name} i{i}(.clk(clk), .we(we{i}), .wa(wa{i}), .wd(wd{i}), .re(re{i}), .ra(ra{i}), .rd(rd{i}));"
        tops.append((name, decl, inst))
    return tops


def _count(cells, kind):
    names = {"uram": {"URAM288": 1}, "bram": {"RAMB36E2": 1, "RAMB18E2": 0.5}, "ebr": {"DP16KD": 1}}[kind]
    return sum(n * cells.get(t, 0) for t, n in names.items())


needs_yosys = pytest.mark.skipif(shutil.which("yosys") is None, reason="yosys not installed")


@needs_yosys
def test_yosys_xcup_counts_match_planner(tmp_path):
    """synth_xilinx -family xcup: URAM288 and block RAM counts of plain memories and of the
    Amaranth WeightBuffer (ram_style "ultra" through Amaranth's memory attrs) = the planner's."""
    from amaranth.back import verilog
    from hwgen.rtl.weightbuf import WeightBuffer

    mems = [("u_100x3000", 100, 3000, "ultra"), ("u_144x5000", 144, 5000, "ultra"),
            ("b_60x1000", 60, 1000, "block"), ("b_18x1024", 18, 1024, "block")]
    text = "".join(_mem_module(*m) for m in mems)
    tp = TilePlan(((LayerTiles(12, 50, 12), LayerTiles(10, 20, 10)),), 600, 100, 64)   # 1200 x 100
    text += verilog.convert(WeightBuffer(tp, "ultra"), name="wbuf", emit_src=False)
    tops = _mem_tops(mems)
    tops.append(("wbuf", ["input rst", "input [63:0] td", "input tv", "output tr", "output trdy", "input iss",
                          "input ren", "output [99:0] rdata"],
                 "  wbuf iw(.clk(clk), .rst(rst), .s_axis_tdata(td), .s_axis_tvalid(tv), .s_axis_tready(tr),"
                 " .tile_ready(trdy), .rd_issue(iss), .rd_en(ren), .rd_data(rdata));"))
    cells = _synth_per_module(tmp_path, text, "synth_xilinx -family xcup -noiopad", tops)
    for name, w, d, style in mems:
        kind = "uram" if style == "ultra" else "bram"
        assert _count(cells[name], kind) == blocks(w, d, kind).count, (name, cells[name])
    assert _count(cells["wbuf"], "uram") == blocks(100, 1200, "uram").count == 2
    assert _count(cells["wbuf"], "bram") == 0


@needs_yosys
def test_yosys_ecp5_counts_match_planner(tmp_path):
    mems = [("e_60x1000", 60, 1000, "block"), ("e_36x512", 36, 512, "block"), ("e_72x1024", 72, 1024, None)]
    text = "".join(_mem_module(*m) for m in mems)
    cells = _synth_per_module(tmp_path, text, "synth_ecp5 -noflatten", _mem_tops(mems))
    for name, w, d, _ in mems:
        assert _count(cells[name], "ebr") == blocks(w, d, "ebr").count, (name, cells[name])
