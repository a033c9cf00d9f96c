"""Analytic FPGA resource estimates for the generated accelerator, one per block.

``estimate_resources(plan, family="xcup")`` returns::

    {"family": family,
     "blocks": {"dot": {...}, "core": {...}},     # hwgen_top.core.dot / everything else
     "total": {...},
     "memories": [...],                           # how each memory is mapped (see below)
     "basis": "...",
     # flat view kept for older readers (bench_luts.py, report.json): the totals, plus
     "lut", "ff", "lutram", "lutram_luts", "lut_equiv", "bram36", "dsp", "dot_lut", "dot_ff",
     "datapath_lut", "weight_memory_bits"}

Each block (and the total) has the keys of ``KEYS`` with the conventions of ``hwgen.synth``
(``lut`` logic LUTs, ``ff`` flip-flops, ``carry`` carry cells, ``carry_luts`` LUT sites of ECP5
CCU2C cells, ``lutram`` / ``lutram_luts`` distributed-RAM primitives and the LUTs they occupy,
``lut_equiv = lut + lutram_luts + carry_luts``, ``bram`` block RAM in the family's large block
(RAMB36 equivalents on xcup, DP16KD on ECP5, SB_RAM40_4K on iCE40), ``uram`` (0: Yosys infers
URAM288 only with ``-uram``), ``dsp`` (0: the datapath has no multiplier)).

Families: ``xcup`` (LUT6, CARRY4, RAM32M16 / RAM64M8, SRL16E, RAMB36E2 / RAMB18E2), ``ecp5`` (LUT4,
CCU2C, TRELLIS_DPR16X4, DP16KD), ``ice40`` (LUT4, SB_CARRY, SB_RAM40_4K; no distributed RAM, so
the TLMM tables become block RAM or flip-flops and multiplexers). The figures estimate what
Yosys 0.23 reports for the accelerator synthesized with the family's ``hwgen.synth`` command with
the module hierarchy kept (``hwgen.synth.synthesize(..., flatten=False)``, the per-block counts of
``hwgen build --target fpga``), so that the two blocks can be counted (flattened, see the known
limits below).

How each quantity is obtained
-----------------------------
- Memories: the memories of the RTL (weights ROM, activation and accumulator RAMs, output queue,
  TLMM tables) are listed with their depth, width, write-enable groups and read ports
  (``_memories``), then mapped by a re-implementation of the choice Yosys 0.23's
  ``memory_libmap`` makes (``map_memory``): every primitive variant of the family's library
  (Yosys's ``xilinx/lutrams_xcu.txt`` + ``brams_xc4v.txt``, ``ecp5/lutrams.txt`` + ``brams.txt``,
  ``ice40/brams.txt``) and the soft-logic fallback get memory_libmap's cost (cells x cost, scaled
  by the bits used for distributed RAM, + 0.5 per multiplexer / decoder bit for address ranges
  beyond one primitive, + 2 per emulation point; soft logic 1 per RAM bit, 1/64 (xcup) or 1/16
  per ROM bit) and the cheapest wins. A TLMM table's lookups are asynchronous reads registered at
  once: Yosys merges those registers into the read ports, so memory_libmap sees synchronous
  reads, and on block RAM emulates their transparency and initial value too. The mapping gives
  the primitive count and the flip-flops and LUTs Yosys adds around it (read-data registers of
  LUTRAM, read-before-write emulation of ECP5 / iCE40 block RAM, output multiplexers of deep
  memories, ROMs built in LUTs, RAMs built from flip-flops with their distinct columns only).
- Flip-flops: every register of ``hwgen.rtl.accelerator``, ``hwgen.rtl.outqueue`` and the dot
  (``hwgen.rtl.tlmm`` / ``hwgen.rtl.addertree``), counted with the width Amaranth gives it, minus
  those Yosys removes or packs (registers that can only hold their reset value -- removed by
  synth_xilinx, kept by synth_ecp5 / synth_ice40 --, registers fed a constant, sign-extension
  copies that are merged, bits above a column's W-bit sum, constant bits of a small count,
  requantized bits a ReLU always clears, pipeline fields past the last stage that reads them,
  reset-less pipeline chains of three or more that synth_xilinx packs into SRL16E, weight-ROM
  columns that are constant or duplicated), plus the memory flip-flops above. No fitted constant.
- Carry cells: the lane negations, the table builders' adders, each column's registered
  first-level adders and final adder, the accumulators and counters, in cells of 4 (CARRY4), 2
  (CCU2C) or 1 (SB_CARRY) bits (Yosys maps adders of up to 4 bits on ECP5, 2 elsewhere, to LUTs).
- Logic LUTs: ``dot_features`` / ``core_features`` count the hardware LUTs scale with (operand
  bits of the column adder trees -- terms, registered first-level adder bits, the combinational
  rest of the tree: carry-chain adder and compressor full adders --; table builders; lane
  negations; accumulator bits; buffer write-data bits; chunk-select bits; the output queue's
  register inputs, ``queue_register_luts``; ...), and ``COEF`` gives LUT sites per feature and
  family. Only these constants are fitted (non-negative least squares on relative error,
  ``python benchmarks/bench_estimates.py --calibrate``): the dot constants on dot-only designs
  (TlmmDot G = 2..4, T = 1..8; AdderTreeDot L = 2..24; 1 and 3 columns), the core constants on
  the ``c_*`` configurations of that benchmark. Its ``t_*`` / ``a_*`` configurations were not used
  for fitting; on them (Yosys 0.23, hierarchy kept) flip-flops and memory primitives (block RAM,
  LUTRAM, SRL) are exact, and logic LUTs have a mean error of 3.7 % (worst 12.6 %; xcup 3.6 /
  11.3 %, ECP5 4.3 / 12.6 %, iCE40 2.0 / 3.7 %: mean / worst).

Known limits: ABC maps for delay, so the LUTs of a block are not additive over its parts; the
features follow the two regimes seen (a column whose combinational rest is at most one full
adder deep gets its registered first level mapped into wide LUTs on xcup, a deeper one its
compressor), but single designs still miss by up to about 13 % (ECP5, a TLMM column of eight
tables). Deep memories split over several block RAMs (output multiplexers), a queue wider than
ABC's widest LUT, and streaming weights (the weight buffer is not modelled) are approximated.
The estimate is for the hierarchy kept: flattened, Yosys also merges the output queue's
sign-extension copies and constants across modules, and logic LUTs drop by up to about 30 %
(``benchmarks/bench_estimates.py --flat-check``); flip-flops and memory primitives do not change.
The lookup adders of a TLMM column with four tables, which ABC used to map into MUXF7-9
structures on xcup, no longer do (the lookups are registered before the adders).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .engine import DOT_STAGES, DRAIN, STAGE_ACC_READ, STAGE_WRITE
from .rtl.outqueue import queue_depth
from .streaming import is_streaming

KEYS = ("lut", "ff", "carry", "carry_luts", "lutram", "lutram_luts", "lut_equiv", "bram", "uram", "dsp")
FAMILIES = ("xcup", "ecp5", "ice40")


def _bits(limit):
    """Width of ``Signal(range(max(2, limit)))`` (the RTL's ``counter``)."""
    return (max(2, limit) - 1).bit_length()


def _signed_width(lo, hi):
    """Width of Amaranth's ``Shape.cast(range(lo, hi + 1))`` for lo < 0 <= hi."""
    w = 1
    while not (-(1 << (w - 1)) <= lo and hi <= (1 << (w - 1)) - 1):
        w += 1
    return w


def _clog2(n):
    return max(0, (n - 1).bit_length())


# =====================================================================================
# Memory mapping: a re-implementation of Yosys 0.23 memory_libmap's choice
# =====================================================================================

@dataclass
class Memory:
    """A memory of the RTL as memory_libmap sees it."""
    name: str
    block: str            # "dot" or "core"
    depth: int
    width: int
    rom: bool = False     # no write port (initialized contents)
    wr_groups: tuple = () # widths of the write-enable groups (bytes), in bit order
    sync_reads: int = 0   # synchronous read ports (with a read enable)
    async_reads: int = 0  # asynchronous read ports
    count: int = 1        # identical copies
    wr_distinct: int = 0  # distinct write-enable functions after optimization (0: len(wr_groups))
    wr_data_distinct: int = 0  # distinct write-data bits after optimization (0: width)
    live_width: int = 0   # ROM: distinct non-constant data columns (0: width)
    shared: int = 1       # copies (of ``count``) with identical write ports: same registers
    soft_width: int = 0   # RAM built from flip-flops: distinct data columns (0: width); columns
                          # always written with the same data are merged
    merged_reads: bool = False  # the sync read ports are asynchronous reads whose registers
                                # Yosys (memory_dff) merged: transparency / init emulated on BRAM
    wr_shared: bool = False     # its write address and enable are those of an earlier memory

    @property
    def abits(self):
        return max(1, _clog2(self.depth))

    @property
    def bits(self):
        return self.depth * self.width


@dataclass
class PortGroup:
    kind: str             # "sw", "sr", "srsw", "ar", "arsw"
    size: int             # ports in the group
    rd_max: int = 99      # widest read width (index into dbits)
    wr_max: int = 99
    wr_min: int = 0


@dataclass
class RamDef:
    """One variant (option combination) of a primitive in a Yosys memory library."""
    name: str
    kind: str             # "distributed" or "block"
    prim: str             # primitive the cells become
    cost: float
    widthscale: float     # 0, or == cost for "widthscale;"
    abits: int            # address bits at dbits[0]
    dbits: tuple
    byte: int
    groups: tuple
    prune_rom: bool = False
    wr_collision_ok: bool = True   # a sync read on another port returns old data when written
    rd_init: bool = True  # the read data register has an initial value
    units: float = 1.0    # block-RAM units per cell (bram key), or LUT sites per cell (lutram)


def _xcup_rams():
    rams = []
    # distributed RAM (lutrams_xcu.txt): cost 16, widthscale, prune_rom
    for name, opts, groups in (
        ("SP", ((5, 16), (6, 8), (7, 4), (8, 2)), (PortGroup("arsw", 1),)),
        ("DP", ((5, 8), (6, 4), (7, 2), (8, 1)), (PortGroup("arsw", 1), PortGroup("ar", 1))),
        ("QP", ((5, 4), (6, 2)), (PortGroup("arsw", 1), PortGroup("ar", 3))),
        ("OP", ((5, 2), (6, 1)), (PortGroup("arsw", 1), PortGroup("ar", 7))),
        ("SDP", ((5, 14), (6, 7)), (PortGroup("sw", 1), PortGroup("ar", 1))),
    ):
        for abits, width in opts:
            # RAM32M16 (32 x 14 SDP) and RAM64M8 (64 x 7 SDP) are 8 LUTs each; the other variants
            # (never the cheapest for hwgen's memories) are counted as 8 LUTs per cell too
            prim = {5: "RAM32M16", 6: "RAM64M8"}.get(abits, f"RAM{1 << abits}X1D")
            rams.append(RamDef(f"LUTRAM_{name}_{abits}", "distributed", prim, 16, 16, abits, (width,), 0,
                               groups, prune_rom=True, units=8))
    # block RAM (brams_xc4v.txt with HAS_SIZE_36 HAS_CASCADE; UltraScale: no mixed-width SDP)
    d = (1, 2, 4, 9, 18, 36, 72)
    rams.append(RamDef("BRAM_TDP_HALF", "block", "RAMB18E2", 129, 0, 14, d[:5], 9,
                       (PortGroup("srsw", 2, rd_max=4, wr_max=4),), units=0.5))
    rams.append(RamDef("BRAM_TDP_FULL", "block", "RAMB36E2", 257, 0, 15, d[:6], 9,
                       (PortGroup("srsw", 2, rd_max=5, wr_max=5),), units=1.0))
    rams.append(RamDef("BRAM_TDP_CASCADE", "block", "RAMB36E2", 513, 0, 16, d[:4], 9,
                       (PortGroup("srsw", 2, rd_max=3, wr_max=3),), units=2.0))
    rams.append(RamDef("BRAM_SDP_HALF", "block", "RAMB18E2", 129, 0, 14, d[:6], 9,
                       (PortGroup("sw", 1, wr_max=5, wr_min=5), PortGroup("sr", 1, rd_max=5)), units=0.5))
    rams.append(RamDef("BRAM_SDP_FULL", "block", "RAMB36E2", 257, 0, 15, d[:7], 9,
                       (PortGroup("sw", 1, wr_max=6, wr_min=6), PortGroup("sr", 1, rd_max=6)), units=1.0))
    return rams


def _ecp5_rams():
    d = (1, 2, 4, 9, 18, 36)
    return [
        # lutrams.txt: TRELLIS_DPR16X4, 16 x 4, one write and one asynchronous read port, cost 4
        RamDef("DPR16X4", "distributed", "TRELLIS_DPR16X4", 4, 0, 4, (4,), 0,
               (PortGroup("sw", 1), PortGroup("ar", 1)), prune_rom=True, units=6),
        # brams.txt: DP16KD (two read/write ports up to 18 bits), PDPW16KD (36-bit write port)
        RamDef("DP16KD", "block", "DP16KD", 128, 0, 14, d[:5], 9,
               (PortGroup("srsw", 2, rd_max=4, wr_max=4),), wr_collision_ok=False),
        RamDef("PDPW16KD", "block", "DP16KD", 128, 0, 14, d, 9,
               (PortGroup("sr", 1, rd_max=5), PortGroup("sw", 1, wr_max=5, wr_min=5)),
               wr_collision_ok=False),
    ]


def _ice40_rams():
    d = (2, 4, 8, 16)
    return [
        # brams.txt: SB_RAM40_4K, 256 x 16 .. 2048 x 2, one write and one read port, cost 64
        RamDef("RAM4K", "block", "SB_RAM40_4K", 64, 0, 11, d, 0,
               (PortGroup("sw", 1, wr_max=2), PortGroup("sr", 1)), wr_collision_ok=False, rd_init=False),
        RamDef("RAM4K_BE", "block", "SB_RAM40_4K", 64, 0, 11, d, 1,
               (PortGroup("sw", 1, wr_max=3, wr_min=3), PortGroup("sr", 1)), wr_collision_ok=False,
               rd_init=False),
    ]


#: family -> (library, logic cost per ROM bit, per RAM bit) (Yosys 0.23 defaults; synth_xilinx
#: passes -logic-cost-rom 1/64; the default is 1/16)
LIBRARIES = {"xcup": (_xcup_rams(), 1 / 64, 1.0), "ecp5": (_ecp5_rams(), 1 / 16, 1.0),
             "ice40": (_ice40_rams(), 1 / 16, 1.0)}


@dataclass
class Mapping:
    mem: Memory
    ram: RamDef | None    # None: soft logic (flip-flops / LUTs)
    cost: float
    cells: int = 0        # primitives per copy
    mult_a: int = 1       # address slices (output multiplexer of mult_a inputs)
    repl_port: int = 1
    emu_sync: int = 0     # synchronous read ports emulated with a data register
    emu_read_first: bool = False
    extra: dict = field(default_factory=dict)


def _assignments(mem, ram):
    """Possible port assignments: list of (reads per group, writes per group)."""
    writes = [0] * len(ram.groups)
    if not mem.rom:
        for i, g in enumerate(ram.groups):
            if g.kind in ("sw", "srsw", "arsw"):
                writes[i] = 1
                break
        else:
            return []
    # each read port goes to a group that can read it (sync reads: sr, srsw, or async + data FF)
    rgroups = [i for i, g in enumerate(ram.groups) if g.kind in ("sr", "srsw", "ar", "arsw")]
    agroups = [i for i, g in enumerate(ram.groups) if g.kind in ("ar", "arsw")]
    out = []
    # Yosys tries the port groups in order and keeps one candidate per group choice; the reads of
    # hwgen's memories are all alike, so one group per kind of read is enough.
    for gs in rgroups if mem.sync_reads else [None]:
        for ga in agroups if mem.async_reads else [None]:
            reads = [0] * len(ram.groups)
            if gs is not None:
                reads[gs] += mem.sync_reads
            if ga is not None:
                reads[ga] += mem.async_reads
            out.append((reads, writes, gs))
    return out


def _geometry(mem, ram, reads, writes, gs):
    """Cheapest geometry of ``mem`` on ``ram`` for one port assignment (memory_libmap handle_geom)."""
    repl_port = 1
    for i, g in enumerate(ram.groups):
        if reads[i]:
            space = g.size - writes[i]
            if space <= 0:
                return None
            repl_port = max(repl_port, -(-reads[i] // space))
    emu = mem.sync_reads + mem.async_reads            # 1 point per read port not shared with a write
    emu_sync = 0
    emu_read_first = False
    if gs is not None and ram.groups[gs].kind in ("ar", "arsw"):
        emu_sync = mem.sync_reads                     # data register in soft logic, no score
    elif gs is not None and not mem.rom and not ram.wr_collision_ok:
        emu_read_first = True                         # 3 points per write port
        emu += 3
        if mem.merged_reads:
            # a read register merged into an asynchronous port: transparency with the write
            # port emulated (3 points per read port), and its initial value (2) where the RAM
            # has none
            emu += mem.sync_reads * (3 + (0 if ram.rd_init else 2))
    wgroups = [ram.groups[i] for i in range(len(ram.groups)) if writes[i]]
    rgroups = [ram.groups[i] for i in range(len(ram.groups)) if reads[i]]
    byte_log2 = len(ram.dbits) - 1 if ram.byte == 0 else max([0] + [i for i, w in enumerate(ram.dbits) if w <= ram.byte])
    wren_size = len(mem.wr_groups) if not mem.rom else 0
    best = None
    for base in range(len(ram.dbits)):
        unit = base
        for g in wgroups:
            unit = min(unit, g.wr_max)
        for g in rgroups:
            unit = min(unit, g.rd_max)
        if unit != base and best is not None:
            break
        if any(base < g.wr_min and base < byte_log2 for g in wgroups):
            continue
        unit_width = ram.dbits[unit]
        eff_byte = ram.byte if 0 < ram.byte <= unit_width else unit_width
        if mem.rom:
            eff_byte = 1
        swz = 0
        for gw in (mem.wr_groups if not mem.rom else (mem.width,)):
            swz += (-swz) % eff_byte
            swz += gw
        swz += (-swz) % eff_byte
        addrs = 1 << (ram.abits - base)
        mult_a = -(-mem.depth // addrs)
        repl = -(-(mult_a * swz) // unit_width)
        demux = mult_a * wren_size if mult_a != 1 else 0
        mux = (mult_a - 1) * mem.width * (mem.sync_reads + mem.async_reads)
        cost = (ram.cost - ram.widthscale) * repl * repl_port
        cost += ram.widthscale * mult_a * mem.width / unit_width * repl_port
        cost += 0.5 * mux + 0.5 * demux + 2 * emu
        if best is None or cost < best.cost:
            best = Mapping(mem, ram, cost, cells=repl * repl_port, mult_a=mult_a, repl_port=repl_port,
                           emu_sync=emu_sync, emu_read_first=emu_read_first)
    return best


def map_memory(mem, family):
    """The mapping Yosys 0.23 chooses for ``mem`` (cheapest candidate; soft logic wins ties)."""
    lib, rom_cost, ram_cost = LIBRARIES[family]
    logic = Mapping(mem, None, int(mem.bits * (rom_cost if mem.rom else ram_cost)))
    best = logic
    for ram in lib:
        if ram.prune_rom and mem.rom:
            continue
        if mem.async_reads and not any(g.kind in ("ar", "arsw") for g in ram.groups):
            continue
        for reads, writes, gs in _assignments(mem, ram):
            m = _geometry(mem, ram, reads, writes, gs)
            if m is not None and m.cost < best.cost:
                best = m
    return best


# =====================================================================================
# The memories of the accelerator
# =====================================================================================

def table_entry_bits(engine):
    """Width of a TLMM table entry (``hwgen.rtl.tlmm.table_shape``): the sum of G int8 values."""
    return _signed_width(-128 * engine.group, 127 * engine.group)


def partial_bits(engine):
    """Width of ``partial[n]`` out of the dot block: range(-128 L, 128 L + 1)."""
    return _signed_width(-128 * engine.lanes, 128 * engine.lanes)


def _memories(plan):
    """Every memory of the RTL with its shape and ports (hwgen.rtl.accelerator, hwgen.rtl.tlmm)."""
    e = plan.engine
    N, R = e.columns, plan.row_lanes
    hidden = any(lp.layer.requant is not None for lp in plan.layers)
    Q = plan.blocks_per_row
    # activation write data: in_data (load, repeated per sub-chunk) or the requantized block
    # (run, repeated per slot, only if some layer writes the buffer; -1: a constant 0, beyond the
    # last slot or a bit no requantized value ever sets): distinct (load, run) pairs
    zero = requant_zero_bits(plan)
    act_data = len({(x % (8 * e.lanes), (x % (8 * N) if x < 8 * N * Q and x % 8 not in zero else -1)
                     if hidden else 0) for x in range(8 * R)})
    mems = [
        # one word per (chunk, block), initialized: a ROM with one synchronous read port. Data
        # columns that are constant over all words, or equal to another column, cost nothing
        # once the ROM is logic (their register and function are removed or shared).
        Memory("weights", "core", plan.weight_words, e.weight_word_bits, rom=True, sync_reads=1,
               live_width=_live_columns(plan)),
        # two banks of rows of R int8 lanes, byte write enables: R write-enable groups of 8 bits
        # (distinct bits of one multiplexer when memory_libmap runs, so R groups; once optimized,
        # lanes with the same load sub-chunk and the same block slot share one enable)
        Memory("activations", "core", 2 << plan.act_row_bits, 8 * R, wr_groups=(8,) * R, sync_reads=1,
               wr_distinct=len({(x // e.lanes, x // N if x < N * plan.blocks_per_row else -1)
                                for x in range(R)}), wr_data_distinct=act_data),
        # one word of N accumulators per output block
        Memory("accumulators", "core", plan.acc_depth, N * plan.acc_bits,
               wr_groups=(N * plan.acc_bits,), sync_reads=1),
    ]
    if not is_streaming(plan):
        # hwgen.rtl.outqueue.OutputQueue (non-streaming top): queue_depth(out_beats) entries of
        # one output beat and its tlast bit, one write port, one asynchronous read port
        qw = plan.out_bits * N + 1
        mems.append(Memory("output_queue", "core", queue_depth(plan.out_beats), qw, wr_groups=(qw,),
                           async_reads=1, soft_width=queue_data_bits(plan)))
    if e.kind == "tlmm":
        E = table_entry_bits(e)
        reps = e.table_replicas
        last = N - (reps - 1) * e.read_ports          # read ports of the last replica
        full = reps - 1 if last != e.read_ports else reps
        # per table, `reps` copies of 2 banks x 2**mag_bits entries, one write port (the builder)
        # and read_ports read ports (one per column it serves): asynchronous in the RTL, but each
        # lookup is registered as it is read, and Yosys (memory_dff) merges that register into
        # the port, so memory_libmap sees synchronous read ports (a LUTRAM keeps the register in
        # the fabric; a block RAM takes it)
        if full:
            mems.append(Memory("tables", "dot", e.table_depth, E, wr_groups=(E,),
                               sync_reads=e.read_ports, count=e.tables * full, shared=reps,
                               merged_reads=True))
        if full != reps:
            mems.append(Memory("tables_last", "dot", e.table_depth, E, wr_groups=(E,),
                               sync_reads=last, count=e.tables, shared=reps, merged_reads=True,
                               wr_shared=bool(full)))
    return mems


def requant_zero_bits(plan):
    """Bits of a requantized int8 value (hwgen.rtl.arith.requantize) that are 0 for every layer
    that requantizes, so that Yosys makes them constants: with ReLU, the bits from the sign of
    ``acc >> shift`` up (when it has at most 8 bits, saturation never happens and those bits are
    sign copies the ReLU clears), else at least bit 7 (the sign)."""
    hidden = [lp.layer.requant for lp in plan.layers if lp.layer.requant is not None]
    if not hidden or not all(rq.relu for rq in hidden):
        return set()
    low = max(min(7, plan.acc_bits - rq.shift - 1) for rq in hidden)
    return set(range(max(0, low), 8))


def queue_data_bits(plan):
    """Distinct bits of an output-queue entry (data and tlast): the core hands the queue its
    accumulators (``acc_bits`` wide) for a 32-bit output, sign-extended inside the queue's
    module, so only ``acc_bits`` of each output are distinct."""
    n = min(plan.out_bits, plan.acc_bits) if plan.out_acc else plan.out_bits
    return n * plan.engine.columns + 1


def _live_columns(plan):
    """Distinct non-constant bit columns of the weight memory (plan.weight_memory)."""
    words = plan.weight_memory
    width = plan.engine.weight_word_bits
    if not words:
        return 0
    cols = set()
    for b in range(width):
        col = tuple((w >> b) & 1 for w in words)
        if any(col) and not all(col):
            cols.add(col)
    return len(cols)


def _mux_luts(family, m):
    """LUTs per output bit of an m-input multiplexer (m >= 2) built by Yosys/ABC."""
    if m <= 1:
        return 0
    if family == "xcup":
        return m - 1
    if family == "ecp5":
        return m - 1 if m <= 2 else m
    return max(1.0, 0.85 * m - 1.4)


def _rom_luts(family, depth):
    """LUTs per data bit of a ROM of ``depth`` random words built in logic (FF mapping)."""
    a = max(1, _clog2(depth))
    if family == "xcup":
        return 1 if a <= 6 else 2 ** (a - 6)
    if family == "ecp5":
        return 1 if a <= 4 else 2 ** (a - 4)
    return 1 if a <= 4 else 0.85 * 2 ** (a - 3)


def memory_resources(mp, family):
    """Resources of one mapped memory (all its copies): primitives, and the flip-flops and LUTs
    Yosys builds around them."""
    mem, ram = mp.mem, mp.ram
    r = dict.fromkeys(KEYS, 0.0)
    reads = mem.sync_reads + mem.async_reads
    if ram is None:
        if mem.rom:
            # ROM in LUTs: one function of the address per data bit; the synchronous read port
            # keeps its data register
            live = mem.live_width if mem.live_width else mem.width
            r["lut"] = live * _rom_luts(family, mem.depth)
            r["ff"] = live * mem.sync_reads
        else:
            # RAM in flip-flops: depth x width enabled registers, a write decoder (one LUT per word),
            # one depth-input multiplexer per read port and data bit, data registers of sync reads
            # (copies written identically, like the replicas of a TLMM table, share their words
            # and write decoder: Yosys merges flip-flops with the same inputs; ``shared`` copies)
            width = mem.soft_width or mem.width
            r["ff"] = mem.depth * width / max(1, mem.shared) + width * mem.sync_reads
            r["lut"] = (mem.depth / max(1, mem.shared)) + width * reads * _mux_luts(family, mem.depth)
    else:
        if ram.kind == "distributed":
            r["lutram"] = mp.cells
            r["lutram_luts"] = mp.cells * ram.units
        else:
            r["bram"] = mp.cells * ram.units
        # synchronous read port on an asynchronous LUTRAM: the data register is in the fabric
        r["ff"] += mp.emu_sync * mem.width
        if mp.mult_a > 1:
            # address range split over mult_a primitives: output multiplexer per read port and bit,
            # write-enable decoder, and (block RAM) the registered multiplexer select
            r["lut"] += mem.width * reads * _mux_luts(family, mp.mult_a) + mp.mult_a
            if ram.kind == "block":
                r["ff"] += _clog2(mp.mult_a) * mem.sync_reads
        if mp.emu_read_first:
            # read-before-write emulation (ECP5 / iCE40 block RAM): the write is delayed one
            # cycle (address and enables registered, shared by copies written alike, and data)
            # and a bypass register returns the old data (replicas written with the same data
            # share both), plus, for merged read registers, one flip-flop per read port
            g = mem.wr_distinct or len(mem.wr_groups)
            d = mem.wr_data_distinct or mem.width
            shared = 0 if mem.wr_shared else mem.abits + 2 * g
            per_copy = 2 * d / max(1, mem.shared) + (mem.sync_reads if mem.merged_reads else 0)
            r["ff"] += shared / mem.count + per_copy
            r["lut"] += d + mem.abits + 2 * g
    for k in r:
        r[k] *= mem.count
    return r


# =====================================================================================
# Flip-flops: the registers of the RTL
# =====================================================================================

def _reg(limit):
    """Flip-flops of a counter for 0 .. limit - 1 that Yosys keeps (a counter that can only hold 0
    is a constant and is removed)."""
    return 0 if limit <= 1 else _bits(limit)


def _sum_shape(a, b):
    """(width, signed) of Amaranth's ``a + b`` for operand shapes (width, signed)."""
    (wa, sa), (wb, sb) = a, b
    if sa == sb:
        return max(wa, wb) + 1, sa
    if sa:                       # signed + unsigned: the unsigned operand takes a sign bit
        return max(wa, wb + 1) + 1, True
    return max(wa + 1, wb) + 1, True


def _pair_shapes(shapes):
    """Operand shapes after one level of ``hwgen.rtl.arith._pair`` (a balanced adder tree)."""
    out = [_sum_shape(shapes[i], shapes[i + 1]) for i in range(0, len(shapes) - 1, 2)]
    if len(shapes) % 2:
        out.append(shapes[-1])
    return out


def _tree_shape(shapes):
    """Shape of ``hwgen.rtl.arith.tree_sum`` of operands of ``shapes``."""
    shapes = list(shapes)
    while len(shapes) > 1:
        shapes = _pair_shapes(shapes)
    return shapes[0]


def _staged_levels(shapes):
    """Registered operand shapes of ``hwgen.rtl.arith.staged_tree_sum`` with the dot's
    ``DOT_STAGES - 1`` registered adder levels: a list per level."""
    levels = []
    for _ in range(DOT_STAGES - 1):
        if len(shapes) > 1:
            shapes = _pair_shapes(shapes)
        levels.append(list(shapes))
    return levels


def column_operands(engine, family="xcup"):
    """Shapes (width, signed) of the operands of one column's adder tree in the dot block.

    tlmm: the ``tables`` registered lookups, sign-flipped (``hwgen.rtl.arith.sign_flip``: entry
    width + 1), and the registered count of negated lookups (a tree sum of 1-bit values; as
    synthesized, it keeps only the bits of ``tables`` on ECP5 and iCE40, where ABC finds the bits
    above them constant, and on xcup when it sums three or fewer bits (one full adder); on xcup
    a sum of four or more bits ends in a carry chain and keeps the width Amaranth gives the
    tree); addertree: the ``lanes`` 9-bit terms (+a / -a / 0).
    """
    e = engine
    if e.kind == "tlmm":
        count = _tree_shape([(1, False)] * e.tables)[0]
        if e.tables <= 3 or family != "xcup":
            count = e.tables.bit_length()
        return [(table_entry_bits(e) + 1, True)] * e.tables + [(count, False)]
    return [(9, True)] * e.lanes


def dot_ffs(plan, family="xcup"):
    """Registers of the dot block (hwgen.rtl.tlmm.TlmmDot / hwgen.rtl.addertree.AdderTreeDot), by
    purpose: the table builder (tlmm), the stage-1 registers (tlmm: the lookups; addertree: the
    weight word and the chunk) and the registered adder levels of each column."""
    e = plan.engine
    N, L, T, G = e.columns, e.lanes, e.tables, e.group
    W = partial_bits(e)
    ops = column_operands(e, family)
    f = {}
    if e.kind == "tlmm":
        E = table_entry_bits(e)
        # building flag, entry counter j, write bank; the digit selects pos / neg of the entry
        # being summed (G each; the top digit of a stored entry is never -1: that neg bit is a
        # constant and removed); the chunk copy: lanes (8 bits) and negated lanes (9 bits, only
        # those a -1 digit selects: not the top lane of a group); each table's entry register
        f["builder"] = (1 + _bits(e.entries) + 1 + G + (G - 1) + 8 * L + 9 * (L - T) + T * E)
        # stage 1, per column: every lookup's sign bit (the entry's register is the table's read
        # register, counted with the memories) and the count of negated lookups (with one table
        # the count is that sign bit: one flip-flop)
        f["lookups"] = N * (T + (min(ops[-1][0], W) if T > 1 else 0))
    else:
        f["inputs"] = e.weight_word_bits + 8 * L
    # registered adder levels: the column's sum is taken modulo 2**W (the width of ``partial``),
    # so Yosys drops every bit above W of the operands and sums
    f["levels"] = N * sum(min(w, W) for level in _staged_levels(ops) for w, _ in level)
    return f


def core_ffs(plan, family="xcup"):
    """Registers of hwgen.rtl.accelerator._Core and of the output queue (memory data registers
    excluded), by purpose.

    Registers whose next value is always their reset value are removed by synth_xilinx (its
    opt_dff proves it) but kept by synth_ecp5 / synth_ice40: the layer counters of a one-layer
    model, the sub-chunk counter when a row is one chunk, and the pipeline fields they feed (see
    ``_pipeline_chains``, which also gives the SRL16E packing of the pipeline on xcup).
    """
    e = plan.engine
    N, S, Q, NL = e.columns, plan.subchunks, plan.blocks_per_row, len(plan.layers)
    tlmm = e.kind == "tlmm"
    keep_const = family != "xcup"
    cycle_limit = max([lp.period for lp in plan.layers] + [e.build_cycles, DRAIN]) + 1
    rows = _bits(plan.act_rows)              # pos_row can step to 1 even with 1 row
    layer = _reg(NL) or (1 if keep_const else 0)
    slot = _reg(Q) or (1 if keep_const else 0)
    pos_sub = _reg(S) or (1 if keep_const else 0)
    fetch_sub = _reg(S)                      # only read when a row holds several chunks
    f = {}
    # (a counter for 0 .. 0 is still one flip-flop wide: kept as a register by ecp5 / ice40)
    # sequencer: state (2 bits), layer, chunk, cycle, weight address, load/fetch position
    # (row, sub-chunk), table-bank parity (tlmm only: it drives build_bank), placement of the
    # next block (row, slot), and the sub-chunk the fetched row is read at
    f["sequencer"] = (2 + layer + _bits(max(lp.chunks for lp in plan.layers)) + _bits(cycle_limit)
                      + _bits(plan.weight_words) + rows + pos_sub + (1 if tlmm else 0)
                      + rows + slot + fetch_sub)
    # pipeline stages S1 .. S{STAGE_WRITE}: flip-flops not packed into shift registers
    f["pipeline"] = sum(n * length for n, length, srl in _pipeline_chains(plan, family) if not srl)
    # partial sums (the bits above the dot's output width are sign copies, merged by Yosys),
    # accumulators
    pb = min(partial_bits(e), plan.acc_bits)
    f["partial"] = N * pb
    f["acc"] = N * plan.acc_bits
    if is_streaming(plan):
        # output register of the streaming core (sign copies above acc_bits merged; a ReLU
        # output's sign bit is always 0), valid and last
        out_bits = min(plan.out_bits, plan.acc_bits) if plan.out_acc else 8
        if not plan.out_acc and plan.model.layers[-1].requant.relu:
            out_bits = 7
        f["output"] = N * out_bits + 2
    else:
        # output queue: the output register (tdata and tlast: as wide as the memory's read data,
        # or, when the memory is built from flip-flops, only its distinct columns), tvalid, write
        # and read pointers, the count of stored beats and the credits (0 .. depth + 1)
        depth = queue_depth(plan.out_beats)
        qmem = next(m for m in _memories(plan) if m.name == "output_queue")
        data = qmem.width if map_memory(qmem, family).ram is not None else qmem.soft_width
        f["queue"] = data + 1 + 2 * _clog2(depth) + _bits(depth + 1) + _bits(depth + 2)
    return f


def _pipeline_chains(plan, family="xcup"):
    """The register chains of the pipeline stage records S1 .. S{STAGE_WRITE} of
    hwgen.rtl.accelerator._Core: a list of (bits, length, srl).

    Each field runs from S1 to the last stage that reads it: ``bank`` in S1 (tlmm: the dot's table
    bank), ``first`` in the accumulate stage (STAGE_ACC_READ + 1), ``block`` at STAGE_ACC_READ
    (accumulator read address, when there are several words) and STAGE_WRITE (write address,
    tlast), ``valid``, ``last``, ``row``, ``slot`` and ``layer`` at STAGE_WRITE. A stage read in
    the middle splits a field's chain. The fields are reset-less: on xcup Yosys packs each chain
    of three or more of them into one shift-register LUT per bit (``xilinx_srl -fixed -minlen 3``,
    SRL16E); ``valid`` has a reset and stays in flip-flops. The slot fields only feed the
    activation write enables of layers that write the buffer: with one layer they are removed
    (xcup) or kept as registers (ecp5, ice40).
    """
    e = plan.engine
    Q, NL = plan.blocks_per_row, len(plan.layers)
    keep_const = family != "xcup"
    rows = _bits(plan.act_rows)
    layer = _reg(NL) or (1 if keep_const else 0)
    slot = _reg(Q) or (1 if keep_const else 0)
    # slot fields only feed the activation write enables of layers that write the buffer: with
    # one layer they are removed (xcup) or kept as registers (ecp5, ice40)
    st_slot = slot if (NL > 1 or keep_const) else 0
    fields = [  # (bits, stages that read it, reset-less)
        (1, (STAGE_WRITE,), False),                                   # valid
        # block: also read at STAGE_WRITE by the output's tlast, so one bit even for one block;
        # the accumulator read address only exists when there are several words
        (_bits(plan.acc_depth), (STAGE_ACC_READ, STAGE_WRITE) if plan.acc_depth > 1 else (STAGE_WRITE,),
         True),
        (1, (STAGE_ACC_READ + 1,), True),                             # first
        (1, (STAGE_WRITE,), True),                                    # last
        (1 if e.kind == "tlmm" else 0, (1,), True),                   # bank
        (rows, (STAGE_WRITE,), True),                                 # row
        (st_slot, (STAGE_WRITE,), True),                              # slot
        (layer, (STAGE_WRITE,), True),                                # layer
    ]
    out = []
    for bits, taps, reset_less in fields:
        start = 1
        for tap in sorted(taps):
            length = tap - start + 1
            if bits and length > 0:
                out.append((bits, length, family == "xcup" and reset_less and length >= 3))
            start = tap + 1
    return out


def core_srls(plan, family="xcup"):
    """Shift-register LUTs (SRL16E, xcup) of the core: one per bit of each packed pipeline chain."""
    return sum(n for n, _, srl in _pipeline_chains(plan, family) if srl)


# =====================================================================================
# Logic LUTs and carry cells
# =====================================================================================
#
# Yosys turns each adder tree of hwgen.rtl.arith.tree_sum (one per column, one per TLMM table
# entry) into one multi-operand adder ($macc, by alumacc), and that into a carry-save tree of full
# adders with one carry-chain adder at the end (maccmap): for n operands of an output of w bits
# that is about (n - 2) * w full adders and a w-bit carry chain. ABC then maps the full adders
# together with the logic that forms the operands (the +a / -a / 0 select of an adder-tree term,
# the sign XOR of a TLMM lookup) into LUTs. The LUT count of a block is therefore written as
#
#     sum over hardware features (full adders, operand bits, carry-chain bits, ...) x constant
#
# where the features are exact counts from the plan (below) and the constants, LUTs per feature,
# depend on the family's LUT size (6 inputs on xcup, 4 on ECP5 / iCE40) and are fitted (see
# COEF). ECP5's CCU2C carry cells take LUT sites: the constants are for LUT sites, i.e.
# lut + carry_luts, and carry_luts is taken off afterwards.

def _cells(bits, family):
    """Carry cells of a ``bits``-wide carry chain: CARRY4 (4 bits), CCU2C (2 bits), SB_CARRY (1)."""
    if bits <= 0:
        return 0
    if family == "xcup":
        return -(-bits // 4)
    if family == "ecp5":
        return -(-bits // 2)
    return max(0, bits - 1)


def column_tree(engine, family="xcup"):
    """(adder bits, rest) of one column's adder tree in the dot block: the output bits of the
    adders in its registered levels (``DOT_STAGES - 1`` levels of pair sums, each at most W bits:
    see ``dot_ffs``), and the operands the combinational rest of the tree adds to W bits."""
    W = partial_bits(engine)
    shapes = column_operands(engine, family)
    bits = 0
    for _ in range(DOT_STAGES - 1):
        if len(shapes) > 1:
            paired = _pair_shapes(shapes)
            bits += sum(min(w, W) for w, _ in paired[:len(shapes) // 2])
            shapes = paired
    return bits, len(shapes)


def _alu_cells(bits, family):
    """Carry cells of a ``bits``-wide adder or counter: Yosys 0.23 maps an $alu to a carry chain
    only above 4 bits on ECP5 and 2 bits on xcup / iCE40 (``arith_map.v``), smaller ones to LUTs."""
    return _cells(bits, family) if bits > (4 if family == "ecp5" else 2) else 0


def dot_features(plan, family):
    """Hardware counts of the dot block that its LUTs scale with."""
    e = plan.engine
    N, L, T, G = e.columns, e.lanes, e.tables, e.group
    W = partial_bits(e)                  # output width of a column's sum
    adder_bits, rest = column_tree(e, family)
    f = {}
    if e.kind == "addertree":
        # -a of every (registered) activation lane: a 9-bit negation shared by all columns
        f["neg_bits"] = 9 * L
        # per column: L terms (+a / -a / 0 select of 9 bits), most of them feeding the
        # registered first-level adders
        f["term_bits"] = N * L * 9
    else:
        # -a of the chunk lanes a -1 digit selects (the builder's copy), 9 bits each
        f["neg_bits"] = 9 * (L - T)
        # per column: T lookups, sign-flipped (XOR) before their registers: entry-width bits
        f["flip_bits"] = N * T * table_entry_bits(e)
        # per table: the builder, entry j = sum of G terms (+a / -a / 0 chosen by the registered
        # digit selects of j): one constant per group size G
        for g in (2, 3, 4):
            f[f"bld_g{g}"] = T if G == g else 0
        # the tables' read multiplexers and write decoders outside the RAM primitives (address
        # ranges beyond one primitive; on iCE40 the whole tables are flip-flops + multiplexers)
        f["tbl_mem"] = sum(memory_resources(map_memory(m, family), family)["lut"]
                           for m in _memories(plan) if m.block == "dot")
    # per column: the registered first-level adders (carry chains), then the combinational rest
    # of the tree: ``rest`` operands summed to W bits, a carry-chain adder for two, and for more
    # a compressor tree of about (rest - 2) x W full adders before it, compressor_levels(rest)
    # full adders deep. ABC maps for delay first: while that rest is at most one full adder
    # deep, the first level (its operand logic and the adder inputs) sets the delay and is
    # mapped into wide LUTs (``l1_crit_bits``: LUT6 + MUXF7/8 on xcup); deeper, the first level
    # has slack and the deep compressor is mapped wide instead (``rest_fa_deep``, three levels
    # or more)
    levels = compressor_levels(rest)
    f["l1_crit_bits"] = N * adder_bits if levels <= 1 else 0
    f["l1_bits"] = N * adder_bits if levels > 1 else 0
    f["rest_w"] = N * W if rest >= 2 else 0
    f["rest_fa"] = N * max(0, rest - 2) * W if levels <= 2 else 0
    f["rest_fa_deep"] = N * max(0, rest - 2) * W if levels > 2 else 0
    return f


def compressor_levels(operands):
    """Full-adder levels of a carry-save tree reducing ``operands`` rows to two (Dadda's
    sequence 2, 3, 4, 6, 9, 13, ...: each level reduces to 3/2 of the rows below it)."""
    levels, rows = 0, 2
    while rows < operands:
        rows = rows * 3 // 2
        levels += 1
    return levels


def dot_carry(plan, family):
    """Carry cells of the dot block: the lane negations, the builder's entry adders and counter
    (tlmm), each column's registered first-level adders and final adder."""
    e = plan.engine
    W = partial_bits(e)
    N, L, T = e.columns, e.lanes, e.tables
    c = 0
    ops = column_operands(e, family)
    for _ in range(DOT_STAGES - 1):
        if len(ops) > 1:
            paired = _pair_shapes(ops)
            c += N * sum(_cells(min(w, W), family) for w, _ in paired[:len(ops) // 2])
            ops = paired
    if len(ops) >= 2:
        c += N * _cells(W, family)
    if e.kind == "tlmm":
        c += (L - T) * _cells(9, family) + T * _cells(table_entry_bits(e), family)
        # the entry counter's incrementer; on xcup the count of negated lookups ends in a carry
        # chain when it sums four or more bits
        c += _alu_cells(_bits(e.entries), family) + (N if T >= 4 and family == "xcup" else 0)
    else:
        c += L * _cells(9, family)
    return c


def core_features(plan, family):
    """Hardware counts of the core (sequencer, accumulators, requantization, buffer writes)."""
    e = plan.engine
    N, L, S = e.columns, e.lanes, plan.subchunks
    hidden = [lp for lp in plan.layers if lp.layer.requant is not None]
    act = next(m for m in _memories(plan) if m.name == "activations")
    f = {}
    # accumulate: acc = first ? partial : old + partial, acc_bits per column
    f["acc_bits"] = N * plan.acc_bits
    # requantize (saturate (acc >> shift) to int8, ReLU) per column and layer that has it: the
    # 8 result bits and the range comparison of the bits above them
    f["rq_bits"] = N * sum(8 + max(0, plan.acc_bits - lp.layer.requant.shift - 7) for lp in hidden)
    # activation write data, load (input beat) or run (requantized block), distinct bits: a
    # multiplexer per bit. Without a requantizing layer the run data is never written (its write
    # enable is 0) and Yosys drops the multiplexer
    f["wr_bits"] = act.wr_data_distinct if hidden else 0
    # ... each a function of the requantized value's bits (acc_bits - shift of them, for the
    # saturation): LUT4 families build (and duplicate) these cones bit by bit
    f["wr_rq_bits"] = f["wr_bits"] * max([plan.acc_bits - lp.layer.requant.shift for lp in hidden] or [0])
    # chunk select when a row holds several chunks: 8 L bits, S-input multiplexer
    f["sel_bits"] = 8 * L * (S - 1)
    # sequencer: counters (and their comparisons with per-layer constants, selected by layer)
    f["seq_bits"] = (_bits(plan.weight_words) + 2 * _bits(plan.act_rows) + _bits(plan.acc_depth)
                     + _bits(max(lp.chunks for lp in plan.layers))
                     + _bits(max([lp.period for lp in plan.layers] + [e.build_cycles, DRAIN]) + 1))
    # output queue (non-streaming top): the output register's next value, per bit
    f["queue_luts"] = queue_data_luts(plan, family)
    f["layer_bits"] = (len(plan.layers) - 1) * (_bits(max(lp.chunks for lp in plan.layers))
                                                 + _bits(plan.acc_depth) + _bits(max(lp.period for lp in plan.layers)))
    return f


def queue_register_luts(bits, depth, family):
    """LUTs of the next value of the output queue's data register (hwgen.rtl.outqueue): ``bits``
    bits, a memory of ``depth`` entries in distributed RAM (xcup, ECP5).

    Each bit loads the memory's read data or the core's beat, chosen by ``m_axis_tvalid``,
    ``m_axis_tready`` and ``stored != 0``: a function of 4 + s inputs (s the bits of the
    ``stored`` counter). ABC does not share the ``stored != 0`` decode: while the function fits
    the widest LUT it maps (xcup: 9 inputs, LUT6 + MUXF7-9; ECP5: 7 inputs, LUT4 + PFUMX /
    L6MUX21) it builds one per bit, 2**(n - k) LUTs of k inputs; wider, it factors the decode out
    (about one LUT per bit).
    """
    n = 4 + _bits(depth + 1)
    k, widest = (6, 9) if family == "xcup" else (4, 7)
    return bits * (2 ** max(0, n - k) if n <= widest else 1)


def queue_data_luts(plan, family):
    """LUTs of the output queue's data register inputs (``queue_register_luts``). On iCE40
    (4-input LUTs, no distributed RAM) the memory is flip-flops and multiplexers (counted with
    the memory) and the register takes one more LUT per distinct bit."""
    if is_streaming(plan):
        return 0
    qmem = next(m for m in _memories(plan) if m.name == "output_queue")
    if family == "ice40" or map_memory(qmem, family).ram is None:
        return qmem.soft_width
    return queue_register_luts(qmem.width, qmem.depth, family)


def core_carry(plan, family):
    """Carry cells of the core: the accumulator adders and the counters' incrementers."""
    N = plan.engine.columns
    c = N * _cells(plan.acc_bits, family)
    for limit in (plan.weight_words, plan.act_rows, plan.acc_depth):
        c += _cells(_bits(limit), family) if limit > 4 else 0
    return c


# LUT sites per feature, per family and block (fitted; see the module docstring and
# benchmarks/bench_estimates.py --calibrate, which prints this table).
COEF = {
    "xcup": {
        "dot_addertree": {"l1_bits": 0.0, "l1_crit_bits": 2.508, "neg_bits": 0.774, "rest_fa": 1.137, "rest_fa_deep": 3.128, "rest_w": 0.853, "term_bits": 1.109},
        "dot_tlmm": {"bld_g2": 0.0, "bld_g3": 1.442, "bld_g4": 2.91, "flip_bits": 0.0, "l1_bits": 1.031, "l1_crit_bits": 1.031, "neg_bits": 4.046, "rest_fa": 1.861, "rest_fa_deep": 2.022, "rest_w": 1.19, "tbl_mem": 0.908},
        "core": {"acc_bits": 2.086, "layer_bits": 0.0, "queue_luts": 1.157, "rq_bits": 0.0, "sel_bits": 0.0, "seq_bits": 2.313, "wr_bits": 0.986, "wr_rq_bits": 0.0},
    },
    "ecp5": {
        "dot_addertree": {"l1_bits": 2.257, "l1_crit_bits": 0.0, "neg_bits": 2.01, "rest_fa": 2.057, "rest_fa_deep": 1.227, "rest_w": 1.228, "term_bits": 1.538},
        "dot_tlmm": {"bld_g2": 32.306, "bld_g3": 0.0, "bld_g4": 114.269, "flip_bits": 1.395, "l1_bits": 2.003, "l1_crit_bits": 1.177, "neg_bits": 5.282, "rest_fa": 1.271, "rest_fa_deep": 0.0, "rest_w": 0.831, "tbl_mem": 0.855},
        "core": {"acc_bits": 3.254, "layer_bits": 0.0, "queue_luts": 0.93, "rq_bits": 0.0, "sel_bits": 0.0, "seq_bits": 6.741, "wr_bits": 0.928, "wr_rq_bits": 0.0},
    },
    "ice40": {
        "dot_addertree": {"l1_bits": 0.77, "l1_crit_bits": 0.072, "neg_bits": 1.778, "rest_fa": 0.462, "rest_fa_deep": 0.0, "rest_w": 1.0, "term_bits": 1.516},
        "dot_tlmm": {"bld_g2": 3.602, "bld_g3": 0.0, "bld_g4": 31.483, "flip_bits": 1.391, "l1_bits": 0.0, "l1_crit_bits": 2.23, "neg_bits": 4.568, "rest_fa": 1.058, "rest_fa_deep": 0.0, "rest_w": 1.489, "tbl_mem": 0.875},
        "core": {"acc_bits": 0.0, "layer_bits": 0.0, "queue_luts": 1.44, "rq_bits": 0.0, "sel_bits": 2.586, "seq_bits": 5.746, "wr_bits": 0.0, "wr_rq_bits": 0.0},
    },
}

BASIS = ("analytic (hwgen.estimate): memories mapped as Yosys 0.23 memory_libmap does, registers "
         "counted from the RTL, LUTs = hardware counts x per-family constants fitted on "
         "calibration designs; hierarchy kept")


def _zero():
    return dict.fromkeys(KEYS, 0)


def _finish(b, family):
    b["carry_luts"] = 2 * b["carry"] if family == "ecp5" else 0
    b["lut"] = max(0.0, b["lut"] - b["carry_luts"])
    b["lut_equiv"] = b["lut"] + b["lutram_luts"] + b["carry_luts"]
    out = {}
    for k in KEYS:
        v = b[k]
        out[k] = round(v, 1) if k == "bram" else int(round(v))
    return out


def estimate_resources(plan, family="xcup"):
    """Estimated resources of ``plan``'s accelerator on ``family`` (see the module docstring)."""
    if family not in FAMILIES:
        raise ValueError(f"unknown FPGA family {family!r}; choose one of {', '.join(FAMILIES)}")
    e = plan.engine
    if e.kind == "hardwired":
        from .hardwired import hardwired_resources
        return hardwired_resources(plan, family)
    if getattr(e, "kind", None) not in ("tlmm", "addertree"):
        # no figures rather than zeros that would read as an estimate
        return {"family": family, "basis": f"no analytic model for engine kind {e.kind!r}"}
    coef = COEF[family]
    blocks = {"dot": _zero(), "core": _zero()}
    # memories
    memories = []
    for mem in _memories(plan):
        mp = map_memory(mem, family)
        res = memory_resources(mp, family)
        for k, v in res.items():
            if k == "lut" and mem.block == "dot":
                continue        # counted by the dot model (feature tbl_mem)
            blocks[mem.block][k] += v
        memories.append({"name": mem.name, "block": mem.block, "copies": mem.count, "depth": mem.depth,
                         "width": mem.width, "mapped_to": mp.ram.prim if mp.ram else "logic",
                         "primitives": mp.cells * mem.count if mp.ram else 0})
    # registers
    blocks["dot"]["ff"] += sum(dot_ffs(plan, family).values())
    blocks["core"]["ff"] += sum(core_ffs(plan, family).values())
    blocks["core"]["lutram_luts"] += core_srls(plan, family)   # SRL16E: LUTs used as memory
    # logic: LUT sites from the hardware counts, carry cells counted directly
    kind = "tlmm" if e.kind == "tlmm" else "addertree"
    for name, feats in (("dot", dot_features(plan, family)), ("core", core_features(plan, family))):
        c = coef[f"dot_{kind}"] if name == "dot" else coef["core"]
        blocks[name]["lut"] += sum(c.get(k, 0.0) * v for k, v in feats.items())
    blocks["dot"]["carry"] += dot_carry(plan, family)
    blocks["core"]["carry"] += core_carry(plan, family)
    blocks = {k: _finish(v, family) for k, v in blocks.items()}
    total = {k: blocks["dot"][k] + blocks["core"][k] for k in KEYS}
    total["bram"] = round(total["bram"], 1)
    flat = {
        "lut": total["lut"], "ff": total["ff"], "carry": total["carry"],
        "lutram": total["lutram"], "lutram_luts": total["lutram_luts"], "lut_equiv": total["lut_equiv"],
        "bram": total["bram"], "bram36": total["bram"] if family == "xcup" else None,
        "uram": total["uram"], "dsp": total["dsp"],
        "dot_lut": blocks["dot"]["lut"] + blocks["dot"]["carry_luts"], "dot_ff": blocks["dot"]["ff"],
        "datapath_lut": blocks["core"]["lut"] + blocks["core"]["carry_luts"],
        "weight_memory_bits": plan.weight_words * e.weight_word_bits,
    }
    return {"family": family, "blocks": blocks, "total": total, "memories": memories,
            "basis": f"{BASIS}; family {family}", **flat}
