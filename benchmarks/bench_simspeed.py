"""Benchmark 3: simulator speed, Python cycle model vs Verilator RTL simulation.

The same 1536 x 1536 ternary layer (random weights, fixed seed) on the TeLLMe-like engine (tlmm
G=3 T=28 N=16), the same batch of vectors (default 4), run

- by the Python cycle-accurate model (``hwgen.sim.Simulator``): set-up (decoding the weight memory)
  and run timed separately; the run is the best of 3;
- by Verilator through ``hwgen.rtlsim.runner.run_rtl`` (cocotb drives every cycle). The first run
  compiles the design (the weight memory is 1824 words x 2240 bits, initialized in the Verilog);
  the compile time is reported on its own as (first run - second run), and the simulation time is
  the second run (Verilator build already cached). The cocotb test's own wall time (from its
  results.xml) is shown too: it leaves out process start-up and the build check.

Reported: wall time, simulated cycles per second (simulated cycles / wall time) and the Python
speedup over Verilator. The Python model is also timed alone on a batch of 64 vectors to show its
per-vector cost. Outputs and cycle counts of the two are compared (MISMATCH printed otherwise).

Usage: python benchmarks/bench_simspeed.py [--batch 4] [--reuse-build] [--no-rtl]
``--reuse-build`` keeps a cached Verilator build (then no compile time is measured).
Writes reports/bench_simspeed.json and .md.
"""

from __future__ import annotations

import argparse
import platform
import resource
import shutil
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

import numpy as np  # noqa: E402

from hwgen.plan import Plan  # noqa: E402
from hwgen.sim import Simulator  # noqa: E402

K = M = 1536
ENGINE = common.engine("tlmm", 3, 28, 16)
BIG_BATCH = 64


def best_of(n, fn):
    best, out = None, None
    for _ in range(n):
        t0 = time.perf_counter()
        out = fn()
        dt = time.perf_counter() - t0
        best = dt if best is None else min(best, dt)
    return best, out


def cocotb_test_seconds(results_xml):
    """Wall time of the cocotb test itself (results.xml ``time``), or None."""
    try:
        root = ET.parse(results_xml).getroot()
    except (OSError, ET.ParseError):
        return None
    for case in root.iter("testcase"):
        if case.get("time") is not None:
            return float(case.get("time"))
    return None


def fmt_rate(x):
    return "-" if x is None else f"{x:,.0f}"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--batch", type=int, default=4, help="vectors in the compared batch (default 4)")
    ap.add_argument("--reuse-build", action="store_true", help="keep a cached Verilator build")
    ap.add_argument("--no-rtl", action="store_true", help="time the Python model only")
    args = ap.parse_args(argv)

    model = common.random_model(ENGINE, [K, M])
    x = common.random_inputs(max(args.batch, BIG_BATCH), K)
    xb = x[:args.batch]

    t0 = time.perf_counter()
    plan = Plan(model)
    t_plan = time.perf_counter() - t0
    t0 = time.perf_counter()
    sim = Simulator(model)
    t_setup = time.perf_counter() - t0
    t_py, res = best_of(3, lambda: sim.run(xb))
    cycles = res.cycles
    t_py64, res64 = best_of(3, lambda: sim.run(x[:BIG_BATCH]))
    py = {"plan_s": round(t_plan, 4), "setup_s": round(t_setup, 4), "run_s": round(t_py, 4),
          "cycles": cycles, "cycles_per_s": round(cycles / t_py),
          "cycles_per_s_with_setup": round(cycles / (t_py + t_setup)),
          "batch64_run_s": round(t_py64, 4), "batch64_cycles": res64.cycles,
          "batch64_ms_per_vector": round(1000 * t_py64 / BIG_BATCH, 3),
          "batch64_cycles_per_s": round(res64.cycles / t_py64)}

    print(f"Layer {K} x {M}, {common.engine_label(ENGINE)}, batch {args.batch}: "
          f"{cycles} simulated cycles ({plan.total_cycles(1)} for one vector)\n")
    print(f"Python model: plan {t_plan:.2f} s, set-up (decode weight memory) {t_setup:.2f} s, "
          f"run {t_py * 1000:.1f} ms -> {cycles / t_py:,.0f} cycles/s "
          f"({cycles / (t_py + t_setup):,.0f} with set-up)")
    print(f"Python model, batch {BIG_BATCH}: run {t_py64 * 1000:.1f} ms = "
          f"{1000 * t_py64 / BIG_BATCH:.2f} ms per vector, {res64.cycles / t_py64:,.0f} cycles/s")

    rtl = None
    status = 0
    if not args.no_rtl:
        from hwgen.rtl.verilog import TOP, accelerator_verilog
        from hwgen.rtlsim.runner import run_rtl
        work = common.BUILD / "simspeed"
        work.mkdir(parents=True, exist_ok=True)
        if not args.reuse_build:
            for d in work.glob("verilator-*"):
                shutil.rmtree(d)
        t0 = time.perf_counter()
        src = work / f"{TOP}.v"
        src.write_text(accelerator_verilog(plan))
        t_gen = time.perf_counter() - t0
        vsize = src.stat().st_size
        print(f"\nVerilog: {t_gen:.1f} s to generate, {vsize / 1e6:.1f} MB "
              f"(weight memory {plan.weight_words} words x {ENGINE.weight_word_bits} bits)", flush=True)
        t0 = time.perf_counter()
        r1 = run_rtl(plan, src, xb, work)
        t_cold = time.perf_counter() - t0
        peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        print(f"Verilator first run (build + simulation): {t_cold:.1f} s; "
              f"peak child process RSS {peak_kb / 1024:.0f} MB", flush=True)
        t0 = time.perf_counter()
        r2 = run_rtl(plan, src, xb, work)
        t_warm = time.perf_counter() - t0
        t_test = cocotb_test_seconds(work / "results.xml")
        compile_s = None if args.reuse_build else t_cold - t_warm
        same_cycles = r1.cycles == r2.cycles == cycles
        same_out = bool(np.array_equal(r2.outputs, res.outputs))
        rtl = {"verilog_gen_s": round(t_gen, 2), "verilog_bytes": vsize,
               "first_run_s": round(t_cold, 2), "run_s": round(t_warm, 2),
               "compile_s": None if compile_s is None else round(compile_s, 1),
               "cocotb_test_s": None if t_test is None else round(t_test, 2),
               "peak_child_rss_mb": round(peak_kb / 1024),
               "cycles": r2.cycles, "cycles_per_s": round(r2.cycles / t_warm),
               "cycles_per_s_cocotb_test": None if not t_test else round(r2.cycles / t_test),
               "cycles_equal": same_cycles, "outputs_equal": same_out,
               "verilator": common.verilator_version()}
        speedup = t_warm / t_py
        speedup_core = None if not t_test else t_test / t_py
        speedup_setup = t_warm / (t_py + t_setup)
        rtl.update(python_speedup=round(speedup, 1),
                   python_speedup_core=None if speedup_core is None else round(speedup_core, 1),
                   python_speedup_with_setup=round(speedup_setup, 1))
        headers = ["simulator", "wall s", "simulated cycles", "cycles/s"]
        rows = [["Python model (run)", f"{t_py:.3f}", cycles, fmt_rate(cycles / t_py)],
                ["Python model (set-up + run)", f"{t_py + t_setup:.3f}", cycles,
                 fmt_rate(cycles / (t_py + t_setup))],
                ["Verilator + cocotb (run_rtl, built)", f"{t_warm:.2f}", r2.cycles,
                 fmt_rate(r2.cycles / t_warm)],
                ["Verilator + cocotb (test only)", "-" if t_test is None else f"{t_test:.2f}",
                 r2.cycles, fmt_rate(rtl["cycles_per_s_cocotb_test"])]]
        print()
        print(common.text_table(headers, rows))
        print(f"\nVerilator compile (one-off): "
              f"{'not measured (--reuse-build)' if compile_s is None else f'{compile_s:.0f} s'}")
        print(f"Python speedup over Verilator: {speedup:.0f}x (run vs run_rtl), "
              f"{'-' if speedup_core is None else f'{speedup_core:.0f}x'} (run vs cocotb test), "
              f"{speedup_setup:.0f}x (set-up + run vs run_rtl)")
        if not same_cycles:
            print(f"MISMATCH: RTL cycles {r1.cycles}/{r2.cycles} != model cycles {cycles} "
                  f"({common.engine_label(ENGINE)}, {K} x {M}, batch {args.batch})")
            status = 1
        if not same_out:
            print("MISMATCH: RTL outputs differ from the model's")
            status = 1

    data = {"benchmark": "bench_simspeed", "layer": [K, M], "engine": ENGINE.as_dict(),
            "seed": common.SEED, "batch": args.batch,
            "machine": {"cpus": __import__("os").cpu_count(), "python": platform.python_version()},
            "python_model": py, "verilator": rtl}
    common.write_json("bench_simspeed", data)
    md = [f"# bench_simspeed: Python cycle model vs Verilator, {K} x {M} layer", "",
          f"Generated by `python benchmarks/bench_simspeed.py`. {common.engine_label(ENGINE)}, "
          f"batch {args.batch} ({cycles} simulated cycles). Timings are wall-clock on a shared "
          f"{data['machine']['cpus']}-core machine and vary from run to run.", ""]
    md += [common.md_table(["simulator", "wall s", "simulated cycles", "cycles/s"],
                           [["Python model (run)", f"{t_py:.3f}", cycles, fmt_rate(cycles / t_py)],
                            ["Python model (set-up + run)", f"{t_py + t_setup:.3f}", cycles,
                             fmt_rate(cycles / (t_py + t_setup))]]
                           + ([] if rtl is None else
                              [["Verilator + cocotb (run_rtl, built)", f"{rtl['run_s']:.2f}",
                                rtl["cycles"], fmt_rate(rtl["cycles_per_s"])],
                               ["Verilator + cocotb (test only)",
                                "-" if rtl["cocotb_test_s"] is None else f"{rtl['cocotb_test_s']:.2f}",
                                rtl["cycles"], fmt_rate(rtl["cycles_per_s_cocotb_test"])]])), ""]
    md += [f"Python model, batch {BIG_BATCH}: {py['batch64_ms_per_vector']:.2f} ms per vector "
           f"({fmt_rate(py['batch64_cycles_per_s'])} simulated cycles/s); weight-memory decode "
           f"(once per model) {t_setup:.2f} s."]
    if rtl:
        md += ["", f"Verilator: {rtl['verilator']}. Verilog generation {rtl['verilog_gen_s']:.0f} s "
               f"({rtl['verilog_bytes'] / 1e6:.1f} MB); compile (one-off) "
               + ("not measured" if rtl["compile_s"] is None else f"{rtl['compile_s']:.0f} s")
               + f"; peak child RSS {rtl['peak_child_rss_mb']} MB.",
               f"Python speedup over Verilator: {rtl['python_speedup']:.0f}x (run vs run_rtl)"
               + ("" if rtl["python_speedup_core"] is None else
                  f", {rtl['python_speedup_core']:.0f}x (run vs cocotb test)")
               + f", {rtl['python_speedup_with_setup']:.0f}x (set-up + run vs run_rtl).",
               "Cycles equal: " + ("yes" if rtl["cycles_equal"] else "**NO (MISMATCH)**")
               + "; outputs equal: " + ("yes" if rtl["outputs_equal"] else "**NO (MISMATCH)**") + "."]
    common.write_md("bench_simspeed", "\n".join(md))
    print(f"\nwrote {common.REPORTS / 'bench_simspeed.json'} and {common.REPORTS / 'bench_simspeed.md'}")
    return status


if __name__ == "__main__":
    sys.exit(main())
