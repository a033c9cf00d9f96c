"""Benchmark 2: pipeline utilization on a 1536 x 1536 ternary layer (BitNet-0.7B hidden size).

One layer, 1536 -> 1536, uniformly random ternary weights (fixed seed), raw accumulator outputs,
on several engines. For each:

- ideal cycles = chunks x blocks: the cycles that issue an output block (the engine's busy
  cycles; the padding of K up to a multiple of the lanes and of M up to a multiple of the columns
  is included);
- measured cycles = cycles per vector from the cycle-accurate simulator (``hwgen.sim``), first
  input beat to last output beat, for one vector; also the streaming cost per vector
  (``Plan.vector_stride``, first input beat to the next vector's first input beat);
- pipeline utilization = ideal / measured (goal >= 0.95 for the TeLLMe-like engine, tlmm G=3
  T=28 N=16);
- MAC utilization = real MACs (1536 x 1536) / (measured x MACs per cycle): padding losses show.

With ``--rtl`` the generated Verilog of the TeLLMe-like layer also runs in Verilator (through
``hwgen.rtlsim.runner.run_rtl`` and cocotb) on a batch of 2 vectors; its measured cycles and
outputs must equal the model's (a MISMATCH line is printed otherwise, and the exit code is 1).

Usage: python benchmarks/bench_utilization.py [--rtl] [--batch N]
Writes reports/bench_utilization.json and .md.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

import numpy as np  # noqa: E402

from hwgen.golden import golden  # noqa: E402
from hwgen.plan import Plan  # noqa: E402
from hwgen.sim import Simulator  # noqa: E402

K = M = 1536
GOAL = 0.95
TELLME = common.engine("tlmm", 3, 28, 16)
ENGINES = [
    TELLME,
    common.engine("tlmm", 3, 4, 8),
    common.engine("tlmm", 4, 21, 16),
    common.addertree(84, 16),
]
RTL_BATCH = 2


def measure(eng, x):
    model = common.random_model(eng, [K, M])
    plan = Plan(model)
    lp = plan.layers[0]
    sim = Simulator(model)
    one = sim.run(x[:1])
    many = sim.run(x)
    ok = bool(np.array_equal(many.outputs, golden(model, x)))
    ideal = lp.busy_cycles
    measured = one.cycles
    stride = plan.vector_stride
    macs = K * M
    return model, plan, {
        "engine": eng.as_dict(), "label": common.engine_label(eng),
        "lanes": eng.lanes, "columns": eng.columns, "macs_per_cycle": eng.macs_per_cycle,
        "chunks": lp.chunks, "blocks": lp.blocks, "period": lp.period,
        "build_cycles": eng.build_cycles, "input_chunks": plan.input_chunks,
        "padded_k": lp.chunks * eng.lanes, "padded_m": lp.blocks * eng.columns,
        "ideal_cycles": ideal, "measured_cycles": measured, "stride_cycles": stride,
        "batch": len(x), "batch_cycles": many.cycles,
        "utilization": round(ideal / measured, 4),
        "streaming_utilization": round(ideal / stride, 4),
        "mac_utilization": round(macs / (measured * eng.macs_per_cycle), 4),
        "padding_efficiency": round(macs / (ideal * eng.macs_per_cycle), 4),
        "outputs_match_golden": ok,
    }


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rtl", action="store_true",
                    help=f"also run the TeLLMe-like layer's RTL in Verilator on {RTL_BATCH} vectors")
    ap.add_argument("--batch", type=int, default=8, help="vectors for the streaming run (default 8)")
    args = ap.parse_args(argv)

    x = common.random_inputs(max(args.batch, RTL_BATCH), K)
    records, models = [], {}
    for eng in ENGINES:
        model, plan, rec = measure(eng, x[:args.batch])
        records.append(rec)
        models[eng] = (model, plan)

    headers = ["engine", "MACs/cyc", "chunks", "blocks", "period", "ideal", "measured",
               "utilization", "stride", "stream util", "MAC util", "golden"]
    rows = [[r["label"], r["macs_per_cycle"], r["chunks"], r["blocks"], r["period"],
             r["ideal_cycles"], r["measured_cycles"], f"{r['utilization']:.3f}", r["stride_cycles"],
             f"{r['streaming_utilization']:.3f}", f"{r['mac_utilization']:.3f}",
             "ok" if r["outputs_match_golden"] else "MISMATCH"] for r in records]
    print(f"Layer {K} x {M}, random ternary weights (seed {common.SEED}); cycles per vector\n")
    print(common.text_table(headers, rows))
    tellme = records[0]
    verdict = "meets" if tellme["utilization"] >= GOAL else "MISSES"
    print(f"\nTeLLMe-like engine ({tellme['label']}): utilization {tellme['utilization']:.3f} "
          f"{verdict} the goal >= {GOAL}")
    status = 0
    for r in records:
        if not r["outputs_match_golden"]:
            print(f"MISMATCH: simulator outputs differ from the golden model for {r['label']}")
            status = 1

    rtl = None
    if args.rtl:
        from hwgen.rtl.verilog import TOP, accelerator_verilog
        from hwgen.rtlsim.runner import run_rtl
        model, plan = models[TELLME]
        work = common.BUILD / "utilization"
        work.mkdir(parents=True, exist_ok=True)
        src = work / f"{TOP}.v"
        t0 = time.perf_counter()
        text = accelerator_verilog(plan)
        if not src.exists() or src.read_text() != text:
            src.write_text(text)
        t_gen = time.perf_counter() - t0
        xb = x[:RTL_BATCH]
        print(f"\nRTL: {tellme['label']}, {RTL_BATCH} vectors (Verilog generated in {t_gen:.0f} s; "
              f"Verilator build cached in {work})", flush=True)
        t0 = time.perf_counter()
        r = run_rtl(plan, src, xb, work)
        t_rtl = time.perf_counter() - t0
        s = Simulator(model).run(xb)
        same_cycles = r.cycles == s.cycles
        same_out = bool(np.array_equal(r.outputs, s.outputs))
        rtl = {"engine": tellme["engine"], "batch": RTL_BATCH, "rtl_cycles": r.cycles,
               "model_cycles": s.cycles, "plan_cycles": plan.total_cycles(RTL_BATCH),
               "cycles_equal": same_cycles, "outputs_equal": same_out, "stalls": r.stalls}
        print(common.text_table(["", "cycles", f"cycles/vector"],
                                [["model", s.cycles, f"{s.cycles / RTL_BATCH:.1f}"],
                                 ["RTL", r.cycles, f"{r.cycles / RTL_BATCH:.1f}"]]))
        print(f"(RTL run {t_rtl:.0f} s including any Verilator build)")
        if not same_cycles:
            print(f"MISMATCH: RTL cycles {r.cycles} != model cycles {s.cycles} "
                  f"for {tellme['label']}, {K} x {M}, batch {RTL_BATCH}")
            status = 1
        if not same_out:
            print(f"MISMATCH: RTL outputs differ from the model for {tellme['label']}, {K} x {M}")
            status = 1
        if same_cycles and same_out:
            print("RTL and model agree: same cycles, same outputs")

    data = {"benchmark": "bench_utilization", "layer": [K, M], "seed": common.SEED,
            "goal_utilization_min": GOAL,
            "definitions": {
                "ideal_cycles": "chunks x blocks: cycles that issue an output block, padding included",
                "measured_cycles": "simulator cycles for one vector, first input beat to last output beat",
                "stride_cycles": "cycles from one vector's first input beat to the next vector's (streaming)",
                "utilization": "ideal_cycles / measured_cycles",
                "streaming_utilization": "ideal_cycles / stride_cycles",
                "mac_utilization": "K x M / (measured_cycles x MACs per cycle)",
                "padding_efficiency": "K x M / (ideal_cycles x MACs per cycle)"},
            "engines": records, "rtl": rtl}
    common.write_json("bench_utilization", data)
    md = [f"# bench_utilization: pipeline utilization on a {K} x {M} layer", "",
          f"Generated by `python benchmarks/bench_utilization.py{' --rtl' if args.rtl else ''}`. "
          f"Random ternary weights (seed {common.SEED}), raw accumulator outputs.", "",
          "- ideal = chunks x blocks (cycles that issue an output block, padding included)",
          "- measured = simulator cycles for one vector, first input beat to last output beat",
          "- utilization = ideal / measured; stride = streaming cycles per vector; "
          "stream util = ideal / stride",
          "- MAC util = K x M / (measured x MACs per cycle): padding of K and M shows here", "",
          common.md_table(headers, rows), "",
          f"TeLLMe-like engine ({tellme['label']}): utilization {tellme['utilization']:.3f} "
          f"({verdict} the goal >= {GOAL})."]
    if rtl:
        md += ["", f"## RTL check ({tellme['label']}, {RTL_BATCH} vectors, Verilator)", "",
               common.md_table(["", "cycles"], [["model", rtl["model_cycles"]], ["RTL", rtl["rtl_cycles"]]]),
               "", "cycles equal: " + ("yes" if rtl["cycles_equal"] else "**NO (MISMATCH)**")
               + "; outputs equal: " + ("yes" if rtl["outputs_equal"] else "**NO (MISMATCH)**")]
    common.write_md("bench_utilization", "\n".join(md))
    print(f"\nwrote {common.REPORTS / 'bench_utilization.json'} and {common.REPORTS / 'bench_utilization.md'}")
    return status


if __name__ == "__main__":
    sys.exit(main())
