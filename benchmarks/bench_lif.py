"""Benchmark: the LIF core, event-driven vs dense.

1. Cycles per timestep at input activity 1%, 10% and 50% (independent Bernoulli input spikes,
   fixed seed, 8 samples x 16 timesteps) in event mode, against dense mode on the same core, as
   ratios dense / event. The goal: at 10% activity at least 5x fewer cycles than dense. Counts
   come from the cycle-accurate simulator (``hwgen.lif.LifSimulator``), whose counts the RTL
   regression (rtl_tests/test_lif.py) checks cycle for cycle in Verilator.
2. Synaptic operations per cycle (spiking input x real neuron pairs per timestep / cycles per
   timestep) and LUTs per neuron after Yosys 0.23 synthesis of the whole top (``hwgen_top``) for
   ECP5 (``synth_ecp5``) and UltraScale+ (``synth_xilinx -family xcup``), event and dense.

Models: ``layer256`` (one layer 256 -> 128, neurons 8, lanes 32), ``layer1024`` (1024 -> 256,
neurons 16, lanes 64, cycles only) and the shipped ``digits_snn`` (64 -> 64 -> 10; there input
activity is set, hidden activity follows from the network).

Usage: python benchmarks/bench_lif.py [--no-synth]. Writes reports/bench_lif.json and .md.
Synthesis results are cached in build/bench/lif/<hash>/ by Verilog text, family and Yosys version.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

import numpy as np  # noqa: E402

from hwgen.lif import LifEngine, LifPlan, LifSimulator, lif_layer, make_lif_model  # noqa: E402
from hwgen.model import load_model  # noqa: E402
from hwgen.rtl.verilog import TOP, accelerator_verilog  # noqa: E402

ACTIVITIES = (0.01, 0.1, 0.5)
SAMPLES, T = 8, 16
FAMILIES = ("ecp5", "xcup")


def layer_model(name, k, n, neurons, lanes, mode, seed=common.SEED):
    rng = np.random.default_rng(seed)
    w = rng.integers(-1, 2, (n, k))
    return make_lif_model(name, k, [lif_layer("l0", w, 8, leak_shift=4, membrane_bits=16)],
                          neurons=neurons, lanes=lanes, mode=mode)


def with_mode(model, mode):
    e = model.engine
    return model.replace(engine=LifEngine("lif", e.neurons, e.lanes, mode))


def models():
    digits = load_model(common.ROOT / "models/digits_snn/digits_snn.yaml")
    return {
        "layer256": layer_model("layer256", 256, 128, 8, 32, "event"),
        "layer1024": layer_model("layer1024", 1024, 256, 16, 64, "event"),
        "digits_snn": with_mode(digits, "event"),
    }


def synaptic_ops(model, x):
    """Real synaptic operations: per timestep and layer, spiking inputs x real neurons."""
    from hwgen.lif import lif_golden
    ops = 0
    a = x
    for i, l in enumerate(model.layers):
        ops += int(a.sum()) * l.out_features
        if i < len(model.layers) - 1:
            sub = make_lif_model("p", model.in_features, model.layers[:i + 1], model.engine.neurons,
                                 model.engine.lanes)
            a = lif_golden(sub, x)[0]
    return ops


def cycles_rows():
    rows, data = [], []
    rng = np.random.default_rng(common.SEED + 7)
    for name, model in models().items():
        dense_plan = LifPlan(with_mode(model, "dense"))
        dense = dense_plan.vector_stride
        for act in ACTIVITIES:
            x = (rng.random((SAMPLES, T, model.in_features)) < act).astype(np.uint8)
            r = LifSimulator(model).run(x)
            ev = float(r.timestep_cycles.mean())
            sops = synaptic_ops(model, x) / (SAMPLES * T)
            rec = {"model": name, "activity": act, "event_cycles_per_timestep": round(ev, 2),
                   "dense_cycles_per_timestep": dense, "dense_over_event": round(dense / ev, 2),
                   "synaptic_ops_per_timestep": round(sops, 1),
                   "sops_per_cycle_event": round(sops / ev, 3), "sops_per_cycle_dense": round(sops / dense, 3),
                   "peak_sops_per_cycle": model.engine.neurons}
            data.append(rec)
            rows.append([name, f"{act:.0%}", rec["event_cycles_per_timestep"], dense, rec["dense_over_event"],
                         rec["sops_per_cycle_event"], rec["sops_per_cycle_dense"]])
    return rows, data


def synth(model, family, no_cache=False):
    from hwgen.synth import synthesize
    plan = LifPlan(model)
    text = accelerator_verilog(plan)
    key = hashlib.sha256((text + family + common.yosys_version()).encode()).hexdigest()[:16]
    work = common.BUILD / "lif" / key
    cache = work / "bench_cache.json"
    if cache.exists() and not no_cache:
        return json.loads(cache.read_text())
    work.mkdir(parents=True, exist_ok=True)
    (work / "design.v").write_text(text)
    t0 = time.time()
    res = synthesize([work / "design.v"], TOP, family, work)
    out = {"summary": res["summary"], "seconds": round(time.time() - t0, 1)}
    cache.write_text(json.dumps(out))
    return out


def synth_rows(no_cache=False):
    rows, data = [], []
    for name in ("layer256", "digits_snn"):
        base = models()[name]
        neurons = sum(l.out_features for l in base.layers)
        for mode in ("event", "dense"):
            model = with_mode(base, mode)
            for fam in FAMILIES:
                s = synth(model, fam, no_cache)["summary"]
                rec = {"model": name, "mode": mode, "family": fam, "neurons": neurons,
                       "lut": s["lut"], "lut_equiv": s["lut_equiv"], "ff": s["ff"], "bram": s["bram"],
                       "lutram_luts": s["lutram_luts"], "carry": s["carry"],
                       "luts_per_neuron": round(s["lut_equiv"] / neurons, 2)}
                data.append(rec)
                rows.append([name, mode, fam, neurons, s["lut_equiv"], s["ff"], s["bram"], rec["luts_per_neuron"]])
    return rows, data


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--no-synth", action="store_true", help="cycles only (no Yosys)")
    ap.add_argument("--no-cache", action="store_true")
    args = ap.parse_args()
    crow, cdata = cycles_rows()
    ch = ["model", "activity", "event cyc/ts", "dense cyc/ts", "dense/event", "SOP/cyc event", "SOP/cyc dense"]
    print("Cycles per timestep, event vs dense (same core)")
    print(common.text_table(ch, crow))
    goal = [d for d in cdata if d["activity"] == 0.1]
    ok = all(d["dense_over_event"] >= 5 for d in goal)
    print(f"goal (10% activity: >= 5x fewer cycles than dense): {'met' if ok else 'NOT met'} "
          "(" + ", ".join(f"{d['model']} {d['dense_over_event']}x" for d in goal) + ")")
    report = {"activities": ACTIVITIES, "samples": SAMPLES, "timesteps": T, "cycles": cdata, "goal_10pct_5x": ok}
    md = ["# LIF core: event-driven vs dense", "",
          "Generated by `benchmarks/bench_lif.py`. Cycles from the cycle-accurate simulator (checked against "
          "the RTL cycle for cycle by rtl_tests/test_lif.py); independent Bernoulli input spikes, "
          f"{SAMPLES} samples x {T} timesteps.", "",
          "## Cycles per timestep", "", common.md_table(ch, crow), "",
          f"Goal at 10% activity (>= 5x fewer cycles than dense): **{'met' if ok else 'not met'}**.", ""]
    if not args.no_synth:
        srow, sdata = synth_rows(args.no_cache)
        sh = ["model", "mode", "family", "neurons", "LUT-equiv", "FF", "BRAM", "LUTs/neuron"]
        print("\nYosys 0.23 synthesis of hwgen_top")
        print(common.text_table(sh, srow))
        report["synthesis"] = sdata
        report["yosys"] = common.yosys_version()
        md += ["## Synthesis (Yosys, whole top)", "", common.md_table(sh, srow), "",
               "LUT-equiv = logic LUTs + LUTs used as memory (+ carry LUT sites on ECP5); BRAM in RAMB36 "
               "(xcup) or DP16KD (ecp5) units. `digits_snn` has 74 neurons (64 + 10).", ""]
    common.write_json("bench_lif", report)
    common.write_md("bench_lif", "\n".join(md))


if __name__ == "__main__":
    main()
