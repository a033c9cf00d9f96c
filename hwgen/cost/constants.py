"""Load and validate the ASIC cost constants (``hwgen/data/asic.yaml`` or a user's copy).

Every constant the cost model uses comes from that one YAML file, each with a ``source`` string.
A bad file raises :class:`CostInputError` (a ``ValueError``) with one line naming the key, e.g.
``my.yaml: nodes.5nm.area_factor.value: must be > 0, got -1``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from hwgen.errors import HwgenError

DEFAULT_PATH = Path(__file__).resolve().parent.parent / "data" / "asic.yaml"

_NODE_RE = re.compile(r"^\d+(\.\d+)?nm$")


class CostInputError(HwgenError, ValueError):
    """A bad cost-model input or constants file; ``str(err)`` is one line naming the field."""


# --------------------------------------------------------------------------------------------
# Data classes
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sourced:
    """One number and where it comes from."""

    value: float
    source: str


@dataclass(frozen=True)
class Range:
    """A low..high pair (e.g. optimistic..pessimistic mask-set cost) and its source."""

    low: float
    high: float
    source: str


@dataclass(frozen=True)
class Action:
    """Energy of one action at 45 nm (Horowitz); ``scales`` says whether node scaling applies."""

    name: str
    pj_45nm: float
    pj_45nm_high: float | None
    scales: bool
    source: str


@dataclass(frozen=True)
class MaskStack:
    euv_layers: int
    duv_layers: int
    source: str


@dataclass(frozen=True)
class Node:
    name: str
    energy_factor: Sourced
    area_factor: Sourced
    sram_bitcell_um2: Sourced
    mask_set_musd: Range
    wafer_usd: Sourced
    mask_stack: MaskStack
    custom_layers: Sourced
    defect_density_per_cm2: Sourced

    @property
    def nm(self) -> float:
        return float(self.name[:-2])


@dataclass(frozen=True)
class Preset:
    name: str
    source: str
    node: str
    chips: Sourced
    die_area_mm2: Sourced
    total_area_mm2: Sourced
    hn_array_mm2_per_chip: Sourced
    weights: Sourced
    weight_bits: Sourced
    naive_transistors_per_weight: Sourced
    naive_density_mtr_per_mm2: Sourced
    density_gain: Sourced
    nre_initial_musd: Range
    nre_respin_musd: Range
    reported: dict  # name -> Sourced


@dataclass(frozen=True, eq=False)
class Constants:
    path: str
    actions: dict  # name -> Action
    nodes: dict  # "5nm" -> Node
    euv_weight: Sourced
    sram_periphery_factor: Sourced
    logic_density_node: str
    logic_density_mtr_per_mm2: Range  # at logic_density_node
    logic_utilization: Sourced
    transistors_per_cell_default: float
    transistors_per_cell: dict  # upper-case Yosys cell type -> transistors
    transistors_per_cell_source: str
    wafer_diameter_mm: Sourced
    reticle_limit_mm2: Sourced
    model_calibration_preset: str
    model_estimate_source: str
    presets: dict  # name -> Preset

    def node(self, node) -> Node:
        """The constants of ``node`` (``5``, ``"5nm"``, ``"5 nm"`` or ``"N5"``)."""
        name = normalize_node(node)
        if name not in self.nodes:
            known = ", ".join(self.nodes)
            raise CostInputError(f"unknown node {node!r} (known: {known})", field="node")
        return self.nodes[name]

    def logic_density(self, node) -> Sourced:
        """Peak logic density (MTr/mm^2) at ``node``: the reference figure scaled by area factors."""
        n = self.node(node)
        ref = self.nodes[self.logic_density_node]
        value = self.logic_density_mtr_per_mm2.low * ref.area_factor.value / n.area_factor.value
        if n.name == ref.name:
            src = self.logic_density_mtr_per_mm2.source
        else:
            src = (
                f"derived: {self.logic_density_mtr_per_mm2.low:g} MTr/mm^2 at {ref.name} x "
                f"{ref.area_factor.value:g}/{n.area_factor.value:g} (area factors); "
                f"{self.logic_density_mtr_per_mm2.source}"
            )
        return Sourced(value, src)

    def preset(self, name: str) -> Preset:
        if name not in self.presets:
            known = ", ".join(self.presets)
            raise CostInputError(f"unknown preset {name!r} (known: {known})", field="preset")
        return self.presets[name]


def normalize_node(node) -> str:
    """``5`` / ``"5"`` / ``"5nm"`` / ``"5 nm"`` / ``"N5"`` -> ``"5nm"``."""
    if isinstance(node, bool) or not isinstance(node, (int, float, str)):
        raise CostInputError(f"node must be like '5nm' or 5, got {node!r}", field="node")
    if isinstance(node, (int, float)):
        if not math.isfinite(node) or node <= 0:
            raise CostInputError(f"node must be a positive size, got {node!r}", field="node")
        return f"{node:g}nm"
    s = node.strip().lower().replace(" ", "")
    if s.startswith("n") and s[1:2].isdigit():
        s = s[1:]
    if not s.endswith("nm"):
        s += "nm"
    if not _NODE_RE.match(s):
        raise CostInputError(f"node must be like '5nm' or 5, got {node!r}", field="node")
    return s


# --------------------------------------------------------------------------------------------
# Loading and validation
# --------------------------------------------------------------------------------------------


class _Reader:
    """Small helpers that raise one-line errors naming ``file: dotted.key``."""

    def __init__(self, file: str):
        self.file = file

    def fail(self, where: str, message: str):
        raise CostInputError(message, file=self.file, field=where)

    def mapping(self, m, where: str) -> dict:
        if not isinstance(m, dict):
            self.fail(where, f"must be a mapping, got {type(m).__name__}")
        return m

    def get(self, m: dict, key: str, where: str):
        path = f"{where}.{key}" if where else key
        if key not in m:
            self.fail(path, "missing key")
        return m[key], path

    def number(self, m: dict, key: str, where: str, *, minimum=0.0, strict=True, integer=False,
               maximum=None) -> float:
        v, path = self.get(m, key, where)
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            self.fail(path, f"must be a number, got {v!r}")
        if not math.isfinite(v):
            self.fail(path, f"must be finite, got {v!r}")
        if integer and v != int(v):
            self.fail(path, f"must be a whole number, got {v!r}")
        if strict and v <= minimum:
            self.fail(path, f"must be > {minimum:g}, got {v!r}")
        if not strict and v < minimum:
            self.fail(path, f"must be >= {minimum:g}, got {v!r}")
        if maximum is not None and v > maximum:
            self.fail(path, f"must be <= {maximum:g}, got {v!r}")
        return int(v) if integer else float(v)

    def source(self, m: dict, where: str) -> str:
        v, path = self.get(m, "source", where)
        if not isinstance(v, str) or not v.strip():
            self.fail(path, "must be a non-empty string")
        return v.strip()

    def sourced(self, parent: dict, key: str, where: str, **kw) -> Sourced:
        m, path = self.get(parent, key, where)
        m = self.mapping(m, path)
        return Sourced(self.number(m, "value", path, **kw), self.source(m, path))

    def range_(self, parent: dict, key: str, where: str, lo="low", hi="high") -> Range:
        m, path = self.get(parent, key, where)
        m = self.mapping(m, path)
        low = self.number(m, lo, path)
        high = self.number(m, hi, path)
        if high < low:
            self.fail(f"{path}.{hi}", f"must be >= {lo} ({low:g}), got {high:g}")
        return Range(low, high, self.source(m, path))


def load_constants(path=None) -> Constants:
    """Load and validate a constants file (default: the shipped ``hwgen/data/asic.yaml``)."""
    if path is None:
        return _load_default()
    return _load(Path(path))


@lru_cache(maxsize=1)
def _load_default() -> Constants:
    return _load(DEFAULT_PATH)


def _load(path: Path) -> Constants:
    file = str(path)
    r = _Reader(file)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise CostInputError(f"cannot read constants file: {e.strerror or e}", file=file) from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else None
        problem = getattr(e, "problem", None) or "invalid YAML"
        raise CostInputError(f"invalid YAML: {problem}", file=file, field=where) from None
    raw = r.mapping(raw, "(top level)")
    r.number(raw, "schema", "", integer=True)

    # energy table
    energy, _ = r.get(raw, "energy_45nm", "")
    energy = r.mapping(energy, "energy_45nm")
    if not energy:
        r.fail("energy_45nm", "must list at least one action")
    actions = {}
    for name, entry in energy.items():
        where = f"energy_45nm.{name}"
        entry = r.mapping(entry, where)
        pj = r.number(entry, "pj", where)
        pj_high = None
        if "pj_high" in entry:
            pj_high = r.number(entry, "pj_high", where)
            if pj_high < pj:
                r.fail(f"{where}.pj_high", f"must be >= pj ({pj:g}), got {pj_high:g}")
        scales = entry.get("scales", True)
        if not isinstance(scales, bool):
            r.fail(f"{where}.scales", f"must be true or false, got {scales!r}")
        actions[str(name)] = Action(str(name), pj, pj_high, scales, r.source(entry, where))

    # global
    g, _ = r.get(raw, "global", "")
    g = r.mapping(g, "global")
    euv_weight = r.sourced(g, "euv_weight", "global")
    periphery = r.sourced(g, "sram_periphery_factor", "global", minimum=1.0, strict=False)
    ld, _ = r.get(g, "logic_density", "global")
    ld = r.mapping(ld, "global.logic_density")
    ld_node_raw, _ = r.get(ld, "node", "global.logic_density")
    ld_node = _node_key(r, ld_node_raw, "global.logic_density.node")
    logic_density = r.range_(g, "logic_density", "global", lo="mtr_per_mm2", hi="mtr_per_mm2_high")
    utilization = r.sourced(g, "logic_utilization", "global", maximum=1.0)
    tpc, _ = r.get(g, "transistors_per_cell", "global")
    tpc = r.mapping(tpc, "global.transistors_per_cell")
    tpc_default = r.number(tpc, "default", "global.transistors_per_cell")
    by_type_raw, _ = r.get(tpc, "by_type", "global.transistors_per_cell")
    by_type_raw = r.mapping(by_type_raw, "global.transistors_per_cell.by_type")
    by_type = {
        str(k).upper(): r.number(by_type_raw, k, "global.transistors_per_cell.by_type")
        for k in by_type_raw
    }
    tpc_source = r.source(tpc, "global.transistors_per_cell")
    wafer_diameter = r.sourced(g, "wafer_diameter_mm", "global")
    reticle = r.sourced(g, "reticle_limit_mm2", "global")

    # nodes
    nodes_raw, _ = r.get(raw, "nodes", "")
    nodes_raw = r.mapping(nodes_raw, "nodes")
    if not nodes_raw:
        r.fail("nodes", "must list at least one node")
    nodes = {}
    for key, entry in nodes_raw.items():
        name = _node_key(r, key, f"nodes.{key}")
        where = f"nodes.{key}"
        entry = r.mapping(entry, where)
        ms, ms_where = r.get(entry, "mask_stack", where)
        ms = r.mapping(ms, ms_where)
        stack = MaskStack(
            r.number(ms, "euv_layers", ms_where, integer=True, strict=False),
            r.number(ms, "duv_layers", ms_where, integer=True),
            r.source(ms, ms_where),
        )
        custom = r.sourced(entry, "custom_layers", where, integer=True)
        if custom.value > stack.duv_layers:
            r.fail(f"{where}.custom_layers.value",
                   f"must be <= mask_stack.duv_layers ({stack.duv_layers}), got {custom.value:g}")
        nodes[name] = Node(
            name=name,
            energy_factor=r.sourced(entry, "energy_factor", where),
            area_factor=r.sourced(entry, "area_factor", where),
            sram_bitcell_um2=r.sourced(entry, "sram_bitcell_um2", where),
            mask_set_musd=r.range_(entry, "mask_set_musd", where),
            wafer_usd=r.sourced(entry, "wafer_usd", where),
            mask_stack=stack,
            custom_layers=custom,
            defect_density_per_cm2=r.sourced(entry, "defect_density_per_cm2", where,
                                              strict=False),
        )
    nodes = dict(sorted(nodes.items(), key=lambda kv: -kv[1].nm))
    if ld_node not in nodes:
        r.fail("global.logic_density.node", f"node {ld_node!r} is not listed under nodes")

    # presets
    presets_raw, _ = r.get(raw, "presets", "")
    presets_raw = r.mapping(presets_raw, "presets")
    presets = {}
    for pname, entry in presets_raw.items():
        where = f"presets.{pname}"
        entry = r.mapping(entry, where)
        pnode_raw, _ = r.get(entry, "node", where)
        pnode = _node_key(r, pnode_raw, f"{where}.node")
        if pnode not in nodes:
            r.fail(f"{where}.node", f"node {pnode!r} is not listed under nodes")
        nre, nre_where = r.get(entry, "nre_table5_musd", where)
        nre = r.mapping(nre, nre_where)
        rep, rep_where = r.get(entry, "reported", where)
        rep = r.mapping(rep, rep_where)
        chips = r.sourced(entry, "chips", where, integer=True)
        presets[str(pname)] = Preset(
            name=str(pname),
            source=r.source(entry, where),
            node=pnode,
            chips=chips,
            die_area_mm2=r.sourced(entry, "die_area_mm2", where),
            total_area_mm2=r.sourced(entry, "total_area_mm2", where),
            hn_array_mm2_per_chip=r.sourced(entry, "hn_array_mm2_per_chip", where),
            weights=r.sourced(entry, "weights", where),
            weight_bits=r.sourced(entry, "weight_bits", where),
            naive_transistors_per_weight=r.sourced(entry, "naive_transistors_per_weight", where),
            naive_density_mtr_per_mm2=r.sourced(entry, "naive_density_mtr_per_mm2", where),
            density_gain=r.sourced(entry, "density_gain", where),
            nre_initial_musd=r.range_(nre, "initial", nre_where),
            nre_respin_musd=r.range_(nre, "respin", nre_where),
            reported={str(k): r.sourced(rep, k, rep_where) for k in rep},
        )
        p = presets[str(pname)]
        if p.hn_array_mm2_per_chip.value > p.die_area_mm2.value:
            r.fail(f"{where}.hn_array_mm2_per_chip.value",
                   f"must be <= die_area_mm2 ({p.die_area_mm2.value:g})")

    me, me_where = r.get(raw, "model_estimate", "")
    me = r.mapping(me, me_where)
    calib, calib_where = r.get(me, "calibration_preset", me_where)
    if str(calib) not in presets:
        r.fail(calib_where, f"preset {calib!r} is not listed under presets")

    return Constants(
        path=file,
        actions=actions,
        nodes=nodes,
        euv_weight=euv_weight,
        sram_periphery_factor=periphery,
        logic_density_node=ld_node,
        logic_density_mtr_per_mm2=logic_density,
        logic_utilization=utilization,
        transistors_per_cell_default=tpc_default,
        transistors_per_cell=by_type,
        transistors_per_cell_source=tpc_source,
        wafer_diameter_mm=wafer_diameter,
        reticle_limit_mm2=reticle,
        model_calibration_preset=str(calib),
        model_estimate_source=r.source(me, me_where),
        presets=presets,
    )


def _node_key(r: _Reader, value, where: str) -> str:
    try:
        return normalize_node(value)
    except CostInputError as e:
        r.fail(where, e.message)


def resolve(constants) -> Constants:
    """``None`` -> the shipped constants; a path -> that file loaded; a Constants -> itself."""
    if constants is None:
        return load_constants()
    if isinstance(constants, Constants):
        return constants
    if isinstance(constants, (str, Path)):
        return load_constants(constants)
    raise CostInputError(
        f"must be None, a path or a Constants, got {type(constants).__name__}", field="constants"
    )
