"""Engine parameters: the one object that drives an engine's RTL, cycle model and estimates.

Two engine kinds share one datapath skeleton (see ``hwgen.rtl.accelerator``):

``tlmm``
    Table-lookup ternary matmul in the style of TeLLMe. Activations arrive in *chunks* of
    ``lanes = group * tables`` int8 values. For each chunk, ``tables`` tables are built, one per
    activation group of ``group`` values; table entry ``j`` holds the sum of the group's
    activations weighted by the balanced-ternary digits of ``j`` (``j = 0 .. (3**group - 1) / 2``,
    the non-negative half: the negative half is the same sums negated). A group of ``group``
    ternary weights is stored as one index: a sign bit and the magnitude ``|v|`` of
    ``v = sum_i w_i * 3**i``. Each cycle, ``columns`` output columns each look up one entry in every
    table and add the ``tables`` signed lookups: ``group * tables * columns`` ternary MACs per cycle.
    The table of a chunk is built once (one entry per cycle, ``entries`` cycles, double-buffered so
    it overlaps the lookups of the previous chunk) and reused by every output block of the layer.

``addertree``
    The baseline: the same chunks, but each of the ``columns`` columns adds ``lanes`` ternary
    products directly (a select of +a, -a or 0 and an adder tree). Same MACs per cycle as a
    ``tlmm`` engine with ``group * tables == lanes``.

``hardwired`` (its own datapath, not the shared skeleton)
    Metal-Embedding style (HNLPU): every weight is a constant of the logic. Zero weights vanish;
    each output sums the inputs routed to its +1 set and to its -1 set and subtracts the two
    (``hwgen.hardwired``, ``hwgen.rtl.hardwired``). Every layer is its own fully parallel block,
    registered between layers, so consecutive vectors overlap in the layer pipeline. ``lanes`` is
    the input beat width, ``columns`` the output beat width; ``serial`` feeds each layer its
    inputs one bit-plane per cycle (MSB first) into popcount accumulators. Stored as
    ``group = 1``, ``tables = lanes`` like a lanes-given adder tree.
"""

from dataclasses import dataclass

from .errors import ModelError

KINDS = ("tlmm", "addertree", "hardwired", "lif")
HARDWIRED_DEFAULT_LANES = 8
HARDWIRED_DEFAULT_COLUMNS = 8
GROUPS = (2, 3, 4)
MAX_TABLES = 64
MAX_COLUMNS = 64
MAX_LANES = 256

# Pipeline of the shared datapath (hwgen.rtl.accelerator). Stage numbers are cycles after a block
# is issued: the weight word is read in S0 (synchronous read, data in S1); the dot block (TlmmDot
# or AdderTreeDot) registers its lookups / terms at the end of S1 and its first adder level at the
# end of S2 (``DOT_STAGES`` register stages), and the partial sums are registered after it; then
# one stage adds the accumulator and one writes it back (or requantizes and writes the result).
# These constants are used by the RTL, the cycle model and the docs alike.
DOT_STAGES = 2         # register stages inside the dot block
STAGE_ACC_READ = 1 + DOT_STAGES   # accumulator read issued (synchronous read, data next cycle)
STAGE_WRITE = 3 + DOT_STAGES      # accumulator / activation / output-queue write
OUTPUT_LATENCY = 4 + DOT_STAGES   # the output beat of a block issued at cycle t is on m_axis at
                                  # t + OUTPUT_LATENCY (from the output register or queue)
# The next read of an accumulator word must come after its write: a period (cycles per chunk)
# is never shorter than this.
MIN_PERIOD = STAGE_WRITE - STAGE_ACC_READ + 1
# Cycles between the last issue of a layer and the first cycle of the next layer, so that the
# next layer reads activations written by the last block of this one.
DRAIN = STAGE_WRITE


@dataclass(frozen=True)
class EngineParams:
    """Validated engine parameters (the ``engine:`` mapping of a model description)."""

    kind: str
    group: int
    tables: int
    columns: int
    read_ports: int = 4
    serial: bool = False          # hardwired only: bit-serial layer inputs

    @classmethod
    def from_mapping(cls, d, *, file=None, field="engine"):
        if not isinstance(d, dict):
            raise ModelError("must be a mapping with kind, group, tables, columns", file=file, field=field)
        if d.get("kind") == "lif":      # spiking LIF core: its own parameters (hwgen.lif)
            from .lif import LifEngine
            return LifEngine.from_mapping(d, file=file, field=field)
        allowed = {"kind", "group", "tables", "columns", "read_ports", "lanes", "serial"}
        for key in d:
            if key not in allowed:
                raise ModelError(f"unknown key (allowed: {', '.join(sorted(allowed))})", file=file, field=f"{field}.{key}")
        kind = d.get("kind")
        if kind not in KINDS:
            raise ModelError(f"must be one of {', '.join(KINDS)}, got {kind!r}", file=file, field=f"{field}.kind")

        def integer(key, lo, hi, default=None):
            v = d.get(key, default)
            if v is None:
                raise ModelError("is required", file=file, field=f"{field}.{key}")
            if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
                raise ModelError(f"must be an integer in {lo}..{hi}, got {v!r}", file=file, field=f"{field}.{key}")
            return v

        if kind == "hardwired":
            return cls._hardwired_from_mapping(d, integer, file=file, field=field)
        if "serial" in d:
            raise ModelError("only a hardwired engine takes serial", file=file, field=f"{field}.serial")
        columns = integer("columns", 1, MAX_COLUMNS)
        read_ports = integer("read_ports", 1, 8, 4)
        if kind == "addertree" and "lanes" in d:
            if "group" in d or "tables" in d:
                raise ModelError("give either lanes or group and tables, not both", file=file, field=f"{field}.lanes")
            lanes = integer("lanes", 1, MAX_LANES)
            return cls(kind, 1, lanes, columns, read_ports)
        if kind == "tlmm" and "lanes" in d:
            raise ModelError("a tlmm engine takes group and tables, not lanes", file=file, field=f"{field}.lanes")
        group = d.get("group")
        if group not in GROUPS or isinstance(group, bool):
            raise ModelError(f"must be one of {', '.join(map(str, GROUPS))}, got {group!r}", file=file, field=f"{field}.group")
        tables = integer("tables", 1, MAX_TABLES)
        if group * tables > MAX_LANES:
            raise ModelError(f"group x tables = {group * tables} lanes exceeds {MAX_LANES}", file=file, field=f"{field}.tables")
        return cls(kind, group, tables, columns, read_ports)

    @classmethod
    def _hardwired_from_mapping(cls, d, integer, *, file, field):
        for key in ("group", "tables", "read_ports"):
            if key in d:
                raise ModelError("a hardwired engine takes lanes, columns and serial only",
                                 file=file, field=f"{field}.{key}")
        lanes = integer("lanes", 1, MAX_LANES, HARDWIRED_DEFAULT_LANES)
        columns = integer("columns", 1, MAX_COLUMNS, HARDWIRED_DEFAULT_COLUMNS)
        serial = d.get("serial", False)
        if not isinstance(serial, bool):
            raise ModelError(f"must be true or false, got {serial!r}", file=file, field=f"{field}.serial")
        return cls("hardwired", 1, lanes, columns, 4, serial)

    # ---- derived quantities (every consumer takes them from here) ----
    @property
    def lanes(self):
        """Activations consumed per cycle: the width of a chunk and of an input beat."""
        return self.group * self.tables

    @property
    def macs_per_cycle(self):
        return self.lanes * self.columns

    @property
    def entries(self):
        """Stored table entries per table: indices 0 .. (3**G - 1) / 2 (the sign-symmetric half)."""
        return (3 ** self.group + 1) // 2

    @property
    def mag_bits(self):
        return (self.entries - 1).bit_length()

    @property
    def index_bits(self):
        """Bits per stored weight index: magnitude plus a sign bit."""
        return self.mag_bits + 1

    @property
    def table_depth(self):
        """Depth of one table memory: two banks (double buffering) of 2**mag_bits entries."""
        return 2 << self.mag_bits

    @property
    def build_cycles(self):
        """Cycles to build one chunk's tables (one entry per cycle); 0 for the adder tree."""
        return self.entries if self.kind == "tlmm" else 0

    @property
    def weight_bits_per_column(self):
        """Bits of one column's weights for one chunk in a weight-memory word."""
        if self.kind == "tlmm":
            return self.tables * self.index_bits
        return self.lanes * 2

    @property
    def weight_word_bits(self):
        return self.columns * self.weight_bits_per_column

    @property
    def table_replicas(self):
        """Copies of each table, each serving ``read_ports`` lookup columns."""
        return -(-self.columns // self.read_ports)

    def period(self, blocks):
        """Cycles spent per chunk for a layer with ``blocks`` output blocks."""
        return max(blocks, self.build_cycles, MIN_PERIOD)

    def as_dict(self):
        if self.kind == "hardwired":
            return {"kind": self.kind, "columns": self.columns, "lanes": self.lanes, "serial": self.serial}
        d = {"kind": self.kind, "columns": self.columns, "lanes": self.lanes,
             "macs_per_cycle": self.macs_per_cycle}
        if self.kind == "tlmm":
            d.update(group=self.group, tables=self.tables, read_ports=self.read_ports,
                     table_entries=self.entries, index_bits=self.index_bits,
                     build_cycles=self.build_cycles)
        return d
