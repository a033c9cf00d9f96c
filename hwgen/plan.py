"""The program plan: how a model is laid out on one engine.

``Plan`` is the single source of truth shared by the RTL generator (memory contents, per-layer
constants), the cycle-accurate simulator (data layout and cycle counts) and the estimators.

Layout
------
Activations live in an on-chip buffer of two banks (layer ``l`` reads bank ``l % 2`` and writes
bank ``(l + 1) % 2``). A buffer row holds ``row_lanes = lanes * subchunks`` int8 values, where
``subchunks = ceil(columns / lanes)``, so that one output block of ``columns`` results always
fits in one row. A row holds ``blocks_per_row = row_lanes // columns`` output blocks; block ``b``
of a layer lands in row ``b // blocks_per_row`` at lane ``(b % blocks_per_row) * columns``.
The next layer reads the buffer chunk by chunk (``lanes`` values: row ``c // subchunks``,
sub-chunk ``c % subchunks``); the feature that sits at each chunk position is recorded in
``LayerPlan.in_map`` and the weight columns are permuted to match, so the hardware never moves
data between layers. Positions that hold no feature get zero weights (hwgen pads, not the user).

Schedule of one layer (cycles, see ``hwgen.engine`` for the pipeline constants)
----------------------------------------------------------------------------------
``build_cycles`` (prologue: the first chunk's tables), then for each chunk a *period* of
``period = max(blocks, build_cycles, MIN_PERIOD)`` cycles that issues one output block per cycle
(``blocks`` cycles) while the next chunk's tables are built, except the last chunk which ends after
its ``blocks`` issues, then ``DRAIN`` cycles. A vector takes ``input_chunks`` load cycles, the sum of
its layers, and ``OUTPUT_LATENCY - DRAIN`` more to the last output beat.
"""

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .engine import DRAIN, OUTPUT_LATENCY

ACT_MAX = 128  # largest |activation| (int8)


def _ceil_div(a, b):
    return -(-a // b)


@dataclass(frozen=True)
class LayerPlan:
    index: int
    layer: object            # hwgen.model.Layer
    chunks: int              # C: activation chunks of `lanes` values
    blocks: int              # B: output blocks of `columns` results
    period: int              # cycles per chunk
    weight_base: int         # first weight-memory word of this layer
    in_map: np.ndarray       # (chunks, lanes) feature index at each chunk position, -1 for padding
    weights: np.ndarray      # (chunks, lanes, blocks * columns) int8 ternary weights in chunk order

    @property
    def in_bank(self):
        return self.index % 2

    @property
    def out_bank(self):
        return (self.index + 1) % 2

    @property
    def words(self):
        return self.chunks * self.blocks

    def cycles(self, build_cycles):
        return build_cycles + (self.chunks - 1) * self.period + self.blocks + DRAIN

    @property
    def busy_cycles(self):
        """Cycles that issue a block: the engine's useful work, padding included."""
        return self.chunks * self.blocks


class Plan:
    """A model laid out on its engine. Build it with ``Plan(model)``."""

    def __init__(self, model):
        self.model = model
        self.engine = e = model.engine
        self.lanes = e.lanes
        self.columns = e.columns
        self.subchunks = _ceil_div(e.columns, e.lanes)
        self.row_lanes = e.lanes * self.subchunks
        self.blocks_per_row = self.row_lanes // e.columns

        layers = []
        base = 0
        prev_blocks = None
        for i, layer in enumerate(model.layers):
            if i == 0:
                in_map = self._input_map_from_stream(layer.in_features)
            else:
                in_map = self._input_map_from_blocks(layer.in_features, prev_blocks)
            chunks = in_map.shape[0]
            blocks = _ceil_div(layer.out_features, e.columns)
            padded = np.zeros((chunks, e.lanes, blocks * e.columns), dtype=np.int8)
            real = in_map >= 0
            c_idx, p_idx = np.nonzero(real)
            padded[c_idx, p_idx, :layer.out_features] = layer.weights.T[in_map[c_idx, p_idx]]
            layers.append(LayerPlan(i, layer, chunks, blocks, e.period(blocks), base, in_map, padded))
            base += chunks * blocks
            prev_blocks = blocks
        self.layers = tuple(layers)
        self.weight_words = base

        rows = [_ceil_div(self.layers[0].chunks, self.subchunks)]
        rows += [_ceil_div(lp.blocks, self.blocks_per_row) for lp in self.layers[:-1]]
        self.act_rows = max(rows)
        self.act_row_bits = (self.act_rows - 1).bit_length()
        self.acc_depth = max(lp.blocks for lp in self.layers)
        k_max = max(lp.layer.in_features for lp in self.layers)
        self.acc_bits = (k_max * ACT_MAX).bit_length() + 1
        self.out_acc = model.layers[-1].outputs_acc
        self.out_bits = 32 if self.out_acc else 8

    # ---- layout ----
    def _input_map_from_stream(self, features):
        chunks = _ceil_div(features, self.lanes)
        m = np.arange(chunks * self.lanes, dtype=np.int64)
        m[m >= features] = -1
        return m.reshape(chunks, self.lanes)

    def _input_map_from_blocks(self, features, blocks):
        f = np.arange(features, dtype=np.int64)
        b, n = f // self.columns, f % self.columns
        row = b // self.blocks_per_row
        lane = (b % self.blocks_per_row) * self.columns + n
        chunk = row * self.subchunks + lane // self.lanes
        pos = lane % self.lanes
        m = np.full((int(chunk.max()) + 1, self.lanes), -1, dtype=np.int64)
        m[chunk, pos] = f
        return m

    @property
    def input_chunks(self):
        return self.layers[0].chunks

    def pack_input(self, x):
        """(batch, in_features) int8 -> (batch, input_chunks, lanes) input beats (padding lanes 0)."""
        x = np.asarray(x)
        m = self.layers[0].in_map
        beats = np.where(m >= 0, x[:, np.maximum(m, 0)], 0)
        return beats.astype(np.int8)

    def unpack_output(self, beats):
        """(batch, blocks, columns) output beats -> (batch, out_features)."""
        beats = np.asarray(beats)
        return beats.reshape(beats.shape[0], -1)[:, :self.model.out_features]

    # ---- weight memory ----
    def weight_indices(self, lp):
        """TLMM indices of a layer: (chunks, tables, blocks * columns) ints, sign bit above |v|."""
        e = self.engine
        w = lp.weights.reshape(lp.chunks, e.tables, e.group, -1).astype(np.int64)
        v = np.tensordot(3 ** np.arange(e.group), w, axes=([0], [2]))   # (chunks, tables, M)
        return np.abs(v) | ((v < 0).astype(np.int64) << e.mag_bits)

    @cached_property
    def weight_memory(self):
        """The weight memory contents: one int per word, layer by layer, chunk-major, block-minor.

        tlmm word: column n, table t at bits (n * tables + t) * index_bits.
        addertree word: column n, lane x at bits (n * lanes + x) * 2, code = weight & 3.
        """
        e = self.engine
        words = []
        for lp in self.layers:
            if e.kind == "tlmm":
                fields = self.weight_indices(lp)                      # (C, T, M)
                width = e.index_bits
            else:
                fields = lp.weights.astype(np.int64) & 3              # (C, L, M)
                width = 2
            C, F, M = fields.shape
            f = fields.reshape(C, F, lp.blocks, e.columns).transpose(0, 2, 3, 1)  # (C, B, N, F)
            f = f.reshape(C * lp.blocks, e.columns * F)
            bits = ((f[:, :, None] >> np.arange(width)) & 1).astype(np.uint8).reshape(f.shape[0], -1)
            packed = np.packbits(bits, axis=1, bitorder="little")
            words.extend(int.from_bytes(row.tobytes(), "little") for row in packed)
        return words

    # ---- cycles ----
    def layer_cycles(self):
        return [lp.cycles(self.engine.build_cycles) for lp in self.layers]

    @property
    def vector_stride(self):
        """Cycles from one vector's first input beat to the next vector's first input beat."""
        return self.input_chunks + sum(self.layer_cycles())

    def total_cycles(self, batch, stall_cycles=0):
        """First input beat to last output beat for ``batch`` vectors sent back to back."""
        if batch <= 0:
            return 0
        return batch * self.vector_stride + (OUTPUT_LATENCY - DRAIN) + stall_cycles

    @property
    def out_beats(self):
        """Output beats per vector (the last layer's blocks)."""
        return self.layers[-1].blocks

    def output_schedule(self, batch, ready=None):
        """(cycles, held): first input beat to last output beat, and the cycles an output beat was
        valid but not taken, with input beats always offered and ``m_axis_tready`` in cycle ``k``
        (``k = 0`` is the first input beat) equal to ``ready[k % len(ready)]`` (None: always).

        The output queue (``hwgen.rtl.outqueue``) decouples the engine from the output: a vector
        starts (its first input beat is taken) no earlier than one vector stride after the one
        before, and only when the queue's ``capacity`` has room for its ``out_beats`` beats beyond
        those stored or reserved (a beat taken in cycle ``k`` frees its room from ``k + 1`` on).
        Beat ``b`` of a vector that started in cycle ``s`` enters the queue so that it could be on
        ``m_axis`` in cycle ``s + total_cycles(1) - out_beats + b``, and not before the cycle after
        the beat ahead of it was taken.
        """
        from .rtl.outqueue import queue_depth
        if batch <= 0:
            return 0, 0
        if ready is None or all(ready):
            return self.total_cycles(batch), 0
        ready = [bool(r) for r in ready]
        if not any(ready):
            raise ValueError("the ready pattern never takes a beat")
        B = self.out_beats
        capacity = queue_depth(B) + 1
        first_beat = self.total_cycles(1) - B
        taken = []                  # cycle each beat was taken, in order
        held = 0
        start = 0
        for v in range(batch):
            if v:
                start += self.vector_stride
                need = B * (v + 1) - capacity      # beats that must have left before the start
                if need > 0:
                    start = max(start, taken[need - 1] + 1)
            for b in range(B):
                t = start + first_beat + b
                if taken:
                    t = max(t, taken[-1] + 1)
                k = t
                while not ready[k % len(ready)]:
                    k += 1
                held += k - t
                taken.append(k)
        return taken[-1] + 1, held

    @property
    def busy_cycles(self):
        return sum(lp.busy_cycles for lp in self.layers)

    def summary(self):
        e = self.engine
        layers = []
        for lp, cyc in zip(self.layers, self.layer_cycles()):
            l = lp.layer
            layers.append({
                "name": l.name, "in_features": l.in_features, "out_features": l.out_features,
                "chunks": lp.chunks, "blocks": lp.blocks, "period": lp.period,
                "prologue_cycles": e.build_cycles, "busy_cycles": lp.busy_cycles,
                "bubble_cycles": (lp.chunks - 1) * (lp.period - lp.blocks),
                "cycles": cyc, "weight_words": lp.words,
                "macs": l.in_features * l.out_features,
                "output": "acc" if l.outputs_acc else "int8",
                "requant": None if l.requant is None else {"shift": l.requant.shift, "relu": l.requant.relu},
            })
        return {
            "input_chunks": self.input_chunks, "row_lanes": self.row_lanes,
            "subchunks": self.subchunks, "blocks_per_row": self.blocks_per_row,
            "act_rows": self.act_rows, "acc_bits": self.acc_bits, "acc_depth": self.acc_depth,
            "weight_words": self.weight_words, "weight_word_bits": e.weight_word_bits,
            "out_bits": self.out_bits, "layers": layers,
            "cycles_per_vector": self.total_cycles(1), "vector_stride": self.vector_stride,
            "busy_cycles_per_vector": self.busy_cycles,
        }


def make_plan(model):
    """The plan for ``model``'s engine kind (all plans offer the interface of ``Plan`` that the
    simulator, RTL bench, build and reports use)."""
    if model.engine.kind == "hardwired":
        from .hardwired import HardwiredPlan
        return HardwiredPlan(model)
    if model.engine.kind == "lif":
        from .lif import LifPlan
        return LifPlan(model)
    return Plan(model)
