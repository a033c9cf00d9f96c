"""ASIC cost model: energy and area per node, Metal-Embedding mask/NRE cost, per-die cost.

All constants come from ``hwgen/data/asic.yaml`` (or a user's copy passed as ``constants=``),
each with its source. Bad inputs raise :class:`CostInputError`, a ``ValueError`` whose message is
one line naming the field.
"""

from hwgen.cost.constants import (
    DEFAULT_PATH,
    Constants,
    CostInputError,
    load_constants,
    normalize_node,
)
from hwgen.cost.energy import area_report, energy_per_action, energy_report
from hwgen.cost.nre import (
    chip_count,
    custom_share,
    dies_per_wafer,
    duv_equivalents,
    estimate_model,
    mask_costs,
    murphy_yield,
    naive_estimate,
    node_mask_costs,
    nre,
    preset,
    recurring_cost,
)

__all__ = [
    "DEFAULT_PATH",
    "Constants",
    "CostInputError",
    "area_report",
    "chip_count",
    "custom_share",
    "dies_per_wafer",
    "duv_equivalents",
    "energy_per_action",
    "energy_report",
    "estimate_model",
    "load_constants",
    "mask_costs",
    "murphy_yield",
    "naive_estimate",
    "node_mask_costs",
    "normalize_node",
    "nre",
    "preset",
    "recurring_cost",
]
