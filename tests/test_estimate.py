"""Tests of the analytic resource estimator (hwgen.estimate).

- formula checks against values worked out by hand from the RTL (the arithmetic is in the
  comments);
- monotonicity (more tables / columns -> more LUTs, bigger model -> more memory);
- real syntheses (Yosys, hierarchy kept as ``hwgen build --target fpga`` counts its blocks, a few
  seconds each): flip-flops and memory primitives of a small accelerator exact per block on every
  family, logic LUTs within the benchmark's goal; the output queue's LUT model against the queue
  synthesized alone.
"""

import shutil

import numpy as np
import pytest

from hwgen import estimate as E
from hwgen.engine import EngineParams
from hwgen.model import Layer, Model, Requant
from hwgen.plan import Plan

needs_yosys = pytest.mark.skipif(shutil.which("yosys") is None, reason="yosys not installed")


def model(kind, g, t, n, sizes, *, read_ports=4, seed=1536, shift=8):
    """Random ternary MLP sizes[0] -> sizes[1] -> ...; hidden layers requantize, the last outputs
    accumulators (as benchmarks/common.random_model)."""
    rng = np.random.default_rng(seed)
    layers = []
    for i, (k, m) in enumerate(zip(sizes[:-1], sizes[1:])):
        last = i == len(sizes) - 2
        w = rng.integers(-1, 2, size=(m, k), dtype=np.int8)
        layers.append(Layer(f"fc{i + 1}", "ternary_linear", k, m, w,
                            None if last else Requant(shift, True), "test"))
    return Model("t", sizes[0], 8, EngineParams(kind, g, t, n, read_ports), tuple(layers))


def plan(*a, **kw):
    return Plan(model(*a, **kw))


# ---------------------------------------------------------------- hand-computed values

def test_widths():
    # table entry: sum of G int8 -> range(-128 G, 127 G): G=2 -> -256..254: 9 bits;
    # G=3 -> -384..381: 10 bits; G=4 -> -512..508: 10 bits (-512 = -2**9 still fits)
    assert [E.table_entry_bits(EngineParams("tlmm", g, 2, 4)) for g in (2, 3, 4)] == [9, 10, 10]
    # column sum: range(-128 L, 128 L + 1): L=6 -> +-768 -> 11 bits, L=12 -> +-1536 -> 12 bits
    assert E.partial_bits(EngineParams("tlmm", 3, 2, 4)) == 11
    assert E.partial_bits(EngineParams("tlmm", 3, 4, 8)) == 12


def _table(reads):
    # One TLMM table replica (G=3): 32 x 10 bits (two banks of 16 entries), one write port and
    # `reads` read ports, each an asynchronous read whose register Yosys merges into the port
    return E.Memory("t", "dot", 32, 10, wr_groups=(10,), sync_reads=reads, merged_reads=True)


def test_table_memory_xcup():
    # 4 read ports. Candidates (memory_libmap cost, widthscale = cost = 16):
    #   SDP (RAM32M16, 32 x 14, 1 read port): 4 replicas for 4 reads, 10 of 14 bits:
    #       16 * 10/14 * 4 = 45.71 + 2 x (4 read ports) = 53.71  -> 4 RAM32M16
    #   QP (32 x 4, 3 read ports): 2 replicas: 16 * 10/4 * 2 = 80 + 8 = 88
    #   OP (32 x 2, 7 read ports): 1 replica:  16 * 10/2     = 80 + 8 = 88
    #   RAMB18 (2 ports, one taken by the write): 4 x 129 = 516; soft logic: 32 * 10 = 320
    m = E.map_memory(_table(4), "xcup")
    assert m.ram.prim == "RAM32M16" and m.cells == 4
    assert m.cost == pytest.approx(16 * 10 / 14 * 4 + 8)
    r = E.memory_resources(m, "xcup")
    # the LUTRAM reads asynchronously: the 4 read registers (10 bits) stay in the fabric
    assert (r["lutram"], r["lutram_luts"], r["ff"], r["lut"]) == (4, 32, 40, 0)


def test_table_memory_ecp5_and_ice40():
    # ECP5 TRELLIS_DPR16X4 (16 x 4, cost 4, one read port): 32 deep -> 2 address slices; 10 bits
    # padded to 12 (no byte enables: write groups align to the 4-bit unit) -> 2 x 12 / 4 = 6
    # cells per read port, 24 for 4 ports. Cost 4 * 6 * 4 = 96 + 0.5 x mux (1 x 10 x 4 = 40)
    # + 0.5 x demux (2 slices x 1 enable) + 2 x 4 = 125; soft logic 320; DP16KD (one read port
    # each: 4 x 128) + emulation 2 x (4 + 3 read-first + 4 x 3 transparency) = 550.
    m = E.map_memory(_table(4), "ecp5")
    assert m.ram.prim == "TRELLIS_DPR16X4" and m.cells == 24 and m.cost == pytest.approx(125)
    assert E.memory_resources(m, "ecp5")["lutram_luts"] == 24 * 6
    # iCE40 has no LUTRAM. SB_RAM40_4K (one read port each): 4 x 64 = 256 + 2 x emulation
    # (4 read ports + 3 read-first + 4 x (3 transparency + 2 initial value) = 27) = 310 < 320
    # soft logic: 4 block RAMs (as Yosys 0.23 maps it: its debug log reports emulation score 21
    # for 3 read ports, 3 + 6 x 3). Read-first emulation flip-flops: delayed write address (5)
    # and enable (2), delayed write data and bypass data (2 x 10), one per read port (4) = 31
    m = E.map_memory(_table(4), "ice40")
    assert m.ram.prim == "SB_RAM40_4K" and m.cells == 4 and m.cost == pytest.approx(310)
    assert E.memory_resources(m, "ice40")["ff"] == 31
    # with 5 read ports block RAM costs 5 x 64 + 2 x 36 = 392 > 320: flip-flops (32 x 10) and
    # multiplexers, plus the 5 read registers
    m = E.map_memory(_table(5), "ice40")
    assert m.ram is None
    assert E.memory_resources(m, "ice40")["ff"] == 320 + 5 * 10


def test_output_queue_memory():
    # tlmm G=3 T=2 N=4, 24 -> 16 -> 10: 3 output beats -> queue_depth 4 entries of 4 x 32 + 1
    # = 129 bits (asynchronous read). xcup: RAM32M16 (32 x 14 SDP): ceil(129 / 14) = 10 cells,
    # cost 16 x 129 / 14 + 2 = 149.4 < 4 x 129 = 516 soft logic. iCE40: no asynchronous-read
    # RAM: flip-flops, but only the distinct bits: the core hands the queue its 13-bit
    # accumulators, sign-extended to 32 bits inside the queue: 4 x 13 + 1 = 53 per entry
    p = plan("tlmm", 3, 2, 4, [24, 16, 10])
    q = next(m for m in E._memories(p) if m.name == "output_queue")
    assert (q.depth, q.width, q.async_reads, q.soft_width) == (4, 129, 1, 53)
    m = E.map_memory(q, "xcup")
    assert m.ram.prim == "RAM32M16" and m.cells == 10
    m = E.map_memory(q, "ice40")
    assert m.ram is None and E.memory_resources(m, "ice40")["ff"] == 4 * 53


def test_deep_rom_block_ram():
    # 2150 x 40 ROM on xcup. Soft logic: 2150 * 40 / 64 (synth_xilinx -logic-cost-rom 1/64)
    # = 1343. RAMB36 SDP at 72 bits (512 deep): 5 address slices x 40 bits = 200 bits packed in
    # ceil(200 / 72) = 3 cells: 3 * 257 + 0.5 x (5 - 1) x 40 + 2 x 1 = 853, cheaper than TDP
    # 18-bit (1024 deep, 3 slices, 120 / 18 -> 7 x 129 = 903 + 40 + 2 = 945).
    m = E.map_memory(E.Memory("w", "core", 2150, 40, rom=True, sync_reads=1), "xcup")
    assert m.ram.prim == "RAMB36E2" and m.cells == 3 and m.cost == pytest.approx(853)
    # a 28 x 40 ROM stays in LUTs: 28 * 40 / 64 = 17 < one RAMB18 (129)
    assert E.map_memory(E.Memory("w", "core", 28, 40, rom=True, sync_reads=1), "xcup").ram is None


def test_small_ram_to_flip_flops_ice40():
    # 4 x 52 accumulator RAM on iCE40: soft logic 4 * 52 = 208; SB_RAM40_4K with byte enables
    # (256 x 16): ceil(52 / 16) = 4 cells x 64 = 256 + 2 x (1 read port + 3 read-first) = 264
    mem = E.Memory("a", "core", 4, 52, wr_groups=(52,), sync_reads=1)
    assert E.map_memory(mem, "ice40").ram is None
    # 6 x 56 (one more word and column): 336 > 4 x 64 + 8 = 264 -> block RAM
    mem = E.Memory("a", "core", 6, 56, wr_groups=(56,), sync_reads=1)
    m = E.map_memory(mem, "ice40")
    assert m.ram.prim == "SB_RAM40_4K" and m.cells == 4


def test_core_registers_by_hand():
    # tlmm G=3 T=2 N=4, 24 -> 16 -> 10: lanes 6, row_lanes 6 (S=1, Q=1), 4 chunks, act_rows 4,
    # acc_depth 4, acc_bits = bits(64 * 128) + 1 = 13, 28 weight words, periods 14 (build cycles).
    p = plan("tlmm", 3, 2, 4, [24, 16, 10])
    f = E.core_ffs(p, "xcup")
    # state 2 + layer 1 + chunk 2 (0..3) + cycle 4 (0..14) + waddr 5 (0..27) + pos_row 2
    # + parity 1 + blk_row 2 (pos_sub, blk_slot, fetch_sub: constant, removed) = 19
    assert f["sequencer"] == 19
    # pipeline S1..S5: valid (reset) 5 flip-flops; reset-less chains of 3 or more become SRL16E
    # on xcup: block (2 bits) S1-S3 (read at S3: accumulator address) -> 2 SRL, S4-S5 -> 4
    # flip-flops; first S1-S4 -> 1 SRL; last, row (2), layer S1-S5 -> 4 SRL; bank S1 -> 1
    # flip-flop (slot: constant on xcup)
    assert f["pipeline"] == 5 + 4 + 1 and E.core_srls(p, "xcup") == 2 + 1 + 4
    # partial: 4 x 11 (dot output width; the sign copies up to 13 bits are merged)
    assert f["partial"] == 44 and f["acc"] == 4 * 13
    # output queue (4 entries in LUTRAM): output register 129 bits, tvalid, write and read
    # pointers (2 + 2), stored (0..4: 3 bits), credits (0..5: 3 bits)
    assert f["queue"] == 129 + 1 + 4 + 3 + 3
    # ECP5 keeps the constant one-bit counters pos_sub, blk_slot, and has no SRL: 45 pipeline
    # flip-flops (valid 5, block 10, first 4, last 5, bank 1, row 10, slot 5, layer 5)
    g = E.core_ffs(p, "ecp5")
    assert g["sequencer"] == 21 and g["pipeline"] == 45 and E.core_srls(p, "ecp5") == 0
    # memories on xcup: activations 8 x 48 and accumulators 4 x 52 in LUTRAM, each with its
    # read-data register in the fabric (48 + 52); the weight ROM in LUTs with a 40-bit register
    est = E.estimate_resources(p, "xcup")
    live = E._live_columns(p)
    assert live <= 40
    assert est["blocks"]["core"]["ff"] == 19 + 10 + 44 + 52 + 140 + 48 + 52 + live
    # LUTRAM: tables 2 x 4 RAM32M16 (dot); activations 6 (one per byte-enable group: 8 of 14
    # bits used), accumulators ceil(52 / 14) = 4, output queue 10 (core); plus 7 SRL16E
    assert est["blocks"]["dot"]["lutram"] == 8 and est["blocks"]["core"]["lutram"] == 20
    assert est["total"]["lutram_luts"] == 28 * 8 + 7 and est["total"]["bram"] == 0


def test_dot_registers_by_hand():
    # TlmmDot G=2 T=2 N=1 (entries 5, entry 9 bits, column sum range +-512: 11 bits)
    p = plan("tlmm", 2, 2, 1, [4, 1])
    f = E.dot_ffs(p, "xcup")
    # builder: building 1, j 3 (0..4), wbank 1, pos 2, neg 1 (the top digit is never -1),
    # lanes 4 x 8, negated lanes 2 x 9 (lanes 0 and 2), entries 2 x 9 = 76
    assert f["builder"] == 1 + 3 + 1 + 2 + 1 + 32 + 18 + 18
    # lookups: two sign bits and the 2-bit count of negated lookups (the 9-bit entries are the
    # tables' read registers: 2 x 9 with the memories)
    assert f["lookups"] == 2 + 2
    # first adder level: flipped lookups (10 bits each) summed: 11 bits; the count re-registered
    assert f["levels"] == 11 + 2
    est = E.estimate_resources(p, "xcup")
    assert est["blocks"]["dot"]["ff"] == 76 + 4 + 13 + 18      # 111, as Yosys 0.23 synthesizes it
    # AdderTreeDot L=4 N=1: weight word 8 bits, chunk 4 x 8, first level 2 sums of 10 bits = 60
    q = plan("addertree", 1, 4, 1, [4, 1])
    assert sum(E.dot_ffs(q, "xcup").values()) == 8 + 32 + 20


def test_requant_zero_bits():
    # ReLU layers with acc >> 8 of at most 8 bits: the bits from the sign up are always 0.
    # 16 -> 64 -> 10 (addertree L=2): acc_bits 15 (64 x 128 needs 14 + sign), 15 - 8 = 7 bits:
    # bits 6 and 7 are 0
    assert E.requant_zero_bits(plan("addertree", 1, 2, 8, [16, 64, 10])) == {6, 7}
    # no requantizing layer
    assert E.requant_zero_bits(plan("addertree", 1, 2, 8, [16, 10])) == set()


def test_carry_cells_by_hand():
    # addertree L=8 N=4: each lane's 9-bit negation (3 CARRY4), per column the 4 registered
    # first-level adders of 10 bits (3 CARRY4 each) and the final adder of 12 bits (3):
    # 8 x 3 + 4 x (12 + 3) = 84; ECP5 (CCU2C, 2 bits): 8 x 5 + 4 x (4 x 5 + 6) = 144 (as
    # synthesized for 3 columns: 69 and 118)
    p = plan("addertree", 1, 8, 4, [32, 16, 10])
    assert E.dot_carry(p, "xcup") == 84
    assert E.dot_carry(p, "ecp5") == 144


# ---------------------------------------------------------------- structure and monotonicity

@pytest.mark.parametrize("family", E.FAMILIES)
def test_keys_and_totals(family):
    est = E.estimate_resources(plan("tlmm", 3, 4, 8, [64, 64, 10]), family)
    assert est["family"] == family and est["basis"]
    for blk in ("dot", "core"):
        assert set(E.KEYS) <= set(est["blocks"][blk])
    for k in E.KEYS:
        assert est["total"][k] == pytest.approx(est["blocks"]["dot"][k] + est["blocks"]["core"][k])
    t = est["total"]
    assert t["lut_equiv"] == t["lut"] + t["lutram_luts"] + t["carry_luts"]
    assert t["uram"] == 0 and t["dsp"] == 0
    # flat view kept for build.py / bench_luts.py
    assert est["lut"] == t["lut"] and est["ff"] == t["ff"] and "dot_lut" in est


@pytest.mark.parametrize("family", E.FAMILIES)
def test_more_tables_or_columns_more_luts(family):
    def lut(*a):
        return E.estimate_resources(plan(*a), family)["total"]["lut_equiv"]
    sizes = [96, 32]
    assert lut("tlmm", 3, 2, 8, sizes) < lut("tlmm", 3, 4, 8, sizes) < lut("tlmm", 3, 8, 8, sizes)
    assert lut("tlmm", 3, 4, 4, sizes) < lut("tlmm", 3, 4, 8, sizes) < lut("tlmm", 3, 4, 16, sizes)
    assert lut("addertree", 1, 8, 8, sizes) < lut("addertree", 1, 16, 8, sizes)
    assert lut("addertree", 1, 8, 4, sizes) < lut("addertree", 1, 8, 8, sizes)


@pytest.mark.parametrize("family", E.FAMILIES)
def test_bigger_model_more_memory(family):
    def mem(sizes):
        p = plan("tlmm", 3, 4, 8, sizes)
        e = E.estimate_resources(p, family)
        return p.weight_words * p.engine.weight_word_bits, e
    small_bits, small = mem([64, 32])
    big_bits, big = mem([512, 512])
    assert big_bits > small_bits
    assert big["total"]["bram"] >= small["total"]["bram"]
    assert big["total"]["bram"] > 0             # 512 x 512 weights do not fit in LUTs
    assert big["weight_memory_bits"] == big_bits


def test_unknown_engine_kind_is_not_estimated():
    class Fake:                       # spiking cores have no analytic LUT model yet
        class engine:
            kind = "lif"
    est = E.estimate_resources(Fake(), "xcup")
    assert "no analytic model" in est["basis"]
    assert not set(est) & {"total", "blocks", "lut", "ff"}     # no figures that would read as zero cost


def test_unknown_family():
    with pytest.raises(ValueError):
        E.estimate_resources(plan("tlmm", 3, 2, 4, [24, 10]), "xc9500")


# ---------------------------------------------------------------- real syntheses

def test_synthesis_commands_are_the_fpga_flow_ones():
    # hwgen.synth's hierarchical command is the one hwgen build --target fpga counts blocks with
    from hwgen.fpga.devices import DEVICES
    from hwgen.synth import synth_command
    for dev in DEVICES.values():
        assert synth_command(dev.family) == dev.synth
        assert synth_command(dev.family, flatten=False) == dev.synth_blocks


@needs_yosys
@pytest.mark.parametrize("family", E.FAMILIES)
def test_small_design_matches_synthesis(tmp_path, family):
    """A small accelerator (tlmm G=3 T=2 N=4, 24 -> 16 -> 10) synthesized with hwgen.synth,
    hierarchy kept (a few seconds): flip-flops and memory primitives are exact per block, logic
    LUTs within the benchmark's goal (25 % worst case)."""
    from hwgen.fpga.yosys import block_of
    from hwgen.rtl.verilog import TOP, accelerator_verilog
    from hwgen.synth import summarize, synthesize
    p = plan("tlmm", 3, 2, 4, [24, 16, 10])
    src = tmp_path / "top.v"
    src.write_text(accelerator_verilog(p))
    res = synthesize([src], TOP, family, tmp_path, timeout=300, flatten=False)
    per_block = {"dot": {}, "core": {}}
    for name, cells in res["modules"].items():
        for t, n in cells.items():
            blk = per_block[block_of(name, TOP)]
            blk[t] = blk.get(t, 0) + n
    est = E.estimate_resources(p, family)
    for blk, cells in per_block.items():
        s, e = summarize(cells, family), est["blocks"][blk]
        for key in ("ff", "lutram", "lutram_luts", "bram"):
            assert e[key] == s[key], (blk, key, e[key], s[key])
    s, e = res["summary"], est["total"]
    assert abs(e["lut"] + e["carry_luts"] - s["lut"] - s["carry_luts"]) <= 0.25 * (s["lut"] + s["carry_luts"])


@needs_yosys
def test_output_queue_luts_match_synthesis(tmp_path):
    """The output queue alone (33-bit beats, 9 beats: 16 entries) on xcup: each bit of the
    output register is a 9-input function (4 + the 5 bits of ``stored``) that ABC maps into
    LUT6 + MUXF7-9, 8 LUTs per bit (hwgen.estimate.queue_data_luts)."""
    from amaranth.back import verilog
    from hwgen.rtl.outqueue import OutputQueue, queue_depth
    from hwgen.synth import synthesize
    src = tmp_path / "q.v"
    src.write_text(verilog.convert(OutputQueue(33, 9), name="q", emit_src=False))
    s = synthesize([src], "q", "xcup", tmp_path, timeout=300)["summary"]
    assert s["lutram"] == 3                      # RAM32M16 (32 x 14): ceil(34 / 14)
    est = E.queue_register_luts(34, queue_depth(9), "xcup")
    assert est == 34 * 8
    assert abs(s["lut"] - est) <= 0.15 * s["lut"], (s["lut"], est)
