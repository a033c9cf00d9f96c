"""Hardwired (Metal-Embedding) RTL: one layer as constant wiring, and the accelerator top.

``HardwiredLinear`` is one ternary layer whose weights are the wiring: output ``m`` is
``sum(x[k] for k in plus[m]) - sum(x[k] for k in minus[m])`` with a balanced adder tree per set
and one subtraction; a zero weight is no logic at all. ``HardwiredAccelerator`` chains one per
layer behind an input register file and in front of an output beat register, with the AXI-Stream
ports of ``hwgen.rtl.accelerator.Accelerator``. The pipeline and its cycle counts are described in
``hwgen.hardwired`` (the plan the simulator shares).
"""

import numpy as np
from amaranth.hdl import C, Cat, Elaboratable, Module, Mux, Signal, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..hardwired import sum_width
from .arith import requantize
from .stall import stalled_core


def _signed(v):
    """``v`` as a signed value of the same numeric value (zero-extended first if unsigned)."""
    return v if v.shape().signed else Cat(v, C(0, 1)).as_signed()


def _negate(v):
    """``-v`` written as a subtraction from zero (Verilator lint waives operand widening of SUB,
    not of unary minus)."""
    return C(0, signed(2)) - v


# ---- adder trees that stay adder trees in synthesis --------------------------------------------
#
# Yosys's ``alumacc`` merges a chain of additions whose intermediate sums have one reader into a
# single multi-operand ``$macc`` cell, which ``maccmap`` turns into a carry-save tree of full
# adders in LUTs: for the wide trees of a hardwired layer this costs about 3.4x the LUTs of plain
# two-operand adders on the FPGA carry chain (Yosys 0.23 synth_xilinx -family xcup, 16 x 32 random
# layer: 9210 LUTs vs 2690; bit-serial, where the terms are the popcounts' bits: 1724 vs 1467;
# the digits model's hardwired accelerator: 49244 vs 21349). ``alumacc`` only merges an operand
# that *is* the other adder's output, so each sum is handed to the next level with its most
# significant bit inverted: the same bits read in offset binary (a signed n-bit s becomes the
# unsigned s + 2**(n-1), an unsigned u the signed u - 2**(n-1)). The re-encoding is exact and
# costs at most an inverter; the offsets are constants, summed here in Python and added once per
# output.

def _flip(v):
    """``(w, bias)``: ``v`` with its MSB inverted, in the other signedness; ``v == w + bias``."""
    n = len(v)
    w = Cat(v[:n - 1], ~v[n - 1]) if n > 1 else ~v
    if v.shape().signed:
        return w, -(1 << (n - 1))
    return w.as_signed(), 1 << (n - 1)


def _const(value):
    return C(value, signed(max(2, value.bit_length() + 1)))


class SumBuilder:
    """Builds ``sum(x[k] for k in plus) - sum(x[k] for k in minus)`` for the outputs of a layer in
    module ``m``, over the leaf values ``leaves``.

    Each set gets a balanced adder tree over its inputs in index order; every adder's result is a
    signal of its own, and a subtree over the same inputs is built once and shared by all outputs
    that contain it (what Yosys's ``opt_merge`` would find anyway, without spelling it out in the
    Verilog for every output). Sums enter the next adder re-encoded (``_flip``).
    """

    def __init__(self, m, leaves, name="s"):
        self.m, self.leaves, self.name = m, leaves, name
        self.memo = {}               # key (leaf index, or pair of keys) -> (signal, bias)
        self.adders = 0

    def _signal(self, value, bias, key):
        sig = Signal(value.shape(), name=f"{self.name}{len(self.memo)}")
        self.m.d.comb += sig.eq(value)
        self.memo[key] = (sig, bias)
        self.adders += 1
        return sig

    def tree(self, indices):
        """``(value, bias, is_sum)`` of the balanced tree over ``leaves[k] for k in indices``."""
        nodes = [(k, self.leaves[k], 0, False) for k in indices]
        while len(nodes) > 1:
            nxt = []
            for i in range(0, len(nodes) - 1, 2):
                key = (nodes[i][0], nodes[i + 1][0])
                if key not in self.memo:
                    ops, bias = [], 0
                    for _, v, b, is_sum in nodes[i:i + 2]:
                        if is_sum:
                            v, d = _flip(v)
                            b += d
                        ops.append(v)
                        bias += b
                    self._signal(ops[0] + ops[1], bias, key)
                sig, bias = self.memo[key]
                nxt.append((key, sig, bias, True))
            if len(nodes) % 2:
                nxt.append(nodes[-1])
            nodes = nxt
        _, v, b, is_sum = nodes[0]
        return v, b, is_sum

    def root(self, indices):
        """A tree's root as an operand of the final subtraction: ``(value, bias)``."""
        v, b, is_sum = self.tree(indices)
        if is_sum:
            v, d = _flip(v)
            b += d
        return _signed(v), b

    def difference(self, plus, minus):
        """``sum(plus) - sum(minus)`` as a signed value: a balanced tree per set, one subtraction,
        and one constant addition for the re-encodings' offsets when they do not cancel."""
        if not plus and not minus:
            return C(0, signed(2))
        if not minus:
            v, bias, _ = self.tree(plus)
            if not bias:
                return _signed(v)
            f, d = _flip(v)
            return _signed(f) + (bias + d)
        if not plus:
            v, bias = self.root(minus)
            return _const(-bias) - v
        (va, ba), (vb, bb) = self.root(plus), self.root(minus)
        const = ba - bb
        if not const:
            return va - vb
        t = Signal((va - vb).shape(), name=f"{self.name}d{len(self.memo)}")
        self.m.d.comb += t.eq(va - vb)
        f, d = _flip(t)
        return _signed(f) + (const + d)


class HardwiredLinear(wiring.Component):
    """One ternary layer with its weights as constants: ``y = W @ x``.

    ``weights``: (out_features, in_features) array of -1, 0, 1. ``in_bits``: width of each input
    (signed, or unsigned with ``in_signed=False``). ``acc_bits`` (attribute) is the exact signed
    width of the largest possible sum, so ``y`` never overflows.

    Parallel (``serial=False``): combinational. Ports ``x: In(in_shape).array(K)``,
    ``y: Out(signed(acc_bits)).array(M)``. The trees come from ``SumBuilder``: one balanced tree
    per set in input order, subtrees over the same inputs shared between outputs, sums re-encoded
    between tree levels so that Yosys keeps two-operand carry-chain adders (see above);
    ``hwgen.hardwired.linear_resources`` counts the same adders.

    Serial (``serial=True``, HNLPU style): ``x`` is loaded into an internal shift register when
    ``load`` is high; each cycle ``step`` is high, the register feeds its most significant
    remaining bit-plane (``in_bits`` planes, MSB first) to the popcount trees and the
    accumulators take ``y``. ``y`` is combinational: ``(0 if first plane else 2 * acc) + s * p``
    with ``p = popcount(plus bits) - popcount(minus bits)`` and ``s = -1`` on the sign plane of a
    signed input; on the cycle ``last`` is high (the final plane) ``y`` is the layer's result.
    ``load`` has priority over ``step``.
    """

    def __init__(self, weights: np.ndarray, in_bits: int = 8, serial: bool = False, *, in_signed: bool = True):
        w = np.asarray(weights)
        if w.ndim != 2 or w.size == 0 or not np.isin(w, (-1, 0, 1)).all():
            raise ValueError("weights must be a non-empty 2-D array of -1, 0, 1")
        if not 1 <= in_bits <= 32:
            raise ValueError(f"in_bits must be in 1..32, got {in_bits}")
        self.weights = w.astype(np.int8)
        self.out_features, self.in_features = w.shape
        self.in_bits, self.in_signed, self.serial = in_bits, in_signed, serial
        self.plus = [tuple(int(k) for k in np.flatnonzero(row == 1)) for row in self.weights]
        self.minus = [tuple(int(k) for k in np.flatnonzero(row == -1)) for row in self.weights]
        self.acc_bits = sum_width(self.weights, in_bits, in_signed)
        self.planes = in_bits if serial else 1
        in_shape = signed(in_bits) if in_signed else unsigned(in_bits)
        members = {
            "x": In(in_shape).array(self.in_features),
            "y": Out(signed(self.acc_bits)).array(self.out_features),
        }
        if serial:
            members.update(load=In(1), step=In(1), last=Out(1))
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        if not self.serial:
            sums = SumBuilder(m, list(self.x))
            for o in range(self.out_features):
                m.d.comb += self.y[o].eq(sums.difference(self.plus[o], self.minus[o]))
            return m

        n = self.in_bits
        sr = [Signal(n, name=f"sr{k}") for k in range(self.in_features)]
        plane = Signal(range(max(2, n)))
        acc = [Signal(signed(self.acc_bits), name=f"acc{o}") for o in range(self.out_features)]
        first = Signal()
        m.d.comb += [first.eq(plane == 0), self.last.eq(plane == n - 1)]
        bits = [r[n - 1] for r in sr]
        sums = SumBuilder(m, bits, name="pc")
        for o in range(self.out_features):
            p = Signal(signed(max(2, (self.in_features + 1).bit_length() + 1)), name=f"p{o}")
            m.d.comb += p.eq(sums.difference(self.plus[o], self.minus[o]))
            start = _negate(p) if self.in_signed else p
            m.d.comb += self.y[o].eq(Mux(first, start, (acc[o] << 1) + p))
        with m.If(self.load):
            m.d.sync += [r.eq(x) for r, x in zip(sr, self.x)]
            m.d.sync += plane.eq(0)
        with m.Elif(self.step):
            m.d.sync += [r.eq(r << 1) for r in sr]
            m.d.sync += plane.eq(Mux(self.last, 0, plane + 1))
        with m.If(self.step):
            m.d.sync += [a.eq(y) for a, y in zip(acc, self.y)]
        return m


class HardwiredAccelerator(wiring.Component):
    """Every layer of ``plan.model`` (a ``hwgen.hardwired.HardwiredPlan``) as hardwired logic.

    Same ports, beats and ``tlast`` as ``hwgen.rtl.accelerator.Accelerator``. ``s_axis_tready``
    is high whenever the input register file can take a beat (also while earlier vectors are in
    flight). Output backpressure freezes the whole accelerator (input handshake included): each
    cycle the output is held (``tvalid`` and not ``tready``) adds exactly one cycle to the
    schedule of ``HardwiredPlan.total_cycles``.
    """

    def __init__(self, plan):
        self.plan = plan
        super().__init__({
            "s_axis_tdata": In(8 * plan.lanes),
            "s_axis_tvalid": In(1),
            "s_axis_tready": Out(1),
            "m_axis_tdata": Out(plan.out_bits * plan.columns),
            "m_axis_tvalid": Out(1),
            "m_axis_tready": In(1),
            "m_axis_tlast": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        stalled_core(m, self, _HardwiredCore(self.plan))
        return m


class _HardwiredCore(Elaboratable):
    """Register chain R_0 (input file) .. R_S (output beats); its ``sync`` runs only when enabled."""

    def __init__(self, plan):
        self.plan = plan
        self.in_data = Signal(8 * plan.lanes)
        self.in_valid = Signal()
        self.in_ready = Signal()
        self.out_data = Signal(plan.out_bits * plan.columns)
        self.out_valid = Signal()
        self.out_last = Signal()

    @staticmethod
    def _layer_input(value, lp):
        """A requantized int8 value (8-bit slice) in the shape of layer ``lp``'s inputs."""
        return value[:lp.in_bits] if not lp.in_signed else value.as_signed()

    def elaborate(self, platform):
        plan = self.plan
        L, N, I, B = plan.lanes, plan.columns, plan.input_chunks, plan.output_beats
        layers = plan.layers
        NL = len(layers)
        serial = plan.serial
        S = NL + 1 if serial else NL            # index of the output register
        m = Module()

        hl = []
        for lp in layers:
            h = HardwiredLinear(lp.layer.weights, lp.in_bits, serial, in_signed=lp.in_signed)
            assert h.acc_bits == lp.acc_bits
            m.submodules[f"layer{lp.index}_{lp.layer.name}"] = h
            hl.append(h)

        # handshake chain: fire[j] moves R_j's vector on; accept[j] = R_j can be written
        fire = [Signal(name=f"fire{j}") for j in range(S + 1)]
        accept = [None] + [Signal(name=f"accept{j}") for j in range(1, S + 1)]
        valid = [None] + [Signal(name=f"valid{j}") for j in range(1, S + 1)]
        for j in range(1, S + 1):
            m.d.comb += accept[j].eq(~valid[j] | fire[j])
            with m.If(fire[j]):
                m.d.sync += valid[j].eq(0)
            with m.If(fire[j - 1]):
                m.d.sync += valid[j].eq(1)

        # R_0: the input register file, one beat of L lanes per cycle
        lp0 = layers[0]
        K0 = lp0.layer.in_features
        xin = [Signal(signed(lp0.in_bits), name=f"in{k}") for k in range(K0)]
        beat = Signal(range(max(2, I)))
        full = Signal()
        m.d.comb += [self.in_ready.eq(~full | fire[0]), fire[0].eq(full & accept[1])]
        take = self.in_valid & self.in_ready
        with m.If(fire[0]):
            m.d.sync += full.eq(0)
        with m.If(take):
            with m.Switch(beat):
                for b in range(I):
                    with m.Case(b):
                        m.d.sync += [xin[k].eq(self.in_data[8 * (k - b * L):][:lp0.in_bits])
                                     for k in range(b * L, min(K0, (b + 1) * L))]
            with m.If(beat == I - 1):
                m.d.sync += [beat.eq(0), full.eq(1)]
            with m.Else():
                m.d.sync += beat.eq(beat + 1)

        # layers
        def result(lp, h):
            """Layer ``lp``'s result from its block ``h``: the next layer's input or the output."""
            if lp.layer.requant is None:
                return h.y
            rq = [requantize(y, lp.layer.requant.shift, lp.layer.requant.relu) for y in h.y]
            if lp.index + 1 < NL:
                return [self._layer_input(v, layers[lp.index + 1]) for v in rq]
            return [v.as_signed() for v in rq]

        last = layers[-1]
        out_shape = signed(last.acc_bits if last.layer.requant is None else 8)
        outv = [Signal(out_shape, name=f"out{i}") for i in range(last.layer.out_features)]
        if serial:
            m.d.comb += [x.eq(v) for x, v in zip(hl[0].x, xin)]
            m.d.comb += hl[0].load.eq(fire[0])
            for lp, h in zip(layers, hl):
                j = lp.index + 1                                    # h's shift register is R_j
                m.d.comb += [
                    h.step.eq(valid[j] & (~h.last | accept[j + 1])),
                    fire[j].eq(valid[j] & h.last & accept[j + 1]),
                ]
                if lp.index + 1 < NL:
                    nxt = hl[lp.index + 1]
                    m.d.comb += [x.eq(v) for x, v in zip(nxt.x, result(lp, h))]
                    m.d.comb += nxt.load.eq(fire[j])
            final = result(last, hl[-1])
        else:
            src = xin
            for lp, h in zip(layers, hl):
                m.d.comb += [x.eq(v) for x, v in zip(h.x, src)]
                if lp.index + 1 < NL:
                    nl = layers[lp.index + 1]
                    shape = signed(nl.in_bits) if nl.in_signed else unsigned(nl.in_bits)
                    reg = [Signal(shape, name=f"a{lp.index + 1}_{k}") for k in range(nl.layer.in_features)]
                    with m.If(fire[lp.index]):
                        m.d.sync += [r.eq(v) for r, v in zip(reg, result(lp, h))]
                    j = lp.index + 1
                    m.d.comb += fire[j].eq(valid[j] & accept[j + 1])
                    src = reg
            final = result(last, hl[-1])

        # R_S: the output register, shifted out one beat of N results per cycle
        obeat = Signal(range(max(2, B)))
        M = len(outv)
        m.d.comb += [fire[S].eq(valid[S] & (obeat == B - 1)),
                     self.out_valid.eq(valid[S]), self.out_last.eq(obeat == B - 1)]
        with m.If(valid[S]):
            m.d.sync += [o.eq(outv[i + N] if i + N < M else 0) for i, o in enumerate(outv)]
            m.d.sync += obeat.eq(Mux(obeat == B - 1, 0, obeat + 1))
        with m.If(fire[S - 1]):
            m.d.sync += [o.eq(v) for o, v in zip(outv, final)]
            m.d.sync += obeat.eq(0)
        lanes = [Signal(signed(plan.out_bits), name=f"lane{n}") for n in range(N)]
        m.d.comb += [lanes[n].eq(outv[n]) for n in range(min(N, M))]
        m.d.comb += self.out_data.eq(Cat(*lanes))
        return m
