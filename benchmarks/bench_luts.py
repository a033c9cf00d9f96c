"""Benchmark 1: LUT cost of the TLMM datapath vs the adder-tree datapath, from Yosys synthesis.

For each (G, T, N) the two datapath components are synthesized on their own with Yosys
``synth_xilinx -family xcup`` (through ``hwgen.synth.synthesize``):

- ``hwgen.rtl.tlmm.TlmmDot(EngineParams("tlmm", G, T, N))``: T tables of G activations, their
  builder, the LUTRAM table replicas and N columns of T signed lookups each;
- ``hwgen.rtl.addertree.AdderTreeDot(EngineParams("addertree", G, T, N))``: N columns adding
  G * T ternary products each.

Both consume G * T activations per cycle for N columns: the same ternary MACs per cycle. The
figure compared is ``lut_equiv`` = logic LUTs + LUTs used as memory (RAM32M16 = 8 LUTs); the goal
is TLMM / adder <= 0.5. Next to each synthesized figure the analytic estimate
(``hwgen.estimate.estimate_resources``: ``dot_lut + lutram_luts``) and its relative error.

For context the whole accelerator (``hwgen.rtl.verilog.accelerator_verilog``) is synthesized for
the digits model (models/digits: 64 -> 64 -> 10) on its tlmm engine and on an adder tree of the
same lanes and columns.

Usage: python benchmarks/bench_luts.py [--jobs 2] [--large] [--timeout SECONDS] [--no-cache]
``--large`` adds (3, 28, 16), the TeLLMe geometry (the adder tree takes ~2 min and ~2 GB in Yosys).
Writes reports/bench_luts.json and reports/bench_luts.md (no timings in them: the content depends
only on the code and the Yosys version). Each design's cell counts are cached in
build/bench/luts/<design>/bench_cache.json, keyed by its Verilog, the synthesis command and the
Yosys version, so a re-run only synthesizes what changed (``--no-cache`` re-runs everything).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

from hwgen.errors import HwgenError  # noqa: E402
from hwgen.estimate import estimate_resources  # noqa: E402
from hwgen.model import load_model  # noqa: E402
from hwgen.plan import Plan  # noqa: E402
from hwgen.synth import FAMILIES, summarize, synthesize  # noqa: E402

FAMILY = "xcup"
CONFIGS = [(2, 6, 8), (3, 4, 8), (4, 3, 8), (3, 8, 16)]
LARGE = [(3, 28, 16)]
GOAL = 0.5
DIGITS = common.ROOT / "models" / "digits" / "digits.yaml"


def dot_plan(eng):
    """A one-layer plan (lanes -> columns) on ``eng``: what ``estimate_resources`` needs."""
    return Plan(common.random_model(eng, [eng.lanes, eng.columns], name="dot"))


def digits_models():
    """The digits model on its own tlmm engine, and on an adder tree of the same lanes/columns."""
    m = load_model(DIGITS)
    e = m.engine
    return {"tlmm": m, "addertree": m.replace(engine=common.addertree(e.lanes, e.columns))}


def _job(task):
    """Worker: write the Verilog of one design and synthesize it. Returns (task, result, seconds)."""
    from amaranth.back import verilog

    kind, what, key = task["kind"], task["what"], task["key"]
    workdir = common.BUILD / "luts" / key
    workdir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    if what == "dot":
        from hwgen.rtl.addertree import AdderTreeDot
        from hwgen.rtl.tlmm import TlmmDot
        eng = common.engine(kind, *task["gtn"])
        comp = TlmmDot(eng) if kind == "tlmm" else AdderTreeDot(eng)
        top, text = "dot", verilog.convert(comp, name="dot", emit_src=False)
    else:
        from hwgen.rtl.verilog import TOP, accelerator_verilog
        top, text = TOP, accelerator_verilog(Plan(digits_models()[kind]))
    src = workdir / f"{top}.v"
    src.write_text(text)
    # cache: the primitives of the last run, keyed by the Verilog, the command and the Yosys version
    key = hashlib.sha256("\0".join([text, FAMILIES[FAMILY][0], task["yosys"]]).encode()).hexdigest()
    cache = workdir / "bench_cache.json"
    if task["cache"] and cache.is_file():
        try:
            c = json.loads(cache.read_text())
            if c.get("key") == key:
                prims = c["primitives"]
                return task, {"summary": summarize(prims, FAMILY), "primitives": prims,
                              "cached": True}, time.perf_counter() - t0
        except (ValueError, KeyError):
            pass
    try:
        r = synthesize([src], top, FAMILY, workdir, timeout=task["timeout"])
        out = {"summary": r["summary"], "primitives": r["primitives"]}
        cache.write_text(json.dumps({"key": key, "primitives": r["primitives"]}) + "\n")
    except HwgenError as e:
        out = {"error": str(e)}
    return task, out, time.perf_counter() - t0


def rel_err(est, actual):
    return None if not actual else round((est - actual) / actual, 3)


def pct(x):
    return "-" if x is None else f"{100 * x:+.0f}%"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--jobs", type=int, default=2, help="parallel Yosys runs (default 2)")
    ap.add_argument("--large", action="store_true", help="also (G, T, N) = (3, 28, 16)")
    ap.add_argument("--timeout", type=float, default=None, help="seconds per Yosys run")
    ap.add_argument("--no-accelerator", action="store_true", help="skip the whole-accelerator runs")
    ap.add_argument("--no-cache", action="store_true",
                    help="re-run Yosys even where build/bench/luts holds a result for the same Verilog")
    args = ap.parse_args(argv)
    version = common.yosys_version()

    configs = CONFIGS + (LARGE if args.large else [])
    tasks = []
    for gtn in configs:
        for kind in ("tlmm", "addertree"):
            tasks.append({"what": "dot", "kind": kind, "gtn": gtn, "timeout": args.timeout,
                          "key": f"dot_{kind}_g{gtn[0]}_t{gtn[1]}_n{gtn[2]}",
                          "weight": gtn[0] * gtn[1] * gtn[2] * (3 if kind == "addertree" else 1)})
    if not args.no_accelerator:
        for kind in ("tlmm", "addertree"):
            tasks.append({"what": "accelerator", "kind": kind, "gtn": None, "timeout": args.timeout,
                          "key": f"accelerator_digits_{kind}", "weight": 10 ** 6})
    for t in tasks:
        t.update(yosys=version, cache=not args.no_cache)
    tasks.sort(key=lambda t: -t["weight"])   # longest first: the pool finishes sooner

    print(f"{version}; {FAMILIES[FAMILY][0]}; {len(tasks)} designs, {args.jobs} jobs", flush=True)
    results = {}
    t_all = time.perf_counter()
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = [pool.submit(_job, t) for t in tasks]
        for f in as_completed(futures):
            task, out, secs = f.result()
            results[task["key"]] = out
            s = out.get("summary")
            msg = f"lut_equiv {s['lut_equiv']}" if s else out["error"]
            if out.get("cached"):
                msg += " (cached result, --no-cache to re-run Yosys)"
            print(f"  {task['key']:<34} {secs:6.1f} s  {msg}", flush=True)
    print(f"synthesis wall time {time.perf_counter() - t_all:.0f} s\n")

    # ---- datapath table ----
    rows, records = [], []
    for g, t, n in configs:
        tl = results[f"dot_tlmm_g{g}_t{t}_n{n}"]
        ad = results[f"dot_addertree_g{g}_t{t}_n{n}"]
        e_tl = estimate_resources(dot_plan(common.engine("tlmm", g, t, n)))
        e_ad = estimate_resources(dot_plan(common.engine("addertree", g, t, n)))
        est_tl = e_tl["dot_lut"] + e_tl["lutram_luts"]
        est_ad = e_ad["dot_lut"] + e_ad["lutram_luts"]
        st, sa = tl.get("summary"), ad.get("summary")
        ratio = round(st["lut_equiv"] / sa["lut_equiv"], 3) if st and sa else None
        rec = {"group": g, "tables": t, "columns": n, "lanes": g * t, "macs_per_cycle": g * t * n,
               "tlmm": {"synth": st, "primitives": tl.get("primitives"), "error": tl.get("error"),
                        "estimate_lut_equiv": est_tl,
                        "estimate_rel_err": rel_err(est_tl, st and st["lut_equiv"])},
               "addertree": {"synth": sa, "primitives": ad.get("primitives"), "error": ad.get("error"),
                             "estimate_lut_equiv": est_ad,
                             "estimate_rel_err": rel_err(est_ad, sa and sa["lut_equiv"])},
               "ratio_tlmm_over_addertree": ratio,
               "meets_goal": None if ratio is None else ratio <= GOAL}
        records.append(rec)
        rows.append([g, t, n, g * t * n,
                     st["lut"] if st else "ERR", st["lutram_luts"] if st else "-",
                     st["lut_equiv"] if st else "-", est_tl, pct(rec["tlmm"]["estimate_rel_err"]),
                     sa["lut_equiv"] if sa else "ERR", est_ad, pct(rec["addertree"]["estimate_rel_err"]),
                     "-" if ratio is None else f"{ratio:.2f}",
                     "-" if ratio is None else ("yes" if ratio <= GOAL else "NO")])
    headers = ["G", "T", "N", "MACs/cyc", "TLMM lut", "TLMM lutram_luts", "TLMM lut_equiv",
               "TLMM est", "est err", "adder lut_equiv", "adder est", "est err", "TLMM/adder",
               f"<= {GOAL}"]
    print("Datapath (dot product) only, Yosys " + FAMILIES[FAMILY][0])
    print(common.text_table(headers, rows))
    for rec in records:
        for kind in ("tlmm", "addertree"):
            if rec[kind]["error"]:
                print(f"ERROR {kind} G={rec['group']} T={rec['tables']} N={rec['columns']}: {rec[kind]['error']}")

    # ---- whole accelerator ----
    acc_rows, acc_records = [], []
    if not args.no_accelerator:
        for kind, model in digits_models().items():
            plan = Plan(model)
            est = estimate_resources(plan)
            r = results[f"accelerator_digits_{kind}"]
            s = r.get("summary")
            rec = {"model": "digits", "engine": model.engine.as_dict(),
                   "layers": [[l.in_features, l.out_features] for l in model.layers],
                   "synth": s, "primitives": r.get("primitives"), "error": r.get("error"),
                   "estimate": {k: est[k] for k in ("lut", "lutram_luts", "lut_equiv", "ff", "bram36")},
                   "estimate_rel_err_lut_equiv": rel_err(est["lut_equiv"], s and s["lut_equiv"])}
            acc_records.append(rec)
            if s:
                acc_rows.append([common.engine_label(model.engine), s["lut"], s["lutram_luts"],
                                 s["lut_equiv"], est["lut_equiv"], pct(rec["estimate_rel_err_lut_equiv"]),
                                 s["ff"], est["ff"], s["bram"], est["bram36"], s["carry"], s["dsp"]])
            else:
                acc_rows.append([common.engine_label(model.engine), "ERR"] + ["-"] * 11)
                print(f"ERROR accelerator {kind}: {r['error']}")
        acc_headers = ["engine", "lut", "lutram_luts", "lut_equiv", "est lut_equiv", "est err",
                       "ff", "est ff", "bram36", "est bram36", "carry4", "dsp"]
        print("\nWhole accelerator, digits model (64 -> 64 -> 10)")
        print(common.text_table(acc_headers, acc_rows))

    data = {"benchmark": "bench_luts", "yosys": version, "family": FAMILY,
            "synth_command": FAMILIES[FAMILY][0], "metric": "lut_equiv = lut + lutram_luts + carry_luts",
            "goal_ratio_max": GOAL, "datapath": records, "accelerator": acc_records}
    common.write_json("bench_luts", data)
    md = [
        "# bench_luts: TLMM vs adder-tree datapath LUTs",
        "",
        f"Generated by `python benchmarks/bench_luts.py{' --large' if args.large else ''}`. "
        f"{version}, `{FAMILIES[FAMILY][0]}`.",
        "",
        "## Datapath (dot-product component only)",
        "",
        "`TlmmDot` vs `AdderTreeDot` at the same lanes (G x T) and columns N, i.e. the same ternary "
        "MACs per cycle. lut_equiv = logic LUTs + LUTs used as memory (RAM32M16 = 8). "
        "\"est\" = `hwgen.estimate` dot_lut + lutram_luts; \"est err\" = (est - synth) / synth. "
        f"Goal: TLMM / adder <= {GOAL}.",
        "",
        common.md_table(headers, rows),
    ]
    if acc_rows:
        md += ["", "## Whole accelerator (digits model, 64 -> 64 -> 10)", "",
               "Memories, sequencer, accumulators and requantization included; the estimate is "
               "`hwgen.estimate.estimate_resources` of the same plan.", "",
               common.md_table(acc_headers, acc_rows)]
    common.write_md("bench_luts", "\n".join(md))
    print(f"\nwrote {common.REPORTS / 'bench_luts.json'} and {common.REPORTS / 'bench_luts.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
