"""``hwgen cost``: ASIC energy/area of a model, and Metal-Embedding photomask / NRE estimates.

Three forms (exactly one of MODEL, ``--preset``, ``--params``)::

    hwgen cost MODEL.yaml --node N                 # = hwgen build --target asic, printed
    hwgen cost --preset hnlpu-gpt-oss-120b         # HNLPU's published cost figures, reproduced
    hwgen cost --params 2.4e9 --weights ternary --node 5 [--sparsity 0.4] [--max-die-mm2 A]
               [--other-nre-usd X]                 # hardwiring a model of that size

Common options: ``--constants FILE`` (a user's copy of ``hwgen/data/asic.yaml``), ``--json``
(machine output on stdout), ``-o DIR`` (write ``report.md`` and PNG plots into DIR; each file
is replaced atomically, other files in DIR are left alone).

``--node`` has no default (45, 28, 16, 7, 5 or 3, or any node of the constants file): energy and
area change ~10x across nodes. A preset fixes its own node. Bad input gives one line naming the
option (``hwgen: error: --params: must be > 0, got -1``) and exit code 2.

``--params`` mode: chips, area, photomask cost naive vs Metal-Embedding, re-spin and NRE come from
``hwgen.cost.estimate_model`` (area per weight calibrated on HNLPU); tokens/s and tokens/J from
``hwgen.cost.asic.token_rates`` (scaled from HNLPU's 249,960 tokens/s and 36,226 tokens/kJ by
wired weights and node energy factor; see its docstring for the assumptions).
"""

from __future__ import annotations

import json
import math
import shutil
import sys
import tempfile
from pathlib import Path

from ..errors import HwgenError

#: CostInputError field -> the option the user typed
_FLAGS = {
    "params_count": "--params",
    "weight_bits": "--weights",
    "zero_fraction": "--sparsity",
    "max_die_area_mm2": "--max-die-mm2",
    "other_nre_usd": "--other-nre-usd",
    "node": "--node",
    "preset": "--preset",
    "wired_weights": "--params",
}


def register(subparsers):
    p = subparsers.add_parser(
        "cost", help="ASIC energy/area of a model, or Metal-Embedding mask/NRE cost of a preset "
                     "or of a model size",
        description="hwgen cost MODEL.yaml --node N | --preset NAME | --params N --node N")
    p.add_argument("model", nargs="?", help="model description (YAML): energy and area of its "
                                            "accelerator (like build --target asic)")
    p.add_argument("--preset", help="reproduce a published design's figures "
                                    "(hnlpu-gpt-oss-120b)")
    p.add_argument("--params", help="number of weights of a model to hardwire, e.g. 2.4e9")
    p.add_argument("--weights", help="--params: weight format, 'ternary' (default) or bits (4, 8)")
    p.add_argument("--node", help="process node in nm: 45, 28, 16, 7, 5 or 3 (no default)")
    p.add_argument("--sparsity", help="--params: fraction of zero weights, 0 <= s < 1 "
                                      "(zeros are not wired; default 0)")
    p.add_argument("--max-die-mm2", help="--params: largest die (default: the reticle limit, "
                                         "858 mm^2)")
    p.add_argument("--other-nre-usd", help="--params: NRE besides masks (design, IP ...), US "
                                           "dollars (default 0: not modelled)")
    p.add_argument("--constants", help="constants file (default hwgen/data/asic.yaml)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("-o", "--out", help="write report.md and PNG plots into this folder")
    p.set_defaults(func=cmd_cost)
    return p


# ---------------------------------------------------------------------------------------------
# input checks
# ---------------------------------------------------------------------------------------------


def _number(text, flag, *, positive=True, below_one=False):
    try:
        v = float(str(text).strip().replace("_", ""))
    except ValueError:
        raise HwgenError(f"must be a number, got {text!r}", field=flag) from None
    if not math.isfinite(v):
        raise HwgenError(f"must be finite, got {text!r}", field=flag)
    if positive and v <= 0:
        raise HwgenError(f"must be > 0, got {text}", field=flag)
    if v < 0:
        raise HwgenError(f"must be >= 0, got {text}", field=flag)
    if below_one and v >= 1:
        raise HwgenError(f"must be < 1, got {text}", field=flag)
    return v


def _weights(text):
    if text is None:
        return "ternary"
    s = str(text).strip().lower()
    if s in ("ternary", "1.58", "1.58b", "b1.58"):
        return "ternary"
    try:
        bits = int(s.removesuffix("-bit").removesuffix("bit").removesuffix("b"))
    except ValueError:
        raise HwgenError(f"must be 'ternary' or a whole number of bits, got {text!r}",
                         field="--weights") from None
    if not 1 <= bits <= 32:
        raise HwgenError(f"bits must be in 1..32, got {text!r}", field="--weights")
    return bits


def _flagged(e):
    """A CostInputError from hwgen.cost with its field renamed to the option the user typed."""
    from ..cost import CostInputError
    if isinstance(e, CostInputError) and not e.file and e.field in _FLAGS:
        return HwgenError(e.message, field=_FLAGS[e.field])
    return e


def _only(args, allowed, mode):
    for name, flag in (("preset", "--preset"), ("params", "--params"), ("weights", "--weights"),
                       ("sparsity", "--sparsity"), ("max_die_mm2", "--max-die-mm2"),
                       ("other_nre_usd", "--other-nre-usd"), ("node", "--node")):
        if name not in allowed and getattr(args, name) is not None:
            raise HwgenError(f"not used with {mode}", field=flag)


# ---------------------------------------------------------------------------------------------
# command
# ---------------------------------------------------------------------------------------------


def cmd_cost(args):
    modes = [m for m, v in (("MODEL", args.model), ("--preset", args.preset),
                            ("--params", args.params)) if v is not None]
    if len(modes) != 1:
        what = "got " + " and ".join(modes) if modes else "got none"
        raise HwgenError(f"give exactly one of MODEL.yaml, --preset NAME or --params N ({what})",
                         field="hwgen cost")
    from ..cost import CostInputError, load_constants
    try:
        constants = load_constants(args.constants)
        if args.preset is not None:
            _only(args, {"preset"}, "--preset (a preset fixes its node)")
            result, files = _preset(args, constants)
        elif args.params is not None:
            _only(args, {"params", "weights", "sparsity", "max_die_mm2", "other_nre_usd",
                         "node"}, "--params")
            result, files = _params(args, constants)
        else:
            _only(args, {"node"}, "MODEL.yaml")
            result, files = _model(args, constants)
    except CostInputError as e:
        raise _flagged(e) from None
    if args.json:
        print(json.dumps(result, indent=2, default=_jsonable))
    else:
        print(_text(result))
    if files:
        print(f"hwgen: cost: wrote {', '.join(files)} in {args.out}",
              file=sys.stderr if args.json else sys.stdout)
    return 0


def _jsonable(o):
    if hasattr(o, "item"):
        return o.item()
    return str(o)


def _write_out(out, writer):
    """``writer(folder)`` writes its files into a temporary folder inside ``out``; then each file
    replaces its namesake in ``out``. Other files in ``out`` (a build's RTL ...) are kept, and a
    failure leaves ``out`` as it was."""
    import os
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".hwgen-cost.", dir=out))
    try:
        names = writer(tmp)
        for name in names:
            os.replace(tmp / name, out / name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return names


# ---- MODEL ----------------------------------------------------------------------------------


def _model(args, constants):
    from ..build import write_rtl
    from ..cost.asic import build_asic, check_node
    from ..model import load_model
    from ..plan import make_plan
    node = check_node(args.node, constants).name
    model = load_model(args.model)
    plan = make_plan(model)
    work = Path(tempfile.mkdtemp(prefix="hwgen-cost-"))
    try:
        write_rtl(plan, work / "rtl")
        section = build_asic(plan, work, node=node, constants=constants)
        files = []
        if args.out:
            def writer(folder):
                for name in section["files"]:
                    shutil.copyfile(work / name, folder / name)
                return list(section["files"])
            files = _write_out(args.out, writer)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {"mode": "model", **section}, files


# ---- --preset -------------------------------------------------------------------------------


def _preset(args, constants):
    from ..cost import estimate_model, preset
    from ..cost.asic import token_rates
    try:
        r = preset(args.preset, constants)
    except HwgenError as e:
        raise _flagged(e) from None
    p = constants.preset(args.preset)
    tokens = token_rates(p.weights.value, p.node, constants)
    result = {"mode": "preset", **r, "tokens": tokens}
    files = []
    if args.out:
        nodes = []
        for name in constants.nodes:
            e = estimate_model(p.weights.value, int(p.weight_bits.value), name,
                               constants=constants)
            t = token_rates(p.weights.value, name, constants)
            nodes.append((name, t["energy_per_token_j"] * 1e3, e["design_area_mm2"],
                          e["mask_cost_usd"]["optimistic"], e["mask_cost_usd"]["pessimistic"]))
        files = _write_out(args.out, lambda d: _cost_files(
            d, result, r["node"], r["masks"]["pessimistic"]["chips"], nodes,
            title=f"{r['preset']}", constants=constants))
    return result, files


# ---- --params -------------------------------------------------------------------------------


def _params(args, constants):
    from ..cost import estimate_model
    from ..cost.asic import check_node, token_rates
    params = _number(args.params, "--params")
    weights = _weights(args.weights)
    node = check_node(args.node, constants).name
    sparsity = 0.0 if args.sparsity is None else _number(args.sparsity, "--sparsity",
                                                         positive=False, below_one=True)
    die = None if args.max_die_mm2 is None else _number(args.max_die_mm2, "--max-die-mm2")
    other = 0.0 if args.other_nre_usd is None else _number(args.other_nre_usd,
                                                           "--other-nre-usd", positive=False)
    kw = dict(zero_fraction=sparsity, max_die_area_mm2=die, other_nre_usd=other,
              constants=constants)
    est = estimate_model(params, weights, node, **kw)
    tokens = token_rates(est["wired_weights"], node, constants)
    result = {"mode": "params", **est, "tokens": tokens}
    files = []
    if args.out:
        nodes = []
        for name in constants.nodes:
            e = estimate_model(params, weights, name, **kw)
            t = token_rates(e["wired_weights"], name, constants)
            nodes.append((name, t["energy_per_token_j"] * 1e3, e["design_area_mm2"],
                          e["mask_cost_usd"]["optimistic"], e["mask_cost_usd"]["pessimistic"]))
        files = _write_out(args.out, lambda d: _cost_files(
            d, result, node, est["chips"], nodes,
            title=f"{params:.3g} {est['weight_format']} weights", constants=constants))
    return result, files


# ---- report files ---------------------------------------------------------------------------


def _cost_files(folder, result, node, chips, nodes, *, title, constants):
    from ..cost import node_mask_costs
    from ..cost import plots
    top = max(16, 2 * chips)
    curve = []
    for k in range(1, top + 1):
        m = node_mask_costs(node, chips=k, constants=constants)
        curve.append((k, m["optimistic"]["naive_usd"], m["pessimistic"]["naive_usd"],
                      m["optimistic"]["metal_embedding_usd"],
                      m["pessimistic"]["metal_embedding_usd"]))
    names = ["report.md", "cost_masks.png", "cost_nodes.png"]
    plots.mask_cost_vs_chips(curve, folder / names[1], mark_chips=chips,
                             title=f"{title}: photomask cost at {node}")
    plots.cost_vs_node(nodes, folder / names[2], title=f"{title} across nodes",
                       energy_label="energy per token, mJ", area_label="silicon area, mm^2")
    md = _text(result, markdown=True)
    md += "\n\n## Across nodes\n\n![nodes](cost_nodes.png)\n\n"
    md += ("| node | energy per token, mJ | area, mm^2 | Metal-Embedding masks |\n"
           "|---|---|---|---|\n")
    for name, ej, area, lo, hi in nodes:
        md += f"| {name} | {ej:.4g} | {area:,.1f} | {_musd(lo)}-{_musd(hi)} |\n"
    md += "\n![masks](cost_masks.png)\n"
    (folder / names[0]).write_text(md)
    return names


# ---------------------------------------------------------------------------------------------
# text output
# ---------------------------------------------------------------------------------------------


def _musd(v):
    return f"${v / 1e6:,.2f}M"


def _g(v):
    if isinstance(v, int) or (isinstance(v, float) and v.is_integer() and abs(v) < 1e15):
        return f"{int(v):,}"
    if abs(v) >= 1e4:
        return f"{v:,.0f}"
    return f"{v:.4g}"


def _text(r, markdown=False):
    mode = r["mode"]
    if mode == "model":
        return _text_model(r, markdown)
    if mode == "preset":
        return _text_preset(r, markdown)
    return _text_params(r, markdown)


def _lines(title, rows, markdown):
    if markdown:
        out = [f"# {title}", "", "| figure | value |", "|---|---|"]
        out += [f"| {k} | {v} |" for k, v in rows]
        return "\n".join(out)
    width = max(len(k) for k, _ in rows)
    return "\n".join([f"hwgen: cost: {title}"] + [f"  {k:<{width}}  {v}" for k, v in rows])


def _text_model(r, markdown):
    if markdown:
        return ""
    e, a, m = r["energy"], r["area"], r["masks"]
    rows = [
        ("energy per inference", f"{_g(e['total_pj'])} pJ (on-chip {_g(e['on_chip_pj'])} pJ, "
                                 f"DRAM {_g(e['dram_pj'])} pJ for {r['actions']['dram']['bytes']} "
                                 "bytes in + out)"),
    ]
    for label, b in sorted(e["blocks"].items(), key=lambda kv: -kv[1]["pj"]):
        rows.append((f"  {label}", f"{_g(b['pj'])} pJ"))
    rows.append(("area", f"{_g(a['total_mm2'])} mm^2 (logic {_g(a['logic_mm2'])}, memory "
                         f"{_g(a['memory_mm2'])}; {_g(a['logic_cells'])} cells, "
                         f"{_g(a['memory_bits'])} memory bits)"))
    for label, b in a["blocks"].items():
        rows.append((f"  {label}", f"{_g(b['mm2'])} mm^2"))
    o, p = m["optimistic"], m["pessimistic"]
    rows.append((f"masks ({r['chips']} chip{'s' if r['chips'] != 1 else ''})",
                 f"naive {_musd(o['naive_usd'])}-{_musd(p['naive_usd'])}, Metal-Embedding "
                 f"{_musd(o['metal_embedding_usd'])}-{_musd(p['metal_embedding_usd'])}, re-spin "
                 f"{_musd(o['respin_usd'])}-{_musd(p['respin_usd'])}"))
    if e["unpriced"]:
        rows.append(("not priced", "; ".join(e["unpriced"])))
    return _lines(f"{r['model']} ({r['engine']}) at {r['node']}", rows, markdown)


def _text_preset(r, markdown):
    p = r["masks"]["pessimistic"]
    o = r["masks"]["optimistic"]
    t = r["tokens"]
    rows = [
        ("node, chips", f"{r['node']}, {p['chips']} chips of {r['inputs']['die_area_mm2']:g} mm^2"),
        ("mask set", f"{_musd(o['set_cost_usd'])} (optimistic) .. {_musd(p['set_cost_usd'])} "
                     "(pessimistic)"),
        ("custom share", f"{p['custom_layers']}/{p['duv_equivalents']:g} = "
                         f"{100 * p['custom_share']:.2f}%"),
        ("naive masks", f"{_musd(p['naive_usd'])} ({p['chips']} full sets)"),
        ("Metal-Embedding masks", f"{_musd(p['metal_embedding_usd'])} = "
                                  f"{_musd(p['homogeneous_set_usd'])} + {p['chips']} x "
                                  f"{_musd(p['custom_per_chip_usd'])}"),
        ("re-spin", f"{_musd(p['respin_usd'])}"),
        ("mask reduction", f"{p['reduction_x']:.2f}x; with the {r['inputs']['density_gain']:g}x "
                           f"density gain {r['overall_reduction_x']:.1f}x overall"),
        ("NRE initial", f"{_musd(r['nre']['initial_total_usd']['optimistic'])} .. "
                        f"{_musd(r['nre']['initial_total_usd']['pessimistic'])}"),
        ("NRE re-spin", f"{_musd(r['nre']['respin_total_usd']['optimistic'])} .. "
                        f"{_musd(r['nre']['respin_total_usd']['pessimistic'])}"),
        ("tokens", f"{t['tokens_per_s']:,.0f} tokens/s, {t['tokens_per_j'] * 1e3:,.0f} "
                   f"tokens/kJ, {t['power_w'] / 1e3:.2f} kW (reported, REF section 4)"),
    ]
    out = _lines(f"preset {r['preset']} ({r['source']})", rows, markdown)
    if markdown:
        out += "\n\n| figure | ours | paper | error | ok |\n|---|---|---|---|---|\n"
        out += "\n".join(f"| {c['figure']} | {_g(c['ours'])} | {_g(c['paper'])} | "
                         f"{100 * c['rel_err']:+.2f}% | {'yes' if c['ok'] else 'NO'} |"
                         for c in r["checks"])
    else:
        out += "\n  checks against the paper:"
        for c in r["checks"]:
            out += (f"\n    {c['figure']:<30} ours {_g(c['ours']):>16}  paper "
                    f"{_g(c['paper']):>16}  {100 * c['rel_err']:+7.2f}%  "
                    f"{'ok' if c['ok'] else 'MISMATCH'}")
    return out


def _text_params(r, markdown):
    o, p = r["masks"]["optimistic"], r["masks"]["pessimistic"]
    t = r["tokens"]
    rows = [
        ("model", f"{r['params']:.4g} {r['weight_format']} weights, {100 * r['zero_fraction']:g}% "
                  f"zeros -> {r['wired_weights']:.4g} wired"),
        ("node", r["node"]),
        ("area", f"{r['design_area_mm2']:,.1f} mm^2 ({r['hn_array_mm2']:,.1f} mm^2 hardwired "
                 f"weights); {r['chips']} chip{'s' if r['chips'] != 1 else ''} of "
                 f"{r['die_area_mm2']:,.1f} mm^2 (max {r['max_die_area_mm2']:g})"),
        ("naive masks", f"{_musd(o['naive_usd'])} .. {_musd(p['naive_usd'])}"),
        ("Metal-Embedding masks", f"{_musd(o['metal_embedding_usd'])} .. "
                                  f"{_musd(p['metal_embedding_usd'])}"),
        ("re-spin", f"{_musd(o['respin_usd'])} .. {_musd(p['respin_usd'])}"),
        ("NRE", f"{_musd(r['nre_usd']['optimistic'])} .. {_musd(r['nre_usd']['pessimistic'])} "
                f"(masks + other NRE {_musd(r['other_nre_usd']['pessimistic'])})"),
        ("cost per good die", f"${r['recurring']['cost_per_good_die_usd']:,.0f} (yield "
                              f"{100 * r['recurring']['murphy_yield']:.1f}%)"),
        ("tokens/s", f"{t['tokens_per_s']:,.0f} (assumed equal to HNLPU's)"),
        ("tokens/J", f"{t['tokens_per_j']:,.1f} ({t['energy_per_token_j'] * 1e3:.4g} mJ per "
                     f"token; {t['power_w']:,.1f} W)"),
    ]
    out = _lines(f"hardwiring {r['params']:.4g} weights at {r['node']}", rows, markdown)
    notes = r["assumptions"] + t["assumptions"]
    if markdown:
        out += "\n\n## Assumptions\n\n" + "\n".join(f"- {a}" for a in notes)
        out += "\n\n## Sources\n\n" + "\n".join(f"- **{k}**: {v}" for k, v in {
            **r["masks"]["sources"], **t["sources"]}.items())
    else:
        out += f"\n  tokens: {t['basis']}"
    return out
