"""Action counts of one inference, derived from a plan's schedule (Accelergy style).

``action_counts(plan)`` counts what the generated hardware does for one input vector, layer by
layer, from the same ``Plan`` the RTL and the cycle-accurate simulator use (``hwgen.plan``,
``docs/architecture.md``). Energy is priced elsewhere (``hwgen.cost.asic.price_actions``): this
module only counts.

Per layer of ``C`` chunks and ``B`` output blocks on an engine of ``N`` columns, ``L`` lanes,
``T`` tables of ``G`` activations, ``entries = (3^G + 1) / 2`` entries per table, each table
replicated ``R = ceil(N / read_ports)`` times:

=========================  ===============================  =======================================
action                     count                            why (RTL)
=========================  ===============================  =======================================
activation row reads       ``C``                            one buffer row fetched per chunk
table builds (tlmm)        ``C``                            each chunk's ``T`` tables built once
table entries written      ``C x T x entries x R``          every replica gets every entry
table-entry adds           ``C x T x entries x (G - 1)``    an entry is a sum of ``G`` terms
block issues               ``C x B``                        one weight word per issue
weight-memory reads        ``C x B`` words                  ``weight_word_bits`` each
lookups (tlmm)             ``C x B x N x T``                every column reads every table
adder-tree adds (tlmm)     ``C x B x N x T``                ``T`` signed lookups + sign count
sign-count adds (tlmm)     ``C x B x N x (T - 1)``          count of negated lookups
adder-tree adds (addertree) ``C x B x N x (L - 1)``          ``L`` ternary terms per column
accumulator reads/writes   ``(C - 1) x B`` words            chunk 0 loads, the last chunk retires
accumulator adds           ``(C - 1) x B x N``
requantizations            ``B x N`` (if requant)           2 comparisons (subtractors) each
activation writes          ``B x N`` bytes (not last layer) byte enables of one block
output-register writes     ``B x N x out_bits`` (last)
datapath register writes   ``C x B x 2 x N x acc_bits``     partial-sum and accumulator registers
=========================  ===============================  =======================================

plus the input vector: ``input_chunks`` beats of ``L`` bytes written into the activation buffer.

What is *not* counted: the sequencer and pipeline-control registers (a few dozen bits per cycle),
the ternary selects / XORs (no entry in the energy table), and idle cycles (bubbles); the
accumulator memory's read port has no enable in the RTL and so reads every cycle the core runs:
only the ``(C - 1) x B`` reads whose data is used are counted (clock-gating the rest is free).

DRAM: weights are hardwired into on-chip ROM (the weight memory is initialized from the model and
never written), so no weights stream from DRAM; the DRAM traffic of an inference is its input
vector (``in_features x in_bits / 8`` bytes) and its output vector (``out_features x out_bits / 8``
bytes). Stream padding lanes are made by the interface and are not counted.

Adds carry their operand width so the pricing can pick Horowitz's 8-, 16- or 32-bit add.

``hardwired`` engines (``hwgen.hardwired``) have no memories: they count their additions from
the non-zero weights (adder trees over the +1 and the -1 inputs of each output, one subtraction),
per bit-plane in serial mode; see ``_hardwired_counts``.
"""

from __future__ import annotations

import math

from hwgen.errors import HwgenError

__all__ = ["action_counts", "UnsupportedEngine", "MEMORY_BLOCKS"]

#: memory name -> energy/area block label (the names the RTL gives its memories)
MEMORY_BLOCKS = {
    "weights": "weight memory (ROM)",
    "activations": "activation memory",
    "accumulators": "accumulator memory",
    "tables": "lookup tables",
    "output_queue": "output queue",
}


class UnsupportedEngine(HwgenError, NotImplementedError):
    """The cost model has no action counts for this engine kind."""


def _signed_bits(lo, hi):
    """Bits of a two's-complement signal holding lo .. hi (as Amaranth's ``range`` shape)."""
    bits = 1
    while not (-(1 << (bits - 1)) <= lo and hi <= (1 << (bits - 1)) - 1):
        bits += 1
    return bits


def _add(count, bits):
    return {"count": int(count), "bits": int(bits)}


def _finish_adds(adds):
    """Drop empty entries; give every entry ``by_width`` ({width: count}) as hardwired has."""
    return {k: dict(a, by_width={str(a["bits"]): a["count"]}) for k, a in adds.items()
            if a["count"]}


def _mem(words, width, instances=1, rom=False):
    return {"words": int(words), "width": int(width), "instances": int(instances),
            "bits": int(words) * int(width) * int(instances), "rom": bool(rom),
            "reads": 0, "read_bits": 0, "writes": 0, "write_bits": 0}


def _access(mem, kind, count, bits_each):
    mem[kind] += int(count)
    mem[f"{kind[:-1]}_bits"] += int(count) * int(bits_each)


def action_counts(plan) -> dict:
    """Actions of one inference (one input vector) on ``plan``'s engine; see the module doc."""
    kind = plan.engine.kind
    if kind in ("tlmm", "addertree"):
        return _engine_counts(plan)
    if kind == "hardwired":
        return _hardwired_counts(plan)
    raise UnsupportedEngine(f"no action counts for engine kind {kind!r}", field="engine.kind")


def _io(plan, out_bits):
    model = plan.model
    in_bytes = model.in_features * math.ceil(model.in_bits / 8)
    out_bytes = model.out_features * out_bits // 8
    return {
        "input_bytes": int(in_bytes),
        "output_bytes": int(out_bytes),
        "bytes": int(in_bytes + out_bytes),
        "weights_bytes": 0,
        "note": "weights are on-chip ROM (hardwired at build time), so DRAM carries only the "
                "input and the output vector of each inference",
    }


def _engine_counts(plan) -> dict:
    e = plan.engine
    N, L, T, G = e.columns, e.lanes, e.tables, e.group
    tlmm = e.kind == "tlmm"
    acc_bits = plan.acc_bits
    partial_bits = _signed_bits(-128 * L, 128 * L)
    entry_bits = _signed_bits(-128 * G, 127 * G) if tlmm else 0
    count_bits = max(1, T.bit_length())

    mems = {
        "weights": _mem(plan.weight_words, e.weight_word_bits, rom=True),
        "activations": _mem(2 << plan.act_row_bits, 8 * plan.row_lanes),
        "accumulators": _mem(plan.acc_depth, N * acc_bits),
    }
    if tlmm:
        mems["tables"] = _mem(e.table_depth, entry_bits, instances=T * e.table_replicas)
    out_width = N * plan.out_bits + 1                  # a result beat and its tlast bit
    if not getattr(plan.model, "memory", None) or not plan.model.memory.stream:
        from hwgen.rtl.outqueue import queue_depth
        mems["output_queue"] = _mem(queue_depth(plan.out_beats), out_width)
    # registers inside the dot block per issued block (hwgen.rtl.tlmm / addertree): the lookups
    # (flipped, one bit wider than an entry) and the count of negated ones, or the weight word and
    # the chunk; then the first adder level of each column
    if tlmm:      # T + 1 terms: pairs one bit wider, an odd last term (the count) passed on
        level1 = ((T + 1) // 2) * (entry_bits + 2) + (count_bits if (T + 1) % 2 else 0)
        dot_bits = N * (T * (entry_bits + 1) + count_bits + level1)
    else:         # L terms of 9 bits
        dot_bits = e.weight_word_bits + 8 * L + N * ((L // 2) * 10 + (9 if L % 2 else 0))

    adds = {name: _add(0, bits) for name, bits in (
        ("table_entries", entry_bits), ("adder_tree", partial_bits),
        ("sign_count", count_bits), ("accumulate", acc_bits), ("requantize", acc_bits))}
    if not tlmm:
        del adds["table_entries"], adds["sign_count"]
    registers = {"pipeline_register_bits": 0, "output_register_bits": 0}

    # input vector into the activation buffer: one beat of L bytes per input chunk
    _access(mems["activations"], "writes", plan.input_chunks, 8 * L)

    layers = []
    for lp in plan.layers:
        C, B = lp.chunks, lp.blocks
        issues = C * B
        last = lp is plan.layers[-1]
        row = {
            "name": lp.layer.name,
            "in_features": lp.layer.in_features,
            "out_features": lp.layer.out_features,
            "chunks": C,
            "blocks": B,
            "block_issues": issues,
            "activation_row_reads": C,
            "table_builds": C if tlmm else 0,
            "table_entries_written": C * T * e.entries * e.table_replicas if tlmm else 0,
            "table_entry_adds": C * T * e.entries * (G - 1) if tlmm else 0,
            "weight_reads": issues,
            "lookups": issues * N * T if tlmm else 0,
            "adder_tree_adds": issues * N * (T if tlmm else L - 1),
            "sign_count_adds": issues * N * (T - 1) if tlmm else 0,
            "accumulator_reads": (C - 1) * B,
            "accumulator_writes": (C - 1) * B,
            "accumulator_adds": (C - 1) * B * N,
            "requantizations": B * N if lp.layer.requant is not None else 0,
            "activation_writes_bytes": 0 if last else B * N,
            "output_register_bits": B * N * plan.out_bits if last else 0,
            "register_bits": issues * (2 * N * acc_bits + dot_bits),
            "macs": lp.layer.in_features * lp.layer.out_features,
            "padded_macs": issues * L * N,
        }
        row["additions"] = (row["table_entry_adds"] + row["adder_tree_adds"]
                            + row["sign_count_adds"] + row["accumulator_adds"]
                            + 2 * row["requantizations"])
        layers.append(row)

        _access(mems["activations"], "reads", C, 8 * plan.row_lanes)
        _access(mems["weights"], "reads", issues, e.weight_word_bits)
        _access(mems["accumulators"], "reads", (C - 1) * B, N * acc_bits)
        _access(mems["accumulators"], "writes", (C - 1) * B, N * acc_bits)
        if not last:
            _access(mems["activations"], "writes", B, 8 * N)
        elif "output_queue" in mems:      # each result beat through the output queue
            _access(mems["output_queue"], "writes", B, out_width)
            _access(mems["output_queue"], "reads", B, out_width)
        if tlmm:
            _access(mems["tables"], "writes", row["table_entries_written"], entry_bits)
            _access(mems["tables"], "reads", row["lookups"], entry_bits)
            adds["table_entries"]["count"] += row["table_entry_adds"]
            adds["sign_count"]["count"] += row["sign_count_adds"]
        adds["adder_tree"]["count"] += row["adder_tree_adds"]
        adds["accumulate"]["count"] += row["accumulator_adds"]
        adds["requantize"]["count"] += 2 * row["requantizations"]
        registers["pipeline_register_bits"] += row["register_bits"]
        registers["output_register_bits"] += row["output_register_bits"]

    keys = ("block_issues", "table_builds", "table_entries_written", "lookups", "additions",
            "weight_reads", "accumulator_reads", "accumulator_writes", "macs", "padded_macs")
    totals = {k: sum(r[k] for r in layers) for k in keys}
    totals["register_bits"] = sum(registers.values())
    return {
        "engine": e.kind,
        "per": "inference (one input vector)",
        "layers": layers,
        "layer_columns": ["chunks", "blocks", "block_issues", "table_builds",
                          "table_entries_written", "lookups", "adder_tree_adds",
                          "accumulator_adds", "weight_reads", "accumulator_reads",
                          "accumulator_writes", "requantizations", "macs"],
        "memories": mems,
        "adds": _finish_adds(adds),
        "registers": registers,
        "dram": _io(plan, plan.out_bits),
        "totals": totals,
        "not_counted": [
            "sequencer and pipeline-control registers",
            "ternary selects and sign XORs (no entry in the energy table)",
            "idle (bubble) cycles; accumulator reads whose data is discarded",
        ],
    }


def _tree_adders(n_terms, term_bits):
    """Adder widths of ``hwgen.rtl.arith.tree_sum`` over ``n_terms`` terms of ``term_bits``
    (a balanced tree, each sum one bit wider than its wider operand) and the result width."""
    widths, adders = [term_bits] * n_terms, []
    while len(widths) > 1:
        paired = [max(widths[i], widths[i + 1]) + 1 for i in range(0, len(widths) - 1, 2)]
        adders += paired
        widths = paired + widths[len(widths) - len(widths) % 2:]
    return adders, (widths[0] if widths else 0)


def _hardwired_counts(plan) -> dict:
    """Actions of one inference on a hardwired engine (``hwgen.hardwired.HardwiredPlan``).

    Per layer and output ``m`` with ``P`` weights +1 and ``N`` weights -1 (zeros are no logic and
    cost nothing): a balanced adder tree over the ``P`` plus inputs (``P - 1`` adds), one over
    the ``N`` minus inputs (``N - 1``) and the subtraction (1; a negation when ``P = 0``), widths
    as in ``hwgen.rtl.hardwired`` (terms ``in_bits`` wide, one bit more per tree level, the
    subtraction at most ``acc_bits``). Parallel layers do this once per inference; serial layers
    once per bit-plane (``in_bits`` planes, 1-bit terms: popcounts) plus one ``acc_bits``
    accumulator add per output and plane. Requantized outputs: 2 comparisons each.
    Registers (bit writes): the input file (``in_features x in_bits``), the registers between
    parallel layers, serial shift registers (every plane) and accumulators, the output register
    (loaded, then shifted once per further output beat). No memories: the weights are wiring.
    """
    model = plan.model
    mems = {}
    by = {"adder_tree": {}, "subtract": {}, "accumulate": {}, "requantize": {}}
    registers = {"input_register_bits": model.in_features * plan.layers[0].in_bits,
                 "layer_register_bits": 0, "output_register_bits": 0}

    def add(kind, bits, count):
        if count:
            by[kind][int(bits)] = by[kind].get(int(bits), 0) + int(count)

    layers = []
    for lp in plan.layers:
        layer = lp.layer
        term = 1 if plan.serial else lp.in_bits
        planes = lp.planes
        tree = sub = 0
        for p, n in zip(lp.plus_counts.tolist(), lp.minus_counts.tolist()):
            ap, wp = _tree_adders(p, term)
            an, wn = _tree_adders(n, term)
            for w in ap + an:
                add("adder_tree", w, planes)
            tree += len(ap) + len(an)
            if n:
                w = min((max(wp, wn) if p else wn) + 1, lp.acc_bits)
                add("subtract", w, planes)
                sub += 1
        acc_adds = layer.out_features * planes if plan.serial else 0
        add("accumulate", lp.acc_bits, acc_adds)
        rq = layer.out_features if layer.requant is not None else 0
        add("requantize", lp.acc_bits, 2 * rq)
        last = lp is plan.layers[-1]
        if plan.serial:
            registers["layer_register_bits"] += (layer.in_features * lp.in_bits * planes
                                                 + layer.out_features * lp.acc_bits * planes)
        elif not last:
            nxt_bits = plan.layers[lp.index + 1].in_bits
            registers["layer_register_bits"] += layer.out_features * nxt_bits
        if last:
            bits = lp.acc_bits if layer.requant is None else 8
            registers["output_register_bits"] += layer.out_features * bits * lp.blocks
        row = {
            "name": layer.name,
            "in_features": layer.in_features,
            "out_features": layer.out_features,
            "nonzero_weights": lp.nonzeros,
            "plus_weights": int(lp.plus_counts.sum()),
            "minus_weights": int(lp.minus_counts.sum()),
            "zero_weights": layer.in_features * layer.out_features - lp.nonzeros,
            "planes": planes,
            "adder_tree_adds": tree * planes,
            "subtractions": sub * planes,
            "accumulator_adds": acc_adds,
            "requantizations": rq,
            "acc_bits": lp.acc_bits,
            "macs": layer.in_features * layer.out_features,
        }
        row["additions"] = (row["adder_tree_adds"] + row["subtractions"] + acc_adds + 2 * rq)
        layers.append(row)

    adds = {}
    for kind, widths in by.items():
        if widths:
            adds[kind] = {"count": sum(widths.values()), "bits": max(widths),
                          "by_width": {str(w): widths[w] for w in sorted(widths)}}
    totals = {k: sum(r[k] for r in layers) for k in ("additions", "macs", "nonzero_weights")}
    totals["register_bits"] = sum(registers.values())
    return {
        "engine": "hardwired",
        "serial": bool(plan.serial),
        "per": "inference (one input vector)",
        "layers": layers,
        "layer_columns": ["in_features", "out_features", "nonzero_weights", "zero_weights",
                          "planes", "adder_tree_adds", "subtractions", "accumulator_adds",
                          "requantizations", "acc_bits", "macs"],
        "memories": mems,
        "adds": adds,
        "registers": registers,
        "dram": _io(plan, plan.out_bits),
        "totals": totals,
        "not_counted": [
            "the per-output constant add of hwgen.rtl.hardwired's offset-binary re-encoding of "
            "tree sums (at most one add per output)",
            "handshake and beat/plane counter registers",
            "the ReLU/saturation selects of requantization beyond its 2 comparisons",
        ],
    }
