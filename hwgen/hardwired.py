"""Hardwired (Metal-Embedding) engine: plan, cycle-accurate simulator and resource estimate.

A ``hardwired`` engine turns every weight into wiring, in the manner of HNLPU's hardwired neurons
(a weight is encoded only by which accumulator its input wire is routed to). For output ``m`` of a
layer, the inputs whose weight is +1 form the set ``plus[m]``, those whose weight is -1 the set
``minus[m]``; zero weights vanish. The hardware computes

    y[m] = sum(x[k] for k in plus[m]) - sum(x[k] for k in minus[m])

with two balanced adder trees per output and one subtraction (``hwgen.rtl.hardwired``).

Pipeline (``hwgen.rtl.hardwired.HardwiredAccelerator``)
-------------------------------------------------------
A vector moves through a chain of registers ``R_0 .. R_S``, each holding one vector at a time:

* ``R_0``: the input register file, ``in_features`` values, filled by ``I = input_chunks`` beats
  of ``lanes`` values (one beat per cycle).
* parallel mode (``serial: false``): ``R_l`` (``1 <= l < S = layers``) holds layer ``l``'s input,
  the requantized output of layer ``l - 1``; the transfer ``R_l -> R_{l+1}`` *is* layer ``l``: the
  combinational adder trees and the requant in one cycle. ``R_S`` is the output register.
* serial mode (``serial: true``): ``R_0 -> R_1`` copies the input into layer 0's shift register
  (1 cycle); ``R_{l+1}`` is layer ``l``'s shift register (``l = 0 .. layers - 1``), which feeds
  its bit-planes MSB first, one per cycle, into the popcount accumulators; the transfer out of it
  happens in the cycle of its last plane (``planes`` cycles after it was loaded) and writes the
  requantized result into the next layer's shift register or the output register ``R_S``
  (``S = layers + 1``).
* ``R_S`` sends ``B = ceil(out_features / columns)`` output beats, one per cycle.

Each transfer happens as soon as its source is done and its destination is empty or being emptied
in the same cycle (the ready signals are chained combinationally, so there are no bubbles). Hence a
new vector loads while earlier ones are in flight: the first beat of vector ``v + 1`` is accepted in
the cycle ``R_0`` hands vector ``v`` on. With ``hold = stage_cycles`` (cycles a vector spends in
``R_j`` before it can move on: 1 per parallel layer, ``planes`` per serial layer, 1 for the serial
input copy), and the output always ready:

    latency (one vector, first input beat to last output beat) = I + sum(hold) + B
    vector_stride (first beat to first beat, steady state)     = max(I, hold[1:], B)
    total_cycles(batch) = latency + (batch - 1) * vector_stride

(``HardwiredPlan.schedule`` evaluates the exact max-plus recurrence of the hardware's handshakes;
the tests check that it equals this closed form). Output backpressure freezes the whole
accelerator, input handshake included, exactly like ``hwgen.rtl.accelerator``: every cycle the
output is held (``tvalid`` and not ``tready``) adds exactly one cycle.

Widths
------
Layer 0's inputs are ``input.bits``-bit signed values (the input register keeps only those bits
of each lane; ``hwgen sim`` rejects inputs that do not fit). A later layer's inputs are 7-bit
unsigned when the previous layer's requant has ReLU (values 0..127), else 8-bit signed. Each
layer's sums are ``acc_bits`` wide, the exact signed width of the largest possible
``|plus - minus|`` over its outputs (``sum_width``), so no sum ever overflows. Serial layers take
``planes = in_bits`` cycles: ``acc = (0 if first else 2 * acc) + s * (popcount(plus bits) -
popcount(minus bits))``, ``s = -1`` on the first (sign) plane of a signed input.

Resources
---------
``linear_resources(weights, ...)`` counts the adders ``HardwiredLinear`` builds (``SumCost``
mirrors ``hwgen.rtl.hardwired.SumBuilder``) and converts them to LUTs, carry cells and flip-flops;
``hardwired_resources(plan)`` adds requant, registers and control for the whole accelerator, in the
layout of ``hwgen.estimate.estimate_resources``. Measured against Yosys 0.23 ``synth_xilinx
-family xcup``: models/digits_hardwired 21442 LUTs (estimate 21175), 1097 FFs (1097), 6310 CARRY4
(6489).
"""

import math
from dataclasses import dataclass

import numpy as np

ACT_BITS = 8          # bits of a requantized activation (int8)


def _ceil_div(a, b):
    return -(-a // b)


def signed_width(lo, hi):
    """The smallest ``w >= 2`` with ``-2**(w-1) <= lo`` and ``hi < 2**(w-1)``."""
    w = 2
    while lo < -(1 << (w - 1)) or hi > (1 << (w - 1)) - 1:
        w += 1
    return w


def input_range(in_bits, in_signed):
    if in_signed:
        return -(1 << (in_bits - 1)), (1 << (in_bits - 1)) - 1
    return 0, (1 << in_bits) - 1


def sum_width(weights, in_bits=8, in_signed=True):
    """Bits of a hardwired layer's sums: the exact signed range of ``plus - minus`` over all
    outputs, for inputs of ``in_bits`` (signed or unsigned)."""
    w = np.asarray(weights)
    lo, hi = input_range(in_bits, in_signed)
    p = (w == 1).sum(axis=1).astype(np.int64)
    n = (w == -1).sum(axis=1).astype(np.int64)
    if p.size == 0:
        return 2
    return signed_width(int((p * lo - n * hi).min()), int((p * hi - n * lo).max()))


def wrap(v, bits):
    """``v`` (int64 array) as a ``bits``-bit two's complement value: what a register keeps."""
    half = 1 << (bits - 1)
    return ((np.asarray(v, dtype=np.int64) + half) & ((1 << bits) - 1)) - half


@dataclass(frozen=True)
class HardwiredLayer:
    index: int
    layer: object            # hwgen.model.Layer
    in_bits: int             # bits of each input value as stored (and serial planes)
    in_signed: bool
    plus: tuple              # per output: int64 array of input indices with weight +1
    minus: tuple             # per output: ... with weight -1
    acc_bits: int            # width of the sums (exact: no overflow)
    planes: int              # cycles of the layer: in_bits (serial) or 1 (parallel)
    blocks: int              # ceil(out_features / columns): output beats if this is the last layer

    @property
    def cycles(self):
        return self.planes

    @property
    def plus_counts(self):
        return np.array([len(p) for p in self.plus], dtype=np.int64)

    @property
    def minus_counts(self):
        return np.array([len(n) for n in self.minus], dtype=np.int64)

    @property
    def nonzeros(self):
        return int(self.plus_counts.sum() + self.minus_counts.sum())

    @property
    def busy_cycles(self):
        return self.planes


class HardwiredPlan:
    """A model laid out on a hardwired engine (the interface of ``hwgen.plan.Plan`` that the
    simulator, the RTL bench, ``hwgen build`` and the reports use)."""

    # No memories: these keep hwgen.estimate's generic formulas at zero for this engine.
    weight_words = 0
    act_row_bits = 0
    row_lanes = 0
    acc_depth = 0

    def __init__(self, model):
        if model.engine.kind != "hardwired":
            raise ValueError(f"HardwiredPlan needs a hardwired engine, got {model.engine.kind!r}")
        self.model = model
        self.engine = e = model.engine
        self.serial = e.serial
        self.lanes = e.lanes
        self.columns = e.columns
        layers = []
        in_bits, in_signed = model.in_bits, True
        for i, layer in enumerate(model.layers):
            w = layer.weights
            plus = tuple(np.flatnonzero(row == 1) for row in w)
            minus = tuple(np.flatnonzero(row == -1) for row in w)
            layers.append(HardwiredLayer(
                i, layer, in_bits, in_signed, plus, minus, sum_width(w, in_bits, in_signed),
                in_bits if e.serial else 1, _ceil_div(layer.out_features, e.columns)))
            if layer.requant is not None:
                in_bits, in_signed = (ACT_BITS - 1, False) if layer.requant.relu else (ACT_BITS, True)
        self.layers = tuple(layers)
        self.acc_bits = max(lp.acc_bits for lp in layers)
        self.out_acc = model.layers[-1].outputs_acc
        self.out_bits = 32 if self.out_acc else 8
        self.input_chunks = _ceil_div(model.in_features, e.lanes)
        self.output_beats = self.layers[-1].blocks

    # ---- layout: the same beats as hwgen.plan.Plan ----
    def pack_input(self, x):
        """(batch, in_features) -> (batch, input_chunks, lanes) int8 beats (padding lanes 0)."""
        x = np.asarray(x)
        flat = np.zeros((x.shape[0], self.input_chunks * self.lanes), dtype=np.int8)
        flat[:, :self.model.in_features] = x
        return flat.reshape(x.shape[0], self.input_chunks, self.lanes)

    def unpack_output(self, beats):
        """(batch, blocks, columns) output beats -> (batch, out_features)."""
        beats = np.asarray(beats)
        return beats.reshape(beats.shape[0], -1)[:, :self.model.out_features]

    # ---- cycles ----
    @property
    def stage_cycles(self):
        """hold[j]: cycles from a vector's arrival in R_j (end of its last input beat for R_0)
        to the cycle it moves into R_{j+1}, without blocking (module docstring)."""
        if self.serial:
            return [1] + [lp.planes for lp in self.layers]
        return [1] * len(self.layers)

    def layer_cycles(self):
        return [lp.planes for lp in self.layers]

    @property
    def latency(self):
        """First input beat to last output beat of one vector."""
        return self.input_chunks + sum(self.stage_cycles) + self.output_beats

    @property
    def vector_stride(self):
        """Cycles between the first input beats of consecutive vectors, in steady state."""
        return max([self.input_chunks, self.output_beats] + self.stage_cycles[1:])

    def total_cycles(self, batch, stall_cycles=0):
        """First input beat to last output beat for ``batch`` vectors sent back to back."""
        if batch <= 0:
            return 0
        return self.latency + (batch - 1) * self.vector_stride + stall_cycles

    def schedule(self, batch):
        """The hardware's handshakes, cycle by cycle (output always ready, inputs back to back).

        Returns ``(first_beat, transfers, last_out)``: the cycle vector ``v``'s first input beat is
        accepted, ``transfers[v, j-1]`` the cycle it moves into ``R_j`` (``j = 1 .. S``), and the
        cycle of its last output beat. Cycle 0 is the first input beat.
        """
        hold = self.stage_cycles
        S, I, B = len(hold), self.input_chunks, self.output_beats
        first = np.zeros(batch, dtype=np.int64)
        t = np.zeros((batch, S), dtype=np.int64)
        last = np.zeros(batch, dtype=np.int64)
        for v in range(batch):
            # R_0 accepts the first beat of v in the cycle it hands v - 1 on
            first[v] = 0 if v == 0 else t[v - 1, 0]
            done = first[v] + I - 1                     # cycle of the last input beat
            for j in range(S):
                ready = done + hold[j]                  # R_j's vector may move on
                if v > 0:                               # R_{j+1} empty, or emptied in that cycle
                    freed = t[v - 1, j + 1] if j + 1 < S else last[v - 1]
                    ready = max(ready, freed)
                t[v, j] = done = ready
            last[v] = t[v, S - 1] + B
        return first, t, last

    @property
    def busy_cycles(self):
        """Cycles per vector the busiest layer's logic works (pipeline utilization =
        busy_cycles / vector_stride: the duty cycle of the bottleneck layer)."""
        return max(self.layer_cycles())

    def summary(self):
        layers = []
        for lp in self.layers:
            l = lp.layer
            layers.append({
                "name": l.name, "in_features": l.in_features, "out_features": l.out_features,
                "in_bits": lp.in_bits, "in_signed": lp.in_signed, "acc_bits": lp.acc_bits,
                "plus_weights": int(lp.plus_counts.sum()), "minus_weights": int(lp.minus_counts.sum()),
                "zero_weights": l.in_features * l.out_features - lp.nonzeros,
                "max_fan_in": int((lp.plus_counts + lp.minus_counts).max()),
                "cycles": lp.planes, "blocks": lp.blocks,
                "output": "acc" if l.outputs_acc else "int8",
                "requant": None if l.requant is None else {"shift": l.requant.shift, "relu": l.requant.relu},
            })
        return {
            "serial": self.serial, "input_chunks": self.input_chunks, "output_beats": self.output_beats,
            "acc_bits": self.acc_bits, "out_bits": self.out_bits, "stage_cycles": self.stage_cycles,
            "layers": layers, "latency": self.latency,
            "cycles_per_vector": self.total_cycles(1), "vector_stride": self.vector_stride,
            "busy_cycles_per_vector": self.busy_cycles,
        }


class HardwiredSimulator:
    """Cycle-accurate model of the hardwired accelerator generated for ``model``.

    Arithmetic as in the RTL: the input register keeps ``in_bits`` of each lane; each output is
    the plus-set sum minus the minus-set sum in ``acc_bits`` (or, serial, the MSB-first
    bit-plane recurrence of popcounts), then requant. Cycles: ``HardwiredPlan.total_cycles``.
    """

    def __init__(self, model):
        self.plan = HardwiredPlan(model)
        self._masks = []
        for lp in self.plan.layers:
            w = lp.layer.weights
            self._masks.append(((w == 1).astype(np.int64).T, (w == -1).astype(np.int64).T))

    def layer_sums(self, lp, a):
        """The sums of layer ``lp`` for inputs ``a`` (batch, in_features) as the hardware forms them."""
        pm, nm = self._masks[lp.index]
        if not self.plan.serial:
            # the trees widen by one bit per level, so they are exact; the difference is kept
            # in acc_bits, which holds every possible value
            return wrap(a @ pm - a @ nm, lp.acc_bits)
        n = lp.planes
        acc = np.zeros((a.shape[0], pm.shape[1]), dtype=np.int64)
        raw = a & ((1 << n) - 1)
        for c in range(n):
            bits = (raw >> (n - 1 - c)) & 1                  # plane c: bit n-1-c, MSB first
            p = bits @ pm - bits @ nm
            if c == 0:
                acc = wrap(-p if lp.in_signed else p, lp.acc_bits)
            else:
                acc = wrap(2 * acc + p, lp.acc_bits)
        return acc

    def run(self, x):
        from .sim import SimResult
        plan = self.plan
        x = np.asarray(x)
        batch = x.shape[0]
        lp0 = plan.layers[0]
        a = wrap(np.asarray(x, dtype=np.int64), lp0.in_bits)  # the input register keeps in_bits
        out = None
        for lp in plan.layers:
            acc = self.layer_sums(lp, a)
            layer = lp.layer
            if layer.requant is None:
                out = acc.astype(np.int32)
                break
            y = layer.requant.apply(acc).astype(np.int64)
            if lp.index == len(plan.layers) - 1:
                out = y.astype(np.int8)
                break
            nxt = plan.layers[lp.index + 1]
            lo, hi = input_range(nxt.in_bits, nxt.in_signed)
            assert lo <= y.min() and y.max() <= hi, "activation does not fit the next layer's register"
            a = y
        return SimResult(out[:, :plan.model.out_features].reshape(batch, -1), plan.total_cycles(batch),
                         plan.layer_cycles(), plan.busy_cycles)


# ---- resource estimate ----------------------------------------------------------------------

RES_KEYS = ("lut", "ff", "carry", "carry_luts", "lutram", "lutram_luts", "lut_equiv", "bram", "uram", "dsp")
FAMILIES = ("xcup", "ecp5", "ice40")
# Fitted on Yosys 0.23 synth_xilinx -family xcup runs (models/digits_hardwired: 21442 LUTs,
# 6310 CARRY4, 1097 FFs; HardwiredLinear of a random 16 x 32 layer: 2690 LUTs parallel, 1467
# serial): the estimate is within 2 % of each.
LUT_PER_ADDER_BIT = 0.92  # Yosys trims some operand bits (known signs, mixed signedness)
INV_PER_FLIP = 0.65       # share of the offset-binary re-encodings that cost an inverter LUT
REQUANT_LUTS = 7          # requant of one output: acc_bits - shift + REQUANT_LUTS LUTs


def _add_shape(a, b):
    """Amaranth's shape of ``a + b`` for (width, signed) operands."""
    (wa, sa), (wb, sb) = a, b
    if sa != sb:
        wa, wb = (wa + 1, wb) if not sa else (wa, wb + 1)
    return max(wa, wb) + 1, sa or sb


class SumCost:
    """The adders ``hwgen.rtl.hardwired.SumBuilder`` builds, counted instead of built: the same
    balanced trees in index order, the same sharing of identical subtrees between outputs, the same
    re-encodings (which flip a node's signedness), the same final subtraction and constant."""

    def __init__(self, leaf_shape):
        self.leaf = leaf_shape
        self.memo = {}               # key -> (width, signed, bias)
        self.adders = []             # result widths of the adders, in build order
        self.flips = set()           # nodes used re-encoded

    def _flip(self, key, shape, bias):
        w, sg = shape
        self.flips.add(key)
        return (w, not sg), bias + (-(1 << (w - 1)) if sg else 1 << (w - 1))

    def tree(self, indices):
        nodes = [(k, self.leaf, 0, False) for k in indices]
        while len(nodes) > 1:
            nxt = []
            for i in range(0, len(nodes) - 1, 2):
                key = (nodes[i][0], nodes[i + 1][0])
                if key not in self.memo:
                    ops, bias = [], 0
                    for k, shape, b, is_sum in nodes[i:i + 2]:
                        if is_sum:
                            shape, b = self._flip(k, shape, b)
                        ops.append(shape)
                        bias += b
                    shape = _add_shape(*ops)
                    self.adders.append(shape[0])
                    self.memo[key] = (shape, bias)
                shape, bias = self.memo[key]
                nxt.append((key, shape, bias, True))
            if len(nodes) % 2:
                nxt.append(nodes[-1])
            nodes = nxt
        k, shape, b, is_sum = nodes[0]
        return k, shape, b, is_sum

    def root(self, indices):
        k, shape, b, is_sum = self.tree(indices)
        if is_sum:
            shape, b = self._flip(k, shape, b)
        w, sg = shape
        return (w if sg else w + 1, True), b

    def difference(self, plus, minus):
        if not plus and not minus:
            return
        if not minus:
            k, shape, bias, _ = self.tree(plus)
            if bias:
                self.flips.add(("root", k))
                self.adders.append(shape[0] + 1)
            return
        if not plus:
            shape, bias = self.root(minus)
            self.adders.append(shape[0] + 1)
            return
        (a, ba), (b, bb) = self.root(plus), self.root(minus)
        t = _add_shape(a, b)
        self.adders.append(t[0])
        if ba != bb:
            self.flips.add(("diff", len(self.adders)))
            self.adders.append(t[0] + 1)


def linear_resources(weights, in_bits=8, serial=False, *, in_signed=True, family="xcup"):
    """Estimated resources of ``hwgen.rtl.hardwired.HardwiredLinear(weights, in_bits, serial)``
    alone (same keys as ``hwgen.synth`` summaries), plus ``adders`` and ``adder_bits``.

    Per adder of result width ``w`` (its operands are at most ``w - 1`` bits): xcup
    ``LUT_PER_ADDER_BIT x (w - 1)`` LUTs and ``ceil(w / 4)`` CARRY4 (what Yosys 0.23 emits; ``ceil(w / 8)`` CARRY8 on the device);
    ecp5 ``ceil(w / 2)`` CCU2C of 2 LUT sites each; ice40 ``w - 1`` SB_LUT4 and SB_CARRY. Re-encoded
    sums cost ``INV_PER_FLIP`` LUT each. Serial: per output an ``acc_bits`` accumulator register
    and its adder and select (``2 * acc_bits`` LUTs), per input ``in_bits`` shift-register
    flip-flops with a load/shift select (1 LUT each) and a plane counter.
    """
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r} (supported: {', '.join(FAMILIES)})")
    w = np.asarray(weights)
    M, K = w.shape
    acc_bits = sum_width(w, in_bits, in_signed)
    cost = SumCost((1, False) if serial else (in_bits, in_signed))
    for row in w:
        cost.difference(tuple(int(k) for k in np.flatnonzero(row == 1)),
                        tuple(int(k) for k in np.flatnonzero(row == -1)))
    r = dict.fromkeys(RES_KEYS, 0)
    bits = sum(a - 1 for a in cost.adders)
    if family == "ecp5":
        r["carry"] = sum(math.ceil(a / 2) for a in cost.adders)
        r["carry_luts"] = 2 * r["carry"]
    elif family == "xcup":
        r["lut"] = round(LUT_PER_ADDER_BIT * bits)
        r["carry"] = sum(math.ceil(a / 4) for a in cost.adders)
    else:
        r["lut"] = r["carry"] = bits
    r["lut"] += round(INV_PER_FLIP * len(cost.flips))
    if serial:
        r["ff"] = K * in_bits + M * acc_bits + (in_bits - 1).bit_length()
        r["lut"] += K * in_bits + 2 * M * acc_bits + 2
    r["lut_equiv"] = r["lut"] + r["lutram_luts"] + r["carry_luts"]
    r["adders"] = len(cost.adders)
    r["adder_bits"] = bits
    return r


def _merge(*parts):
    out = dict.fromkeys(RES_KEYS, 0)
    for p in parts:
        for k in RES_KEYS:
            out[k] += p.get(k, 0)
    out["lut_equiv"] = out["lut"] + out["lutram_luts"] + out["carry_luts"]
    return out


def hardwired_resources(plan, family="xcup"):
    """Analytic resources of a hardwired accelerator, in the layout of
    ``hwgen.estimate.estimate_resources``: ``{"family", "blocks": {"dot", "core"}, "total",
    "basis", "layers", ...}`` plus the flat keys older readers use.

    ``dot`` is the layers' logic (``linear_resources`` per layer: the adder trees counted from the
    non-zero weights of each output -- ``P + N - 1`` adders for ``P`` plus and ``N`` minus weights,
    fewer where outputs share a subtree, plus one when the re-encoding offsets need a constant --
    and the serial shift registers and accumulators) and the requant of each requantized output
    (``acc_bits - shift + REQUANT_LUTS`` LUTs). ``core``: the input register file
    (``in_features x input.bits`` flip-flops with a beat enable), the registers between parallel
    layers, the output register (``out_features`` x 8 or ``acc_bits``, with a load/shift select
    when there is more than one output beat), valid flags and counters. No memories, no DSP: the
    weights are the wiring.
    """
    model = plan.model
    layers, dot_parts = [], []
    for lp in plan.layers:
        l = lp.layer
        r = linear_resources(l.weights, lp.in_bits, plan.serial, in_signed=lp.in_signed, family=family)
        if l.requant is not None:
            r["lut"] += l.out_features * (max(lp.acc_bits - l.requant.shift, 1) + REQUANT_LUTS)
            r["lut_equiv"] = r["lut"] + r["carry_luts"]
        layers.append({"name": l.name, "nonzero_weights": lp.nonzeros, **r})
        dot_parts.append(r)
    dot = _merge(*dot_parts)
    core = dict.fromkeys(RES_KEYS, 0)
    ff = model.in_features * plan.layers[0].in_bits
    if not plan.serial:
        ff += sum(lp.layer.in_features * lp.in_bits for lp in plan.layers[1:])
    last = plan.layers[-1]
    out_bits = last.acc_bits if last.layer.requant is None else 8
    ff += last.layer.out_features * out_bits
    counters = (max(2, plan.input_chunks) - 1).bit_length() + (max(2, plan.output_beats) - 1).bit_length()
    stages = len(plan.stage_cycles) + 1
    ff += stages + counters
    lut = stages * 3 + counters + plan.input_chunks
    if plan.output_beats > 1:
        lut += last.layer.out_features * out_bits
    core["ff"], core["lut"] = ff, lut
    core["lut_equiv"] = lut
    total = _merge(dot, core)
    out = {
        "family": family, "blocks": {"dot": dot, "core": core}, "total": total,
        "memories": [], "layers": layers,
        "basis": f"analytic (hwgen.hardwired.hardwired_resources), {family} primitives",
        "nonzero_weights": sum(lp.nonzeros for lp in plan.layers),
    }
    # flat view (the keys of hwgen.estimate's older readers)
    out.update(lut=total["lut"], ff=total["ff"], lutram=0, lutram_luts=0, lut_equiv=total["lut_equiv"],
               bram36=0, dsp=0, dot_lut=dot["lut"], dot_ff=dot["ff"], datapath_lut=core["lut"],
               weight_memory_bits=0, carry=total["carry"])
    return out
