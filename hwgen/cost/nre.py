"""Metal-Embedding photomask and NRE model (HNLPU, arXiv 2508.16151 v2; REFERENCE.md section 4).

Under Metal-Embedding every chip of a multi-chip design shares the same silicon devices and lower
metal: only ``custom_layers`` metal/via masks differ per chip. Costs are weighted by DUV-mask
equivalents (one EUV mask counts ``euv_weight`` DUV masks):

    duv_equivalents   = euv_layers * euv_weight + duv_layers          (5 nm: 12*6 + 58 = 130)
    custom_share      = custom_layers / duv_equivalents                (10/130 = 7.7%)
    homogeneous_share = 1 - custom_share                               (120/130 = 92.3%)
    naive             = chips * set_cost                               (every chip its own set)
    metal_embedding   = set_cost * homogeneous_share + chips * set_cost * custom_share
    respin            = chips * set_cost * custom_share                (new weights, same silicon)

Money is in US dollars (``*_usd``); areas in mm^2. Every function raises
:class:`~hwgen.cost.constants.CostInputError` (a ``ValueError``) with a one-line message naming
the bad field.

What REFERENCE.md section 4 lets us reconstruct of HNLPU's NRE (Table 5): only the photomask
lines (homogeneous set + 16 custom shares). The totals ($59.25-123.3M initial, $18.53-37.06M
re-spin) are given, their other line items (design, verification, IP, ...) are not: here they are
*inputs*, set for the preset to the residual "Table 5 total - modeled masks" and labelled so.
"""

from __future__ import annotations

import math
import numbers

from hwgen.cost.constants import CostInputError, resolve

MUSD = 1e6

# ---------------------------------------------------------------------------------------------
# input checks
# ---------------------------------------------------------------------------------------------


def _num(value, field: str, *, positive=True, integer=False, maximum=None) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise CostInputError(f"must be a number, got {value!r}", field=field)
    value = float(value)
    if not math.isfinite(value):
        raise CostInputError(f"must be finite, got {value!r}", field=field)
    if positive and value <= 0:
        raise CostInputError(f"must be > 0, got {value!r}", field=field)
    if not positive and value < 0:
        raise CostInputError(f"must be >= 0, got {value!r}", field=field)
    if integer and value != int(value):
        raise CostInputError(f"must be a whole number, got {value!r}", field=field)
    if maximum is not None and value > maximum:
        raise CostInputError(f"must be <= {maximum:g}, got {value!r}", field=field)
    return int(value) if integer else float(value)


def _pair(value, field: str) -> tuple[float, float]:
    """A number (low == high) or a (low, high) pair, both >= 0."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise CostInputError(f"must be a number or a (low, high) pair, got {value!r}",
                                 field=field)
        low = _num(value[0], field, positive=False)
        high = _num(value[1], field, positive=False)
        if high < low:
            raise CostInputError(f"high ({high:g}) must be >= low ({low:g})", field=field)
        return low, high
    v = _num(value, field, positive=False)
    return v, v


# ---------------------------------------------------------------------------------------------
# formulas
# ---------------------------------------------------------------------------------------------


def duv_equivalents(euv_layers, duv_layers, euv_weight) -> float:
    """Mask-cost weight of a stack in DUV masks: ``euv_layers * euv_weight + duv_layers``."""
    euv = _num(euv_layers, "euv_layers", positive=False, integer=True)
    duv = _num(duv_layers, "duv_layers", integer=True)
    w = _num(euv_weight, "euv_weight")
    return euv * w + duv


def custom_share(custom_layers, euv_layers, duv_layers, euv_weight) -> float:
    """Share of the mask-set cost that differs per chip: ``custom_layers / duv_equivalents``.

    The custom layers are metal/via masks, counted as DUV masks (as in HNLPU, M8-M11 + vias).
    """
    total = duv_equivalents(euv_layers, duv_layers, euv_weight)
    custom = _num(custom_layers, "custom_layers", positive=False, integer=True)
    if custom > duv_layers:
        raise CostInputError(f"must be <= duv_layers ({duv_layers}), got {custom}",
                             field="custom_layers")
    return custom / total


def chip_count(design_area_mm2, max_die_area_mm2) -> int:
    """Chips needed: ``ceil(design_area / max_die_area)`` (a 1e-9 slack absorbs rounding)."""
    area = _num(design_area_mm2, "design_area_mm2")
    die = _num(max_die_area_mm2, "max_die_area_mm2")
    return max(1, math.ceil(area / die - 1e-9))


def _chips(chips, design_area_mm2, max_die_area_mm2) -> int:
    if chips is not None:
        if design_area_mm2 is not None:
            raise CostInputError("give chips or design_area_mm2, not both", field="chips")
        return _num(chips, "chips", integer=True)
    if design_area_mm2 is None:
        raise CostInputError("give chips or design_area_mm2", field="chips")
    if max_die_area_mm2 is None:
        raise CostInputError("needed with design_area_mm2", field="max_die_area_mm2")
    return chip_count(design_area_mm2, max_die_area_mm2)


def mask_costs(set_cost_usd, *, euv_layers, duv_layers, euv_weight, custom_layers, chips=None,
               design_area_mm2=None, max_die_area_mm2=None) -> dict:
    """Naive vs Metal-Embedding photomask cost for one mask-set price.

    Give ``chips`` directly, or ``design_area_mm2`` and ``max_die_area_mm2``.
    """
    s = _num(set_cost_usd, "set_cost_usd")
    n = _chips(chips, design_area_mm2, max_die_area_mm2)
    total = duv_equivalents(euv_layers, duv_layers, euv_weight)
    share = custom_share(custom_layers, euv_layers, duv_layers, euv_weight)
    homogeneous = s * (1.0 - share)
    custom_per_chip = s * share
    naive = n * s
    me = homogeneous + n * custom_per_chip
    return {
        "chips": n,
        "set_cost_usd": s,
        "duv_equivalents": total,
        "custom_layers": int(custom_layers),
        "custom_share": share,
        "homogeneous_share": 1.0 - share,
        "naive_usd": naive,
        "homogeneous_set_usd": homogeneous,
        "custom_per_chip_usd": custom_per_chip,
        "metal_embedding_usd": me,
        "respin_usd": n * custom_per_chip,
        "reduction_x": naive / me,
    }


def naive_estimate(weights, *, transistors_per_weight, density_mtr_per_mm2, max_die_area_mm2,
                   set_cost_usd) -> dict:
    """Hardwire every weight as a constant-MAC cell grid (REF section 4's straw man).

    area = weights * transistors_per_weight / (density * 1e6); chips = ceil(area / max die);
    masks = chips full sets.
    """
    w = _num(weights, "weights")
    t = _num(transistors_per_weight, "transistors_per_weight")
    d = _num(density_mtr_per_mm2, "density_mtr_per_mm2")
    s = _num(set_cost_usd, "set_cost_usd")
    transistors = w * t
    area = transistors / (d * 1e6)
    chips = chip_count(area, max_die_area_mm2)
    return {
        "weights": w,
        "transistors": transistors,
        "area_mm2": area,
        "max_die_area_mm2": float(max_die_area_mm2),
        "chips": chips,
        "mask_usd": chips * s,
    }


def murphy_yield(die_area_mm2, defect_density_per_cm2) -> float:
    """Murphy's yield model: ``((1 - exp(-A*D0)) / (A*D0))^2`` with A in cm^2."""
    a = _num(die_area_mm2, "die_area_mm2") / 100.0
    d0 = _num(defect_density_per_cm2, "defect_density_per_cm2", positive=False)
    ad = a * d0
    if ad == 0:
        return 1.0
    return ((1.0 - math.exp(-ad)) / ad) ** 2


def dies_per_wafer(die_area_mm2, wafer_diameter_mm=300.0) -> int:
    """Gross dies per wafer: ``floor(pi*(d/2)^2/A - pi*d/sqrt(2*A))`` (edge-loss formula)."""
    a = _num(die_area_mm2, "die_area_mm2")
    d = _num(wafer_diameter_mm, "wafer_diameter_mm")
    n = math.pi * (d / 2.0) ** 2 / a - math.pi * d / math.sqrt(2.0 * a)
    if n < 1:
        raise CostInputError(f"die of {a:g} mm^2 does not fit a {d:g} mm wafer",
                             field="die_area_mm2")
    return math.floor(n)


def recurring_cost(die_area_mm2, *, wafer_usd, defect_density_per_cm2, wafer_diameter_mm=300.0,
                   chips=1) -> dict:
    """Per-die manufacturing cost: wafer price / (gross dies x Murphy yield).

    Wafer price only: test, packaging and the board are not modelled.
    """
    dpw = dies_per_wafer(die_area_mm2, wafer_diameter_mm)
    y = murphy_yield(die_area_mm2, defect_density_per_cm2)
    wafer = _num(wafer_usd, "wafer_usd")
    n = _num(chips, "chips", integer=True)
    good = dpw * y
    per_die = wafer / good
    return {
        "die_area_mm2": float(die_area_mm2),
        "wafer_diameter_mm": float(wafer_diameter_mm),
        "dies_per_wafer": dpw,
        "murphy_yield": y,
        "good_dies_per_wafer": good,
        "wafer_usd": wafer,
        "cost_per_good_die_usd": per_die,
        "chips_per_system": n,
        "cost_per_system_usd": n * per_die,
    }


# ---------------------------------------------------------------------------------------------
# node-level wrappers (constants from the YAML)
# ---------------------------------------------------------------------------------------------


def node_mask_costs(node, *, chips=None, design_area_mm2=None, max_die_area_mm2=None,
                    custom_layers=None, set_cost_usd=None, constants=None) -> dict:
    """Mask costs at ``node`` for the optimistic (low) and pessimistic (high) set price.

    ``set_cost_usd`` (a number or a (low, high) pair) overrides the node's mask-set price;
    ``custom_layers`` overrides the node's custom layer count; ``max_die_area_mm2`` defaults to
    the reticle limit.
    """
    c = resolve(constants)
    n = c.node(node)
    if max_die_area_mm2 is None:
        max_die_area_mm2 = c.reticle_limit_mm2.value
    if set_cost_usd is None:
        low, high = n.mask_set_musd.low * MUSD, n.mask_set_musd.high * MUSD
        price_src = n.mask_set_musd.source
    else:
        low, high = _pair(set_cost_usd, "set_cost_usd")
        price_src = "input"
    cl = n.custom_layers.value if custom_layers is None else custom_layers
    kw = dict(euv_layers=n.mask_stack.euv_layers, duv_layers=n.mask_stack.duv_layers,
              euv_weight=c.euv_weight.value, custom_layers=cl, chips=chips,
              design_area_mm2=design_area_mm2, max_die_area_mm2=max_die_area_mm2)
    return {
        "node": n.name,
        "optimistic": mask_costs(low, **kw),
        "pessimistic": mask_costs(high, **kw),
        "sources": {
            "mask_set_usd": price_src,
            "mask_stack": n.mask_stack.source,
            "euv_weight": c.euv_weight.source,
            "custom_layers": "input" if custom_layers is not None else n.custom_layers.source,
            "max_die_area_mm2": c.reticle_limit_mm2.source,
        },
    }


def nre(node, *, chips=None, design_area_mm2=None, max_die_area_mm2=None, set_cost_usd=None,
        other_initial_usd=0.0, other_respin_usd=0.0, other_basis="input", constants=None) -> dict:
    """NRE line items in the style of HNLPU Table 5, optimistic and pessimistic.

    Only the photomask lines are modelled. ``other_initial_usd`` / ``other_respin_usd`` (a number
    or a (low, high) pair) are everything else (design, verification, IP, ...): inputs.
    """
    m = node_mask_costs(node, chips=chips, design_area_mm2=design_area_mm2,
                        max_die_area_mm2=max_die_area_mm2, set_cost_usd=set_cost_usd,
                        constants=constants)
    oi = _pair(other_initial_usd, "other_initial_usd")
    orr = _pair(other_respin_usd, "other_respin_usd")
    o, p = m["optimistic"], m["pessimistic"]
    n = o["chips"]
    share = f"{o['custom_layers']}/{o['duv_equivalents']:g}"
    initial = [
        {"item": "homogeneous mask set (shared by all chips)",
         "optimistic_usd": o["homogeneous_set_usd"], "pessimistic_usd": p["homogeneous_set_usd"],
         "basis": f"modelled: set cost x (1 - {share})"},
        {"item": f"custom metal/via masks ({n} chips)",
         "optimistic_usd": n * o["custom_per_chip_usd"],
         "pessimistic_usd": n * p["custom_per_chip_usd"],
         "basis": f"modelled: chips x set cost x {share}"},
        {"item": "other NRE (design, verification, IP, ...)",
         "optimistic_usd": oi[0], "pessimistic_usd": oi[1], "basis": other_basis},
    ]
    respin = [
        {"item": f"custom metal/via masks ({n} chips)",
         "optimistic_usd": o["respin_usd"], "pessimistic_usd": p["respin_usd"],
         "basis": f"modelled: chips x set cost x {share}"},
        {"item": "other re-spin NRE", "optimistic_usd": orr[0], "pessimistic_usd": orr[1],
         "basis": other_basis},
    ]

    def total(items, key):
        return sum(i[key] for i in items)

    return {
        "node": m["node"],
        "chips": n,
        "masks": m,
        "initial": initial,
        "initial_total_usd": {"optimistic": total(initial, "optimistic_usd"),
                              "pessimistic": total(initial, "pessimistic_usd")},
        "respin": respin,
        "respin_total_usd": {"optimistic": total(respin, "optimistic_usd"),
                             "pessimistic": total(respin, "pessimistic_usd")},
    }


# ---------------------------------------------------------------------------------------------
# HNLPU preset
# ---------------------------------------------------------------------------------------------


def _check(name, ours, paper, source, *, kind="value", tol=0.01, note=""):
    """One comparison row. kind 'value': |relative error| <= tol; 'at_least': the paper's
    figure is a lower bound ("200+", "over $6B") and ours must not be below it."""
    rel = (ours - paper) / paper
    ok = ours >= paper if kind == "at_least" else abs(rel) <= tol
    return {"figure": name, "ours": ours, "paper": paper, "rel_err": rel, "kind": kind,
            "within_1pct": abs(rel) <= 0.01, "ok": ok, "paper_source": source, "note": note}


def preset(name="hnlpu-gpt-oss-120b", constants=None) -> dict:
    """Reproduce HNLPU's published cost figures from the YAML inputs (REF section 4).

    Returns the inputs, the mask model (optimistic/pessimistic), the naive hardwired estimate,
    NRE line items, recurring cost and ``checks``: each reported figure next to ours.
    """
    c = resolve(constants)
    p = c.preset(name)
    node = c.node(p.node)
    chips = p.chips.value

    masks = node_mask_costs(node.name, chips=chips, constants=c)
    # The chip count also follows from the total area and the per-chip die area.
    chips_from_area = chip_count(p.total_area_mm2.value, p.die_area_mm2.value)
    pess, opt = masks["pessimistic"], masks["optimistic"]

    naive = naive_estimate(
        p.weights.value,
        transistors_per_weight=p.naive_transistors_per_weight.value,
        density_mtr_per_mm2=p.naive_density_mtr_per_mm2.value,
        max_die_area_mm2=c.reticle_limit_mm2.value,
        set_cost_usd=node.mask_set_musd.high * MUSD,
    )
    overall = p.density_gain.value * pess["reduction_x"]

    # NRE: masks modelled; the rest is the residual of Table 5's totals (not reconstructable).
    ti, tr = p.nre_initial_musd, p.nre_respin_musd
    other_initial = (ti.low * MUSD - opt["metal_embedding_usd"],
                     ti.high * MUSD - pess["metal_embedding_usd"])
    other_respin = (tr.low * MUSD - opt["respin_usd"], tr.high * MUSD - pess["respin_usd"])
    for v, what in ((other_initial, "initial"), (other_respin, "respin")):
        if min(v) < 0:
            raise CostInputError(
                f"Table 5 {what} total is below the modelled mask cost",
                file=c.path, field=f"presets.{name}.nre_table5_musd.{what}")
    nre_items = nre(node.name, chips=chips, other_initial_usd=other_initial,
                    other_respin_usd=other_respin, constants=c,
                    other_basis="residual: REF section 4 Table 5 total - modelled masks "
                                "(line items not in REFERENCE.md)")

    rec = recurring_cost(p.die_area_mm2.value, wafer_usd=node.wafer_usd.value,
                         defect_density_per_cm2=node.defect_density_per_cm2.value,
                         wafer_diameter_mm=c.wafer_diameter_mm.value, chips=chips)

    rep = p.reported
    checks = []

    def add(key, ours, kind="value", **kw):
        if key in rep:
            checks.append(_check(key, ours, rep[key].value, rep[key].source, kind=kind, **kw))

    add("naive_mask_usd", pess["naive_usd"])
    add("metal_embedding_usd", pess["metal_embedding_usd"])
    add("homogeneous_set_usd", pess["homogeneous_set_usd"])
    add("custom_per_chip_usd", pess["custom_per_chip_usd"])
    add("respin_usd", pess["respin_usd"])
    add("custom_share", pess["custom_share"])
    add("mask_reduction_x", pess["reduction_x"])
    add("overall_reduction_x", overall)
    add("naive_area_mm2", naive["area_mm2"], tol=0.02,
        note="120e9 x 200 / 138e6 = 173,913 mm^2; the paper's 176,000 implies 202.4 transistors "
             "per weight ('200+' is a lower bound)")
    add("naive_chips", naive["chips"], kind="at_least",
        note="ceil(area / reticle limit 858 mm^2); the paper says '200+'")
    add("naive_mask_usd_estimate", naive["mask_usd"], kind="at_least",
        note="our chips x $30M; the paper rounds to 200 sets x $30M = $6B ('over $6B')")
    add("murphy_yield", rec["murphy_yield"])
    add("dies_per_wafer", rec["dies_per_wafer"])
    checks.append(_check("nre_initial_pessimistic_usd", nre_items["initial_total_usd"]["pessimistic"],
                         ti.high * MUSD, ti.source))
    checks.append(_check("nre_respin_pessimistic_usd", nre_items["respin_total_usd"]["pessimistic"],
                         tr.high * MUSD, tr.source))

    return {
        "preset": p.name,
        "source": p.source,
        "node": node.name,
        "inputs": {
            "chips": chips,
            "chips_from_area": chips_from_area,
            "die_area_mm2": p.die_area_mm2.value,
            "total_area_mm2": p.total_area_mm2.value,
            "hn_array_mm2_per_chip": p.hn_array_mm2_per_chip.value,
            "weights": p.weights.value,
            "weight_bits": p.weight_bits.value,
            "density_gain": p.density_gain.value,
        },
        "masks": masks,
        "naive_hardwired": naive,
        "overall_reduction_x": overall,
        "overall_reduction_basis": "density_gain (input) x naive/Metal-Embedding mask cost",
        "naive_estimate_vs_metal_embedding_x": naive["mask_usd"] / pess["metal_embedding_usd"],
        "nre": nre_items,
        "recurring": rec,
        "checks": checks,
    }


# ---------------------------------------------------------------------------------------------
# user model estimate
# ---------------------------------------------------------------------------------------------


def _bits_and_levels(weight_bits) -> tuple[float, int, str]:
    if isinstance(weight_bits, str):
        if weight_bits.strip().lower() in ("ternary", "1.58", "1.58b", "b1.58"):
            return math.log2(3), 3, "ternary"
        raise CostInputError(f"must be 'ternary' or a whole number of bits, got {weight_bits!r}",
                             field="weight_bits")
    if isinstance(weight_bits, float) and abs(weight_bits - math.log2(3)) < 0.01:
        return math.log2(3), 3, "ternary"
    b = _num(weight_bits, "weight_bits", integer=True, maximum=32)
    return float(b), 2 ** b, f"{b}-bit"


def estimate_model(params_count, weight_bits="ternary", node="5nm", *, zero_fraction=0.0,
                   area_model="per_weight", max_die_area_mm2=None, other_nre_usd=0.0,
                   constants=None) -> dict:
    """Chips, area, mask cost, NRE and per-die cost for hardwiring a user's model.

    Area per weight is calibrated on HNLPU (REF section 4): HN array 573.16 mm^2/chip x 16 chips
    for 120e9 FP4 weights at 5 nm = 7.64e-8 mm^2 (0.0764 um^2) per weight. Assumptions:

    * ``area_model="per_weight"`` (default, conservative): a hardwired weight is one input wire
      routed to one accumulator region, so its area does not depend on the weight's precision.
      ``"per_bit"`` (optimistic) scales it by ``bits / 4`` (ternary: 1.585/4 = 0.40x).
    * zero weights are not wired at all: only ``params * (1 - zero_fraction)`` weights cost area
      (HNLPU's figure is taken per weight of all 120e9, zeros included).
    * other nodes: area per weight x ``area_factor(node) / area_factor(5 nm)``.
    * the rest of each chip (attention, KV cache, I/O) keeps HNLPU's share:
      design area = weight area / (573.16 / 827.08).
    * chips = ceil(design area / max die area) (default: the reticle limit); masks as in
      :func:`node_mask_costs`; NRE = masks + ``other_nre_usd`` (an input, default 0).
    """
    c = resolve(constants)
    n = c.node(node)
    params = _num(params_count, "params_count")
    zf = _num(zero_fraction, "zero_fraction", positive=False)
    if zf >= 1:
        raise CostInputError(f"must be < 1, got {zero_fraction!r}", field="zero_fraction")
    if area_model not in ("per_weight", "per_bit"):
        raise CostInputError(f"must be 'per_weight' or 'per_bit', got {area_model!r}",
                             field="area_model")
    bits, levels, label = _bits_and_levels(weight_bits)
    die_max = c.reticle_limit_mm2.value if max_die_area_mm2 is None else _num(
        max_die_area_mm2, "max_die_area_mm2")

    cal = c.preset(c.model_calibration_preset)
    cal_node = c.node(cal.node)
    mm2_per_weight_cal = cal.hn_array_mm2_per_chip.value * cal.chips.value / cal.weights.value
    node_scale = n.area_factor.value / cal_node.area_factor.value
    mm2_per_weight = mm2_per_weight_cal * node_scale
    hn_fraction = cal.hn_array_mm2_per_chip.value / cal.die_area_mm2.value
    nonzero = params * (1.0 - zf)
    per_bit_scale = bits / cal.weight_bits.value
    hn_area = {"per_weight": nonzero * mm2_per_weight,
               "per_bit": nonzero * mm2_per_weight * per_bit_scale}
    design = {k: v / hn_fraction for k, v in hn_area.items()}
    design_area = design[area_model]
    chips = chip_count(design_area, die_max)
    die_area = design_area / chips

    masks = node_mask_costs(n.name, chips=chips, constants=c)
    oi = _pair(other_nre_usd, "other_nre_usd")
    rec = recurring_cost(die_area, wafer_usd=n.wafer_usd.value,
                         defect_density_per_cm2=n.defect_density_per_cm2.value,
                         wafer_diameter_mm=c.wafer_diameter_mm.value, chips=chips)
    return {
        "node": n.name,
        "params": params,
        "weight_format": label,
        "bits_per_weight": bits,
        "distinct_values": levels,
        "zero_fraction": zf,
        "wired_weights": nonzero,
        "area_model": area_model,
        "mm2_per_weight": mm2_per_weight * (per_bit_scale if area_model == "per_bit" else 1.0),
        "hn_array_mm2": hn_area[area_model],
        "design_area_mm2": design_area,
        "design_area_mm2_by_model": design,
        "max_die_area_mm2": die_max,
        "chips": chips,
        "die_area_mm2": die_area,
        "masks": masks,
        "mask_cost_usd": {"optimistic": masks["optimistic"]["metal_embedding_usd"],
                          "pessimistic": masks["pessimistic"]["metal_embedding_usd"]},
        "respin_usd": {"optimistic": masks["optimistic"]["respin_usd"],
                       "pessimistic": masks["pessimistic"]["respin_usd"]},
        "nre_usd": {"optimistic": masks["optimistic"]["metal_embedding_usd"] + oi[0],
                    "pessimistic": masks["pessimistic"]["metal_embedding_usd"] + oi[1]},
        "other_nre_usd": {"optimistic": oi[0], "pessimistic": oi[1]},
        "recurring": rec,
        "assumptions": [
            f"area per weight calibrated on {cal.name}: {cal.hn_array_mm2_per_chip.value:g} mm^2 x "
            f"{cal.chips.value:g} chips / {cal.weights.value:g} weights = "
            f"{mm2_per_weight_cal:.4g} mm^2 at {cal_node.name} ({cal.source})",
            f"node scaling x{node_scale:.4g} = area_factor({n.name}) / area_factor({cal_node.name}) "
            f"({n.area_factor.source})",
            "per_weight: area independent of weight precision (one wire per weight); per_bit: "
            f"x bits/{cal.weight_bits.value:g} = x{per_bit_scale:.3g}",
            "zero weights take no area (not wired)",
            f"non-weight share of each chip as in {cal.name}: design area = weight area / "
            f"{hn_fraction:.4f}",
            f"max die area {die_max:g} mm^2 ({c.reticle_limit_mm2.source})"
            if max_die_area_mm2 is None else f"max die area {die_max:g} mm^2 (input)",
            "NRE = Metal-Embedding masks + other_nre_usd (input; design/verification/IP not "
            "modelled)",
            c.model_estimate_source,
        ],
    }
