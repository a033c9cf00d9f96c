"""Benchmark: the analytic resource estimator (hwgen.estimate) against Yosys synthesis.

Each configuration is a small random ternary model on one engine (tlmm or addertree, with its
G, T, N, read ports) synthesized as a whole accelerator (``hwgen.rtl.verilog.accelerator_verilog``,
top ``hwgen_top``) for one FPGA family with Yosys, *without flattening*, so that the two blocks the
estimator reports can be counted apart:

- ``dot``: the Amaranth module ``hwgen_top.core.dot`` (``TlmmDot`` / ``AdderTreeDot``);
- ``core``: every other module (``hwgen_top.core`` without its ``dot`` instance, the output
  queue ``hwgen_top.queue``, and ``hwgen_top``), grouped by ``hwgen.fpga.yosys.block_of`` as
  ``hwgen build --target fpga`` groups them.

Synthesis: ``hwgen.synth.synthesize(..., flatten=False)``, i.e. ``hwgen.synth``'s command with
the hierarchy kept (``synth_command(family, flatten=False)``: ``synth_xilinx -family xcup
-noiopad``, ``synth_ecp5 -noflatten``, ``synth_ice40 -dsp -noflatten``), the command
``hwgen build --target fpga`` counts its blocks with; per-module primitive counts are summarized
with ``hwgen.synth.summarize`` (so LUT / FF / carry / LUTRAM / BRAM conventions are the same as
hwgen.synth's). ``--flat-check`` additionally synthesizes the FLAT_CHECK configurations flattened
(the ``hwgen.synth`` default) and compares the totals, to show what keeping the hierarchy costs
or saves.

Error metric: relative error = |est - syn| / max(syn, 1) per quantity (0 when both are 0).
Quantities: ``lut`` (logic LUTs; on ECP5 plus the 2 LUT4 sites of each CCU2C carry cell, i.e.
``lut + carry_luts``), ``ff``, ``mem_blocks`` (block RAM: RAMB36 equivalents on xcup, DP16KD on
ECP5, SB_RAM40_4K on iCE40), ``lutram_luts`` (LUTs used as distributed RAM or SRL16E shift
registers), and ``lut_equiv``.
The goal (issue): mean <= 10 % and worst <= 25 % for LUT, FF and memory blocks.

Fitting set and evaluation set. hwgen.estimate's per-family constants (``COEF``: LUT sites per
hardware feature) are fitted by ``--calibrate`` (non-negative least squares on relative error):

- the dot constants on MICRO, the dot block alone (TlmmDot for G = 2, 3, 4 and T = 1 .. 8,
  AdderTreeDot for L = 2 .. 24, each with 1 and 3 columns; iCE40: the smaller ones);
- the core constants on the core blocks of the ``c_*`` configurations (``fit`` = True: small,
  cheap dot blocks, varied columns, layers, row layout and memory depth).

The other 18 configurations (``t_*``, ``a_*``: 41 syntheses over xcup, ECP5 and iCE40) were used
for nothing but this comparison; the summary reports them as ``eval`` (and ``all`` = both).
Flip-flops and memory primitives have no fitted constant at all.

Usage: python benchmarks/bench_estimates.py [--jobs 2] [--only NAME,...] [--families xcup,ecp5,ice40]
                                            [--flat-check] [--timeout S] [--no-synth] [--calibrate]
Synthesis results are cached in build/bench/estimates/cache (or $HWGEN_EST_CACHE) keyed by the sha256 of the
Verilog, the synthesis command and the Yosys version: a design is never synthesized twice. Yosys
runs under ``nice -n 10``. Writes reports/bench_estimates.json and reports/bench_estimates.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

from hwgen.estimate import estimate_resources  # noqa: E402
from hwgen.plan import make_plan  # noqa: E402
from hwgen.errors import HwgenError  # noqa: E402
from hwgen.fpga.yosys import block_cells  # noqa: E402
from hwgen.synth import summarize, synth_command, synthesize  # noqa: E402

CACHE = Path(os.environ.get("HWGEN_EST_CACHE", common.BUILD / "estimates" / "cache"))
WORK = common.BUILD / "estimates"
TOP = "hwgen_top"

#: Non-flattened synthesis commands (hwgen.synth's, hierarchy kept: those of ``hwgen build
#: --target fpga``'s per-block counts).
HIER_CMD = {f: synth_command(f, flatten=False) for f in ("xcup", "ecp5", "ice40")}
GOAL_MEAN, GOAL_WORST = 0.10, 0.25
#: quantities with a goal, and the extra ones printed
GOAL_QUANTITIES = ("lut", "ff", "mem_blocks")
QUANTITIES = ("lut", "ff", "mem_blocks", "lutram_luts", "lut_equiv")

# (name, kind, group, tables-or-lanes, columns, read_ports, layer sizes, families, fit)
# tlmm: (G, T); addertree: G=1, T=lanes. ``fit``: a calibration design, used to fit
# hwgen.estimate's core constants (small dot blocks, varied columns / accumulator width / layers /
# row layout); the others are evaluation configurations, used for nothing but this comparison.
CONFIGS = [
    # ---- evaluation configurations
    ("t_g3t2n4", "tlmm", 3, 2, 4, 4, [24, 16, 10], ("xcup", "ecp5", "ice40"), False),
    ("t_g2t4n4", "tlmm", 2, 4, 4, 4, [32, 24], ("xcup", "ecp5", "ice40"), False),
    ("t_g2t2n8", "tlmm", 2, 2, 8, 4, [16, 16], ("xcup", "ecp5", "ice40"), False),
    ("t_g3t4n8", "tlmm", 3, 4, 8, 4, [64, 64, 10], ("xcup", "ecp5"), False),
    ("t_g4t2n8", "tlmm", 4, 2, 8, 4, [48, 32], ("xcup", "ecp5"), False),
    ("t_g3t8n8", "tlmm", 3, 8, 8, 4, [96, 48], ("xcup", "ecp5"), False),
    ("t_g3t4n16", "tlmm", 3, 4, 16, 4, [48, 64, 16], ("xcup", "ecp5"), False),
    ("t_g2t6n8r2", "tlmm", 2, 6, 8, 2, [48, 40], ("xcup", "ecp5"), False),
    ("t_g3t6n4r1", "tlmm", 3, 6, 4, 1, [72, 20], ("xcup", "ecp5"), False),
    ("t_g3t4n8big", "tlmm", 3, 4, 8, 4, [384, 256], ("xcup", "ecp5"), False),
    ("t_g3t2n4deep", "tlmm", 3, 2, 4, 4, [240, 200, 10], ("xcup", "ecp5"), False),
    ("a_l4n2", "addertree", 1, 4, 2, 4, [16, 8], ("xcup", "ecp5", "ice40"), False),
    ("a_l8n4", "addertree", 1, 8, 4, 4, [32, 16, 10], ("xcup", "ecp5", "ice40"), False),
    ("a_l12n8", "addertree", 1, 12, 8, 4, [64, 64, 10], ("xcup", "ecp5"), False),
    ("a_l16n4", "addertree", 1, 16, 4, 4, [64, 32], ("xcup", "ecp5"), False),
    ("a_l6n16", "addertree", 1, 6, 16, 4, [36, 48, 16], ("xcup", "ecp5"), False),
    ("a_l24n4", "addertree", 1, 24, 4, 4, [96, 24], ("xcup", "ecp5"), False),
    ("a_l8n8big", "addertree", 1, 8, 8, 4, [256, 256], ("xcup", "ecp5"), False),
    # ---- calibration designs for the core (cheap dot blocks)
    ("c_l2n8", "addertree", 1, 2, 8, 4, [16, 64, 10], ("xcup", "ecp5", "ice40"), True),
    ("c_l2n4x3", "addertree", 1, 2, 4, 4, [64, 32, 16, 8], ("xcup", "ecp5", "ice40"), True),
    ("c_l4n8deep", "addertree", 1, 4, 8, 4, [512, 8], ("xcup", "ecp5"), True),
    ("c_l2n2", "addertree", 1, 2, 2, 4, [128, 40, 10], ("xcup", "ecp5", "ice40"), True),
    ("c_t2n8", "tlmm", 2, 1, 8, 4, [20, 40, 24], ("xcup", "ecp5", "ice40"), True),
    ("c_l3n6x3", "addertree", 1, 3, 6, 4, [30, 30, 30, 6], ("xcup", "ecp5", "ice40"), True),
    ("c_t2x8n2", "tlmm", 2, 8, 2, 4, [64, 16], ("xcup", "ecp5", "ice40"), True),
    ("c_t3x6n2", "tlmm", 3, 6, 2, 4, [72, 30, 8], ("xcup", "ecp5"), True),
    ("c_t2x3n12", "tlmm", 2, 3, 12, 4, [30, 48, 12], ("xcup", "ecp5"), True),
    ("c_t2x8n4deep", "tlmm", 2, 8, 4, 4, [512, 64], ("xcup", "ecp5"), True),
    ("c_t2x2n16", "tlmm", 2, 2, 16, 4, [32, 64, 16], ("xcup", "ecp5"), True),
    ("c_t2x6n8", "tlmm", 2, 6, 8, 4, [48, 96, 8], ("xcup", "ecp5"), True),
    ("c_t2x3n4q", "tlmm", 2, 3, 4, 4, [60, 60], ("xcup", "ecp5", "ice40"), True),
]


# Calibration designs: the dot block alone (TlmmDot / AdderTreeDot) at one and three columns, so
# that the per-table (builder) and per-column (lookup adder tree) LUT costs can be separated.
# hwgen.estimate's dot constants were fitted on these (``--calibrate`` re-runs the fit); none of
# them is a benchmark configuration.
MICRO = ([("tlmm", g, t, n) for g in (2, 3, 4) for t in (1, 2, 4, 8) for n in (1, 3)]
         + [("tlmm", g, t, n) for g in (2, 3) for t in (3, 6) for n in (1, 3)]
         + [("tlmm", 3, 5, n) for n in (1, 3)]
         + [("addertree", 1, l, n) for l in (2, 3, 4, 6, 8, 12, 16, 20, 24) for n in (1, 3)])
MICRO_FAMILIES = ("xcup", "ecp5", "ice40")
#: iCE40 calibration: the smaller designs only
MICRO_ICE40 = [m for m in MICRO if m[0] == "addertree" and m[2] in (2, 4, 8)
               or m[0] == "tlmm" and (m[1] <= 3 and m[2] in (1, 2, 4) or m[2] == 1)]


def micro_verilog(kind, g, t, n):
    from amaranth.back import verilog
    from hwgen.engine import EngineParams
    from hwgen.rtl.addertree import AdderTreeDot
    from hwgen.rtl.tlmm import TlmmDot
    e = EngineParams(kind, g, t, n, 4)
    comp = TlmmDot(e) if kind == "tlmm" else AdderTreeDot(e)
    return verilog.convert(comp, name=TOP, emit_src=False)


#: configurations also synthesized flattened with ``--flat-check`` (hwgen.synth's own command)
FLAT_CHECK = ("t_g2t4n4", "t_g3t4n8", "t_g3t6n4r1", "a_l12n8", "a_l8n8big")


def config_model(cfg):
    name, kind, g, t, n, rp, sizes = cfg[:7]
    from hwgen.engine import EngineParams
    eng = EngineParams(kind, g, t, n, rp)
    return common.random_model(eng, sizes, name=name)


def config_label(cfg):
    name, kind, g, t, n, rp, sizes = cfg[:7]
    geo = f"G={g} T={t} N={n} R={rp}" if kind == "tlmm" else f"L={t} N={n}"
    return f"{kind} {geo} {'-'.join(map(str, sizes))}"


# ---------------------------------------------------------------- synthesis (cached)
#: hwgen modules the generated Verilog does not depend on
_NOT_RTL = {"estimate.py", "build.py", "cli.py", "synth.py", "tools.py", "lint.py", "packing.py",
            "importers.py", "golden.py", "__main__.py"}


def _sources_digest():
    """Digest of the Python sources the Verilog depends on (key of the Verilog cache)."""
    h = hashlib.sha256()
    for p in sorted((common.ROOT / "hwgen").rglob("*.py")):
        if p.name in _NOT_RTL or "cost" in p.parts or "rtlsim" in p.parts:
            continue
        h.update(p.relative_to(common.ROOT).as_posix().encode() + b"\0" + p.read_bytes())
    return h.hexdigest()


def design_verilog(cfg, digest):
    """The accelerator Verilog of ``cfg`` (cached by the config and the hwgen sources)."""
    key = hashlib.sha256(json.dumps([list(map(str, cfg[:7])), digest]).encode()).hexdigest()
    path = CACHE / "verilog" / f"{key}.v"
    if path.is_file():
        return path.read_text()
    from hwgen.rtl.verilog import accelerator_verilog
    text = accelerator_verilog(make_plan(config_model(cfg)))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(text)
    tmp.replace(path)
    return text


def yosys_run(text, family, *, flat=False, timeout=None, version=""):
    """Synthesize Verilog ``text`` (top hwgen_top) for ``family`` with ``hwgen.synth.synthesize``
    (hierarchy kept unless ``flat``); per-module primitive counts.

    Returns {"modules": {module: {cell type: n}} (each module's own cells; flat: {TOP: all}),
    "seconds": s, "command": the Yosys synthesis command, "cached": bool}. Results are cached in
    CACHE by sha256(Verilog, command, Yosys version).
    """
    cmd = synth_command(family, flatten=flat)
    key = hashlib.sha256("\0".join([text, cmd, version]).encode()).hexdigest()
    entry = CACHE / f"{key}.json"
    if entry.is_file():
        r = json.loads(entry.read_text())
        r["cached"] = True
        return r
    if os.environ.get("HWGEN_EST_NO_SYNTH"):
        raise RuntimeError("not in the cache (--no-synth)")
    wd = WORK / key[:16]
    wd.mkdir(parents=True, exist_ok=True)
    (wd / "design.v").write_text(text)
    t0 = time.perf_counter()
    try:
        res = synthesize([wd / "design.v"], TOP, family, wd, log_path=wd / "yosys.log",
                         timeout=timeout, flatten=flat)
    except HwgenError as e:
        raise RuntimeError(str(e)) from None
    secs = time.perf_counter() - t0
    r = {"modules": res["modules"], "seconds": round(secs, 1), "command": res["command"]}
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = entry.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(r, sort_keys=True) + "\n")
    tmp.replace(entry)
    r["cached"] = False
    return r


def _nice():
    """Pool worker initializer: Yosys runs (children of the worker) at a lower priority."""
    os.nice(10)


def block_summaries(modules, family):
    """{"dot": summary, "core": summary, "total": summary} from per-module own primitives, the
    modules grouped as ``hwgen build --target fpga`` does (``hwgen.fpga.yosys.block_of``)."""
    per_block, total = block_cells(modules, TOP)
    return {"dot": summarize(per_block["dot"], family), "core": summarize(per_block["core"], family),
            "total": summarize(total, family)}


def measured(s):
    """The benchmark's quantities from a hwgen.synth summary."""
    return {"lut": s["lut"] + s["carry_luts"], "ff": s["ff"], "mem_blocks": s["bram"] + s["uram"],
            "lutram_luts": s["lutram_luts"], "lut_equiv": s["lut_equiv"], "carry": s["carry"],
            "dsp": s["dsp"], "unmapped": s["unmapped"]}


def estimated(e):
    """The same quantities from one block of an estimate."""
    return {"lut": e["lut"] + e.get("carry_luts", 0), "ff": e["ff"],
            "mem_blocks": e["bram"] + e["uram"], "lutram_luts": e["lutram_luts"],
            "lut_equiv": e["lut_equiv"], "carry": e["carry"], "dsp": e["dsp"]}


def _job(task):
    cfg, family, flat = task["cfg"], task["family"], task["flat"]
    text = design_verilog(cfg, task["digest"])
    try:
        r = yosys_run(text, family, flat=flat, timeout=task["timeout"], version=task["version"])
    except (RuntimeError, subprocess.TimeoutExpired) as e:
        return task, {"error": str(e)}
    return task, r


# ---------------------------------------------------------------- calibration
def _micro_job(task):
    m, fam = task["micro"], task["family"]
    try:
        r = yosys_run(micro_verilog(*m), fam, timeout=task["timeout"], version=task["version"])
    except (RuntimeError, subprocess.TimeoutExpired) as e:
        return task, {"error": str(e)}
    return task, r


def _lut_sites(s):
    return s["lut"] + s["carry_luts"]


def _nnls_rel(X, y):
    """Non-negative least squares on relative errors (rows scaled by 1 / y)."""
    import numpy as np
    from scipy.optimize import lsq_linear
    X, y = np.array(X, float), np.array(y, float)
    w = 1.0 / np.maximum(y, 1.0)
    # bounded least squares (scipy's nnls crashes on some underdetermined systems)
    return lsq_linear(X * w[:, None], y * w, bounds=(0, np.inf), method="bvls").x


def fit_coef(micro, cfgs):
    """hwgen.estimate.COEF fitted on synthesis results: ``micro`` {(MICRO entry, family): result}
    (dot constants, per engine kind), ``cfgs`` {(name, family): (config, result)} (core
    constants, on the configurations marked ``fit``)."""
    from hwgen.engine import EngineParams
    from hwgen import estimate as est
    coef = {}
    for fam in MICRO_FAMILIES:
        coef[fam] = {}
        for kind in ("tlmm", "addertree"):
            X, y = [], []
            for m in MICRO:
                r = micro.get((m, fam))
                if m[0] != kind or not r or "modules" not in r:
                    continue
                plan = make_plan(common.random_model(EngineParams(m[0], m[1], m[2], m[3], 4),
                                                     [m[1] * m[2], m[3]]))
                feats = est.dot_features(plan, fam)
                names = sorted(feats)
                X.append([feats[k] for k in names])
                y.append(_lut_sites(block_summaries(r["modules"], fam)["total"]))
            c = _nnls_rel(X, y)
            coef[fam][f"dot_{kind}"] = {k: round(float(v), 4) for k, v in zip(names, c)}
        X, y = [], []
        for (name, f), (cfg, r) in sorted(cfgs.items()):
            if f != fam or not cfg[8] or not r or "modules" not in r:
                continue
            plan = make_plan(config_model(cfg))
            feats = est.core_features(plan, fam)
            names = sorted(feats)
            mem = sum(est.memory_resources(est.map_memory(m, fam), fam)["lut"]
                      for m in est._memories(plan) if m.block == "core")
            X.append([feats[k] for k in names])
            y.append(_lut_sites(block_summaries(r["modules"], fam)["core"]) - mem)
        c = _nnls_rel(X, y)
        coef[fam]["core"] = {k: round(float(v), 4) for k, v in zip(names, c)}
    return coef


def calibrate(args, version, digest):
    """Fit hwgen.estimate.COEF: LUT sites per feature, non-negative least squares.

    dot_tlmm / dot_addertree: on the calibration designs MICRO (the dot block alone, 1 and 3
    columns); core: on the core blocks of the configurations marked ``fit``. Prints COEF (paste
    it into hwgen/estimate.py) and writes it to build/bench/estimates/coef.json.
    """
    tasks = [{"micro": m, "family": f} for f in MICRO_FAMILIES for m in MICRO
             if f != "ice40" or m in MICRO_ICE40]
    tasks += [{"cfg": c, "family": f, "flat": False} for c in CONFIGS if c[8] for f in c[7]]
    for t in tasks:
        t.update(digest=digest, version=version, timeout=args.timeout)
    micro, cfgs = {}, {}
    with ProcessPoolExecutor(max_workers=max(1, args.jobs), initializer=_nice) as pool:
        futs = [pool.submit(_micro_job if "micro" in t else _job, t) for t in tasks]
        for f in as_completed(futs):
            task, r = f.result()
            if "micro" in task:
                micro[(tuple(task["micro"]), task["family"])] = r
            else:
                cfgs[(task["cfg"][0], task["family"])] = (task["cfg"], r)
    coef = fit_coef(micro, cfgs)
    print("COEF = " + json.dumps(coef, indent=4, sort_keys=True))
    WORK.mkdir(parents=True, exist_ok=True)
    (WORK / "coef.json").write_text(json.dumps(coef, indent=1, sort_keys=True) + "\n")
    return 0


# ---------------------------------------------------------------- comparison
def rel_err(est, syn):
    if est == 0 and syn == 0:
        return 0.0
    return abs(est - syn) / max(syn, 1)


def stats(errs):
    errs = [e for e in errs if e is not None]
    if not errs:
        return None
    return {"n": len(errs), "mean": sum(errs) / len(errs), "worst": max(errs)}


def fmt_pct(x):
    return "-" if x is None else f"{100 * x:.1f}%"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--jobs", type=int, default=2, help="parallel Yosys runs (default 2)")
    ap.add_argument("--only", default="", help="comma-separated configuration names")
    ap.add_argument("--families", default="xcup,ecp5,ice40")
    ap.add_argument("--flat-check", action="store_true",
                    help="also synthesize the fitting configurations flattened (hwgen.synth's command)")
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--no-synth", action="store_true", help="use cached results only")
    ap.add_argument("--calibrate", action="store_true",
                    help="fit hwgen.estimate.COEF on the calibration designs and print it")
    args = ap.parse_args(argv)
    only = set(filter(None, args.only.split(",")))
    fams = set(args.families.split(","))
    version = common.yosys_version()
    digest = _sources_digest()
    if args.no_synth:
        os.environ["HWGEN_EST_NO_SYNTH"] = "1"
    if args.calibrate:
        return calibrate(args, version, digest)

    tasks = []
    for cfg in CONFIGS:
        if only and cfg[0] not in only:
            continue
        for fam in cfg[7]:
            if fam in fams:
                tasks.append({"cfg": cfg, "family": fam, "flat": False})
                if args.flat_check and cfg[0] in FLAT_CHECK:
                    tasks.append({"cfg": cfg, "family": fam, "flat": True})
    for t in tasks:
        t.update(digest=digest, version=version, timeout=args.timeout)
    if args.no_synth:
        os.environ["HWGEN_EST_NO_SYNTH"] = "1"

    print(f"{version}; {len(tasks)} syntheses (cached ones are not re-run), {args.jobs} jobs", flush=True)
    results = {}
    t_all = time.perf_counter()
    with ProcessPoolExecutor(max_workers=max(1, args.jobs), initializer=_nice) as pool:
        futs = [pool.submit(_job, t) for t in tasks]
        for f in as_completed(futs):
            task, r = f.result()
            key = (task["cfg"][0], task["family"], task["flat"])
            results[key] = r
            msg = r.get("error") or (f"{r['seconds']:6.1f} s" + (" (cached)" if r["cached"] else ""))
            print(f"  {task['cfg'][0]:<14} {task['family']:<6} {'flat' if task['flat'] else 'hier'}  {msg}",
                  flush=True)
    wall = time.perf_counter() - t_all
    synth_seconds = sum(r.get("seconds", 0) for r in results.values() if "modules" in r)
    print(f"wall time {wall:.0f} s; Yosys time of all results (cached included) {synth_seconds:.0f} s\n")

    records = []
    for cfg in CONFIGS:
        if only and cfg[0] not in only:
            continue
        plan = make_plan(config_model(cfg))
        for fam in cfg[7]:
            r = results.get((cfg[0], fam, False))
            if fam not in fams or r is None:
                continue
            if "error" in r:
                print(f"ERROR {cfg[0]} {fam}: {r['error']}")
                continue
            syn = block_summaries(r["modules"], fam)
            est = estimate_resources(plan, fam)
            rec = {"config": cfg[0], "label": config_label(cfg), "family": fam,
                   "set": "fit" if cfg[8] else "eval", "yosys_seconds": r["seconds"],
                   "blocks": {}}
            for blk in ("dot", "core", "total"):
                m, e = measured(syn[blk]), estimated(est["blocks"][blk] if blk != "total" else est["total"])
                rec["blocks"][blk] = {"synth": m, "estimate": e,
                                      "rel_err": {q: round(rel_err(e[q], m[q]), 4) for q in QUANTITIES}}
            fr = results.get((cfg[0], fam, True))
            if fr and "modules" in fr:
                flat = measured(summarize(fr["modules"][TOP], fam))
                rec["flat_total"] = flat
                rec["flat_rel_err"] = {q: round(rel_err(rec["blocks"]["total"]["estimate"][q], flat[q]), 4)
                                       for q in QUANTITIES}
            records.append(rec)

    report(records, version, wall, synth_seconds)
    return 0


def summary_table(records, blk):
    """{(family or 'all', set or 'all', quantity): stats}."""
    out = {}
    groups = sorted({r["family"] for r in records}) + ["all"]
    for fam in groups:
        for st in ("fit", "eval", "all"):
            sel = [r for r in records if fam in ("all", r["family"]) and st in ("all", r["set"])]
            for q in QUANTITIES:
                s = stats([r["blocks"][blk]["rel_err"][q] for r in sel])
                if s:
                    out[(fam, st, q)] = s
    return out


def report(records, version, wall, synth_seconds):
    headers = ["config", "family", "set", "block"]
    for q in QUANTITIES:
        headers += [f"{q} syn", "est", "err"]
    rows = []
    for r in records:
        for blk in ("dot", "core", "total"):
            b = r["blocks"][blk]
            row = [r["config"], r["family"], r["set"], blk]
            for q in QUANTITIES:
                row += [_num(b["synth"][q]), _num(b["estimate"][q]), fmt_pct(b["rel_err"][q])]
            rows.append(row)
    print("Per configuration (relative error = |est - syn| / max(syn, 1))")
    print(common.text_table(headers, rows))

    sums = {blk: summary_table(records, blk) for blk in ("total", "dot", "core")}
    srows = []
    for blk in ("total", "dot", "core"):
        for (fam, st, q), s in sums[blk].items():
            if st == "fit":
                continue
            srows.append([blk, fam, st, q, s["n"], fmt_pct(s["mean"]), fmt_pct(s["worst"]),
                          ("yes" if s["mean"] <= GOAL_MEAN and s["worst"] <= GOAL_WORST else "NO")
                          if q in GOAL_QUANTITIES else ""])
    sheaders = ["block", "family", "set", "quantity", "n", "mean err", "worst err", "goal met"]
    print("\nSummary (goal: mean <= 10 %, worst <= 25 % for lut, ff, mem_blocks)")
    print(common.text_table(sheaders, srows))

    flat_rows = [[r["config"], r["family"]] + sum(([_num(r["flat_total"][q]),
                 _num(r["blocks"]["total"]["synth"][q]), fmt_pct(r["flat_rel_err"][q])]
                 for q in ("lut", "ff", "mem_blocks", "lutram_luts")), [])
                 for r in records if "flat_total" in r]
    flat_headers = ["config", "family"] + sum(([f"{q} flat", "hier", "est err vs flat"]
                                               for q in ("lut", "ff", "mem_blocks", "lutram_luts")), [])
    if flat_rows:
        print("\nFlattened synthesis (hwgen.synth's command) vs the hierarchical totals")
        print(common.text_table(flat_headers, flat_rows))

    data = {"benchmark": "bench_estimates", "yosys": version, "commands": HIER_CMD,
            "metric": "relative error = |est - syn| / max(syn, 1); 0 when both are 0",
            "goal": {"mean": GOAL_MEAN, "worst": GOAL_WORST, "quantities": list(GOAL_QUANTITIES)},
            "synthesis_seconds": round(synth_seconds, 1),
            "configs": records,
            "summary": {blk: [{"family": f, "set": st, "quantity": q, **{k: round(v, 4) if isinstance(v, float) else v
                                                                          for k, v in s.items()}}
                              for (f, st, q), s in sums[blk].items()] for blk in sums}}
    common.write_json("bench_estimates", data)
    md = ["# bench_estimates: analytic resource estimates vs Yosys synthesis", "",
          f"Generated by `python benchmarks/bench_estimates.py{' --flat-check' if flat_rows else ''}`. "
          f"{version}. Synthesis with the hierarchy kept (`hwgen.synth.synthesize(..., flatten=False)`: "
          f"{', '.join(f'`{c}`' for c in HIER_CMD.values())}, as `hwgen build --target fpga` counts "
          "its blocks) so that the `dot` block (`hwgen_top.core.dot`) and the `core` (every other "
          "module: the core, the output queue, the top) are counted apart. Total Yosys time of "
          f"the results: {synth_seconds:.0f} s.", "",
          "Relative error = |est - syn| / max(syn, 1) (0 when both are 0). `lut` = logic LUTs "
          "(ECP5: + 2 LUT4 per CCU2C); `mem_blocks` = RAMB36 equivalents (xcup), DP16KD (ECP5), "
          "SB_RAM40_4K (iCE40); `lutram_luts` = LUTs used as distributed RAM or shift registers "
          "(SRL16E). Goal: mean <= 10 %, "
          "worst <= 25 % for lut, ff and mem_blocks. `fit` configurations (`c_*`) were used to fit "
          "hwgen.estimate's core constants (its dot constants were fitted on separate dot-only "
          "designs, see the script's docstring); `eval` ones were used for nothing else.", "",
          "## Summary", "", common.md_table(sheaders, srows), "",
          "## Per configuration", "", common.md_table(headers, rows)]
    if flat_rows:
        md += ["", "## Flattened vs hierarchical synthesis", "", common.md_table(flat_headers, flat_rows)]
    common.write_md("bench_estimates", "\n".join(md))
    print(f"\nwrote {common.REPORTS / 'bench_estimates.json'} and {common.REPORTS / 'bench_estimates.md'}")


def _num(x):
    if isinstance(x, float):
        return int(x) if x == int(x) else round(x, 1)
    return x


if __name__ == "__main__":
    sys.exit(main())
