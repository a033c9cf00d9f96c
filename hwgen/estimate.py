"""Analytic resource estimates for the generated accelerator (AMD UltraScale+ / xcup terms).

Each figure is a formula of the plan's parameters. The per-lookup and per-MAC LUT costs were fitted
to Yosys 0.23 ``synth_xilinx -family xcup`` runs of the two datapaths at (G, T, N) = (3, 4, 8) and
(3, 28, 16); ``benchmarks/bench_luts.py`` prints the synthesized figures next to these. Memories are
counted in the primitives Yosys maps them to: LUTRAM (RAM32M16, 8 LUTs each) for the tables, block
RAM (RAMB36E2, 36 Kbit) for the weight, activation and accumulator memories.
"""

import math

BRAM36_BITS = 36 * 1024
LUTS_PER_LOOKUP = 42.0            # signed lookup, share of the column adder tree (fitted)
MAC_LUT_BASE, MAC_LUT_PER_LOG2 = 23.1, 6.3  # adder tree: LUTs per ternary MAC = a + b log2(lanes)
RAM32M16_LUTS = 8
TABLE_PORT_BITS = 10              # bits of read data one RAM32M16 serves per replica (fitted)


def _bram36(bits, width):
    """RAMB36E2 count for a memory of ``bits`` total and ``width``-bit words (72-bit wide max)."""
    if bits == 0:
        return 0
    depth = bits // width
    per_word = math.ceil(width / 72) if depth <= 512 else math.ceil(width / 36)
    return per_word * math.ceil(depth / (512 if depth <= 512 else 1024))


def estimate_resources(plan):
    e = plan.engine
    N, L = e.columns, e.lanes
    out = {}
    if e.kind == "tlmm":
        width = 128 * e.group
        entry_bits = math.ceil(math.log2(width)) + 1
        lutram = e.tables * e.table_replicas * math.ceil(entry_bits * e.read_ports / TABLE_PORT_BITS)
        out["dot_lut"] = round(LUTS_PER_LOOKUP * e.tables * N + e.tables * e.group * 10)
        out["lutram"] = lutram
        out["lutram_luts"] = lutram * RAM32M16_LUTS
        out["dot_ff"] = e.mag_bits + 2
    else:
        out["dot_lut"] = round(L * N * (MAC_LUT_BASE + MAC_LUT_PER_LOG2 * math.log2(max(L, 2))))
        out["lutram"] = 0
        out["lutram_luts"] = 0
        out["dot_ff"] = 0
    acc = plan.acc_bits
    # accumulate + requantize + output register per column, sequencer and address counters
    out["datapath_lut"] = N * (acc + acc + 8) + 150
    out["ff"] = out["dot_ff"] + N * (3 * acc + plan.out_bits) + 120
    weight_bits = plan.weight_words * e.weight_word_bits
    act_bits = (2 << plan.act_row_bits) * 8 * plan.row_lanes
    acc_bits = plan.acc_depth * N * acc
    out["bram36"] = (_bram36(weight_bits, e.weight_word_bits) + _bram36(act_bits, 8 * plan.row_lanes)
                     + _bram36(acc_bits, N * acc))
    out["weight_memory_bits"] = weight_bits
    out["lut"] = out["dot_lut"] + out["datapath_lut"]
    out["lut_equiv"] = out["lut"] + out["lutram_luts"]
    out["dsp"] = 0
    out["basis"] = "analytic (hwgen.estimate), xcup primitives"
    return out
