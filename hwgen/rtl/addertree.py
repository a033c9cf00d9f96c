"""Adder-tree ternary datapath: the baseline the TLMM engine must beat."""

from amaranth.hdl import Module, Mux, Shape, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..engine import DOT_STAGES
from .arith import register, staged_tree_sum


class AdderTreeDot(wiring.Component):
    """Direct ternary dot products of one chunk with ``columns`` weight columns.

    ``weights`` is one weight-memory word: ``columns * lanes`` 2-bit codes (``w & 3``: 01 is +1,
    11 is -1, 00 is 0), and ``chunk`` the chunk's activations, both in the same cycle.
    ``partial[n] = sum_x w[n, x] * chunk[x]`` follows ``DOT_STAGES`` cycles later (the same
    latency as ``TlmmDot``): stage 1 registers the weights and the chunk, stage 2 the first level
    of each column's adder tree, the rest of the tree is combinational. The build ports of the
    TLMM datapath are absent: there is nothing to build.
    """

    def __init__(self, engine):
        self.engine = e = engine
        partial_bits = Shape.cast(range(-128 * e.lanes, 128 * e.lanes + 1)).width
        super().__init__({
            "chunk": In(signed(8)).array(e.lanes),
            "weights": In(e.weight_word_bits),
            "partial": Out(signed(partial_bits)).array(e.columns),
        })

    def elaborate(self, platform):
        e = self.engine
        m = Module()
        weights = register(m, self.weights, "weights_r")
        chunk = [register(m, self.chunk[x], f"chunk_r{x}") for x in range(e.lanes)]
        for n in range(e.columns):
            terms = []
            for x in range(e.lanes):
                code = weights[(n * e.lanes + x) * 2:][:2]
                a = chunk[x]
                term = Signal(signed(9), name=f"term{n}_{x}")
                m.d.comb += term.eq(Mux(code[0], Mux(code[1], -a, a), 0))
                terms.append(term)
            m.d.comb += self.partial[n].eq(staged_tree_sum(m, terms, DOT_STAGES - 1, f"sum{n}"))
        return m
