"""Benchmark: the default model through the FPGA flow on every device.

``hwgen build models/digits/digits.yaml --target fpga`` for

- ``ecp5-85k`` at 125 MHz (the performance goal: the digits model must close timing at >= 125 MHz
  after place and route on the ULX3S's LFE5U-85F),
- ``ice40-up5k`` at 24 MHz (iCEBreaker); the default engine needs about 2.5x the UP5K's logic
  cells, so the digits model also runs there on a smaller engine (tlmm G=3 T=2 N=2), and for the
  design that does not fit the accelerator's synthesized resources are still reported,
- ``xcup`` at 250 MHz (Yosys resource counts only: no open place and route for UltraScale+),

each into ``build/bench/fpga/<device>-<model>/`` (bitstream, logs, report.json, report.md). Printed per
device: synthesized resources of the accelerator against the analytic estimate, the placed
design's utilization, the post-route fmax against the clock (PASS/FAIL) with the critical path,
throughput and latency at that frequency, and the run time of each step.

Usage: python benchmarks/bench_fpga.py [--device D ...] [--clock-mhz F] [--model YAML]
Writes reports/bench_fpga.json and reports/bench_fpga.md. Heavy tools run one at a time (one
device after the other); a run takes a few minutes on a shared 2-core machine, most of it
nextpnr-ecp5.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

from hwgen.build import build  # noqa: E402
from hwgen.errors import HwgenError  # noqa: E402
from hwgen.fpga.devices import DEVICES  # noqa: E402
from hwgen.model import load_model  # noqa: E402

DIGITS = common.ROOT / "models" / "digits" / "digits.yaml"
KEYS = ("lut", "ff", "carry", "lutram", "lutram_luts", "lut_equiv", "bram", "uram", "dsp")


#: (label, device, engine override or None): the default model on every device, and on the
#: iCE40 also with an engine small enough for the UP5K (the default engine needs more LCs than it has)
RUNS = [
    ("digits", "ecp5-85k", None),
    ("digits", "ice40-up5k", None),
    ("digits G=3 T=2 N=2", "ice40-up5k", ("tlmm", 3, 2, 2)),
    ("digits", "xcup", None),
]


def resources_only(model, device, work):
    """The accelerator's per-block synthesis and estimate, for a design the device cannot hold."""
    from hwgen.build import write_rtl
    from hwgen.estimate import estimate_resources
    from hwgen.fpga.yosys import synth_blocks
    from hwgen.plan import make_plan
    plan = make_plan(model)
    rtl = write_rtl(plan, work / "rtl")
    dev = DEVICES[device]
    blocks = synth_blocks(rtl, "hwgen_top", dev, work, work / "yosys_blocks.log")
    return {"synthesized": {k: blocks[k] for k in ("blocks", "total")},
            "estimate": estimate_resources(plan, dev.family)}


def run_device(model, label, device, clock_mhz):
    key = label.replace(" ", "_").replace("=", "")
    out = common.BUILD / "fpga" / f"{device}-{key}"
    t0 = time.monotonic()

    def progress(step, seconds):
        print(f"  {label} on {device}: {step}: {seconds:.1f} s", flush=True)

    base = {"label": label, "device": device, "engine": model.engine.as_dict()}
    try:
        _, rep = build(model, target="fpga", out_dir=out, device=device, clock_mhz=clock_mhz,
                       progress=progress)
    except HwgenError as e:
        print(f"  {label} on {device}: error: {e}", flush=True)
        res = {**base, "error": str(e), "seconds": round(time.monotonic() - t0, 1)}
        if "does not fit" in str(e):
            res["resources"] = resources_only(model, device, out.with_name(out.name + "-synth"))
        return res
    f = rep["fpga"]
    return {**base, "out_dir": str(out.relative_to(common.ROOT)),
            "seconds": round(time.monotonic() - t0, 1), "fpga": f}


def _fmt_err(e):
    return "-" if e is None else f"{e * 100:+.0f}%"


def summarize(results):
    text, md = [], []
    rows = []
    for r in results:
        if "error" in r:
            rows.append([r["label"], r["device"], "-", "-", "error", "-", "-", "-", r["seconds"]])
            continue
        f = r["fpga"]
        t = f["timing"]
        perf = f["performance"]
        rows.append([r["label"], r["device"], f"{f['clock_mhz']:g}",
                     "-" if t is None else f"{t['fmax_mhz']:.2f}",
                     "-" if t is None else ("PASS" if t["pass"] else "FAIL"),
                     f"{perf['inferences_per_s']:,.0f}", perf["latency_cycles"], f"{perf['latency_us']:.3f}",
                     r["seconds"]])
    headers = ["model", "device", "clock MHz", "fmax MHz", "timing", "inferences/s", "latency cycles",
               "latency us", "run s"]
    text.append(common.text_table(headers, rows))
    md += ["# FPGA flow on the default model (digits)", "",
           "`python benchmarks/bench_fpga.py`: `hwgen build models/digits/digits.yaml --target fpga` per "
           "device (builds in build/bench/fpga/<device>-<model>/). Throughput and latency at the post-route fmax "
           "(xcup: at the requested clock, no open place and route). Run times on a shared 2-core machine.",
           "", common.md_table(headers, rows), ""]

    for r in results:
        md += [f"## {r['label']} on {r['device']}", ""]
        if "error" in r:
            md += [f"Error: `{r['error']}`", ""]
            text += ["", f"{r['label']} on {r['device']}: error: {r['error']}"]
            if "resources" in r:
                syn, est = r["resources"]["synthesized"], r["resources"]["estimate"]
                rows2 = [[k, syn["blocks"]["dot"].get(k), syn["blocks"]["core"].get(k), syn["total"].get(k),
                          est["total"].get(k)] for k in KEYS]
                rh2 = ["resource", "dot synth", "core synth", "total synth", "total est"]
                text.append(common.text_table(rh2, rows2))
                md += ["Synthesized resources of the accelerator (it does not fit, so nothing was placed):", "",
                       common.md_table(rh2, rows2), ""]
            continue
        f = r["fpga"]
        syn, est, err = (f["resources"]["synthesized"], f["resources"]["estimate"],
                         f["resources"]["relative_error"])
        res_rows = []
        for k in KEYS:
            row = [k]
            for b in ("dot", "core"):
                row += [syn["blocks"][b].get(k), est["blocks"].get(b, {}).get(k),
                        _fmt_err(err["blocks"].get(b, {}).get(k)) if k in err["blocks"].get(b, {}) else "-"]
            row += [syn["total"].get(k), est["total"].get(k),
                    _fmt_err(err["total"].get(k)) if k in err["total"] else "-",
                    f["resources"]["placed"]["synthesis"].get(k)]
            res_rows.append(row)
        rh = ["resource", "dot synth", "dot est", "dot err", "core synth", "core est", "core err",
              "total synth", "total est", "total err", f"placed ({f['top']})"]
        text += ["", f"{r['label']} on {r['device']}: resources (synthesized vs estimate; placed = whole board top)",
                 common.text_table(rh, res_rows)]
        md += ["Resources of the accelerator (`hwgen_top`; Yosys with the module hierarchy kept) against "
               "`hwgen.estimate`, and of the whole placed top:", "", common.md_table(rh, res_rows), ""]
        util = f["resources"]["placed"].get("utilization")
        if util:
            line = ", ".join(f"{k} {v['used']}/{v['available']}" for k, v in util.items())
            text.append(f"{r['label']} on {r['device']}: utilization: {line}")
            md += [f"Utilization after place and route: {line}.", ""]
        t = f["timing"]
        if t is not None:
            cp = t["critical_path"]
            verdict = "PASS" if t["pass"] else "FAIL"
            line = (f"fmax {t['fmax_mhz']:.2f} MHz on {t['core_clock']} ({verdict} at {t['core_clock_mhz']:g} MHz)")
            if cp:
                line += (f"; critical path {cp['delay_ns']:.2f} ns ({cp['logic_ns']:.2f} logic, "
                         f"{cp['routing_ns']:.2f} routing, {cp['logic_levels']} logic levels): "
                         f"{cp['from']} -> {cp['to']}")
            text.append(f"{r['label']} on {r['device']}: {line}")
            md += [line[0].upper() + line[1:] + ".", ""]
        steps = ", ".join(f"{s['step']} {s['seconds']:.1f} s" for s in f["steps"])
        text.append(f"{r['label']} on {r['device']}: steps: {steps}")
        md += [f"Steps: {steps}.", "", "Tools: " + "; ".join(f"{k}: {v}" for k, v in f["tools"].items()) + ".", ""]
    return "\n".join(text), "\n".join(md)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", action="append", choices=list(DEVICES),
                   help="device to run (repeatable; default: all)")
    p.add_argument("--clock-mhz", type=float, help="clock for every device (default: each device's)")
    p.add_argument("--model", default=str(DIGITS), help="model description (default: models/digits)")
    args = p.parse_args(argv)
    base = load_model(args.model)
    results = []
    for label, device, engine in RUNS:
        if args.device and device not in args.device:
            continue
        model = base if engine is None else base.replace(engine=common.engine(*engine),
                                                         name=f"{base.name}_g{engine[1]}t{engine[2]}n{engine[3]}")
        print(f"{label} on {device}:", flush=True)
        results.append(run_device(model, label, device, args.clock_mhz))
    text, md = summarize(results)
    print()
    print(text)
    data = {"model": base.name, "model_file": str(Path(args.model).resolve().relative_to(common.ROOT))
            if Path(args.model).resolve().is_relative_to(common.ROOT) else args.model,
            "results": results}
    print(f"\nwrote {common.write_json('bench_fpga', data)} and {common.write_md('bench_fpga', md)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
