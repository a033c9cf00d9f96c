"""Table-lookup ternary matmul (TLMM) datapath: ``TlmmDot`` (table builder, tables, lookup adders)."""

from amaranth.hdl import Array, Cat, Const, Module, Mux, Shape, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..engine import DOT_STAGES
from ..sim import balanced_digits
from .arith import register, sign_flip, staged_tree_sum, tree_sum


def table_shape(engine):
    """Signed shape of a table entry: the sum of ``group`` int8 activations."""
    return Shape.cast(range(-128 * engine.group, 127 * engine.group + 1))


class TlmmDot(wiring.Component):
    """Tables, their builder, and the lookup adders of a TLMM engine.

    Build side: ``build_start`` (one cycle) latches ``build_bank``; ``chunk`` must hold the
    chunk's ``lanes`` int8 activations in the next cycle (the builder keeps a copy). Entry
    ``j = 0 .. entries - 1`` of every table is then written to bank ``build_bank``, one per cycle,
    from a register: entry 0 is 0, entry 1 is the group's first activation (taken straight from
    ``chunk``), and entry ``j + 1`` is summed from the copy while entry ``j`` is written.
    The tables are distributed RAM: each table is replicated ``ceil(columns / read_ports)`` times,
    each copy with ``read_ports`` asynchronous read ports and one write port, and holds two banks
    of ``2**mag_bits`` entries so a chunk's tables are built while the previous chunk's are read.

    Lookup side: ``weights`` is one weight-memory word (``columns * tables`` indices of
    ``index_bits``: sign above magnitude) and ``bank`` the table bank, both in the same cycle.
    The lookups (with their index's sign bit) and each column's count of negated lookups are
    registered; the sign is folded in as a bit flip in front of the first adder level (plus the
    count), whose sums are registered too; and ``partial[n]`` (combinational from those
    registers, ``DOT_STAGES`` cycles after ``weights``) is the sum over tables of the signed entries
    column ``n``'s indices select.
    """

    def __init__(self, engine):
        self.engine = e = engine
        self.entry_shape = table_shape(e)
        partial_bits = Shape.cast(range(-128 * e.lanes, 128 * e.lanes + 1)).width
        super().__init__({
            "chunk": In(signed(8)).array(e.lanes),
            "build_start": In(1),
            "build_bank": In(1),
            "weights": In(e.weight_word_bits),
            "bank": In(1),
            "partial": Out(signed(partial_bits)).array(e.columns),
        })

    def elaborate(self, platform):
        e = self.engine
        m = Module()

        # ---- builder: entry j = sum_i digit_i(j) * a_i, one entry per cycle ----
        building = Signal()
        j = Signal(range(e.entries))
        wbank = Signal()
        with m.If(self.build_start):
            m.d.sync += [building.eq(1), j.eq(0), wbank.eq(self.build_bank)]
        with m.Elif(building):
            m.d.sync += j.eq(j + 1)
            with m.If(j == e.entries - 1):
                m.d.sync += building.eq(0)
        first = Signal()                # the cycle that writes entry 0 (the chunk is on `chunk`)
        m.d.comb += first.eq(building & (j == 0))

        # digit selects of the entry summed in this cycle (entry j + 1), registered: loaded with
        # the digits of entry 2 when entry 1 is taken from `chunk`, then advanced every cycle
        digits = balanced_digits(e.group)

        def digit_rom(value):
            """Bit i of word k: digit i of entry k + 2 equals ``value`` (0 past the last entry)."""
            words = [sum(1 << i for i in range(e.group) if k + 2 < e.entries and digits[k + 2, i] == value)
                     for k in range(e.entries)]
            return Array(Const(w, e.group) for w in words)
        pos = Signal(e.group, reset_less=True)
        neg = Signal(e.group, reset_less=True)
        with m.If(building):
            m.d.sync += [pos.eq(digit_rom(1)[j]), neg.eq(digit_rom(-1)[j])]

        lanes = [Signal(signed(8), name=f"lane{x}", reset_less=True) for x in range(e.lanes)]
        nlanes = [Signal(signed(9), name=f"nlane{x}", reset_less=True) for x in range(e.lanes)]
        with m.If(first):
            m.d.sync += [lanes[x].eq(self.chunk[x]) for x in range(e.lanes)]
            m.d.sync += [nlanes[x].eq(-self.chunk[x]) for x in range(e.lanes)]

        terms_of_column = [[] for _ in range(e.columns)]
        for t in range(e.tables):
            g = range(t * e.group, (t + 1) * e.group)
            terms = [Mux(pos[i], lanes[x], Mux(neg[i], nlanes[x], 0)) for i, x in enumerate(g)]
            entry = Signal(self.entry_shape, name=f"entry{t}", reset_less=True)
            with m.If(self.build_start):
                m.d.sync += entry.eq(0)
            with m.Elif(first):
                m.d.sync += entry.eq(self.chunk[g[0]])
            with m.Else():
                m.d.sync += entry.eq(tree_sum(terms))
            for r in range(e.table_replicas):
                cols = range(r * e.read_ports, min(e.columns, (r + 1) * e.read_ports))
                mem = Memory(shape=self.entry_shape, depth=e.table_depth, init=[])
                m.submodules[f"table{t}_{r}"] = mem
                wp = mem.write_port()
                m.d.comb += [wp.addr.eq(Cat(j, wbank)), wp.data.eq(entry), wp.en.eq(building)]
                for n in cols:
                    idx = self.weights[(n * e.tables + t) * e.index_bits:][:e.index_bits]
                    rp = mem.read_port(domain="comb")
                    m.d.comb += rp.addr.eq(Cat(idx[:e.mag_bits], self.bank))
                    terms_of_column[n].append((rp.data, idx[e.mag_bits]))

        # ---- lookup adders: stage 1 registers the lookups, stage 2 the first adder level ----
        for n in range(e.columns):
            values, signs = zip(*terms_of_column[n])
            looks = [register(m, Cat(v, sg), f"look{n}_{t}") for t, (v, sg) in enumerate(zip(values, signs))]
            count = register(m, tree_sum(sg.as_unsigned() for sg in signs), f"negs{n}")
            # the sign flips sit in front of the first adder level (they fold into its LUTs)
            flipped = [sign_flip(lk[:-1].as_signed(), lk[-1]) for lk in looks]
            m.d.comb += self.partial[n].eq(staged_tree_sum(m, flipped + [count], DOT_STAGES - 1, f"sum{n}"))
        return m
