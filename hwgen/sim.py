"""Cycle-accurate simulator of the generated accelerator.

It executes what the hardware executes: input beats written into the activation buffer, the
weight memory words decoded field by field, per-chunk tables built from balanced-ternary digits and
looked up by index (``tlmm``) or ternary selects (``addertree``), accumulators of ``acc_bits``,
requantization, and block-wise writes into the other buffer bank. Unwritten buffer lanes hold
garbage, as in the RTL: only zero weights may meet them. The cycle count comes from the schedule
in ``hwgen.plan`` and is checked against the RTL by the regression in rtl_tests/.
"""

from dataclasses import dataclass

import numpy as np

from .plan import Plan

_GARBAGE = 0x5A  # pattern in buffer lanes no layer wrote (stands for the RTL's stale data)


def balanced_digits(group):
    """(entries, group) balanced-ternary digits of the table indices 0 .. (3**group - 1) / 2."""
    entries = (3 ** group + 1) // 2
    digits = np.zeros((entries, group), dtype=np.int64)
    for j in range(entries):
        v = j
        for i in range(group):
            r = v % 3
            d = r - 3 if r == 2 else r
            digits[j, i] = d
            v = (v - d) // 3
    return digits


def decode_weight_memory(plan, lp):
    """The fields of a layer's weight words: (chunks, blocks, columns, fields) int64."""
    e = plan.engine
    width, fields = (e.index_bits, e.tables) if e.kind == "tlmm" else (2, e.lanes)
    nbytes = -(-e.weight_word_bits // 8)
    words = plan.weight_memory[lp.weight_base:lp.weight_base + lp.words]
    raw = np.frombuffer(b"".join(w.to_bytes(nbytes, "little") for w in words), dtype=np.uint8)
    bits = np.unpackbits(raw.reshape(len(words), nbytes), axis=1, bitorder="little")
    bits = bits[:, :e.weight_word_bits].reshape(len(words), e.columns, fields, width).astype(np.int64)
    vals = (bits << np.arange(width)).sum(axis=-1)
    return vals.reshape(lp.chunks, lp.blocks, e.columns, fields)


@dataclass
class SimResult:
    outputs: np.ndarray   # (batch, out_features) int8 or int32
    cycles: int           # first input beat to last output beat (output always ready by default)
    layer_cycles: list
    busy_cycles: int      # per vector
    stalls: int = 0       # cycles an output beat was valid but not taken (``ready`` pattern)


class Simulator:
    """Cycle-accurate model of the accelerator generated for ``model``."""

    def __init__(self, model):
        self.plan = Plan(model)
        self._fields = [decode_weight_memory(self.plan, lp) for lp in self.plan.layers]
        self._digits = balanced_digits(self.plan.engine.group)

    def _dot_tlmm(self, lp, fields, chunks):
        """chunks: (batch, C, lanes) int64 -> partial sums (batch, B * N), chunk by chunk."""
        e = self.plan.engine
        mag = fields & ((1 << e.mag_bits) - 1)                  # (C, B, N, T)
        sign = np.where(fields >> e.mag_bits, -1, 1)
        acc = np.zeros((chunks.shape[0], lp.blocks * e.columns), dtype=np.int64)
        t_idx = np.arange(e.tables)[None, :]
        for c in range(lp.chunks):
            groups = chunks[:, c, :].reshape(-1, e.tables, e.group)        # (batch, T, G)
            table = groups @ self._digits.T                                 # (batch, T, entries)
            m = mag[c].reshape(-1, e.tables)                                # (B*N, T)
            s = sign[c].reshape(-1, e.tables)
            acc += (table[:, t_idx, m] * s).sum(axis=-1)                    # (batch, B*N)
        return acc

    def _dot_addertree(self, lp, fields, chunks):
        e = self.plan.engine
        w = np.where(fields == 3, -1, fields)                  # 2-bit two's complement codes
        w = w.reshape(lp.chunks, lp.blocks * e.columns, e.lanes)
        return np.einsum("bcl,cml->bm", chunks, w)

    def run(self, x, ready=None):
        """Outputs and cycles for the vectors ``x``; ``ready`` is the output-ready pattern
        (``Plan.output_schedule``; streaming models: ``hwgen.streaming.StreamModel``)."""
        plan, e = self.plan, self.plan.engine
        x = np.asarray(x)
        batch = x.shape[0]
        chunks = plan.pack_input(x).astype(np.int64)            # layer 0 reads the input beats
        dot = self._dot_tlmm if e.kind == "tlmm" else self._dot_addertree
        out = None
        for lp, fields in zip(plan.layers, self._fields):
            acc = dot(lp, fields, chunks)
            lim = 1 << (plan.acc_bits - 1)
            assert -lim <= acc.min() and acc.max() < lim, "accumulator overflow: acc_bits too small"
            layer = lp.layer
            if layer.requant is None:
                out = acc.astype(np.int32)
                break
            y = layer.requant.apply(acc)                               # (batch, B * N) int8
            if lp is plan.layers[-1]:
                out = y
                break
            # write blocks into the next bank, then read it back chunk by chunk
            rows = -(-lp.blocks // plan.blocks_per_row)
            buf = np.full((batch, rows, plan.row_lanes), _GARBAGE, dtype=np.int64)
            blocks = y.reshape(batch, lp.blocks, e.columns).astype(np.int64)
            for b in range(lp.blocks):
                r, slot = divmod(b, plan.blocks_per_row)
                buf[:, r, slot * e.columns:(slot + 1) * e.columns] = blocks[:, b]
            nxt = plan.layers[lp.index + 1]
            sub = buf.reshape(batch, rows * plan.subchunks, e.lanes)
            chunks = sub[:, :nxt.chunks]
        outputs = out[:, :plan.model.out_features]
        if getattr(plan.model, "memory", None) is not None and plan.model.memory.stream:
            from .streaming import stream_cycles     # weights from DRAM at one beat per cycle
            r = stream_cycles(plan, batch, ready=ready)
            cycles, stalls = r.cycles, r.output_stall_cycles
        else:
            cycles, stalls = plan.output_schedule(batch, ready)
        return SimResult(outputs, cycles, plan.layer_cycles(), plan.busy_cycles, stalls)


def make_simulator(model):
    """The cycle-accurate simulator for ``model``'s engine kind."""
    if model.engine.kind == "hardwired":
        from .hardwired import HardwiredSimulator
        return HardwiredSimulator(model)
    if model.engine.kind == "lif":
        from .lif import LifSimulator
        return LifSimulator(model)
    return Simulator(model)


def simulate(model, x):
    return make_simulator(model).run(x)
