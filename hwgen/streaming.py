"""Weights streamed from DRAM: the ``memory:`` section, the tile schedule and the exact cycle model.

With ``memory: {weights: stream}`` the accelerator holds no weight ROM. Its weight words come in
on an extra AXI-Stream input (``s_axis_weights_*``) into a ping-pong weight buffer
(``hwgen.rtl.weightbuf.WeightBuffer``), and the engine stalls whenever the tile it is about to
read is not complete. This module is the single source of the streaming schedule: the RTL takes
its tile table from ``tile_plan``, the bench its beats from ``weight_beats``, and the simulator
its cycle count from ``StreamModel`` (hooked into ``hwgen.sim.Simulator``).

Stream format
-------------
The stream carries, once per input vector, exactly the words of ``Plan.weight_memory`` in the
same order (layer by layer, chunk-major, block-minor), each word split into
``beats_per_word = ceil(word_bits / dram_bits)`` beats, little-endian: beat ``j`` of a word holds
word bits ``j * dram_bits ..`` at tdata bit 0 upwards; the bits above the word in its last beat
are ignored (send zeros). Vector after vector the same sequence repeats; the stream does not depend
on the activations, so a host may run it ahead of the inputs (``lead``).

Tiles
-----
A tile is a run of whole chunks of one layer: ``chunks_per_tile`` chunks, i.e.
``chunks_per_tile x blocks`` words (the layer's last tile may hold fewer chunks). ``tile: chunk``
makes every chunk a tile, ``tile: layer`` every layer, ``tile: N`` (or ``auto``: N = half the
natural depth of the buffer's RAM, 2048 words for URAM, 512 for BRAM/EBR, 1024 otherwise) splits
each layer into the fewest tiles of at most N words (at least one chunk each), with the chunks
spread evenly (``chunks_per_tile = ceil(chunks / tiles)``; even tiles keep the two slots turning
over at the same pace). The buffer holds two slots of ``slot_words = max tile words`` (ping-pong);
tiles go to slot 0, 1, 0, 1, ... across layers and vectors.

Handshake (the cycle model below is this, cycle for cycle)
---------------------------------------------------------
* Write side: a beat is accepted when ``tvalid & tready``; ``tready = 1`` while the slot being
  filled is free. The beat that completes a tile marks its slot full at the end of that cycle.
* Read side: the engine may issue a word only while its slot is full (``tile_ready``). A tile
  completed in cycle ``c`` can be issued from cycle ``c + 1``. Issuing a tile's last word in cycle
  ``t`` frees its slot: the writer may fill it from cycle ``t + 1``.
* Stall: in a cycle where the engine would issue a word of a tile that is not complete, the whole
  engine is frozen for the cycle (as for output backpressure), and ``m_axis_tvalid`` is held low.

DRAM source model
-----------------
``dram`` is a 0/1 pattern, repeated: 1 in cycle ``k`` means the DRAM can deliver a beat in cycle
``k`` (``DramPattern.full()`` = one beat per cycle, ``DramPattern.rate(r)`` spreads ``r`` beats per
cycle evenly). The source presents its next beat at the first cycle after the previous handshake
where the pattern is 1 and, as AXI-Stream requires, keeps it valid until it is accepted; beats do
not pile up while the buffer is full. Cycle 0 is the first cycle the bench drives; the first input
beat is offered at cycle ``lead`` (weights may be prefetched for ``lead`` cycles).

Cycles
------
Let ``T_i`` be the cycle of the first issue of tile ``i`` in the compute-only schedule of
``hwgen.plan`` (the ROM design's, counted from the first input beat), ``S`` the cycles frozen so
far, ``n_i`` the beats of tile ``i`` and ``r_i`` the cycle after the last issue of tile ``i - 2``
(0 for tiles 0 and 1). The writer takes the first beat of tile ``i`` at
``a_i = max(next pattern cycle after the previous beat, r_i)`` and the others on the next
``n_i - 1`` pattern cycles; the last one at ``c_i``. The first word of tile ``i`` is issued at
``max(lead + T_i + S, c_i + 1)``, the difference being added to ``S`` (a weight stall); an output
beat held for ``h`` cycles adds ``h``. ``cycles = compute-only cycles + weight stalls + output
stalls``. A layer is bandwidth-bound when its beats take more cycles at the pattern's rate
(``beats / density``) than its compute schedule (``LayerPlan.cycles``); at one word per beat, one
beat per cycle, a tile per chunk, layers that never grow in blocks and the stream two slots ahead,
there are no stalls at all (tests/test_weightbuf.py).
"""

from dataclasses import dataclass, field
from fractions import Fraction
from math import ceil

import numpy as np

from .engine import DRAIN, OUTPUT_LATENCY
from .errors import ModelError

WEIGHTS = ("rom", "stream")
BUFFERS = ("auto", "uram", "bram", "ebr")
TILES = ("auto", "chunk", "layer")
DEFAULT_DRAM_BITS = 128
MAX_DRAM_BITS = 4096
# ``tile: auto``: words per tile = half the natural depth of one RAM primitive (URAM288 4096 x 72,
# RAMB36 512 x 72, DP16KD 512 x 36 in their widest modes); without a RAM type 1024.
AUTO_TILE_WORDS = {"uram": 2048, "bram": 512, "ebr": 512, "auto": 1024}
# Verilog ``ram_style`` attribute per buffer type (Yosys and Vivado read it; None: tool's choice).
RAM_STYLE = {"uram": "ultra", "bram": "block", "ebr": "block", "auto": None}


# ---------------------------------------------------------------------------------------------
# the memory: section
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class MemoryParams:
    """Validated ``memory:`` section of a model description (default: ``weights: rom``)."""

    weights: str = "rom"
    dram_bits: int = DEFAULT_DRAM_BITS
    buffer: str = "auto"
    tile: object = "auto"          # auto | chunk | layer | int (max words per tile)

    @classmethod
    def from_mapping(cls, d, *, file=None, field="memory"):
        if d is None:
            return cls()
        if not isinstance(d, dict):
            raise ModelError("must be a mapping {weights: rom|stream, dram_bits: N, buffer: ..., tile: ...}",
                             file=file, field=field)
        allowed = ("weights", "dram_bits", "buffer", "tile")
        for key in d:
            if key not in allowed:
                raise ModelError(f"unknown key (allowed: {', '.join(sorted(allowed))})", file=file,
                                 field=f"{field}.{key}")
        weights = d.get("weights", "rom")
        if weights not in WEIGHTS:
            raise ModelError(f"must be one of {', '.join(WEIGHTS)}, got {weights!r}", file=file,
                             field=f"{field}.weights")
        if weights == "rom":
            extra = [k for k in ("dram_bits", "buffer", "tile") if k in d]
            if extra:
                raise ModelError("only with weights: stream", file=file, field=f"{field}.{extra[0]}")
            return cls()
        bits = d.get("dram_bits", DEFAULT_DRAM_BITS)
        if isinstance(bits, bool) or not isinstance(bits, int) or not 8 <= bits <= MAX_DRAM_BITS or bits % 8:
            raise ModelError(f"must be a multiple of 8 in 8..{MAX_DRAM_BITS}, got {bits!r}", file=file,
                             field=f"{field}.dram_bits")
        buffer = d.get("buffer", "auto")
        if buffer not in BUFFERS:
            raise ModelError(f"must be one of {', '.join(BUFFERS)}, got {buffer!r}", file=file,
                             field=f"{field}.buffer")
        tile = d.get("tile", "auto")
        if isinstance(tile, bool) or not (tile in TILES or (isinstance(tile, int) and 1 <= tile <= 1 << 20)):
            raise ModelError(f"must be auto, chunk, layer or a word count in 1..{1 << 20}, got {tile!r}",
                             file=file, field=f"{field}.tile")
        return cls("stream", bits, buffer, tile)

    @property
    def stream(self):
        return self.weights == "stream"

    @property
    def ram_style(self):
        return RAM_STYLE[self.buffer]

    def as_dict(self):
        if not self.stream:
            return {"weights": "rom"}
        return {"weights": "stream", "dram_bits": self.dram_bits, "buffer": self.buffer, "tile": self.tile}


def memory_of(model):
    """The model's ``MemoryParams`` (the default ``weights: rom`` when it has none)."""
    mem = getattr(model, "memory", None)
    return mem if mem is not None else MemoryParams()


def is_streaming(plan_or_model):
    model = getattr(plan_or_model, "model", plan_or_model)
    return memory_of(model).stream


# ---------------------------------------------------------------------------------------------
# tiles
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LayerTiles:
    chunks: int
    blocks: int
    chunks_per_tile: int

    @property
    def tiles(self):
        return -(-self.chunks // self.chunks_per_tile)

    @property
    def full_words(self):
        return self.chunks_per_tile * self.blocks

    @property
    def last_words(self):
        return (self.chunks - (self.tiles - 1) * self.chunks_per_tile) * self.blocks

    def tile_chunks(self, j):
        """(first chunk, number of chunks) of tile ``j``."""
        first = j * self.chunks_per_tile
        return first, min(self.chunks_per_tile, self.chunks - first)


@dataclass(frozen=True)
class TilePlan:
    """Tiles of every layer of one or more plans (one buffer shared by all of them)."""

    layers: tuple                 # per plan: tuple of LayerTiles
    slot_words: int               # words per buffer slot (two slots)
    word_bits: int
    dram_bits: int

    @property
    def beats_per_word(self):
        return -(-self.word_bits // self.dram_bits)

    @property
    def depth(self):
        """Words of the buffer memory: two slots."""
        return 2 * self.slot_words

    @property
    def buffer_bits(self):
        return self.depth * self.word_bits


def _tile_limit(memory):
    if memory.tile == "chunk":
        return 1
    if memory.tile == "layer":
        return None
    if memory.tile == "auto":
        return AUTO_TILE_WORDS[memory.buffer]
    return int(memory.tile)


def tile_plan(plans, memory=None):
    """The ``TilePlan`` for a plan (or a list of plans run on one engine and one buffer)."""
    plans = plans if isinstance(plans, (list, tuple)) else [plans]
    memory = memory or memory_of(plans[0].model)
    limit = _tile_limit(memory)
    per_plan = []
    for plan in plans:
        tiles = []
        for lp in plan.layers:
            if limit is None:
                k = lp.chunks
            else:   # the fewest tiles of at most `limit` words (at least a chunk), chunks spread evenly
                most = min(lp.chunks, max(1, limit // lp.blocks))
                k = -(-lp.chunks // -(-lp.chunks // most))
            tiles.append(LayerTiles(lp.chunks, lp.blocks, k))
        per_plan.append(tuple(tiles))
    slot = max(t.full_words for ts in per_plan for t in ts)
    e = plans[0].engine
    return TilePlan(tuple(per_plan), slot, e.weight_word_bits, memory.dram_bits)


def weight_beats(plan, dram_bits=None):
    """The weight stream of one vector: (beats, dram_bits // 8) uint8, each row one beat's tdata
    (little-endian bytes). Every word of ``plan.weight_memory`` is ``beats_per_word`` beats."""
    dram_bits = dram_bits or memory_of(plan.model).dram_bits
    wbits = plan.engine.weight_word_bits
    per = -(-wbits // dram_bits)
    nbytes = per * dram_bits // 8
    raw = b"".join(w.to_bytes(nbytes, "little") for w in plan.weight_memory)
    return np.frombuffer(raw, dtype=np.uint8).reshape(-1, dram_bits // 8).copy()


# ---------------------------------------------------------------------------------------------
# DRAM patterns
# ---------------------------------------------------------------------------------------------

class DramPattern:
    """A repeated 0/1 pattern: 1 in cycle ``k`` means the source can deliver a beat in cycle ``k``."""

    def __init__(self, pattern):
        p = np.asarray(pattern).astype(bool).ravel()
        if p.size == 0 or not p.any():
            raise ValueError("a DRAM pattern needs at least one cycle with a beat")
        self.pattern = p
        self.length = int(p.size)
        self.ones = np.flatnonzero(p)
        self.n_ones = int(self.ones.size)
        self.cum = np.concatenate([[0], np.cumsum(p)]).astype(np.int64)

    @classmethod
    def full(cls):
        return cls([1])

    @classmethod
    def rate(cls, beats_per_cycle, max_denominator=1000):
        """``beats_per_cycle`` (0 < r <= 1) spread evenly: cycle ``k`` has a beat when
        ``floor((k + 1) r) > floor(k r)`` (r as a fraction with denominator <= max_denominator)."""
        r = Fraction(beats_per_cycle).limit_denominator(max_denominator)
        if not 0 < r <= 1:
            raise ValueError(f"beats per cycle must be in (0, 1], got {beats_per_cycle}")
        q, p = r.denominator, r.numerator
        k = np.arange(q)
        return cls(((k + 1) * p) // q - (k * p) // q)

    @property
    def density(self):
        return self.n_ones / self.length

    def count(self, k):
        """Beats the pattern allows in cycles 0 .. k - 1."""
        q, r = divmod(k, self.length)
        return q * self.n_ones + int(self.cum[r])

    def pos(self, j):
        """The cycle of the ``j``-th allowed beat (0-based)."""
        q, r = divmod(j, self.n_ones)
        return q * self.length + int(self.ones[r])

    def next_at(self, k):
        """The first allowed cycle ``>= k``."""
        return self.pos(self.count(k))


class _Ready:
    """Output-ready pattern (repeated); ``None`` = always ready."""

    def __init__(self, ready):
        self.always = ready is None or bool(np.all(np.asarray(ready)))
        self.p = None if self.always else DramPattern(ready)

    def next_at(self, k):
        return k if self.always else self.p.next_at(k)


# ---------------------------------------------------------------------------------------------
# the cycle model
# ---------------------------------------------------------------------------------------------

@dataclass
class LayerStream:
    """Streaming figures of one layer of one program entry (per vector unless noted)."""

    name: str
    entry: int                    # index in the program
    layer: int
    compute_cycles: int           # the layer's compute-only cycles (hwgen.plan)
    tiles: int
    words: int
    beats: int                    # DRAM beats of its weights
    dram_cycles: float            # beats / pattern density
    stall_cycles: int = 0         # engine cycles frozen waiting for its tiles, summed over repeats

    @property
    def bound(self):
        return "bandwidth" if self.dram_cycles > self.compute_cycles else "compute"

    def as_dict(self):
        return {"name": self.name, "entry": self.entry, "layer": self.layer,
                "compute_cycles": self.compute_cycles, "tiles": self.tiles, "words": self.words,
                "beats": self.beats, "dram_cycles": round(self.dram_cycles, 2),
                "stall_cycles": self.stall_cycles, "bound": self.bound}


@dataclass
class StreamResult:
    cycles: int                   # first input handshake to last output handshake
    compute_cycles: int           # the same with weights in ROM and the output always ready
    weight_stall_cycles: int
    output_stall_cycles: int
    beats: int                    # DRAM beats accepted in total
    layers: list = field(default_factory=list)
    starts: list = field(default_factory=list)   # cycle (from the first input) each repeat starts
    tile_plan: TilePlan = None

    @property
    def stall_cycles(self):
        return self.weight_stall_cycles + self.output_stall_cycles

    def steady_period(self):
        """Cycles per repeat once the stream runs (last repeat start minus the one before)."""
        if len(self.starts) < 2:
            return None
        return self.starts[-1] - self.starts[-2]

    def summary(self):
        return {"cycles": self.cycles, "compute_cycles": self.compute_cycles,
                "weight_stall_cycles": self.weight_stall_cycles,
                "output_stall_cycles": self.output_stall_cycles, "beats": self.beats,
                "layers": [l.as_dict() for l in self.layers]}


class StreamModel:
    """Exact cycle model of the streamed-weight accelerator.

    ``plans``: one ``Plan`` (a model, ``run(batch)`` vectors of it), or a list of plans run one
    vector each in turn on one engine and one buffer (a *program*, e.g. the projections of a
    transformer layer); ``run(repeats)`` runs the program ``repeats`` times with the weight stream
    running on between entries. ``memory`` defaults to the first plan's model's.
    """

    def __init__(self, plans, memory=None):
        self.single = not isinstance(plans, (list, tuple))
        self.plans = [plans] if self.single else list(plans)
        self.memory = memory or memory_of(self.plans[0].model)
        self.engine = self.plans[0].engine
        for p in self.plans:
            if p.engine != self.engine:
                raise ValueError("every plan of a program must use the same engine")
        # tile plan over the distinct plans
        uniq = {}
        for p in self.plans:
            uniq.setdefault(id(p), p)
        tp = tile_plan(list(uniq.values()), self.memory)
        self.tile_plan = tp
        self._tiles = {pid: ts for pid, ts in zip(uniq, tp.layers)}

    def tiles_of(self, plan):
        """The ``LayerTiles`` of ``plan``'s layers in this program."""
        return self._tiles[id(plan)]

    def _beats_fn(self, bits_per_weight):
        D = self.memory.dram_bits
        if bits_per_weight is None:
            per = self.tile_plan.beats_per_word
            return lambda words: words * per
        bits = Fraction(bits_per_weight).limit_denominator(1 << 20) * self.engine.lanes * self.engine.columns
        return lambda words: ceil(words * bits / D)

    def _entry_events(self, plan, tiles, t0, beats_of, want_outputs):
        """Tile events (first issue, last issue, beats, layer) and output beat times of one vector."""
        e = self.engine
        E = e.build_cycles
        t = t0 + plan.input_chunks
        out_tiles, outs = [], []
        for li, (lp, lt) in enumerate(zip(plan.layers, tiles)):
            run0 = t + E
            for j in range(lt.tiles):
                c0, nc = lt.tile_chunks(j)
                first = run0 + c0 * lp.period
                last = run0 + (c0 + nc - 1) * lp.period + lp.blocks - 1
                out_tiles.append((first, last, beats_of(nc * lp.blocks), li))
            if want_outputs and li == len(plan.layers) - 1:
                base = run0 + (lp.chunks - 1) * lp.period + OUTPUT_LATENCY
                outs.extend(range(base, base + lp.blocks))
            t += lp.cycles(E)
        return out_tiles, outs, t

    def run(self, repeats=1, *, dram=None, lead=0, ready=None, bits_per_weight=None):
        """Simulate ``repeats`` vectors (single plan) or program runs.

        ``dram``: a ``DramPattern`` or 0/1 sequence (default one beat per cycle); ``lead``: cycles
        the weight stream runs before the first input beat is offered; ``ready``: output-ready
        pattern (repeated; default always ready); ``bits_per_weight``: model a stream of another
        packing format, each tile sent as ``ceil(weights x bpw / dram_bits)`` beats (the RTL's own
        layout is ``beats_per_word`` beats per word).
        """
        dram = dram if isinstance(dram, DramPattern) else (DramPattern.full() if dram is None else DramPattern(dram))
        rdy = _Ready(ready)
        beats_of = self._beats_fn(bits_per_weight)
        density = dram.density

        # per (entry, layer) static figures
        layers = []
        for ei, plan in enumerate(self.plans):
            tiles = self._tiles[id(plan)]
            for li, (lp, lt) in enumerate(zip(plan.layers, tiles)):
                beats = sum(beats_of(lt.tile_chunks(j)[1] * lp.blocks) for j in range(lt.tiles))
                layers.append(LayerStream(lp.layer.name, ei, li, lp.cycles(self.engine.build_cycles),
                                          lt.tiles, lp.words, beats, beats / density))
        index = {(l.entry, l.layer): l for l in layers}

        # engine-time events
        events = []          # (time, order, kind, payload)
        starts_engine = []
        t = 0
        tile_no = 0
        tiles_meta = []      # (entry, layer, beats)
        last_out = 0
        for r in range(repeats):
            starts_engine.append(t)
            for ei, plan in enumerate(self.plans):
                tl, outs, t_end = self._entry_events(plan, self._tiles[id(plan)], t, beats_of, not rdy.always)
                for first, last, nb, li in tl:
                    events.append((first, 0, tile_no))
                    events.append((last, 2, tile_no))
                    tiles_meta.append((ei, li, nb))
                    tile_no += 1
                for u in outs:
                    events.append((u, 1, -1))
                last_out = t_end - DRAIN - 1 + OUTPUT_LATENCY   # last beat of this entry
                t = t_end
        compute_cycles = t + (OUTPUT_LATENCY - DRAIN) if repeats > 0 else 0
        events.sort()

        S = 0                      # frozen cycles so far
        wstall = ostall = 0
        prev_accept = -1           # cycle of the last accepted beat
        last_issue = {}            # tile -> wall cycle of its last issue
        starts_iter = iter(starts_engine)
        next_start = next(starts_iter, None)
        starts = []
        for u, order, i in events:
            while next_start is not None and next_start < u:
                starts.append(next_start + S)
                next_start = next(starts_iter, None)
            if order == 0:                                   # first issue of tile i
                rel = last_issue[i - 2] + 1 if i >= 2 else 0
                n = tiles_meta[i][2]
                start = max(dram.next_at(prev_accept + 1), rel)
                done = start if n == 1 else dram.pos(dram.count(start + 1) + n - 2)
                prev_accept = done
                w = lead + u + S
                if w < done + 1:
                    stall = done + 1 - w
                    S += stall
                    wstall += stall
                    ent, li, _ = tiles_meta[i]
                    index[(ent, li)].stall_cycles += stall
            elif order == 1:                                 # output beat offered
                w = lead + u + S
                k = rdy.next_at(w)
                S += k - w
                ostall += k - w
            else:                                            # last issue of tile i
                last_issue[i] = lead + u + S
                last_issue.pop(i - 4, None)
        while next_start is not None:
            starts.append(next_start + S)
            next_start = next(starts_iter, None)
        cycles = (last_out + S + 1) if repeats > 0 else 0
        total_beats = sum(m[2] for m in tiles_meta)
        return StreamResult(cycles, compute_cycles, wstall, ostall, total_beats, layers, starts, self.tile_plan)


def stream_cycles(plan, batch, **kw):
    """``StreamResult`` of ``batch`` vectors of ``plan`` (a streaming model)."""
    return StreamModel(plan).run(batch, **kw)
