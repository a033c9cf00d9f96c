"""Accelergy-style energy and area reports (REFERENCE.md section 5).

energy = sum over actions of count x energy-per-action(node), in pJ. Energy per action is
Horowitz's 45 nm figure x the node's energy factor (Stillmaker & Baas; interpolated where the
reference has no factor: see ``hwgen/data/asic.yaml``). Actions marked ``scales: false`` (DRAM)
keep their 45 nm value.

area = logic + memory, in mm^2:
  logic  = transistors / (logic density(node) x 1e6) / utilization, with transistors =
           sum over cells of transistors-per-cell (an assumption per Yosys cell type, documented
           in the YAML) and logic density = 138 MTr/mm^2 at 5 nm (REF section 5) scaled by area
           factors to other nodes;
  memory = bits x SRAM bitcell(node) x periphery factor (an assumption, documented in the YAML).
"""

from __future__ import annotations

from hwgen.cost.constants import CostInputError, resolve
from hwgen.cost.nre import _num


def energy_per_action(action: str, node, constants=None) -> dict:
    """Energy of one ``action`` at ``node``: pJ (and pJ_high for ranged actions) and source."""
    c = resolve(constants)
    n = c.node(node)
    if action not in c.actions:
        known = ", ".join(c.actions)
        raise CostInputError(f"unknown action {action!r} (known: {known})",
                             field=f"action_counts.{action}")
    a = c.actions[action]
    factor = n.energy_factor.value if a.scales else 1.0
    if a.scales and n.name != "45nm":
        src = f"{a.source}; x{factor:g} for {n.name} ({n.energy_factor.source})"
    elif a.scales:
        src = a.source
    else:
        src = f"{a.source}; not scaled with the node"
    return {
        "pj": a.pj_45nm * factor,
        "pj_high": (a.pj_45nm_high if a.pj_45nm_high is not None else a.pj_45nm) * factor,
        "factor": factor,
        "source": src,
    }


def energy_report(action_counts: dict, node, constants=None) -> dict:
    """Energy of a run: ``{action: count}`` -> per-action and total pJ at ``node``.

    ``total_pj`` uses each action's central (low) value; ``total_pj_high`` uses the high end of
    ranged actions (DRAM 1,300-2,600 pJ). Counts may be floats (averages) but not negative.
    """
    c = resolve(constants)
    n = c.node(node)
    if not isinstance(action_counts, dict):
        raise CostInputError(f"must be a dict of action -> count, got {type(action_counts).__name__}",
                             field="action_counts")
    rows = {}
    total = total_high = 0.0
    for action, count in action_counts.items():
        k = _num(count, f"action_counts.{action}", positive=False)
        e = energy_per_action(action, n.name, c)
        row = {
            "count": count,
            "pj_per_action": e["pj"],
            "pj": k * e["pj"],
            "pj_high": k * e["pj_high"],
            "source": e["source"],
        }
        rows[action] = row
        total += row["pj"]
        total_high += row["pj_high"]
    return {
        "node": n.name,
        "unit": "pJ",
        "actions": rows,
        "total_pj": total,
        "total_pj_high": total_high,
        "energy_factor": n.energy_factor.value,
        "energy_factor_source": n.energy_factor.source,
    }


def _cell_type(name: str) -> str:
    """``"$_DFFE_PP_"`` -> ``"DFFE"``; ``"and"`` -> ``"AND"``."""
    s = str(name).strip()
    if s.startswith("$_"):
        s = s[2:]
    elif s.startswith("$"):
        s = s[1:]
    return s.split("_", 1)[0].upper()


def area_report(logic_cells, memory_bits=0, node="5nm", constants=None) -> dict:
    """Silicon area of ``logic_cells`` (a count or ``{cell type: count}``) and ``memory_bits``.

    Cell types are Yosys internal cells (``$_AND_``, ``$_DFF_P_`` ...) or bare names (``AND``);
    unknown types and a plain count use the YAML's default transistors per cell.
    """
    c = resolve(constants)
    n = c.node(node)
    per = c.transistors_per_cell
    default = c.transistors_per_cell_default
    unknown = []
    if isinstance(logic_cells, dict):
        cells = 0.0
        transistors = 0.0
        for name, count in logic_cells.items():
            k = _num(count, f"logic_cells.{name}", positive=False)
            t = per.get(_cell_type(name))
            if t is None:
                t = default
                unknown.append(str(name))
            cells += k
            transistors += k * t
    else:
        cells = _num(logic_cells, "logic_cells", positive=False)
        transistors = cells * default
    bits = _num(memory_bits, "memory_bits", positive=False)

    density = c.logic_density(n.name)
    util = c.logic_utilization.value
    logic_mm2 = transistors / (density.value * 1e6) / util
    bitcell = n.sram_bitcell_um2.value
    periphery = c.sram_periphery_factor.value
    memory_mm2 = bits * bitcell * periphery * 1e-6
    return {
        "node": n.name,
        "unit": "mm^2",
        "logic": {
            "cells": cells,
            "transistors": transistors,
            "unknown_cell_types": unknown,
            "density_mtr_per_mm2": density.value,
            "utilization": util,
            "mm2": logic_mm2,
            "sources": {
                "transistors_per_cell": c.transistors_per_cell_source,
                "density": density.source,
                "utilization": c.logic_utilization.source,
            },
        },
        "memory": {
            "bits": bits,
            "bitcell_um2": bitcell,
            "periphery_factor": periphery,
            "mm2": memory_mm2,
            "sources": {
                "bitcell": n.sram_bitcell_um2.source,
                "periphery_factor": c.sram_periphery_factor.source,
            },
        },
        "total_mm2": logic_mm2 + memory_mm2,
    }
