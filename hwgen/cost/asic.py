"""``hwgen build --target asic``: energy per inference and area of the generated accelerator.

``build_asic(plan, out_dir, node=N)`` is called by ``hwgen.build.build`` with the staged build
folder (``out_dir/rtl/hwgen_top.v`` already written). It

1. counts the actions of one inference from the plan (``hwgen.cost.actions``) and prices them
   with the energy table of ``hwgen/data/asic.yaml`` scaled to the node (:func:`price_actions`);
2. synthesizes the Verilog with Yosys's generic ``synth`` flow (:func:`synthesize_generic`) and
   prices the logic cells (transistors per cell / logic density) and the memories (bits x
   bitcell x periphery) at the node (:func:`area_from_synthesis`);
3. adds the photomask cost at the node for the resulting chip count (naive vs Metal-Embedding),
   and the same energy/area/mask figures at every node of the constants file;
4. writes ``report.md`` (``asic.md`` if a ``report.md`` is already there) and four PNGs
   (``asic_energy.png``, ``asic_area.png``, ``asic_masks.png``, ``asic_nodes.png``) into
   ``out_dir`` and returns the JSON section stored as ``report.json["asic"]``.

Node: there is no default. ``node=None`` or a node missing from the constants file raises a
one-line :class:`HwgenError` naming ``--node`` (energy and area differ ~10x between 45 nm and
5 nm: a silent default would make reports easy to misread).

Memories are counted as memory, not as logic: the synthesis keeps them as ``$mem_v2`` cells
(see :data:`SYNTH_SCRIPT`) and their bits are priced with the SRAM bitcell.
"""

from __future__ import annotations

import math
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from hwgen.cost.actions import MEMORY_BLOCKS, action_counts
from hwgen.cost.constants import CostInputError, resolve
from hwgen.cost.energy import area_report, energy_per_action
from hwgen.cost.nre import chip_count, node_mask_costs
from hwgen.errors import HwgenError
from hwgen.tools import find_tool

__all__ = ["build_asic", "price_actions", "synthesize_generic", "area_from_synthesis",
           "parse_stat", "parse_memories", "check_node", "memory_energy_per_bit",
           "add_energy", "token_rates", "SYNTH_SCRIPT", "PLOTS", "hardwired_cells_estimate"]

#: The Yosys script (``{src}`` and ``{top}`` filled in). It is Yosys's generic ``synth`` with two
#: changes, so that memories are counted as memory bits and not as thousands of flip-flops:
#: ``proc -norom`` (``proc`` would turn ``case`` tables of constants -- the sequencer's per-layer
#: limits, the table builder's digit tables -- into small ROMs; they are logic), and the ``fine``
#: stage without ``memory_map`` (the memories stay ``$mem_v2`` cells; every other command of
#: ``synth``'s ``fine`` and ``check`` stages runs as in ``help synth``). The design is not
#: flattened, so the cell counts come per module (block).
SYNTH_SCRIPT = (
    "read_verilog -sv {src}",
    "hierarchy -check -top {top}",
    "proc -norom",
    "synth -top {top} -run coarse:fine",
    "opt -fast -full",
    "opt -full",
    "techmap",
    "opt -fast",
    "abc -fast",
    "opt -fast",
    "hierarchy -check",
    "tee -q -o stat.txt stat",
    "tee -q -o memories.il dump */t:$mem_v2",
    "check",
)

PLOTS = ("asic_energy.png", "asic_area.png", "asic_masks.png", "asic_nodes.png")

_SRAM_RE = re.compile(r"^sram_read_64b_(\d+(?:\.\d+)?)(kb|mb)$")
_ADD_RE = re.compile(r"^int(\d+)_add$")
REGISTER_ACTION = "register_bit"   # optional action in the constants file (pJ per bit written)


# ---------------------------------------------------------------------------------------------
# node
# ---------------------------------------------------------------------------------------------


def check_node(node, constants=None):
    """The constants' ``Node`` for ``node``; a one-line HwgenError naming ``--node`` otherwise."""
    c = resolve(constants)
    known = ", ".join(n[:-2] for n in c.nodes)
    if node is None:
        raise HwgenError(f"required for the ASIC estimate (one of {known}, in nm)", field="--node")
    try:
        return c.node(node)
    except CostInputError:
        raise HwgenError(f"unknown node {node!r} (known: {known}, in nm)", field="--node") from None


# ---------------------------------------------------------------------------------------------
# energy
# ---------------------------------------------------------------------------------------------


def _require(c, name, why):
    if name not in c.actions:
        raise CostInputError(f"missing key ({why})", file=c.path, field=f"energy_45nm.{name}")


def _sram_points(c):
    pts = []
    for name in c.actions:
        m = _SRAM_RE.match(name)
        if m:
            size = float(m.group(1)) * (1024 if m.group(2) == "kb" else 1024 * 1024)
            pts.append((size, name))
    if not pts:
        raise CostInputError("missing key (the ASIC energy model needs at least one "
                             "sram_read_64b_<size>kb entry)", file=c.path,
                             field="energy_45nm.sram_read_64b_8kb")
    return sorted(pts)


def memory_energy_per_bit(capacity_bytes, node, constants=None) -> dict:
    """Energy of accessing one bit of an SRAM of ``capacity_bytes`` at ``node``.

    Horowitz gives 64-bit reads from 8 KB, 32 KB and 1 MB SRAMs (10, 20, 100 pJ at 45 nm), i.e.
    roughly ``E ~ sqrt(capacity)`` (x4 capacity -> x2, x32 -> x5). Assumption: that trend holds
    between and beyond the points, so ``E(C) = E(ref) x sqrt(C / ref)`` with ``ref`` the smallest
    tabulated SRAM at least as large as ``C`` (the largest if none is); per bit = E / 64. This
    reproduces the table at its points and prices the engine's tiny table memories (tens of
    bytes) like register files rather than like an 8 KB macro. Writes are priced as reads.
    """
    c = resolve(constants)
    pts = _sram_points(c)
    cap = max(float(capacity_bytes), 1.0)
    ref_bytes, action = next(((s, a) for s, a in pts if s >= cap), pts[-1])
    scale = math.sqrt(cap / ref_bytes)
    e = energy_per_action(action, node, c)
    return {
        "action": action,
        "pj": e["pj"] * scale / 64.0,
        "pj_high": e["pj_high"] * scale / 64.0,
        "scale": scale,
        "source": (f"{e['source']}; x sqrt({cap:g} B / {ref_bytes:g} B) = x{scale:.4g} "
                   "(assumption: SRAM access energy ~ sqrt(capacity), Horowitz's 8 KB -> 32 KB -> "
                   "1 MB trend); / 64 per bit; writes priced as reads (assumption)"),
    }


def _add_points(c):
    pts = []
    for name in c.actions:
        m = _ADD_RE.match(name)
        if m:
            pts.append((int(m.group(1)), name))
    if not pts:
        raise CostInputError("missing key (the ASIC energy model needs int<N>_add entries)",
                             file=c.path, field="energy_45nm.int8_add")
    return sorted(pts)


def add_energy(bits, node, constants=None) -> dict:
    """Energy of one ``bits``-wide integer addition at ``node``.

    Horowitz gives 8-, 16- and 32-bit adds (0.03, 0.05, 0.1 pJ at 45 nm). Assumption: linear in
    the width between those points, and proportional to the width below the smallest and above
    the largest (a ripple adder's energy is per bit), so a 12-bit add costs 0.04 pJ and a 2-bit
    popcount add 0.0075 pJ at 45 nm.
    """
    c = resolve(constants)
    pts = _add_points(c)
    w = max(int(bits), 1)
    lo = max((p for p in pts if p[0] <= w), default=None)
    hi = min((p for p in pts if p[0] >= w), default=None)
    if lo is None:                  # below the smallest: proportional
        e = energy_per_action(hi[1], node, c)
        f = w / hi[0]
        return {"pj": e["pj"] * f, "pj_high": e["pj_high"] * f, "action": hi[1],
                "source": f"{e['source']}; x {w}/{hi[0]} bits (assumption: energy ~ width)"}
    if hi is None:                  # above the largest: proportional
        e = energy_per_action(lo[1], node, c)
        f = w / lo[0]
        return {"pj": e["pj"] * f, "pj_high": e["pj_high"] * f, "action": lo[1],
                "source": f"{e['source']}; x {w}/{lo[0]} bits (assumption: energy ~ width)"}
    ea = energy_per_action(lo[1], node, c)
    if lo[0] == hi[0]:
        return {"pj": ea["pj"], "pj_high": ea["pj_high"], "action": lo[1], "source": ea["source"]}
    eb = energy_per_action(hi[1], node, c)
    t = (w - lo[0]) / (hi[0] - lo[0])
    return {"pj": (1 - t) * ea["pj"] + t * eb["pj"],
            "pj_high": (1 - t) * ea["pj_high"] + t * eb["pj_high"],
            "action": f"{lo[1]}..{hi[1]}",
            "source": f"{ea['source']}; {eb['source']}; linear in the width between them "
                      f"({w} bits, assumption)"}


def _item(what, count, unit, action, pj, pj_high, source):
    return {"what": what, "count": count, "unit": unit, "action": action,
            "pj_per_unit": pj, "pj": count * pj, "pj_high": count * pj_high, "source": source}


def price_actions(actions: dict, node, constants=None) -> dict:
    """Energy of one inference per block: action counts x energy per action at ``node``.

    Blocks: each memory (weights ROM, activations, accumulators, tables), the table builder,
    adder trees, accumulate, requantize, datapath registers and DRAM (input + output).
    """
    c = resolve(constants)
    n = c.node(node)
    blocks = {}
    unpriced = []

    def block(label):
        return blocks.setdefault(label, {"pj": 0.0, "pj_high": 0.0, "items": []})

    for name, mem in actions["memories"].items():
        label = MEMORY_BLOCKS.get(name, name)
        cap = mem["words"] * mem["width"] / 8.0
        e = memory_energy_per_bit(cap, n.name, c)
        b = block(label)
        for kind in ("read", "write"):
            bits = mem[f"{kind}_bits"]
            if bits:
                b["items"].append(_item(f"{mem[kind + 's']} {kind}s ({mem['words']} x "
                                        f"{mem['width']} bits x {mem['instances']})",
                                        bits, "bits", e["action"], e["pj"], e["pj_high"],
                                        e["source"]))

    add_labels = {"table_entries": "table builder (adds)", "adder_tree": "adder trees",
                  "sign_count": "adder trees", "subtract": "adder trees",
                  "accumulate": "accumulate (adds)", "requantize": "requantize (compares)"}
    for name, a in actions["adds"].items():
        for width, count in a["by_width"].items():
            e = add_energy(int(width), n.name, c)
            block(add_labels.get(name, name))["items"].append(_item(
                f"{name.replace('_', ' ')} adds ({width} bits)", count, "adds", e["action"],
                e["pj"], e["pj_high"], e["source"]))

    reg_bits = sum(actions["registers"].values())
    if reg_bits:
        b = block("datapath registers")
        if REGISTER_ACTION in c.actions:
            e = energy_per_action(REGISTER_ACTION, n.name, c)
            b["items"].append(_item("register bit writes", reg_bits, "bits", REGISTER_ACTION,
                                    e["pj"], e["pj_high"], e["source"]))
        else:
            b["items"].append(_item("register bit writes", reg_bits, "bits", None, 0.0, 0.0,
                                    f"not priced: the constants file has no energy_45nm."
                                    f"{REGISTER_ACTION} (Horowitz ISSCC 2014 gives no register "
                                    f"figure)"))
            unpriced.append(f"{reg_bits} datapath register bit writes (no "
                            f"energy_45nm.{REGISTER_ACTION} in the constants file)")

    dram = actions["dram"]
    if dram["bytes"]:
        _require(c, "dram_access_64b", "needed to price DRAM traffic")
        e = energy_per_action("dram_access_64b", n.name, c)
        words = dram["bytes"] * 8 / 64.0
        block("DRAM (input + output)")["items"].append(_item(
            f"{dram['input_bytes']} B in + {dram['output_bytes']} B out", words, "64-bit accesses",
            "dram_access_64b", e["pj"], e["pj_high"], e["source"] + "; " + dram["note"]))

    for b in blocks.values():
        b["pj"] = sum(i["pj"] for i in b["items"])
        b["pj_high"] = sum(i["pj_high"] for i in b["items"])
    total = sum(b["pj"] for b in blocks.values())
    dram_pj = blocks.get("DRAM (input + output)", {"pj": 0.0})["pj"]
    macs = actions["totals"]["macs"]
    return {
        "node": n.name,
        "unit": "pJ",
        "per": actions["per"],
        "total_pj": total,
        "total_pj_high": sum(b["pj_high"] for b in blocks.values()),
        "on_chip_pj": total - dram_pj,
        "dram_pj": dram_pj,
        "on_chip_pj_per_mac": (total - dram_pj) / macs if macs else None,
        "inferences_per_joule": 1e12 / total if total else None,
        "energy_factor": n.energy_factor.value,
        "energy_factor_source": n.energy_factor.source,
        "blocks": blocks,
        "unpriced": unpriced,
        "not_modelled": ["leakage (static) power", "clock tree", "sequencer/control registers",
                         "ternary selects and sign XORs", "I/O pads and the interconnect to DRAM "
                         "beyond the DRAM access itself"],
    }


# ---------------------------------------------------------------------------------------------
# synthesis and area
# ---------------------------------------------------------------------------------------------


def parse_stat(text: str) -> dict:
    """Yosys ``stat`` text (hierarchical design) -> ``{module: {cell type: count}}``."""
    modules = {}
    cur = None
    in_cells = False
    for line in text.splitlines():
        s = line.strip()
        m = re.match(r"^=== (.+) ===$", s)
        if m:
            name = m.group(1)
            if name == "design hierarchy":
                break
            cur = modules.setdefault(name, {})
            in_cells = False
            continue
        if cur is None:
            continue
        if s.startswith("Number of cells:"):
            in_cells = True
            continue
        if in_cells:
            parts = s.split()
            if len(parts) == 2 and parts[1].isdigit():
                cur[parts[0]] = cur.get(parts[0], 0) + int(parts[1])
            else:
                in_cells = False
    return modules


def parse_memories(text: str) -> list:
    """Yosys ``dump */t:$mem_v2`` -> ``[{module, name, width, size, bits, rd_ports, wr_ports}]``."""
    mems = []
    module = None
    cur = None
    for line in text.splitlines():
        s = line.strip()
        if s.startswith("module "):
            module = s.split(None, 1)[1].lstrip("\\")
        elif s.startswith("cell $mem_v2 "):
            cur = {"module": module, "name": s.split(None, 2)[2].lstrip("\\"), "width": 0,
                   "size": 0, "rd_ports": 0, "wr_ports": 0}
            mems.append(cur)
        elif cur is not None and s.startswith("parameter "):
            parts = s.split(None, 2)
            key = parts[1].lstrip("\\")
            if key in ("WIDTH", "SIZE", "RD_PORTS", "WR_PORTS") and len(parts) == 3:
                cur[{"WIDTH": "width", "SIZE": "size"}.get(key, key.lower())] = int(parts[2])
        elif s == "end" and cur is not None and line.startswith("  end"):
            cur = None
    for m in mems:
        m["bits"] = m["width"] * m["size"]
    return mems


def _memory_block(name: str) -> str:
    base = name.split("$", 1)[0]
    if re.match(r"^table\d", base):
        base = "tables"
    return MEMORY_BLOCKS.get(base, f"memory {base}")


def _yosys_version(yosys):
    try:
        out = subprocess.run([yosys, "-V"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return "yosys (version unknown)"
    return out.strip() or "yosys (version unknown)"


def _first_error(log: Path) -> str:
    try:
        lines = log.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    for line in lines:
        if line.startswith("ERROR:"):
            return line[len("ERROR:"):].strip()
    return ""


def synthesize_generic(verilog, top: str, *, workdir=None, timeout: float | None = None) -> dict:
    """Run :data:`SYNTH_SCRIPT` on ``verilog``; per-module cell counts and the memories.

    Scratch files go to ``workdir`` (default: a temporary folder removed on success and kept,
    named in the error, on failure). Returns ``{"tool", "script", "top", "modules": {module:
    {"instances", "cells": {type: count}}}, "memories": [...]}``; module names as in the
    Verilog (Amaranth: ``hwgen_top``, ``hwgen_top.core``, ``hwgen_top.core.dot``).
    """
    src = Path(verilog).resolve()
    if not src.is_file():
        raise HwgenError("Verilog file not found", file=str(src))
    if any(ch in str(src) for ch in '"\n;'):
        raise HwgenError("unsupported character in path for Yosys", file=str(src))
    yosys = find_tool("yosys")
    own = workdir is None
    work = Path(tempfile.mkdtemp(prefix="hwgen-asic-")) if own else Path(workdir)
    work.mkdir(parents=True, exist_ok=True)
    script = [line.format(src=f'"{src}"', top=top) for line in SYNTH_SCRIPT]
    (work / "synth.ys").write_text("\n".join(script) + "\n")
    log = work / "yosys.log"
    try:
        with open(log, "w") as f:
            proc = subprocess.run([yosys, "-q", "-l", str(log.with_suffix(".full.log")),
                                   "-s", "synth.ys"], stdout=f, stderr=subprocess.STDOUT,
                                  cwd=work, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise HwgenError(f"yosys did not finish within {timeout:g} s; see {log}") from None
    stat_path, mem_path = work / "stat.txt", work / "memories.il"
    if proc.returncode != 0 or not stat_path.is_file() or not mem_path.is_file():
        err = _first_error(log) or _first_error(log.with_suffix(".full.log")) or \
            f"exit code {proc.returncode}"
        raise HwgenError(f"yosys generic synthesis failed: {err}; see {log}")
    cells = parse_stat(stat_path.read_text())
    memories = parse_memories(mem_path.read_text())
    version = _yosys_version(yosys)
    if own:
        shutil.rmtree(work, ignore_errors=True)
    if top not in cells:
        raise HwgenError(f"yosys stat has no module {top!r}")

    # instances of each module, walking down from the top
    inst = {name: 0 for name in cells}

    def walk(name, mult, depth=0):
        inst[name] += mult
        if depth > 64:
            raise HwgenError("yosys stat: module hierarchy too deep")
        for t, k in cells[name].items():
            if t in cells:
                walk(t, mult * k, depth + 1)

    walk(top, 1)
    modules = {name: {"instances": inst[name], "cells": dict(sorted(cells[name].items()))}
               for name in sorted(cells)}
    for m in memories:
        m["instances"] = inst.get(m["module"], 1)
        m["block"] = _memory_block(m["name"])
    # the script as run, with the Verilog named relative to the build folder (reproducible)
    shown = [f"read_verilog -sv rtl/{src.name}"] + script[1:]
    return {"tool": version, "script": shown, "top": top, "modules": modules,
            "memories": memories}


def _logic_cells(cells: dict, modules: dict) -> dict:
    """Gate-level cells of one module (no submodule instances, no memories)."""
    return {t: k for t, k in cells.items() if t not in modules and t.startswith("$_")}


def _module_label(name: str, top: str, engine_kind: str) -> str:
    """A block name for a Verilog module (Amaranth names submodules ``top.core.dot`` ...)."""
    rel = name[len(top):].lstrip(".") if name.startswith(top) else name
    if rel == "":
        return "top-level glue"
    if engine_kind == "hardwired":
        if rel == "core":
            return "input/output registers, requantize, handshake"
        m = re.match(r"^core\.layer\d+_(.+)$", rel)
        if m:
            return f"layer {m.group(1)} (hardwired adders)"
        return rel
    if rel == "core":
        return "sequencer, accumulate, requantize"
    if rel == "core.dot":
        return {"tlmm": "table builder, lookups, adder trees",
                "addertree": "ternary selects, adder trees"}.get(engine_kind,
                                                                 "dot-product datapath")
    return rel


def area_from_synthesis(synth: dict, node, constants=None, *, engine_kind="tlmm") -> dict:
    """Area per block at ``node``: each module's logic cells and each memory block's bits."""
    c = resolve(constants)
    n = c.node(node)
    modules = synth["modules"]
    blocks = {}
    sources = None
    unknown = set()
    for name, mod in modules.items():
        logic = _logic_cells(mod["cells"], modules)
        if not logic or not mod["instances"]:
            continue
        logic = {t: k * mod["instances"] for t, k in logic.items()}
        r = area_report(logic, 0, n.name, c)
        sources = r["logic"]["sources"]
        unknown.update(r["logic"]["unknown_cell_types"])
        label = _module_label(name, synth["top"], engine_kind) + " (logic)"
        b = blocks.setdefault(label, {"kind": "logic", "modules": [], "cells": 0,
                                      "transistors": 0.0, "mm2": 0.0})
        b["modules"].append(name)
        b["cells"] += int(r["logic"]["cells"])
        b["transistors"] += r["logic"]["transistors"]
        b["mm2"] += r["logic"]["mm2"]
    mem_sources = area_report(0, 1, n.name, c)["memory"]["sources"]
    for m in synth["memories"]:
        bits = m["bits"] * m["instances"]
        r = area_report(0, bits, n.name, c)
        b = blocks.setdefault(m["block"], {"kind": "memory", "memories": [], "bits": 0,
                                           "mm2": 0.0})
        b["memories"].append(m["name"])
        b["bits"] += bits
        b["mm2"] += r["memory"]["mm2"]
    logic_mm2 = sum(b["mm2"] for b in blocks.values() if b["kind"] == "logic")
    memory_mm2 = sum(b["mm2"] for b in blocks.values() if b["kind"] == "memory")
    if sources is None:
        sources = area_report(1, 0, n.name, c)["logic"]["sources"]
    return {
        "node": n.name,
        "unit": "mm^2",
        "total_mm2": logic_mm2 + memory_mm2,
        "logic_mm2": logic_mm2,
        "memory_mm2": memory_mm2,
        "logic_cells": sum(b["cells"] for b in blocks.values() if b["kind"] == "logic"),
        "memory_bits": sum(b["bits"] for b in blocks.values() if b["kind"] == "memory"),
        "blocks": dict(sorted(blocks.items(), key=lambda kv: -kv[1]["mm2"])),
        "unknown_cell_types": sorted(unknown),
        "sources": {"logic": sources, "memory": mem_sources},
        "not_modelled": ["I/O pads and ring", "clock tree and power grid beyond the placement "
                         "utilization", "multi-port memory bitcells (priced as 6T SRAM)",
                         "ROM density (the weight ROM is priced as SRAM)"],
    }


# ---------------------------------------------------------------------------------------------
# hardwired layers: cell-count model
# ---------------------------------------------------------------------------------------------


#: Generic Yosys cells per bit of a hardwired adder (fitted, see hardwired_cells_estimate).
HARDWIRED_CELLS_PER_ADDER_BIT = 6.0
#: ... per bit of a negation (an output with only -1 weights: a constant minus the tree).
HARDWIRED_CELLS_PER_NEGATION_BIT = 2.0
#: The same two for unsigned inputs (a layer after a ReLU: 7-bit values 0..127). The free fit
#: of the negation term is slightly negative (the calibration layers have few negations), so it
#: is 0 and only the adder term is fitted.
HARDWIRED_CELLS_PER_ADDER_BIT_UNSIGNED = 5.5
HARDWIRED_CELLS_PER_NEGATION_BIT_UNSIGNED = 0.0
#: Share of each generic cell type in synthesized hardwired layers (the 32 signed calibration
#: matrices, all cells pooled), to price estimated cells with the constants' transistors per
#: cell type (7.6 transistors per cell with the shipped table).
HARDWIRED_CELL_MIX = {"$_ANDNOT_": 0.365, "$_AND_": 0.028, "$_NAND_": 0.051, "$_NOR_": 0.099,
                      "$_NOT_": 0.049, "$_ORNOT_": 0.025, "$_OR_": 0.079, "$_XNOR_": 0.111,
                      "$_XOR_": 0.192}


def _hardwired_nodes(weights, in_bits, in_signed, acc_bits):
    """The distinct adder nodes of ``hwgen.rtl.hardwired.HardwiredLinear`` (parallel), as Yosys's
    ``opt_merge`` leaves them: ``{key: width}``. Mirrors the RTL: per output a balanced
    ``tree_sum`` over the +1 inputs and one over the -1 inputs (consecutive terms paired level
    by level, each sum one bit wider than its wider operand; the tree of unsigned inputs gets one
    more bit when made signed), then their difference (or ``0 - minus`` when there is no +1
    input). Equal subtrees of different outputs are one node (structural hashing). Widths are
    capped at ``acc_bits``, the width of the outputs: Yosys's ``wreduce`` drops the bits above."""
    nodes = {}

    def tree(keys):
        terms = [(("x", int(k)), in_bits) for k in keys]
        while len(terms) > 1:
            nxt = []
            for i in range(0, len(terms) - 1, 2):
                (a, wa), (b, wb) = terms[i], terms[i + 1]
                key = ("add", a, b)
                width = max(wa, wb) + 1
                nodes.setdefault(key, min(width, acc_bits))
                nxt.append((key, width))
            if len(terms) % 2:
                nxt.append(terms[-1])
            terms = nxt
        return terms[0] if terms else None

    extra = 0 if in_signed else 1
    for row in weights:
        p = tree(np.flatnonzero(row == 1))
        n = tree(np.flatnonzero(row == -1))
        if p and n:
            nodes.setdefault(("sub", p[0], n[0]), min(max(p[1], n[1]) + extra + 1, acc_bits))
        elif n:
            nodes.setdefault(("neg", n[0]), min(n[1] + extra + 1, acc_bits))
    return nodes


def hardwired_cells_estimate(weights, in_bits=8, *, in_signed=True, serial=False,
                             constants=None, node=None) -> dict:
    """Yosys generic-``synth`` cell count of one hardwired layer (``HardwiredLinear``, parallel).

    Model: every distinct adder of the layer's RTL (:func:`_hardwired_nodes`: one tree per +1 and
    per -1 input set of each output and the subtraction; zero weights are no logic; subtrees
    shared by several outputs counted once, as ``opt_merge`` merges them) costs
    ``HARDWIRED_CELLS_PER_ADDER_BIT`` cells per bit of its (capped) width, and a negation
    ``HARDWIRED_CELLS_PER_NEGATION_BIT`` per bit::

        cells = 6.0 x sum(adder widths) + 2.0 x sum(negation widths)       (signed inputs)
        cells = 5.5 x sum(adder widths)                                    (unsigned inputs)

    Why per bit: ``hwgen.rtl.hardwired`` keeps every adder of the trees a two-operand adder
    (it re-encodes each sum so that Yosys's ``alumacc`` does not merge a tree into one ``$macc``),
    which the generic flow maps to a ripple-carry adder: ~6 two-input gates per bit after ABC
    (2 XOR/XNOR for the sum, ~4 for the carry), the per-output offset constant included.
    The constants were fitted (least relative squares) on 32 random matrices of 4..32 x 8..40
    and 0..90% zeros with signed 8-bit inputs (seed 100, not those of the benchmark): mean error
    0.9%, worst 3.3%; the unsigned ones (``in_signed=False``, 7-bit ReLU outputs) on 16 of those
    matrices: mean 1.4%, worst 4.6%. They depend on the RTL of ``hwgen.rtl.hardwired`` and on
    Yosys: ``python benchmarks/bench_hardwired_area.py --calibrate`` refits them (and prints
    the cell mix); the benchmark itself checks the model on other matrices.

    With ``node`` it also returns the area: the cells split by :data:`HARDWIRED_CELL_MIX` (the
    cell-type shares of the calibration layers) and priced with :func:`hwgen.cost.area_report`
    (transistors per cell type / (logic density x utilization)).
    """
    if serial:
        raise HwgenError("the hardwired cell model covers parallel layers only (serial=False)",
                         field="serial")
    from hwgen.hardwired import sum_width
    w = np.asarray(weights)
    if w.ndim != 2 or w.size == 0 or not np.isin(w, (-1, 0, 1)).all():
        raise HwgenError("weights must be a non-empty 2-D array of -1, 0, 1", field="weights")
    acc = sum_width(w, in_bits, in_signed)
    nodes = _hardwired_nodes(w, in_bits, in_signed, acc)
    adder_bits = sum(v for k, v in nodes.items() if k[0] != "neg")
    neg_bits = sum(v for k, v in nodes.items() if k[0] == "neg")
    if in_signed:
        per_add, per_neg = HARDWIRED_CELLS_PER_ADDER_BIT, HARDWIRED_CELLS_PER_NEGATION_BIT
    else:
        per_add = HARDWIRED_CELLS_PER_ADDER_BIT_UNSIGNED
        per_neg = HARDWIRED_CELLS_PER_NEGATION_BIT_UNSIGNED
    cells = per_add * adder_bits + per_neg * neg_bits
    nonzeros = int((w != 0).sum())
    P, N = (w == 1).sum(axis=1), (w == -1).sum(axis=1)
    per_output = int((np.maximum(P - 1, 0) + np.maximum(N - 1, 0) + ((P > 0) & (N > 0))).sum())
    out = {
        "cells": cells,
        "nonzeros": nonzeros,
        "acc_bits": acc,
        "adders": sum(1 for k in nodes if k[0] != "neg"),
        "adders_without_sharing": per_output,
        "negations": sum(1 for k in nodes if k[0] == "neg"),
        "adder_bits": adder_bits,
        "negation_bits": neg_bits,
        "model": f"{per_add:g} cells per adder bit + {per_neg:g} per negation bit over the "
                 "distinct adders (hwgen.cost.asic.hardwired_cells_estimate)",
    }
    if node is not None:
        r = area_report({t: cells * f for t, f in HARDWIRED_CELL_MIX.items()}, 0, node,
                        constants)
        out.update(transistors_per_cell=r["logic"]["transistors"] / cells if cells else 0.0,
                   mm2=r["logic"]["mm2"], node=r["node"], sources=r["logic"]["sources"])
    return out


# ---------------------------------------------------------------------------------------------
# tokens per second and per joule of a hardwired LLM (scaled from HNLPU)
# ---------------------------------------------------------------------------------------------

TOKEN_FIGURES = ("tokens_per_s", "tokens_per_kj")   # under the preset's ``reported:``


def token_rates(wired_weights, node, constants=None) -> dict:
    """Tokens/s and tokens/J of a hardwired LLM with ``wired_weights`` non-zero weights at ``node``.

    Scaled from the calibration preset (HNLPU: 249,960 tokens/s and 36,226 tokens/kJ for 120e9
    FP4 weights at 5 nm, REF section 4), not from the action-count model. Assumptions:

    * energy per token ~ number of wired (non-zero) weights: every hardwired weight is one wire
      into an accumulator region and toggles once per token, whatever its precision (the same
      per-weight assumption as the area model of ``estimate_model``); times
      ``energy_factor(node) / energy_factor(5 nm)``. HNLPU: 1000 / 36,226 = 27.6 mJ per token.
    * tokens/s = HNLPU's, at every size and node: a hardwired pipeline's token rate is set by its
      clock (1.0 GHz) and per-token schedule, not by how many weights it holds; older nodes may
      not reach 1 GHz, so below 7 nm read it as an upper bound.
    * power = tokens/s x energy per token (the whole system, attention and I/O included in the
      same proportion as in HNLPU).
    """
    c = resolve(constants)
    n = c.node(node)
    cal = c.preset(c.model_calibration_preset)
    ref_node = c.node(cal.node)
    vals = {}
    for key in TOKEN_FIGURES:
        if key not in cal.reported:
            raise CostInputError("missing key", field=f"presets.{cal.name}.reported.{key}")
        vals[key] = (cal.reported[key].value, cal.reported[key].source)
    w = float(wired_weights)
    if not math.isfinite(w) or w <= 0:
        raise CostInputError(f"must be > 0, got {wired_weights!r}", field="wired_weights")
    ref_j = 1000.0 / vals["tokens_per_kj"][0]
    weight_scale = w / cal.weights.value
    node_scale = n.energy_factor.value / ref_node.energy_factor.value
    j = ref_j * weight_scale * node_scale
    tps = vals["tokens_per_s"][0]
    return {
        "node": n.name,
        "wired_weights": w,
        "tokens_per_s": tps,
        "tokens_per_j": 1.0 / j,
        "energy_per_token_j": j,
        "power_w": tps * j,
        "basis": f"scaled from {cal.name} ({cal.source}), not from the action-count model",
        "reference": {"tokens_per_s": tps, "tokens_per_kj": vals["tokens_per_kj"][0],
                      "energy_per_token_j": ref_j, "weights": cal.weights.value,
                      "node": ref_node.name},
        "scales": {"weights": weight_scale, "node_energy": node_scale},
        "sources": {"tokens_per_s": vals["tokens_per_s"][1],
                    "tokens_per_kj": vals["tokens_per_kj"][1],
                    "weights": cal.weights.source,
                    f"energy factor {n.name}": n.energy_factor.source,
                    f"energy factor {ref_node.name}": ref_node.energy_factor.source},
        "assumptions": [
            "energy per token proportional to the wired (non-zero) weights, whatever their "
            "precision, and to the node's energy factor",
            "tokens/s equal to HNLPU's at any model size and node (same 1 GHz clock and "
            "per-token schedule); an upper bound where the node cannot reach 1 GHz",
            "power = tokens/s x energy per token",
        ],
    }


# ---------------------------------------------------------------------------------------------
# build
# ---------------------------------------------------------------------------------------------


def _hardwired_check(plan, synth) -> list:
    """Per layer: the synthesized cells of its module next to :func:`hardwired_cells_estimate`."""
    rows = []
    for lp in plan.layers:
        name = f"{synth['top']}.core.layer{lp.index}_{lp.layer.name}"
        mod = synth["modules"].get(name)
        est = hardwired_cells_estimate(lp.layer.weights, lp.in_bits, in_signed=lp.in_signed)
        got = sum(_logic_cells(mod["cells"], synth["modules"]).values()) if mod else None
        rows.append({"layer": lp.layer.name, "module": name, "synthesized_cells": got,
                     "estimated_cells": est["cells"],
                     "error": (est["cells"] / got - 1) if got else None})
    return rows


def _mask_curve(node, chips, c):
    top = max(16, 2 * chips)
    rows = []
    for k in range(1, top + 1):
        m = node_mask_costs(node, chips=k, constants=c)
        o, p = m["optimistic"], m["pessimistic"]
        rows.append((k, o["naive_usd"], p["naive_usd"], o["metal_embedding_usd"],
                     p["metal_embedding_usd"]))
    return rows


def _sources(c, n, energy, area, masks) -> dict:
    src = {
        f"energy factor {n.name}": n.energy_factor.source,
        f"area factor {n.name}": n.area_factor.source,
        f"SRAM bitcell {n.name}": n.sram_bitcell_um2.source,
        "SRAM periphery factor": c.sram_periphery_factor.source,
        "logic density": area["sources"]["logic"]["density"],
        "logic utilization": area["sources"]["logic"]["utilization"],
        "transistors per cell": area["sources"]["logic"]["transistors_per_cell"],
        f"mask set {n.name}": masks["sources"]["mask_set_usd"],
        f"mask stack {n.name}": masks["sources"]["mask_stack"],
        "EUV weight": masks["sources"]["euv_weight"],
        f"custom layers {n.name}": masks["sources"]["custom_layers"],
        "max die area": masks["sources"]["max_die_area_mm2"],
    }
    seen = set()
    for b in energy["blocks"].values():
        for it in b["items"]:
            for a in (it["action"] or "").split(".."):
                if a and a not in seen:
                    seen.add(a)
                    src[f"energy {a} (45 nm)"] = c.actions[a].source
    return src


def _assumptions(plan, energy) -> list:
    out = [
        "action counts come from the plan's schedule (hwgen.cost.actions); one inference = one "
        "input vector",
        "DRAM bytes = input + output vector: weights are on-chip ROM (hardwired), nothing else "
        "leaves the chip",
        "SRAM access energy ~ sqrt(capacity) between and beyond Horowitz's 8 KB / 32 KB / 1 MB "
        "points; writes cost as much as reads; the weight ROM is priced as SRAM (conservative)",
        "adds priced by width: <= 8 bits int8_add, <= 16 int16_add, <= 32 int32_add; a "
        "requantization is 2 comparisons = 2 adds at the accumulator width",
        "logic area: Yosys generic synthesis (memories kept as $mem_v2 cells, proc -norom, not "
        "flattened), cells x transistors per cell / (logic density x utilization)",
        "memory area: bits x SRAM bitcell x periphery factor for every memory, including the "
        "small multi-ported tables (an underestimate for them) and the weight ROM (an "
        "overestimate)",
        "dynamic energy only: no leakage, no clock tree, no I/O",
    ]
    if energy["unpriced"]:
        out.append("not priced (no constant): " + "; ".join(energy["unpriced"]))
    return out


def build_asic(plan, out_dir, *, node, constants=None) -> dict:
    """Energy, area and mask cost of ``plan`` at ``node``; see the module docstring."""
    c = resolve(constants)
    n = check_node(node, c)
    out_dir = Path(out_dir)
    from hwgen.rtl.verilog import TOP
    verilog = out_dir / "rtl" / f"{TOP}.v"
    actions = action_counts(plan)
    energy = price_actions(actions, n.name, c)
    for name in c.nodes:            # fail on a bad constants file before the Yosys run
        price_actions(actions, name, c)
    synth = synthesize_generic(verilog, TOP)
    kind = plan.engine.kind
    area = area_from_synthesis(synth, n.name, c, engine_kind=kind)
    if kind == "hardwired" and not plan.serial:
        area["hardwired_model"] = _hardwired_check(plan, synth)
    reticle = c.reticle_limit_mm2.value
    chips = chip_count(max(area["total_mm2"], 1e-12), reticle)
    masks = node_mask_costs(n.name, chips=chips, constants=c)

    nodes = {}
    for name in c.nodes:
        e = price_actions(actions, name, c)
        a = area_from_synthesis(synth, name, c, engine_kind=kind)
        k = chip_count(max(a["total_mm2"], 1e-12), reticle)
        m = node_mask_costs(name, chips=k, constants=c)
        nodes[name] = {"energy_pj": e["total_pj"], "on_chip_pj": e["on_chip_pj"],
                       "area_mm2": a["total_mm2"], "chips": k,
                       "mask_usd": {"optimistic": m["optimistic"]["metal_embedding_usd"],
                                    "pessimistic": m["pessimistic"]["metal_embedding_usd"]}}

    report_name = "asic.md" if (out_dir / "report.md").exists() else "report.md"
    section = {
        "node": n.name,
        "constants": str(c.path),
        "model": plan.model.name,
        "engine": kind,
        "actions": actions,
        "energy": energy,
        "area": area,
        "synthesis": synth,
        "chips": chips,
        "max_die_mm2": reticle,
        "masks": masks,
        "nodes": nodes,
        "sources": _sources(c, n, energy, area, masks),
        "assumptions": _assumptions(plan, energy),
        "files": [report_name, *PLOTS],
    }
    write_plots(section, out_dir)
    (out_dir / report_name).write_text(render_markdown(section))
    return section


def write_plots(section: dict, out_dir) -> list:
    """The four PNGs of a model's ASIC section into ``out_dir``."""
    from hwgen.cost import plots
    out_dir = Path(out_dir)
    node, model = section["node"], section["model"]
    energy, area = section["energy"], section["area"]
    plots.energy_breakdown({k: b["pj"] for k, b in energy["blocks"].items()},
                           out_dir / PLOTS[0],
                           title=f"{model}: energy per inference at {node} "
                                 f"({energy['total_pj']:.4g} pJ)")
    plots.area_breakdown({k: (b["mm2"], b["kind"]) for k, b in area["blocks"].items()},
                         out_dir / PLOTS[1],
                         title=f"{model}: area at {node} ({area['total_mm2']:.4g} mm^2)")
    c = resolve(section["constants"]) if section["constants"] else resolve(None)
    plots.mask_cost_vs_chips(_mask_curve(node, section["chips"], c), out_dir / PLOTS[2],
                             title=f"photomask cost at {node}: naive vs Metal-Embedding",
                             mark_chips=section["chips"])
    rows = [(k, v["energy_pj"], v["area_mm2"], v["mask_usd"]["optimistic"],
             v["mask_usd"]["pessimistic"]) for k, v in section["nodes"].items()]
    plots.cost_vs_node(rows, out_dir / PLOTS[3], title=f"{model} across nodes")
    return [out_dir / p for p in PLOTS]


# ---------------------------------------------------------------------------------------------
# markdown
# ---------------------------------------------------------------------------------------------


def _g(v, digits=4):
    if v is None:
        return "-"
    if isinstance(v, int) or (isinstance(v, float) and v.is_integer() and abs(v) < 1e15):
        return f"{int(v):,}"
    return f"{v:.{digits}g}"


def _musd(v):
    return f"${v / 1e6:,.2f}M"


def render_markdown(s: dict) -> str:
    e, a, m = s["energy"], s["area"], s["masks"]
    act = s["actions"]
    L = []
    w = L.append
    w(f"# ASIC estimate: {s['model']} ({s['engine']}) at {s['node']}")
    w("")
    w(f"Constants: `{s['constants']}`. Synthesis: {s['synthesis']['tool']} (generic `synth`, "
      "memories kept as memories). Every figure below is a formula of the plan, the synthesized "
      "cell counts and the constants; the constants' sources are listed at the end.")
    w("")
    w("## Summary")
    w("")
    w("| figure | value |")
    w("|---|---|")
    w(f"| energy per inference | {_g(e['total_pj'])} pJ (DRAM at its high end: "
      f"{_g(e['total_pj_high'])} pJ) |")
    w(f"| on-chip energy per inference | {_g(e['on_chip_pj'])} pJ "
      f"({_g(e['on_chip_pj_per_mac'])} pJ per MAC) |")
    w(f"| DRAM energy per inference | {_g(e['dram_pj'])} pJ ({act['dram']['bytes']} bytes) |")
    w(f"| inferences per joule | {_g(e['inferences_per_joule'])} |")
    w(f"| area | {_g(a['total_mm2'])} mm^2 (logic {_g(a['logic_mm2'])}, memory "
      f"{_g(a['memory_mm2'])}) |")
    w(f"| logic cells (Yosys) | {_g(a['logic_cells'])} |")
    w(f"| memory bits | {_g(a['memory_bits'])} |")
    w(f"| chips (max die {_g(s['max_die_mm2'])} mm^2) | {s['chips']} |")
    w(f"| photomask cost, naive vs Metal-Embedding | {_musd(m['optimistic']['naive_usd'])}-"
      f"{_musd(m['pessimistic']['naive_usd'])} vs {_musd(m['optimistic']['metal_embedding_usd'])}"
      f"-{_musd(m['pessimistic']['metal_embedding_usd'])} |")
    w(f"| re-spin (custom metal only) | {_musd(m['optimistic']['respin_usd'])}-"
      f"{_musd(m['pessimistic']['respin_usd'])} |")
    w("")
    w("## Energy per inference by block")
    w("")
    w(f"![energy]({PLOTS[0]})")
    w("")
    w("| block | action | count | unit | pJ/unit | pJ |")
    w("|---|---|---|---|---|---|")
    for label, b in sorted(e["blocks"].items(), key=lambda kv: -kv[1]["pj"]):
        for it in b["items"]:
            w(f"| {label} | {it['what']} | {_g(it['count'])} | {it['unit']} | "
              f"{_g(it['pj_per_unit'])} | {_g(it['pj'])} |")
        w(f"| **{label}** | | | | | **{_g(b['pj'])}** |")
    w(f"| **total** | | | | | **{_g(e['total_pj'])}** |")
    w("")
    if e["unpriced"]:
        w("Not priced: " + "; ".join(e["unpriced"]) + ".")
        w("")
    w("## Area by block")
    w("")
    w(f"![area]({PLOTS[1]})")
    w("")
    w("| block | kind | cells / bits | mm^2 |")
    w("|---|---|---|---|")
    for label, b in a["blocks"].items():
        size = f"{_g(b['cells'])} cells" if b["kind"] == "logic" else f"{_g(b['bits'])} bits"
        w(f"| {label} | {b['kind']} | {size} | {_g(b['mm2'])} |")
    w(f"| **total** | | | **{_g(a['total_mm2'])}** |")
    w("")
    if a.get("hardwired_model"):
        w("Hardwired layers against the cell model (`hardwired_cells_estimate`):")
        w("")
        w("| layer | synthesized cells | estimated cells | error |")
        w("|---|---|---|---|")
        for r in a["hardwired_model"]:
            err = "-" if r["error"] is None else f"{100 * r['error']:+.1f}%"
            w(f"| {r['layer']} | {_g(r['synthesized_cells'])} | {_g(r['estimated_cells'])} | "
              f"{err} |")
        w("")
    if s["synthesis"]["memories"]:
        w("Memories (Yosys `$mem_v2` cells):")
        w("")
        w("| memory | module | words x width | bits | read / write ports |")
        w("|---|---|---|---|---|")
        for mem in s["synthesis"]["memories"]:
            w(f"| {mem['name']} | {mem['module']} | {mem['size']} x {mem['width']} | "
              f"{_g(mem['bits'] * mem['instances'])} | {mem['rd_ports']} / {mem['wr_ports']} |")
    else:
        w("No memories: the weights are wiring.")
    w("")
    w("## Action counts per layer (one inference)")
    w("")
    keys = act["layer_columns"]
    w("| layer | " + " | ".join(k.replace("_", " ") for k in keys) + " |")
    w("|---" * (len(keys) + 1) + "|")
    for r in act["layers"]:
        w(f"| {r['name']} | " + " | ".join(_g(r[k]) for k in keys) + " |")
    w("")
    w(f"DRAM: {act['dram']['input_bytes']} bytes in, {act['dram']['output_bytes']} bytes out "
      f"per inference; {act['dram']['note']}.")
    w("")
    w("## Photomask cost")
    w("")
    w(f"![masks]({PLOTS[2]})")
    w("")
    o, p = m["optimistic"], m["pessimistic"]
    w(f"{s['chips']} chip(s) at {s['node']}: mask set {_musd(o['set_cost_usd'])}-"
      f"{_musd(p['set_cost_usd'])}; custom share {o['custom_layers']}/"
      f"{o['duv_equivalents']:g} = {100 * o['custom_share']:.1f}%. Naive "
      f"{_musd(o['naive_usd'])}-{_musd(p['naive_usd'])}, Metal-Embedding "
      f"{_musd(o['metal_embedding_usd'])}-{_musd(p['metal_embedding_usd'])}, re-spin "
      f"{_musd(o['respin_usd'])}-{_musd(p['respin_usd'])}.")
    w("")
    w("## Across nodes")
    w("")
    w(f"![nodes]({PLOTS[3]})")
    w("")
    w("| node | energy/inference pJ | on-chip pJ | area mm^2 | chips | Metal-Embedding masks |")
    w("|---|---|---|---|---|---|")
    for name, v in s["nodes"].items():
        w(f"| {name} | {_g(v['energy_pj'])} | {_g(v['on_chip_pj'])} | {_g(v['area_mm2'])} | "
          f"{v['chips']} | {_musd(v['mask_usd']['optimistic'])}-"
          f"{_musd(v['mask_usd']['pessimistic'])} |")
    w("")
    w("## Assumptions")
    w("")
    for x in s["assumptions"]:
        w(f"- {x}")
    w("")
    w("## Sources of the constants")
    w("")
    for k, v in s["sources"].items():
        w(f"- **{k}**: {v}")
    w("")
    return "\n".join(L)
