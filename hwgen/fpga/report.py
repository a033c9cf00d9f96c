"""``report.md``: the human-readable form of the ``fpga`` section of report.json."""

from __future__ import annotations

__all__ = ["write_report_md", "render_report_md"]

#: (key, label) of the resource rows, in print order
RESOURCE_ROWS = (
    ("lut", "LUT"), ("ff", "FF"), ("carry", "carry"), ("lutram", "LUTRAM (primitives)"),
    ("lutram_luts", "LUTRAM (LUT sites)"), ("lut_equiv", "LUT-equivalents"), ("bram", "BRAM"),
    ("uram", "URAM"), ("dsp", "DSP"),
)

BRAM_UNIT = {"ecp5": "DP16KD", "ice40": "SB_RAM40_4K", "xcup": "RAMB36"}
URAM_UNIT = {"ecp5": "none on ECP5", "ice40": "SB_SPRAM256KA", "xcup": "URAM288"}


def _num(v):
    if v is None:
        return "-"
    if isinstance(v, float) and not v.is_integer():
        return f"{v:g}"
    return str(int(v)) if isinstance(v, (int, float)) else str(v)


def _pct(v):
    return "-" if v is None else f"{v * 100:+.1f}%"


def _table(headers, rows, align=None):
    align = align or ["---:"] * len(headers)
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def render_report_md(plan, s):
    fam = s["family"]
    out = [f"# FPGA build: {plan.model.name} on {s['device']}", ""]
    out += [f"- part: {s['part']}",
            f"- board: {s['board'] or 'none (the accelerator top alone)'}; placed top `{s['top']}`",
            f"- engine: {plan.engine.kind} (group {plan.engine.group}, tables {plan.engine.tables}, "
            f"columns {plan.engine.columns})",
            f"- requested clock: {s['clock_mhz']:g} MHz", ""]

    out += ["## Timing", ""]
    t = s["timing"]
    if t is None:
        out += ["No open place and route for this device: no post-route frequency. Figures below use "
                "the requested clock.", ""]
    else:
        verdict = "PASS" if t["pass"] else "FAIL"
        pll = "" if abs(t["core_clock_mhz"] - t["requested_mhz"]) < 1e-6 else \
            f" (the PLL's closest output to the requested {t['requested_mhz']:g} MHz)"
        out += [f"Post-route maximum frequency of the core clock `{t['core_clock']}`: "
                f"**{t['fmax_mhz']:.2f} MHz**, {verdict} at {t['core_clock_mhz']:g} MHz{pll} "
                f"(nextpnr seed {t['seed']}).", ""]
        rows = [[f"`{name}`", f"{c['achieved_mhz']:.2f}", f"{c['constraint_mhz']:g}", "pass" if c["pass"] else "FAIL"]
                for name, c in t["clocks"].items()]
        out += [_table(["clock", "fmax (MHz)", "constraint (MHz)", "result"], rows,
                       [":---", "---:", "---:", ":---"]), ""]

    out += ["## Resources", ""]
    r = s["resources"]
    syn, est, err = r["synthesized"], r["estimate"], r["relative_error"]
    out += [f"Synthesized: {syn['basis']}. Estimate: `hwgen.estimate.estimate_resources(plan, "
            f"\"{fam}\")`. Error = (estimate - synthesized) / synthesized. BRAM in "
            f"{BRAM_UNIT.get(fam, 'block RAM')} units; URAM: {URAM_UNIT.get(fam, 'URAM')}.", ""]
    headers = ["resource"]
    for b in ("dot", "core", "total"):
        headers += [f"{b} synth", f"{b} est", f"{b} err"]
    rows = []
    for key, label in RESOURCE_ROWS:
        row = [label]
        for b in ("dot", "core", "total"):
            sv = syn["total"] if b == "total" else syn["blocks"][b]
            ev = est["total"] if b == "total" else est["blocks"].get(b, {})
            ee = err["total"] if b == "total" else err["blocks"].get(b, {})
            row += [_num(sv.get(key)), _num(ev.get(key)), _pct(ee.get(key)) if key in ee else "-"]
        rows.append(row)
    out += [_table(headers, rows, [":---"] + ["---:"] * (len(headers) - 1)), ""]

    p = r["placed"]
    out += [f"Placed design (`{p['top']}`, {p['basis']}): "
            + ", ".join(f"{label} {_num(p['synthesis'].get(k))}" for k, label in RESOURCE_ROWS) + ".", ""]
    if p.get("utilization"):
        rows = [[f"`{bel}`", u["used"], u["available"], f"{100 * u['used'] / u['available']:.1f}%"]
                for bel, u in p["utilization"].items() if u["available"]]
        out += ["Utilization after place and route:", "",
                _table(["site", "used", "available", "share"], rows, [":---", "---:", "---:", "---:"]), ""]

    out += ["## Performance", ""]
    perf = s["performance"]
    out += [f"At {perf['clock_mhz']:g} MHz ({perf['basis']}):", "",
            f"- throughput: {perf['inferences_per_s']:,.1f} inferences/s "
            f"(one vector every {perf['vector_stride_cycles']} cycles, back to back)",
            f"- latency: {perf['latency_cycles']} cycles = {perf['latency_us']:g} us "
            f"(first input beat to last output beat)"]
    at = perf.get("at_core_clock")
    if at:
        caveat = "" if t is None or t["pass"] else \
            " (timing FAILS at that clock: the bitstream is not reliable there)"
        out += [f"- at the bitstream's {at['clock_mhz']:g} MHz core clock: "
                f"{at['inferences_per_s']:,.1f} inferences/s, latency {at['latency_us']:g} us{caveat}"]
    out += [""]
    rows = [[l["name"], l["cycles"], f"{l['us']:g}"] for l in perf["layers"]]
    out += [_table(["layer", "cycles", "us"], rows, [":---", "---:", "---:"]), ""]

    if t is not None and t.get("critical_path"):
        cp = t["critical_path"]
        out += ["## Critical path", "",
                f"`{cp['from']}` -> `{cp['to']}`: {cp['delay_ns']:.2f} ns "
                f"({cp['logic_ns']:.2f} ns logic in {cp['logic_levels']} levels, {cp['routing_ns']:.2f} ns routing).",
                ""]
        rows = []
        total = 0.0
        for st in cp["steps"]:
            total += st["delay_ns"]
            if st["delay_ns"] <= 0:
                continue      # hops inside a slice or carry chain
            rows.append([st["type"], f"{st['delay_ns']:.2f}", f"{total:.2f}", f"`{st['at']}`"])
        out += [_table(["type", "ns", "total", "net / cell"], rows, [":---", "---:", "---:", ":---"]), ""]

    out += ["## Tools", ""] + [f"- {k}: {v}" for k, v in s["tools"].items()] + [""]
    out += ["## Run time", ""]
    out += [_table(["step", "seconds"], [[st["step"], f"{st['seconds']:.1f}"] for st in s["steps"]],
                   [":---", "---:"]), ""]
    out += ["## Files", ""]
    if s.get("bitstream"):
        b = s["bitstream"]
        out += [f"- bitstream: `{b['path']}` ({b['bytes']} bytes, sha256 `{b['sha256']}`)"]
    out += [f"- `{name}`: sha256 `{h}`" for name, h in s["files"].items()]
    out += [f"- log ({k}): `{v}`" for k, v in s["logs"].items()]
    return "\n".join(out).rstrip() + "\n"


def write_report_md(plan, section, path):
    path.write_text(render_report_md(plan, section))
    return path
