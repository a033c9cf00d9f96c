"""Table-lookup ternary matmul (TLMM) datapath: ``TableBuilder`` and ``TlmmDot``."""

from amaranth.hdl import Array, Cat, Const, Module, Mux, Shape, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..sim import balanced_digits
from .arith import signed_sum, tree_sum


def table_shape(engine):
    """Signed shape of a table entry: the sum of ``group`` int8 activations."""
    return Shape.cast(range(-128 * engine.group, 127 * engine.group + 1))


class TlmmDot(wiring.Component):
    """Tables, their builder, and the lookup adders of a TLMM engine.

    Build side: ``build_start`` (one cycle) latches ``build_bank``; ``chunk`` must hold the
    chunk's ``lanes`` int8 activations from the next cycle for ``entries`` cycles, while entry
    ``j = 0 .. entries - 1`` of every table is written to bank ``build_bank``, one per cycle.
    The tables are distributed RAM: each table is replicated ``ceil(columns / read_ports)`` times,
    each copy with ``read_ports`` asynchronous read ports and one write port, and holds two banks
    of ``2**mag_bits`` entries so a chunk's tables are built while the previous chunk's are read.

    Lookup side (combinational): ``weights`` is one weight-memory word (``columns * tables``
    indices of ``index_bits``: sign above magnitude), ``bank`` selects the table bank, and
    ``partial[n]`` is the sum over tables of the signed entries the column's indices select.
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

        digits = balanced_digits(e.group)
        pos = [Array(Const(int(digits[k, i] == 1), 1) for k in range(e.entries))[j] for i in range(e.group)]
        neg = [Array(Const(int(digits[k, i] == -1), 1) for k in range(e.entries))[j] for i in range(e.group)]

        terms_of_column = [[] for _ in range(e.columns)]
        for t in range(e.tables):
            group = self.chunk[t * e.group:(t + 1) * e.group]
            terms = [Mux(pos[i], group[i], Mux(neg[i], -group[i], 0)) for i in range(e.group)]
            entry = Signal(self.entry_shape, name=f"entry{t}")
            m.d.comb += entry.eq(tree_sum(terms))
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
        for n in range(e.columns):
            values, signs = zip(*terms_of_column[n])
            m.d.comb += self.partial[n].eq(signed_sum(values, signs))
        return m
