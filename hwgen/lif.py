"""Spiking (LIF) models: layer and engine parameters, the plan, the golden model, the
cycle-accurate simulator, the RTL bench runner and ``hwgen sim`` for spiking models.

Neuron rule (exact integers; docs/model-format.md, "Spiking layers (lif)")
---------------------------------------------------------------------------
For each timestep ``t`` and neuron ``i`` of a layer, with binary input spikes ``s_j[t]``::

    I     = sum_j W[i, j] * s_j[t]
    v     = saturate(v - (v >> leak_shift) + I)      # no leak term when leak_shift is null
    spike = v > threshold                            # v >= threshold with threshold_compare: ge
    if spike: v = 0 (reset: zero)  or  v = v - threshold (reset: subtract)

``saturate`` clips to a signed ``membrane_bits`` integer; membranes start at 0 for every sample.
Layers run in order within a timestep: layer ``l + 1`` sees layer ``l``'s spikes of the same
timestep.

Engine (``engine: {kind: lif, neurons: P, lanes: W, mode: event | dense}``)
---------------------------------------------------------------------------
``P`` update units serve the ``N`` neurons of a layer in ``B = ceil(N / P)`` blocks. The weight
memory holds one word of ``P`` weights per (input ``j``, block ``b``); the membrane memory one word
of ``P`` membranes per block; the current memory one word of ``P`` input currents per block.
A layer's timestep is an *accumulate* phase (one weight word per cycle: ``P`` synaptic operations)
and an *update* phase (one block per cycle: leak, saturate, threshold, reset, spikes out).

* ``event``: the accumulate phase scans the input spike vector in words of ``W`` bits and issues
  the ``B`` words of every input that spiked; a word without spikes costs one cycle:
  ``acc_cycles = sum over words c of (B * popcount(c) if popcount(c) else 1)``.
* ``dense``: every input, spiking or not: ``acc_cycles = K * B`` (no scanner, fixed timing).

A timestep takes ``I + sum_l (acc_cycles_l + B_l) + (layers - 1)`` cycles, ``I = ceil(K_0 / W)``
input beats (one cycle each), one drain cycle between layers. See ``LifPlan`` for the total.
"""

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .errors import HwgenError, ModelError

MODES = ("event", "dense")
MAX_NEURONS = 64
MAX_LANES = 64
MAX_LIF_FEATURES = 4096
RESETS = ("zero", "subtract")
COMPARES = ("gt", "ge")
LIF_LAYER_KEYS = {"name", "op", "out_features", "weights", "threshold", "leak_shift", "reset",
                  "threshold_compare", "membrane_bits", "weight_bits", "output"}


def _ceil_div(a, b):
    return -(-a // b)


# ------------------------------------------------------------------------------------------
# parameters
# ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LifEngine:
    """Validated ``engine:`` mapping of a spiking model."""

    kind: str
    neurons: int          # P: parallel update units (neurons updated per cycle)
    lanes: int            # W: spike bits per input beat and per scanner word
    mode: str             # event | dense

    @classmethod
    def from_mapping(cls, d, *, file=None, field="engine"):
        allowed = {"kind", "neurons", "lanes", "mode"}
        for key in d:
            if key not in allowed:
                raise ModelError(f"unknown key for a lif engine (allowed: {', '.join(sorted(allowed))})",
                                 file=file, field=f"{field}.{key}")

        def integer(key, lo, hi, default):
            v = d.get(key, default)
            if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
                raise ModelError(f"must be an integer in {lo}..{hi}, got {v!r}", file=file, field=f"{field}.{key}")
            return v

        neurons = integer("neurons", 1, MAX_NEURONS, 8)
        lanes = integer("lanes", 1, MAX_LANES, 32)
        mode = d.get("mode", "event")
        if mode not in MODES:
            raise ModelError(f"must be one of {', '.join(MODES)}, got {mode!r}", file=file, field=f"{field}.mode")
        return cls("lif", neurons, lanes, mode)

    # the names the rest of hwgen reads from an engine
    @property
    def columns(self):
        return self.neurons

    @property
    def macs_per_cycle(self):
        """Synaptic operations per accumulate cycle."""
        return self.neurons

    def as_dict(self):
        return {"kind": self.kind, "neurons": self.neurons, "lanes": self.lanes, "mode": self.mode,
                "synaptic_ops_per_cycle": self.neurons}


@dataclass(frozen=True)
class LifLayer:
    """One ``op: lif`` layer (weights int8, shape (out_features, in_features))."""

    name: str
    op: str
    in_features: int
    out_features: int
    weights: np.ndarray
    threshold: int
    leak_shift: int | None
    reset: str
    compare: str
    membrane_bits: int
    weight_bits: int
    output: str           # spikes | membrane (last layer only)
    weights_ref: str

    requant = None        # the interface of hwgen.model.Layer
    outputs_acc = False

    @property
    def w_max(self):
        return (1 << (self.weight_bits - 1)) - 1

    @property
    def v_min(self):
        return -(1 << (self.membrane_bits - 1))

    @property
    def v_max(self):
        return (1 << (self.membrane_bits - 1)) - 1


def is_spiking(doc):
    """Whether a parsed model document selects the lif engine."""
    return isinstance(doc, dict) and isinstance(doc.get("engine"), dict) and doc["engine"].get("kind") == "lif"


def parse_lif_input(inp, *, file):
    """``input: {features: K, bits: 1}`` of a spiking model -> (features, 1)."""
    from .model import MAX_FEATURES, _check_keys, _int_field
    _check_keys(inp, {"features", "bits"}, file, "input")
    features = _int_field(inp, "features", 1, min(MAX_FEATURES, MAX_LIF_FEATURES), file, "input")
    bits = inp.get("bits", 1)
    if bits != 1 or isinstance(bits, bool):
        raise ModelError(f"a spiking model's input is spikes: bits must be 1, got {bits!r}", file=file, field="input.bits")
    return features, 1


def parse_lif_layers(layers_doc, in_features, *, file, base_dir):
    """Validate the ``layers:`` list of a spiking model (every layer ``op: lif``)."""
    from .model import NAME_RE, _check_keys, _int_field, load_weights
    if not isinstance(layers_doc, list) or not layers_doc:
        raise ModelError("must be a non-empty list of layers", file=file, field="layers")
    layers, seen = [], set()
    features = in_features
    for i, ld in enumerate(layers_doc):
        f = f"layers[{i}]"
        if not isinstance(ld, dict):
            raise ModelError("must be a mapping", file=file, field=f)
        if ld.get("op") != "lif":
            raise ModelError(f"a lif engine runs op: lif layers only, got {ld.get('op')!r}", file=file, field=f"{f}.op")
        _check_keys(ld, LIF_LAYER_KEYS, file, f)
        lname = ld.get("name", f"layer{i}")
        if not isinstance(lname, str) or not NAME_RE.match(lname) or lname in ("input", "output"):
            raise ModelError(f"must be an identifier other than input/output, got {lname!r}", file=file, field=f"{f}.name")
        if lname in seen:
            raise ModelError(f"duplicate layer name {lname!r}", file=file, field=f"{f}.name")
        seen.add(lname)
        out_features = _int_field(ld, "out_features", 1, MAX_LIF_FEATURES, file, f)
        mbits = ld.get("membrane_bits", 16)
        if isinstance(mbits, bool) or not isinstance(mbits, int) or not 2 <= mbits <= 32:
            raise ModelError(f"must be an integer in 2..32, got {mbits!r}", file=file, field=f"{f}.membrane_bits")
        wbits = ld.get("weight_bits", 2)
        if isinstance(wbits, bool) or not isinstance(wbits, int) or not 2 <= wbits <= 8:
            raise ModelError(f"must be an integer in 2..8 (2 = ternary), got {wbits!r}", file=file, field=f"{f}.weight_bits")
        thr = _int_field(ld, "threshold", 0, (1 << (mbits - 1)) - 1, file, f)
        leak = ld.get("leak_shift")
        if leak is not None and (isinstance(leak, bool) or not isinstance(leak, int) or not 0 <= leak <= 31):
            raise ModelError(f"must be null (no leak) or an integer in 0..31, got {leak!r}", file=file, field=f"{f}.leak_shift")
        if "leak_shift" not in ld:
            raise ModelError("is required (null for an integrate-and-fire neuron without leak)", file=file, field=f"{f}.leak_shift")
        reset = ld.get("reset", "zero")
        if reset not in RESETS:
            raise ModelError(f"must be zero or subtract, got {reset!r}", file=file, field=f"{f}.reset")
        compare = ld.get("threshold_compare", "gt")
        if compare not in COMPARES:
            raise ModelError(f"must be gt or ge, got {compare!r}", file=file, field=f"{f}.threshold_compare")
        output = ld.get("output", "spikes")
        if output not in ("spikes", "membrane"):
            raise ModelError(f"must be spikes or membrane, got {output!r}", file=file, field=f"{f}.output")
        if output == "membrane" and i != len(layers_doc) - 1:
            raise ModelError("only the last layer can output membranes", file=file, field=f"{f}.output")
        ref = ld.get("weights")
        arr = load_weights(ref, base_dir, file=file, field=f"{f}.weights")
        w = check_weights(arr, (out_features, features), wbits, file=file, field=f"{f}.weights")
        layers.append(LifLayer(lname, "lif", features, out_features, w, thr, leak, reset, compare,
                               mbits, wbits, output, ref))
        features = out_features
    return tuple(layers)


def check_weights(arr, shape, weight_bits, *, file=None, field=None):
    """``arr`` as int8 after checking its shape and range (ternary for ``weight_bits`` 2)."""
    if arr.ndim != 2 or arr.shape != shape:
        raise ModelError(f"shape must be (out_features, in_features) = {shape}, got {arr.shape}", file=file, field=field)
    if arr.dtype.kind not in "iuf":
        raise ModelError(f"must be numeric, got dtype {arr.dtype}", file=file, field=field)
    lim = (1 << (weight_bits - 1)) - 1
    bad = (arr != np.round(arr)) | (arr < -lim) | (arr > lim) if arr.size else np.zeros(arr.shape, bool)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        what = "ternary (-1, 0, 1)" if weight_bits == 2 else f"an integer in -{lim}..{lim} (weight_bits {weight_bits})"
        raise ModelError(f"value {arr[r, c].item()!r} at [{r}, {c}] is not {what}", file=file, field=field)
    return arr.astype(np.int8)


def make_lif_model(name, in_features, layers, neurons=8, lanes=32, mode="event"):
    """A spiking ``Model`` from ``LifLayer`` objects (for tests and scripts)."""
    from .model import Model
    return Model(name, in_features, 1, LifEngine("lif", neurons, lanes, mode), tuple(layers))


def lif_layer(name, weights, threshold, leak_shift=None, reset="zero", compare="gt", membrane_bits=16,
              weight_bits=2, output="spikes"):
    w = np.asarray(weights)
    return LifLayer(name, "lif", w.shape[1], w.shape[0], check_weights(w, w.shape, weight_bits, field=name),
                    int(threshold), leak_shift, reset, compare, membrane_bits, weight_bits, output, "array")


# ------------------------------------------------------------------------------------------
# golden model
# ------------------------------------------------------------------------------------------

def as_spike_batch(x):
    """(T, K) or (batch, T, K) 0/1 -> (batch, T, K) int64."""
    x = np.asarray(x)
    if x.ndim == 2:
        x = x[None]
    return x.astype(np.int64)


def lif_golden(model, x):
    """The rule of the module docstring, literally. Returns ``(spikes, membranes)``.

    ``x``: spikes (batch, T, in_features) or (T, in_features) of 0/1. ``spikes``: int8 (batch, T,
    out_features) of the last layer; ``membranes``: int32 (batch, T, out_features), the last
    layer's membranes after each timestep's update (after reset). Independent of the plan, the
    simulator and the RTL.
    """
    s = as_spike_batch(x)
    batch, T, _ = s.shape
    v = [np.zeros((batch, l.out_features), dtype=np.int64) for l in model.layers]
    spikes = np.zeros((batch, T, model.layers[-1].out_features), dtype=np.int8)
    mems = np.zeros(spikes.shape, dtype=np.int32)
    for t in range(T):
        a = s[:, t]
        for li, l in enumerate(model.layers):
            cur = a @ l.weights.astype(np.int64).T
            u = v[li] if l.leak_shift is None else v[li] - (v[li] >> l.leak_shift)
            u = np.clip(u + cur, l.v_min, l.v_max)
            fire = u >= l.threshold if l.compare == "ge" else u > l.threshold
            if l.reset == "zero":
                u = np.where(fire, 0, u)
            else:
                u = np.where(fire, u - l.threshold, u)
            v[li] = u
            a = fire.astype(np.int64)
        spikes[:, t] = a
        mems[:, t] = v[-1]
    return spikes, mems


# ------------------------------------------------------------------------------------------
# plan: memories and the cycle model
# ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LifLayerPlan:
    index: int
    layer: LifLayer
    inputs: int              # K
    blocks: int              # B = ceil(N / P)
    words: int               # C = ceil(K / W): scanner words of the input spike vector
    weight_base: int         # weight word of (input j, block b) = weight_base + j * B + b
    membrane_base: int       # membrane word of block b = membrane_base + b
    in_bank: int             # spike bank read (0 holds the input)
    out_bank: int
    lanes: int               # W

    def acc_cycles(self, spikes, mode):
        """Accumulate-phase cycles for input spike vectors ``spikes`` (..., K) of 0/1."""
        s = np.asarray(spikes, dtype=np.int64)
        if mode == "dense":
            return np.full(s.shape[:-1], self.inputs * self.blocks, dtype=np.int64)
        W = self.lanes
        pad = self.words * W - self.inputs
        if pad:
            s = np.concatenate([s, np.zeros(s.shape[:-1] + (pad,), dtype=np.int64)], axis=-1)
        pop = s.reshape(s.shape[:-1] + (self.words, W)).sum(axis=-1)
        return np.where(pop > 0, pop * self.blocks, 1).sum(axis=-1)

    def cycles(self, spikes, mode):
        """Accumulate + update cycles of this layer for each input spike vector."""
        return self.acc_cycles(spikes, mode) + self.blocks


class LifPlan:
    """A spiking model laid out on its LIF core (the interface of ``hwgen.plan.Plan`` used by
    ``hwgen build``'s report, plus the spike-specific cycle model).

    Beats: an input beat is ``lanes`` spike bits (feature ``c * lanes + i`` at bit ``i`` of beat
    ``c``); a timestep is ``input_chunks`` beats; ``s_axis_tlast`` marks the last beat of a
    sample's last timestep. An output beat is the ``neurons`` spikes of one block of the last
    layer (bit ``n`` = neuron ``b * neurons + n``), followed, with ``output: membrane``, by their
    membranes (``membrane_bits`` each, two's complement, neuron ``n`` at bits ``neurons + n * mb``);
    a timestep is ``blocks`` beats; ``m_axis_tlast`` marks the last beat of a sample.
    """

    def __init__(self, model):
        if model.engine.kind != "lif":
            raise ValueError(f"LifPlan needs a lif engine, got {model.engine.kind!r}")
        self.model = model
        self.engine = e = model.engine
        self.mode = e.mode
        self.neurons = P = e.neurons
        self.lanes = W = e.lanes
        self.columns = P
        layers = []
        wbase = mbase = 0
        for i, l in enumerate(model.layers):
            K = l.in_features
            B = _ceil_div(l.out_features, P)
            layers.append(LifLayerPlan(i, l, K, B, _ceil_div(K, W), wbase, mbase, i % 2, (i + 1) % 2, W))
            wbase += K * B
            mbase += B
        self.layers = tuple(layers)
        self.weight_words = wbase
        self.membrane_words = mbase
        self.current_words = max(lp.blocks for lp in layers)
        self.weight_bits = max(l.weight_bits for l in model.layers)
        self.membrane_bits = max(l.membrane_bits for l in model.layers)
        self.current_bits = max((l.in_features * l.w_max).bit_length() + 1 for l in model.layers)
        self.weight_word_bits = P * self.weight_bits
        last = model.layers[-1]
        self.out_membrane = last.output == "membrane"
        self.out_bits = 1 + (last.membrane_bits if self.out_membrane else 0)
        self.out_beat_bits = P * self.out_bits if not self.out_membrane else P * (1 + last.membrane_bits)
        self.input_chunks = _ceil_div(model.in_features, W)
        # spike banks: registers holding a spike vector; a multiple of W (scanner words, input
        # beats) and of P (block writes) bits
        need = [model.in_features] + [l.out_features for l in model.layers[:-1]] + [l.in_features for l in model.layers]
        unit = W * P // math.gcd(W, P)
        self.bank_bits = _ceil_div(max(need), unit) * unit

    # ---- memory contents ----
    @cached_property
    def weight_memory(self):
        """One int per word: layer by layer, input-major, block-minor; neuron n of the block at
        bits ``n * weight_bits`` (two's complement); padded neurons hold 0."""
        P, wb = self.neurons, self.weight_bits
        words = []
        for lp in self.layers:
            w = np.zeros((lp.blocks * P, lp.inputs), dtype=np.int64)
            w[:lp.layer.out_features] = lp.layer.weights
            f = (w.T.reshape(lp.inputs, lp.blocks, P) & ((1 << wb) - 1))   # (K, B, P)
            sh = (np.arange(P, dtype=object) * wb)
            for row in f.reshape(-1, P):
                words.append(int(sum(int(v) << int(s) for v, s in zip(row, sh))))
        return words

    # ---- beats ----
    def pack_input(self, x):
        """Spikes (batch, T, K) -> (batch * T, input_chunks) beat words and their tlast flags."""
        s = as_spike_batch(x)
        batch, T, K = s.shape
        W = self.lanes
        flat = np.zeros((batch * T, self.input_chunks * W), dtype=np.int64)
        flat[:, :K] = s.reshape(batch * T, K)
        bits = flat.reshape(batch * T, self.input_chunks, W)
        words = [[int(sum(int(b) << i for i, b in enumerate(beat))) for beat in ts] for ts in bits]
        last = np.zeros((batch * T, self.input_chunks), dtype=np.uint8)
        last[T - 1::T, -1] = 1
        return words, last

    def unpack_output(self, beats, batch, T):
        """Output beat words (batch * T * blocks) -> spikes (batch, T, N), membranes or None."""
        lp = self.layers[-1]
        P, N = self.neurons, lp.layer.out_features
        mb = lp.layer.membrane_bits
        spikes = np.zeros((batch * T * lp.blocks, P), dtype=np.int8)
        mems = np.zeros((batch * T * lp.blocks, P), dtype=np.int64)
        for k, word in enumerate(beats):
            word = int(word)
            for n in range(P):
                spikes[k, n] = (word >> n) & 1
                if self.out_membrane:
                    v = (word >> (P + n * mb)) & ((1 << mb) - 1)
                    mems[k, n] = v - (1 << mb) if v >> (mb - 1) else v
        spikes = spikes.reshape(batch, T, lp.blocks * P)[:, :, :N]
        mems = mems.reshape(batch, T, lp.blocks * P)[:, :, :N].astype(np.int32) if self.out_membrane else None
        return spikes, mems

    # ---- cycles ----
    def timestep_cycles(self, layer_inputs):
        """Exact cycles of each timestep: ``layer_inputs[l]`` is layer l's input spikes (..., K_l)."""
        total = self.input_chunks + (len(self.layers) - 1)
        return total + sum(lp.cycles(s, self.mode) for lp, s in zip(self.layers, layer_inputs))

    def cycles_of(self, per_timestep, stall_cycles=0):
        """First input beat to last output beat for timesteps sent back to back."""
        n = int(np.size(per_timestep))
        return 0 if n == 0 else int(np.sum(per_timestep)) + OUTPUT_TAIL + stall_cycles

    def layer_cycles(self, activity=1.0):
        """Cycles per layer of one timestep at input activity ``activity`` (expected, for reports;
        exact at 0 and 1)."""
        out = []
        for lp in self.layers:
            if self.mode == "dense":
                acc = lp.inputs * lp.blocks
            else:
                acc = _expected_event_cycles(lp.inputs, self.lanes, lp.blocks, activity)
            out.append(acc + lp.blocks)
        return out

    @property
    def vector_stride(self):
        """Worst-case cycles of one timestep (every input of every layer spiking)."""
        return self.input_chunks + (len(self.layers) - 1) + sum(lp.inputs * lp.blocks + lp.blocks for lp in self.layers)

    @property
    def best_stride(self):
        """Cycles of a timestep with no spike anywhere."""
        acc = (lambda lp: lp.inputs * lp.blocks) if self.mode == "dense" else (lambda lp: lp.words)
        return self.input_chunks + (len(self.layers) - 1) + sum(acc(lp) + lp.blocks for lp in self.layers)

    def total_cycles(self, timesteps, stall_cycles=0):
        """Upper bound for ``timesteps`` timesteps back to back (exact when every input spikes, or
        in dense mode): the generic report figure. Exact counts: ``LifSimulator``."""
        if timesteps <= 0:
            return 0
        return timesteps * self.vector_stride + OUTPUT_TAIL + stall_cycles

    @property
    def busy_cycles(self):
        """Synaptic-operation cycles of a timestep at full activity."""
        return sum(lp.inputs * lp.blocks for lp in self.layers)

    def summary(self):
        layers = []
        for lp in self.layers:
            l = lp.layer
            layers.append({
                "name": l.name, "in_features": lp.inputs, "out_features": l.out_features,
                "blocks": lp.blocks, "scan_words": lp.words, "weight_words": lp.inputs * lp.blocks,
                "threshold": l.threshold, "leak_shift": l.leak_shift, "reset": l.reset,
                "threshold_compare": l.compare, "membrane_bits": l.membrane_bits, "weight_bits": l.weight_bits,
                "dense_acc_cycles": lp.inputs * lp.blocks,
                "event_acc_cycles": f"sum over {lp.words} words of (B * popcount or 1)",
                "update_cycles": lp.blocks,
                "synapses": l.in_features * l.out_features,
            })
        return {
            "mode": self.mode, "input_beats_per_timestep": self.input_chunks,
            "output_beats_per_timestep": self.layers[-1].blocks, "out_beat_bits": self.out_beat_bits,
            "weight_words": self.weight_words, "weight_word_bits": self.weight_word_bits,
            "membrane_words": self.membrane_words, "membrane_bits": self.membrane_bits,
            "current_words": self.current_words, "current_bits": self.current_bits,
            "spike_bank_bits": self.bank_bits, "layers": layers,
            "cycles_per_timestep_worst": self.vector_stride, "cycles_per_timestep_silent": self.best_stride,
            "cycles_per_timestep_expected": {f"activity_{a}": round(self.input_chunks + len(self.layers) - 1
                                                                    + sum(self.layer_cycles(a)), 1)
                                             for a in (0.01, 0.1, 0.5)},
            "cycles_per_vector": self.total_cycles(1), "vector_stride": self.vector_stride,
            "busy_cycles_per_vector": self.busy_cycles,
        }


# The last output beat leaves two cycles after the last update issue: the update result is
# registered (1), then the output register holds the beat (2).
OUTPUT_TAIL = 2


def _expected_event_cycles(K, W, B, p):
    """Expected event-mode accumulate cycles for independent input spikes of probability p."""
    total = 0.0
    for c in range(_ceil_div(K, W)):
        n = min(W, K - c * W)
        total += n * p * B + (1 - p) ** n
    return total


# ------------------------------------------------------------------------------------------
# cycle-accurate simulator
# ------------------------------------------------------------------------------------------

@dataclass
class LifResult:
    outputs: np.ndarray          # spikes (batch, T, out_features) int8
    membranes: np.ndarray | None  # (batch, T, out_features) int32 with output: membrane
    cycles: int                  # first input beat to last output beat
    timestep_cycles: np.ndarray  # (batch, T)
    layer_spikes: list           # per layer: total output spikes over the batch
    input_spikes: int
    synaptic_ops: int            # accumulate cycles that added a spiking input's weights, x P
    stalls: int = 0


class LifSimulator:
    """Cycle-accurate model of the LIF core: weights decoded from the weight-memory words,
    currents accumulated word by word in ``current_bits``, membranes stored in ``membrane_bits``
    (sign-extended to the memory width), the update rule per block, and the exact cycle count of
    every timestep from the spikes it actually sees."""

    def __init__(self, model):
        self.plan = LifPlan(model)
        p = self.plan
        wb = p.weight_bits
        raw = np.array([[(w >> (n * wb)) & ((1 << wb) - 1) for n in range(p.neurons)] for w in p.weight_memory],
                       dtype=np.int64).reshape(-1, p.neurons) if p.weight_words else np.zeros((0, p.neurons), np.int64)
        signed = np.where(raw >> (wb - 1), raw - (1 << wb), raw)
        self._w = []
        for lp in p.layers:
            words = signed[lp.weight_base:lp.weight_base + lp.inputs * lp.blocks]
            self._w.append(words.reshape(lp.inputs, lp.blocks * p.neurons))     # (K, B*P)

    def run(self, x):
        p = self.plan
        s = as_spike_batch(x)
        batch, T, K = s.shape
        lim = 1 << (p.current_bits - 1)
        v = [np.zeros((batch, lp.blocks * p.neurons), dtype=np.int64) for lp in p.layers]
        out = np.zeros((batch, T, p.layers[-1].layer.out_features), dtype=np.int8)
        mems = np.zeros(out.shape, dtype=np.int32) if p.out_membrane else None
        cycles = np.zeros((batch, T), dtype=np.int64)
        layer_spikes = [0] * len(p.layers)
        sops = 0
        for t in range(T):
            a = s[:, t]
            inputs = []
            for lp, w in zip(p.layers, self._w):
                l = lp.layer
                inputs.append(a)
                cur = a @ w                                     # events: rows of spiking inputs
                assert -lim <= cur.min() and cur.max() < lim, "current overflow"
                sops += int(a.sum()) * lp.blocks * p.neurons
                vv = np.zeros_like(v[lp.index]) if t == 0 else v[lp.index]
                if l.leak_shift is not None:
                    vv = vv - (vv >> l.leak_shift)
                u = np.clip(vv + cur, l.v_min, l.v_max)
                fire = (u >= l.threshold) if l.compare == "ge" else (u > l.threshold)
                fire[:, l.out_features:] = False              # padded neurons never spike
                u = np.where(fire, 0 if l.reset == "zero" else u - l.threshold, u)
                v[lp.index] = u
                a = fire[:, :l.out_features].astype(np.int64)
                layer_spikes[lp.index] += int(a.sum())
            out[:, t] = a
            if mems is not None:
                mems[:, t] = v[-1][:, :p.layers[-1].layer.out_features]
            cycles[:, t] = p.timestep_cycles(inputs)
        return LifResult(out, mems, p.cycles_of(cycles), cycles, layer_spikes, int(s.sum()), sops)


# ------------------------------------------------------------------------------------------
# RTL simulation (Verilator + cocotb)
# ------------------------------------------------------------------------------------------

BENCH_STUB = '''"""Generated by hwgen.lif.run_lif_rtl: the cocotb test that runs hwgen.lif.lif_bench."""
import cocotb

from hwgen.lif import lif_bench


@cocotb.test()
async def lif_case(dut):
    await lif_bench(dut)
'''


def _pack_beat(bits):
    return int(sum(int(b) << i for i, b in enumerate(bits)))


async def lif_bench(dut):
    """cocotb bench of the LIF top: drives the spike beats of the case file (``HWGEN_CASE``)
    back to back, applies the output-ready pattern, collects output beats and ``tlast``, counts
    cycles from the first input handshake to the last output handshake (both included) and, when
    the case holds expectations, checks every beat and the exact cycle count in the simulation."""
    import os

    import cocotb
    from cocotb.clock import Clock
    from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge

    case = np.load(os.environ["HWGEN_CASE"], allow_pickle=False)
    words = [int(w) for w in case["in_words"]]
    in_last = [int(v) for v in case["in_last"]]
    ready = [int(v) for v in case["ready"]]
    n_out = int(case["n_out"])
    max_cycles = int(case["max_cycles"])
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.rst.value = 1
    dut.s_axis_tvalid.value = 0
    dut.s_axis_tdata.value = 0
    dut.s_axis_tlast.value = 0
    dut.m_axis_tready.value = 0
    for _ in range(3):
        await RisingEdge(dut.clk)
    dut.rst.value = 0
    got, lasts = [], []
    sent = 0
    first_in = last_out = None
    stalls = 0
    for k in range(max_cycles):
        await FallingEdge(dut.clk)
        if sent < len(words):
            dut.s_axis_tvalid.value = 1
            dut.s_axis_tdata.value = words[sent]
            dut.s_axis_tlast.value = in_last[sent]
        else:
            dut.s_axis_tvalid.value = 0
            dut.s_axis_tlast.value = 0
        dut.m_axis_tready.value = ready[k % len(ready)]
        await ReadOnly()
        if sent < len(words) and dut.s_axis_tready.value == 1:
            if first_in is None:
                first_in = k
            sent += 1
        if dut.m_axis_tvalid.value == 1:
            if dut.m_axis_tready.value == 1:
                got.append(str(dut.m_axis_tdata.value))
                lasts.append(int(dut.m_axis_tlast.value))
                last_out = k
                if len(got) == n_out:
                    break
            else:
                stalls += 1
    else:
        raise AssertionError(f"timeout after {max_cycles} cycles: {sent} beats in, {len(got)} out")
    cycles = last_out - first_in + 1
    beats = np.array([int(g, 2) for g in got], dtype=object)
    np.savez(os.environ["HWGEN_RESULT"], beats=np.array([str(b) for b in beats]), lasts=np.array(lasts),
             cycles=cycles, stalls=stalls)
    if "expected_beats" in case.files:
        want = [int(w) for w in case["expected_beats"]]
        for i, (g, w) in enumerate(zip(beats, want)):
            assert g == w, f"output beat {i}: got {g:#x}, expected {w:#x}"
        want_last = [int(v) for v in case["expected_lasts"]]
        assert lasts == want_last, "tlast differs from the expected pattern"
        want_cycles = int(case["expected_cycles"]) + stalls
        assert cycles == want_cycles, f"cycles: got {cycles}, expected {want_cycles} ({stalls} stalls)"


def expected_out_beats(plan, spikes, membranes):
    """The output beat words the RTL must produce for simulator outputs (padded neurons: 0)."""
    lp = plan.layers[-1]
    P, N = plan.neurons, lp.layer.out_features
    batch, T, _ = spikes.shape
    sp = np.zeros((batch, T, lp.blocks * P), dtype=np.int64)
    sp[:, :, :N] = spikes
    mb = lp.layer.membrane_bits
    mm = np.zeros(sp.shape, dtype=np.int64)
    if membranes is not None:
        mm[:, :, :N] = membranes
    words = []
    for bt in range(batch):
        for t in range(T):
            for b in range(lp.blocks):
                w = _pack_beat(sp[bt, t, b * P:(b + 1) * P])
                if plan.out_membrane:
                    for n in range(P):
                        w |= (int(mm[bt, t, b * P + n]) & ((1 << mb) - 1)) << (P + n * mb)
                words.append(w)
    lasts = np.zeros((batch, T, lp.blocks), dtype=np.int64)
    lasts[:, -1, -1] = 1
    return words, lasts.reshape(-1)


@dataclass
class LifRtlResult:
    outputs: np.ndarray
    membranes: np.ndarray | None
    cycles: int
    stalls: int
    lasts: np.ndarray


def run_lif_rtl(plan, verilog_path, x, work_dir, ready=None, expected=None, max_cycles=None):
    """Simulate the LIF top ``verilog_path`` on spikes ``x`` with Verilator through cocotb.

    ``expected`` (a ``LifResult`` of the simulator) makes the bench check every output beat,
    ``tlast`` and the exact cycle count inside the simulation.
    """
    import hashlib
    import os
    import sys
    from pathlib import Path

    from .tools import verilator_env
    try:
        from cocotb_tools.check_results import get_results
        from cocotb_tools.runner import get_runner
    except ImportError:
        raise HwgenError("cocotb is not installed: pip install 'hwgen[rtl]' (or run scripts/setup.sh)") from None
    env = verilator_env()
    work_dir = Path(work_dir).resolve()
    work_dir.mkdir(parents=True, exist_ok=True)
    verilog_path = Path(verilog_path).resolve()
    digest = hashlib.sha256(verilog_path.read_bytes()).hexdigest()[:16]
    build_dir = work_dir / f"verilator-{digest}"
    s = as_spike_batch(x)
    batch, T, _ = s.shape
    words, last = plan.pack_input(s)
    ready = np.ones(1, dtype=np.uint8) if ready is None else np.asarray(ready, dtype=np.uint8)
    n_out = batch * T * plan.layers[-1].blocks
    if max_cycles is None:
        slowdown = len(ready) / max(1, int(ready.sum()))
        max_cycles = int((plan.total_cycles(batch * T) + 64 + plan.current_words) * slowdown * 2) + 100
    case = work_dir / "case.npz"
    result = work_dir / "result.npz"
    extra = {}
    if expected is not None:
        ew, el = expected_out_beats(plan, expected.outputs, expected.membranes)
        extra = {"expected_beats": np.array([str(w) for w in ew]), "expected_lasts": el,
                 "expected_cycles": expected.cycles}
    np.savez(case, in_words=np.array([str(w) for ts in words for w in ts]), in_last=last.reshape(-1),
             ready=ready, n_out=n_out, max_cycles=max_cycles, **extra)
    if result.exists():
        result.unlink()
    stub_dir = work_dir / "bench"
    stub_dir.mkdir(exist_ok=True)
    (stub_dir / "tb_hwgen_lif.py").write_text(BENCH_STUB)
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        runner = get_runner("verilator")
        try:
            runner.build(sources=[verilog_path], hdl_toplevel="hwgen_top", build_dir=build_dir,
                         build_args=["-Wno-fatal", "--x-assign", "fast", "--x-initial", "fast"],
                         always=False, log_file=work_dir / "verilator_build.log")
        except (SystemExit, RuntimeError):
            raise HwgenError(f"Verilator build failed; see {work_dir / 'verilator_build.log'}") from None
        try:
            results_xml = runner.test(
                hdl_toplevel="hwgen_top", test_module="tb_hwgen_lif", test_dir=stub_dir,
                build_dir=build_dir, results_xml=str(work_dir / "results.xml"), log_file=work_dir / "sim.log",
                extra_env={"HWGEN_CASE": str(case), "HWGEN_RESULT": str(result),
                           "PYTHONPATH": os.pathsep.join([str(stub_dir)] + sys.path)})
        except (SystemExit, RuntimeError):
            results_xml = None
    finally:
        os.environ.clear()
        os.environ.update(saved)
    failed = get_results(Path(results_xml))[1] if results_xml and Path(results_xml).exists() else 1
    if failed or not result.exists():
        raise HwgenError(f"RTL simulation failed; see {work_dir / 'sim.log'}")
    r = np.load(result, allow_pickle=False)
    beats = [int(b) for b in r["beats"]]
    spikes, mems = plan.unpack_output(beats, batch, T)
    return LifRtlResult(spikes, mems, int(r["cycles"]), int(r["stalls"]), r["lasts"])


# ------------------------------------------------------------------------------------------
# hwgen sim for spiking models
# ------------------------------------------------------------------------------------------

def load_spikes(path, model):
    """``--input``: spikes (T, K) or (batch, T, K) of 0/1 (integer or bool) -> (batch, T, K) uint8."""
    from pathlib import Path

    from .cli import read_npy
    x = read_npy(path)
    path = Path(path)
    if x.ndim == 2:
        x = x[None]
    if x.ndim != 3 or x.shape[2] != model.in_features or x.shape[1] < 1:
        raise HwgenError(f"spikes must have shape (timesteps, {model.in_features}) or "
                         f"(batch, timesteps, {model.in_features}), got {x.shape}", file=path, field="--input")
    if x.dtype.kind not in "iub":
        raise HwgenError(f"spikes must be an integer or bool array of 0/1, got {x.dtype}", file=path, field="--input")
    if x.size and (x.min() < 0 or x.max() > 1):
        raise HwgenError("spikes must be 0 or 1", file=path, field="--input")
    return x.astype(np.uint8)


def predict(spikes, membranes=None):
    """Class per sample: argmax of the output spike counts; ties broken by the last timestep's
    membrane when the model outputs membranes, else by the lowest index."""
    counts = np.asarray(spikes, dtype=np.int64).sum(axis=1)
    if membranes is None:
        return counts.argmax(axis=1)
    return (counts * (1 << 33) + np.asarray(membranes, dtype=np.int64)[:, -1]).argmax(axis=1)


def cmd_sim_lif(args, model):
    """``hwgen sim`` for a spiking model (called by ``hwgen.cli.cmd_sim``)."""
    import json
    from pathlib import Path

    from .build import default_out_dir, write_rtl
    from .cli import _save_atomic
    x = load_spikes(args.input, model)
    sim = LifSimulator(model)
    plan = sim.plan
    ref = sim.run(x)
    if args.rtl:
        work = Path(args.out) if args.out else default_out_dir(model) / "rtlsim"
        verilog = write_rtl(plan, work / "rtl")
        r = run_lif_rtl(plan, verilog, x, work)
        y, mems, cycles, stalls = r.outputs, r.membranes, r.cycles, r.stalls
    else:
        y, mems, cycles, stalls = ref.outputs, ref.membranes, ref.cycles, 0
    gs, gm = lif_golden(model, x)
    match = bool(np.array_equal(y, gs) and (mems is None or np.array_equal(mems, gm)))
    _save_atomic(args.output, y.astype(np.int8))
    summary = {
        "model": model.name, "backend": "rtl" if args.rtl else "sim",
        "batch": int(x.shape[0]), "timesteps": int(x.shape[1]),
        "cycles": int(cycles), "cycles_per_timestep": round(float(ref.timestep_cycles.mean()), 3),
        "sim_cycles": int(ref.cycles), "stalls": int(stalls), "mode": plan.mode,
        "input_spikes": int(ref.input_spikes), "output_spikes": int(y.sum()),
        "layer_spikes": [int(n) for n in ref.layer_spikes],
        "spikes_per_inference": round(float(sum(ref.layer_spikes) + ref.input_spikes) / x.shape[0], 3),
        "output": str(args.output), "dtype": "int8", "golden_match": match,
    }
    if mems is not None:
        mpath = Path(args.output).with_name(Path(args.output).stem + "_membrane.npy")
        _save_atomic(mpath, mems.astype(np.int32))
        summary["membranes"] = str(mpath)
    if args.labels:
        labels = np.load(args.labels, allow_pickle=False)
        if labels.shape != (x.shape[0],):
            raise HwgenError(f"shape must be ({x.shape[0]},), got {labels.shape}", file=args.labels, field="--labels")
        summary["accuracy"] = round(float((predict(y, mems) == labels).mean()), 6)
    if args.json:
        print(json.dumps(summary))
    else:
        extra = f", accuracy {summary['accuracy']:.4f}" if "accuracy" in summary else ""
        print(f"hwgen: {summary['backend']}: {summary['batch']} samples x {summary['timesteps']} timesteps in "
              f"{cycles} cycles{extra}; matches golden model: {'yes' if match else 'NO'}")
    return 0 if match else 1
