"""BitNet b1.58-large decode with weights streamed from DRAM: tokens/s vs the bandwidth roofline.

    python benchmarks/bench_bitnet_stream.py [--tokens 3] [--clock-mhz 250] [--gbps 19.2] [--dram-bits 768]

The linear layers of BitNet b1.58-large (24 layers; per layer q, k, v, o 1536 x 1536, gate and up
4096 x 1536, down 1536 x 4096; random ternary weights from a fixed seed) run on the TeLLMe-like
engine (tlmm G=3 T=28 N=16: 1344 ternary MACs per cycle, 2240-bit weight words) with
``memory: {weights: stream, dram_bits: 768, buffer: uram}``. Each projection is a one-layer program
whose input vector comes in on ``s_axis`` (as the norm / attention results would) and whose
accumulators go out on ``m_axis``; the 168 projections of a token run back to back on one engine and
one ping-pong weight buffer while the weight stream runs on (``hwgen.streaming.StreamModel``, the
cycle model the RTL regression checks cycle for cycle). DRAM: ``--gbps`` (19.2 GB/s, the KV260's
64-bit DDR4-2400) at ``--clock-mhz`` (250): 76.8 bytes per cycle, i.e. 768-bit beats (TeLLMe's three
256-bit ports) on 4 cycles of 5.

Per packing format of ``hwgen.packing.FORMATS`` the stream carries that format's bits
(``bits_per_weight``: the bytes streamed) and each tile is sent as ``ceil(weights x bpw / 768)``
beats; a decoder in front of the buffer would turn them into the engine's 5-bit TLMM indices (see
the report). The roofline is the format's bytes of the model's weights (``Format.packed_size`` of
every matrix, no padding) over the bandwidth. The row "tlmm5 (RTL layout)" is the layout the RTL
implements: each 2240-bit word in 3 beats of 768 bits. Goal: >= 90% of the roofline, and above
TeLLMe's 25 tokens/s (whole decode on the KV260) with 1.67-bit packing.

Writes reports/bench_bitnet_stream.json and .md.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from common import engine, engine_label, md_table, random_inputs, random_model, text_table, write_json, write_md

from hwgen.bufplan import BITNET_LARGE, bitnet_projections, plan_buffer, tellme_buffer
from hwgen.golden import golden
from hwgen.packing import FORMATS
from hwgen.plan import Plan
from hwgen.sim import Simulator
from hwgen.streaming import DramPattern, MemoryParams, StreamModel

TELLME_TOKENS_PER_S = 25.0      # REFERENCE.md section 1 (v2, whole decode, KV260)


def build_plans(eng, memory):
    """One Plan per distinct projection shape (random ternary weights), and the token's program."""
    shapes = {}
    for name, m, k in bitnet_projections(BITNET_LARGE["hidden"], BITNET_LARGE["ffn"]):
        shapes.setdefault((m, k), []).append(name)
    plans = {}
    for i, ((m, k), names) in enumerate(sorted(shapes.items())):
        model = random_model(eng, [k, m], seed=1536 + i, name="_".join(names), output_acc=True)
        plans[(m, k)] = Plan(model.replace(memory=memory))
    per_layer = [(name, plans[(m, k)]) for name, m, k in bitnet_projections(BITNET_LARGE["hidden"],
                                                                             BITNET_LARGE["ffn"])]
    program = [p for _ in range(BITNET_LARGE["layers"]) for _, p in per_layer]
    return plans, per_layer, program


def token_bytes(fmt):
    """Bytes of one token's weights in ``fmt`` (every matrix packed on its own, no padding)."""
    per_layer = sum(fmt.packed_size(m * k) for _, m, k in bitnet_projections(BITNET_LARGE["hidden"],
                                                                           BITNET_LARGE["ffn"]))
    return per_layer * BITNET_LARGE["layers"]


DECODERS = {
    "2bit": "2-bit codes w+1: three codes (6 bits) -> one 5-bit index, a 64-entry table (5 LUT6 per index)",
    "tq2_0": "as 2bit inside 256-weight blocks; the fp16 block scale is dropped (BitNet scales per tensor)",
    "trit5": "a byte of 5 trits -> 5 digits (base-3 table, 8 -> 10 bits), regrouped into triples -> index",
    "tq1_0": "as trit5 with TQ1_0's digit order ((q * 3^n) * 3) >> 8 and 256-weight blocks; scale dropped",
    "tlmm4": "G=2 indices -> trit pairs, regrouped into triples -> G=3 index",
    "tlmm5": "none: the engine's own 5-bit TLMM index (G=3)",
    "tlmm7": "G=4 indices -> trit quads, regrouped into triples -> G=3 index",
    "sherry": "5 bits per 4 weights (zero position + 3 signs) -> 4 trits -> triples; needs 3:4-sparse weights",
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tokens", type=int, default=3, help="tokens simulated back to back (>= 2)")
    ap.add_argument("--clock-mhz", type=float, default=250.0)
    ap.add_argument("--gbps", type=float, default=19.2, help="DRAM bandwidth, GB/s (1e9 bytes)")
    ap.add_argument("--dram-bits", type=int, default=768)
    args = ap.parse_args()
    t_start = time.time()

    clock = args.clock_mhz * 1e6
    bytes_per_cycle = args.gbps * 1e9 / clock
    rate = bytes_per_cycle / (args.dram_bits / 8)
    if rate > 1:
        raise SystemExit(f"{args.gbps} GB/s needs more than one {args.dram_bits}-bit beat per cycle at "
                         f"{args.clock_mhz} MHz: raise --dram-bits")
    dram = DramPattern.rate(rate)
    eng = engine("tlmm", 3, 28, 16)
    memory = MemoryParams("stream", args.dram_bits, "uram", "auto")
    plans, per_layer, program = build_plans(eng, memory)
    model = StreamModel(program, memory)
    tp = model.tile_plan

    # sanity: the q projection through the simulator equals the golden model, and its streamed
    # cycles equal the stream model's
    q_plan = per_layer[0][1]
    x = random_inputs(1, q_plan.model.in_features)
    sim = Simulator(q_plan.model).run(x)
    sane = bool(np.array_equal(sim.outputs, golden(q_plan.model, x))) and \
        sim.cycles == StreamModel(q_plan).run(1).cycles

    compute_token = sum(p.vector_stride for p in program)
    compute_tps = clock / compute_token

    def simulate(bpw):
        r = model.run(args.tokens, dram=dram, bits_per_weight=bpw)
        period = r.steady_period()
        return r, period

    rows, results = [], []
    for label, name, bpw in ([("tlmm5 (RTL layout)", "tlmm5", None)] +
                             [(n, n, f.bits_per_weight) for n, f in FORMATS.items()]):
        fmt = FORMATS[name]
        r, period = simulate(bpw)
        tps = clock / period
        nbytes = token_bytes(fmt)
        roof_tps = args.gbps * 1e9 / nbytes
        streamed = r.beats // args.tokens * args.dram_bits // 8
        eff = tps / roof_tps
        entry = {
            "format": label, "bits_per_weight": round(fmt.bits_per_weight, 4),
            "stream_layout": "3 beats per 2240-bit word" if bpw is None else "tile = ceil(weights x bpw / beat)",
            "weight_bytes_per_token": nbytes, "streamed_bytes_per_token": streamed,
            "cycles_per_token": period, "first_token_cycles": r.starts[1] if len(r.starts) > 1 else r.cycles,
            "tokens_per_s": round(tps, 2), "roofline_tokens_per_s": round(roof_tps, 2),
            "fraction_of_roofline": round(eff, 4),
            "weight_stall_cycles_per_token": round(r.weight_stall_cycles / args.tokens),
            "decoder": DECODERS[name],
        }
        results.append(entry)
        rows.append([label, f"{fmt.bits_per_weight:.4f}", f"{nbytes / 1e6:.1f}", f"{streamed / 1e6:.1f}",
                     period, f"{tps:.1f}", f"{roof_tps:.1f}", f"{100 * eff:.1f}%",
                     "yes" if tps > TELLME_TOKENS_PER_S else "no"])

    # per projection (RTL layout): compute vs DRAM cycles, stalls
    r, _ = simulate(None)
    proj_rows, proj = [], []
    for i, (name, plan) in enumerate(per_layer):
        ls = [l for l in r.layers if l.entry % len(per_layer) == i]
        l0 = ls[0]
        stalls = sum(l.stall_cycles for l in ls) / (args.tokens * BITNET_LARGE["layers"])
        lp = plan.layers[0]
        proj.append({"projection": name, "shape": [lp.layer.out_features, lp.layer.in_features],
                     "chunks": lp.chunks, "blocks": lp.blocks, "tiles": l0.tiles,
                     "chunks_per_tile": model.tiles_of(plan)[0].chunks_per_tile,
                     "compute_cycles": l0.compute_cycles, "dram_cycles": round(l0.dram_cycles, 1),
                     "stall_cycles_per_layer": round(stalls, 1), "bound": l0.bound})
        proj_rows.append([name, f"{lp.layer.out_features}x{lp.layer.in_features}", lp.chunks, lp.blocks,
                          l0.tiles, l0.compute_cycles, f"{l0.dram_cycles:.0f}", f"{stalls:.0f}", l0.bound])

    # bandwidth sweep (RTL layout): where the design turns compute-bound
    sweep_rows, sweep = [], []
    for gbps, bits in ((19.2, 768), (38.4, 2304), (57.6, 2304), (72.0, 2304)):
        mem = MemoryParams("stream", bits, "uram", "auto")
        sm = StreamModel(program, mem)
        pat = DramPattern.rate(gbps * 1e9 / clock / (bits / 8))
        rr = sm.run(args.tokens, dram=pat)
        per = rr.steady_period()
        roof = gbps * 1e9 / token_bytes(FORMATS["tlmm5"])
        bound = min(roof, compute_tps)
        sweep.append({"gbps": gbps, "dram_bits": bits, "tokens_per_s": round(clock / per, 2),
                      "roofline_tokens_per_s": round(roof, 2), "compute_only_tokens_per_s": round(compute_tps, 2),
                      "fraction_of_bound": round(clock / per / bound, 4)})
        sweep_rows.append([f"{gbps}", bits, f"{clock / per:.1f}", f"{roof:.1f}", f"{compute_tps:.1f}",
                           f"{100 * clock / per / bound:.1f}%"])

    buf = plan_buffer(q_plan, "xcup")
    big = max(plans.values(), key=lambda p: p.layers[0].words)
    buf_big = plan_buffer(big, "xcup")
    tellme = tellme_buffer()
    # the buffer holds the largest tile of any projection: the program's tile plan
    from hwgen.bufplan import blocks as _blocks
    uram = _blocks(tp.word_bits, tp.depth, "uram")

    headers = ["format", "bpw", "MB/token", "MB streamed", "cycles/token", "tok/s", "roofline tok/s",
               "of roofline", "> 25 tok/s"]
    print(f"BitNet b1.58-large linear layers, {engine_label(eng)}, {args.clock_mhz:g} MHz, DRAM {args.gbps} GB/s "
          f"({args.dram_bits}-bit beats, {dram.n_ones}/{dram.length} cycles)")
    print(text_table(headers, rows))
    print()
    print(text_table(["proj", "shape", "chunks", "blocks", "tiles", "compute cyc", "DRAM cyc", "stall/layer",
                      "bound"], proj_rows))
    print()
    print(text_table(["GB/s", "beat bits", "tok/s", "roofline", "compute-only", "of min(roofline, compute)"], sweep_rows))
    print()
    print(f"weight buffer: {tp.depth} x {tp.word_bits} bits (2 slots of {tp.slot_words} words) = "
          f"{uram.count:g} URAM288 ({100 * uram.utilization:.1f}% of their bits, {uram.count:g}/64 of the KV260)")
    print(f"TeLLMe preset: {tellme['words']} x {tellme['word_bits']}-bit words ({tellme['bits'] / 1e6:.2f} Mbit), "
          f"{tellme['partitions']} partitions -> {tellme['uram288']} URAM288")
    print(f"compute-only: {compute_token} cycles per token = {compute_tps:.1f} tok/s; simulator sanity check: "
          f"{'ok' if sane else 'FAILED'}; {time.time() - t_start:.1f} s")

    data = {
        "engine": eng.as_dict(), "clock_mhz": args.clock_mhz, "dram_gbps": args.gbps,
        "dram_bits": args.dram_bits, "dram_pattern": dram.pattern.astype(int).tolist(),
        "bytes_per_cycle": bytes_per_cycle, "tokens_simulated": args.tokens,
        "model": dict(BITNET_LARGE, projections=[list(p) for p in bitnet_projections()]),
        "program": "168 one-layer programs per token (24 x q,k,v,o,gate,up,down), input over s_axis",
        "compute_only_cycles_per_token": compute_token, "compute_only_tokens_per_s": round(compute_tps, 2),
        "tellme_tokens_per_s": TELLME_TOKENS_PER_S, "formats": results, "projections": proj,
        "bandwidth_sweep": sweep,
        "buffer": {"depth": tp.depth, "word_bits": tp.word_bits, "slot_words": tp.slot_words,
                   "uram288": uram.count, "utilization": round(uram.utilization, 4),
                   "q_projection_plan": buf, "largest_projection_plan": buf_big},
        "tellme_preset": tellme, "simulator_check": sane,
    }
    write_json("bench_bitnet_stream", data)

    md = [
        "# BitNet b1.58-large decode, weights streamed from DRAM",
        "",
        f"`python benchmarks/bench_bitnet_stream.py` -- {engine_label(eng)} (1344 ternary MACs per cycle), "
        f"{args.clock_mhz:g} MHz, DRAM {args.gbps} GB/s = {bytes_per_cycle:.1f} bytes per cycle: "
        f"{args.dram_bits}-bit beats on {dram.n_ones} cycles of {dram.length}. Linear layers only "
        f"(24 x q, k, v, o, gate, up, down; random ternary weights), {args.tokens} tokens back to back, "
        "steady-state cycles per token from `hwgen.streaming.StreamModel` (the cycle model the RTL "
        "regression matches cycle for cycle). Roofline = the format's weight bytes per token / bandwidth.",
        "",
        md_table(headers, rows),
        "",
        "`tlmm5 (RTL layout)` is what the RTL implements (each 2240-bit word in 3 beats of 768 bits, 2.9% "
        "padding). The other rows model a stream of that format's bits, each tile sent as "
        "`ceil(weights x bpw / 768)` beats, which needs a decoder and a gearbox in front of the buffer's "
        "write port; the stream is laid out offline in the engine's order (chunk, block, column), the "
        "format only sets the coding. Streamed bytes exceed the format's bytes by the padding of K to "
        "multiples of 84 (1536 -> 1596: 3.9%; 4096 -> 4116) and the tile rounding. Sherry needs 3:4-sparse "
        "weights (random ternary weights are not); only its bandwidth is modelled here.",
        "",
        "| format | decoder in front of the buffer (to 5-bit G=3 indices) |",
        "|:---|:---|",
    ] + [f"| {n} | {d} |" for n, d in DECODERS.items()] + [
        "",
        "## Per projection (tlmm5, RTL layout)",
        "",
        md_table(["proj", "shape", "chunks", "blocks", "tiles", "compute cyc", "DRAM cyc", "stall/layer", "bound"],
                 proj_rows),
        "",
        "DRAM cycles = beats / beats per cycle. Every projection is bandwidth-bound at 19.2 GB/s: the engine "
        "waits for each tile (stall cycles per occurrence of the projection) while the stream never idles.",
        "",
        "## Bandwidth sweep (tlmm5, RTL layout; 2304-bit beats = one word per beat)",
        "",
        md_table(["GB/s", "beat bits", "tok/s", "roofline", "compute-only", "of min(roofline, compute)"], sweep_rows),
        "",
        "## Buffer",
        "",
        f"- hwgen's buffer for this program: {tp.depth} x {tp.word_bits} bits (two slots of {tp.slot_words} "
        f"words; tiles of whole chunks up to 2048 words) = **{uram.count:g} URAM288** "
        f"({100 * uram.utilization:.1f}% of their bits; {uram.count:g} of the KV260's 64).",
        f"- TeLLMe preset (`hwgen.bufplan.tellme_buffer`): {tellme['words']:,} words of {tellme['word_bits']} bits "
        f"(fused q/k/v, {tellme['bits'] / 1e6:.2f} Mbit) in {tellme['partitions']} partitions of "
        f"{tellme['partition_depth']:,} words -> 2 x 3 URAM288 each = **{tellme['uram288']} URAM288**.",
        f"- compute-only: {compute_token:,} cycles per token = {compute_tps:.1f} tokens/s at {args.clock_mhz:g} MHz.",
        f"- TeLLMe reports {TELLME_TOKENS_PER_S:g} tokens/s for its whole decode (attention, norms, LM head "
        "included); the figures here are the linear layers only.",
        f"- simulator check (q projection: outputs = golden model, simulator cycles = stream model): "
        f"{'ok' if sane else 'FAILED'}.",
    ]
    write_md("bench_bitnet_stream", "\n".join(md))
    if not sane:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
