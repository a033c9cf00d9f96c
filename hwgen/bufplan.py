"""Analytic weight-buffer planner: RAM primitives (URAM288, RAMB36/RAMB18, ECP5 DP16KD) for a model.

A memory of ``width`` x ``depth`` bits maps to copies of one primitive in one of its aspect
ratios (depth x width modes); the count is ``ceil(width / w) x ceil(depth / d)`` minimised over
the modes. This is what Yosys 0.23 ``memory_libmap`` does for a plain one-write, one-read memory
(checked in tests/test_weightbuf.py against ``synth_xilinx -family xcup`` and ``synth_ecp5``):

========  ===========================  ==========================================================
type      primitive                    modes (depth x width)
========  ===========================  ==========================================================
uram      URAM288 (288 Kbit)           4096 x 72 only; deeper memories cascade (xcup only)
bram      RAMB36E2 (36 Kbit), or       32K x 1, 16K x 2, 8K x 4, 4K x 9, 2K x 18, 1K x 36, 512 x 72
          RAMB18E2 (18 Kbit) = 0.5     16K x 1, 8K x 2, 4K x 4, 2K x 9, 1K x 18, 512 x 36
ebr       DP16KD (18 Kbit, ECP5)       16K x 1, 8K x 2, 4K x 4, 2K x 9, 1K x 18, 512 x 36
========  ===========================  ==========================================================

Block RAM is counted in RAMB36 units (a RAMB18 is 0.5), as ``hwgen.synth`` does. The weight
buffer of a streaming model (``hwgen.streaming``) is ``2 x slot_words`` words of
``engine.weight_word_bits``; a ROM model's weight memory is ``weight_words`` words.

``memory.buffer`` selects the type: ``uram`` and ``bram``/``ebr`` set the Verilog ``ram_style``
(``ultra`` / ``block``); ``auto`` sets none, and Yosys then picks block RAM (BRAM on xcup and xc7,
EBR on ECP5). ``plan_buffer`` reports every type the device has and recommends the one taking the
smallest share of the device (URAM on UltraScale+ for large buffers).

``tellme_buffer()`` is the preset for TeLLMe's buffer on the KV260 (REFERENCE.md section 1).
"""

from dataclasses import dataclass
from math import ceil

from .streaming import memory_of, tile_plan


@dataclass(frozen=True)
class Primitive:
    name: str
    bits: int                 # capacity
    modes: tuple              # (depth, width) aspect ratios
    unit: float = 1.0         # counted as this many blocks of the type


URAM288 = Primitive("URAM288", 4096 * 72, ((4096, 72),))
RAMB36E2 = Primitive("RAMB36E2", 36 * 1024, ((32768, 1), (16384, 2), (8192, 4), (4096, 9), (2048, 18),
                                             (1024, 36), (512, 72)))
RAMB18E2 = Primitive("RAMB18E2", 18 * 1024, ((16384, 1), (8192, 2), (4096, 4), (2048, 9), (1024, 18),
                                             (512, 36)), unit=0.5)
DP16KD = Primitive("DP16KD", 18 * 1024, ((16384, 1), (8192, 2), (4096, 4), (2048, 9), (1024, 18), (512, 36)))

TYPES = {"uram": (URAM288,), "bram": (RAMB36E2, RAMB18E2), "ebr": (DP16KD,)}

# Devices: blocks of each type (KV260's XCK26 is a ZU5EV-class part; ECP5-85k; a mid Artix-7).
DEVICES = {
    "xcup": {"part": "KV260 (XCK26)", "family": "xcup", "uram": 64, "bram": 144},
    "xc7": {"part": "Artix-7 XC7A100T", "family": "xc7", "bram": 135},
    "ecp5": {"part": "ECP5-85k (LFE5U-85F)", "family": "ecp5", "ebr": 208},
}
TOOL_DEFAULT = {"xcup": "bram", "xc7": "bram", "ecp5": "ebr"}   # what Yosys picks without ram_style


@dataclass(frozen=True)
class BlockCount:
    type: str                 # uram | bram | ebr
    primitive: str            # the primitive used (for bram: RAMB36E2 or RAMB18E2)
    mode: tuple               # (depth, width) of each primitive
    wide: int                 # primitives side by side
    deep: int                 # ... and stacked
    count: float              # in blocks of the type (RAMB18 = 0.5)
    width: int
    depth: int

    @property
    def bits(self):
        return self.width * self.depth

    @property
    def capacity_bits(self):
        prim = {"uram": URAM288, "ebr": DP16KD}.get(self.type, RAMB36E2)
        return int(self.count * prim.bits)

    @property
    def utilization(self):
        """Stored bits / bits of the blocks used."""
        return self.bits / self.capacity_bits if self.capacity_bits else 0.0

    def as_dict(self):
        return {"type": self.type, "primitive": self.primitive, "mode": f"{self.mode[0]}x{self.mode[1]}",
                "wide": self.wide, "deep": self.deep, "count": self.count, "width": self.width,
                "depth": self.depth, "bits": self.bits, "capacity_bits": self.capacity_bits,
                "utilization": round(self.utilization, 4)}


def blocks(width, depth, kind):
    """Primitives of type ``kind`` for a ``width`` x ``depth`` memory (fewest blocks; on a tie the
    larger primitive, as Yosys does)."""
    if kind not in TYPES:
        raise ValueError(f"unknown memory type {kind!r} (one of {', '.join(TYPES)})")
    best = None
    for prim in TYPES[kind]:
        for d, w in prim.modes:
            wide, deep = ceil(width / w), ceil(depth / d)
            count = wide * deep * prim.unit
            if best is None or count < best.count:
                best = BlockCount(kind, prim.name, (d, w), wide, deep, count, width, depth)
    return best


def device_types(device):
    if device not in DEVICES:
        raise ValueError(f"unknown device {device!r} (one of {', '.join(DEVICES)})")
    return [t for t in ("uram", "bram", "ebr") if t in DEVICES[device]]


def buffer_shape(plan):
    """(width, depth, what) of the model's weight memory: the streaming buffer or the ROM."""
    mem = memory_of(plan.model)
    width = plan.engine.weight_word_bits
    if mem.stream:
        return width, tile_plan(plan, mem).depth, "stream buffer (2 slots)"
    return width, plan.weight_words, "weight ROM"


def plan_buffer(plan, device="xcup"):
    """The weight memory of ``plan`` on ``device``: counts for every RAM type the device has, the
    type the RTL selects (``memory.buffer``; ``auto``: the tool's default) and the recommended one."""
    width, depth, what = buffer_shape(plan)
    types = device_types(device)
    options = {t: blocks(width, depth, t) for t in types}
    dev = DEVICES[device]
    share = {t: options[t].count / dev[t] for t in types}
    mem = memory_of(plan.model)
    selected = mem.buffer if mem.stream and mem.buffer != "auto" else TOOL_DEFAULT[device]
    if selected not in options:
        selected = TOOL_DEFAULT[device]
    recommended = min(types, key=lambda t: (share[t], t != "uram"))
    return {
        "device": device, "part": dev["part"], "memory": what, "width": width, "depth": depth,
        "bits": width * depth, "selected": selected, "recommended": recommended,
        "options": {t: dict(options[t].as_dict(), device_total=dev[t], device_share=round(share[t], 4))
                    for t in types},
    }


# ---------------------------------------------------------------------------------------------
# TeLLMe preset (REFERENCE.md section 1)
# ---------------------------------------------------------------------------------------------

BITNET_LARGE = {"layers": 24, "hidden": 1536, "ffn": 4096}


def bitnet_projections(hidden=1536, ffn=4096):
    """The linear layers of one BitNet b1.58 transformer layer: (name, out_features, in_features)."""
    return [("q", hidden, hidden), ("k", hidden, hidden), ("v", hidden, hidden), ("o", hidden, hidden),
            ("gate", ffn, hidden), ("up", ffn, hidden), ("down", hidden, ffn)]


def tellme_buffer(hidden=1536, ffn=4096, group=3, tables=28, index_bits=5, partitions=8,
                  load_unit="qkv"):
    """TeLLMe's URAM weight buffer, derived from its published parameters.

    A word is one output row's indices for one table set: ``tables x index_bits`` = 28 x 5 = 140
    bits covering ``group x tables`` = 84 inputs, so K is padded to a multiple of 84 (1536 -> 1596,
    4096 -> 4116) and a matrix of M rows is ``M x K_padded / 84`` words. The buffer holds one load
    unit, the largest weight set loaded at once: the fused q/k/v projection (3 x 1536 rows x 19
    words = 87,552 words = 12.26 Mbit, REFERENCE's "about 12.3 Mbit"); ``load_unit`` may instead
    name one matrix ("gate", "down", ...). The arrays are partitioned ``partitions`` (8) ways, each
    partition its own memory of ``ceil(words / 8)`` words x 140 bits: 10,944 x 140 -> 2 URAM288
    wide x 3 deep = 6, x 8 partitions = 48 URAM288 (of the KV260's 64).
    """
    lanes = group * tables
    word_bits = tables * index_bits
    proj = {n: (m, k) for n, m, k in bitnet_projections(hidden, ffn)}

    def words(rows, k):
        return rows * ceil(k / lanes)

    if load_unit == "qkv":
        unit_words = sum(words(*proj[n]) for n in ("q", "k", "v"))
    else:
        unit_words = words(*proj[load_unit])
    depth = ceil(unit_words / partitions)
    part = blocks(word_bits, depth, "uram")
    count = part.count * partitions
    return {
        "word_bits": word_bits, "lanes": lanes, "load_unit": load_unit, "words": unit_words,
        "bits": unit_words * word_bits, "partitions": partitions, "partition_depth": depth,
        "partition_uram": part.as_dict(), "uram288": int(count),
        "device_share": count / DEVICES["xcup"]["uram"],
        "utilization": unit_words * word_bits / (count * URAM288.bits),
    }
