"""Yosys runs of the FPGA flow: the flattened netlist that is placed, and per-block counts.

``synth_netlist`` synthesizes the placed top (a board wrapper around ``hwgen_top``, or
``hwgen_top`` itself for xcup) with the device's flattening command and writes the netlist JSON
nextpnr reads; ``synth_blocks`` synthesizes ``hwgen_top`` keeping the Amaranth module hierarchy
and counts the primitives of each module (Yosys ``stat``), grouped into the blocks ``dot`` (the
datapath, ``hwgen_top.core.dot`` and anything below it) and ``core`` (every other module of
the accelerator: sequencer, accumulate/requantize, memories, the top's glue).

Yosys 0.23's ``stat -json`` writes the design hierarchy into its JSON when there is more than one
module (invalid JSON), so the per-module counts are parsed from the text ``stat``.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from hwgen.errors import HwgenError
from hwgen.synth import run_yosys, summarize
from hwgen.tools import find_tool

__all__ = ["synth_netlist", "synth_blocks", "parse_stat", "block_of", "yosys_version"]

_SECTION = re.compile(r"^=== (.+) ===$")
_CELL = re.compile(r"^\s+(\S+)\s+(\d+)$")


def _quote(path, workdir=None):
    """``path`` quoted for a Yosys script run in ``workdir``, relative to it when given (so that
    the source locations Yosys records, and nextpnr reports, do not depend on where the output
    folder is)."""
    text = os.path.relpath(path, workdir) if workdir is not None else str(path)
    if any(c in text for c in '"\n;'):
        raise HwgenError("unsupported character in path for Yosys", file=text)
    return f'"{text}"'


def _run(lines, workdir, log, what):
    """Run the Yosys script ``lines`` in ``workdir`` with its output in ``log``."""
    script = workdir / f"{log.stem}.ys"
    script.write_text("\n".join(lines) + "\n")
    try:
        run_yosys(Path(script.name), workdir, log, what)
    finally:
        script.unlink(missing_ok=True)


def parse_stat(text):
    """``{module: {cell type: count}}`` from the text of Yosys ``stat`` (the design-hierarchy
    summary is skipped). A cell type that is a module of the design is a submodule instance."""
    modules = {}
    current = None
    in_cells = False
    for line in text.splitlines():
        m = _SECTION.match(line.strip())
        if m:
            name = m.group(1)
            current = None if name == "design hierarchy" else modules.setdefault(name.lstrip("\\"), {})
            in_cells = False
            continue
        if current is None:
            continue
        if line.strip().startswith("Number of cells:"):
            in_cells = True
            continue
        if in_cells:
            c = _CELL.match(line)
            if c:
                current[c.group(1).lstrip("\\")] = int(c.group(2))
            elif line.strip():
                in_cells = False
    return modules


def block_of(module, top):
    """The block (``dot`` or ``core``) a module of the accelerator ``top`` belongs to."""
    dot = f"{top}.core.dot"
    return "dot" if module == dot or module.startswith(dot + ".") else "core"


def synth_netlist(sources, top, device, workdir, log):
    """Flattened synthesis of ``top`` for ``device``; returns (netlist JSON path or None, summary, primitives).

    The netlist is written only for devices that are placed and routed.
    """
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    sources = [Path(src).resolve() for src in sources]
    netlist = workdir / f"{top}.json" if device.has_pnr else None
    stat = workdir / f"{top}_stat.txt"
    lines = [f"read_verilog -sv -noassert -noassume {' '.join(_quote(s, workdir) for s in sources)}",
             f"{device.synth} -top {top}"]   # reads the vendor cells, then hierarchy -check
    if netlist is not None:
        lines.append(f"write_json {netlist.name}")
    # relative to cwd=workdir: Yosys 0.23's tee fails silently on a quoted path
    lines.append(f"tee -q -o {stat.name} stat")
    _run(lines, workdir, log, device.synth.split()[0])
    if not stat.is_file() or (netlist is not None and not netlist.is_file()):
        raise HwgenError(f"yosys ({device.synth.split()[0]}) wrote no netlist or statistics")
    modules = parse_stat(stat.read_text())
    stat.unlink()
    if top not in modules or len(modules) != 1:
        raise HwgenError(f"yosys ({device.synth.split()[0]}): expected one flattened module {top}, "
                         f"got {', '.join(sorted(modules)) or 'none'}")
    primitives = dict(sorted(modules[top].items()))
    return netlist, summarize(primitives, device.family), primitives


def synth_blocks(source, top, device, workdir, log):
    """Hierarchical synthesis of the accelerator ``top``; per-module primitives and block summaries.

    Returns ``{"modules": {module: {type: count}}, "blocks": {"dot": summary, "core": summary},
    "total": summary}``; every module is instantiated once (Amaranth emits one module per
    instance), so the total is the sum of the modules' own cells.
    """
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    source = Path(source).resolve()
    stat = workdir / f"{top}_blocks_stat.txt"
    lines = [f"read_verilog -sv -noassert -noassume {_quote(source, workdir)}",
             f"{device.synth_blocks} -top {top}",
             f"tee -q -o {stat.name} stat -top {top}"]
    _run(lines, workdir, log, device.synth_blocks.split()[0] + " (per block)")
    if not stat.is_file():
        raise HwgenError(f"yosys ({device.synth_blocks.split()[0]}) wrote no statistics")
    modules = parse_stat(stat.read_text())
    stat.unlink()
    if top not in modules:
        raise HwgenError(f"yosys ({device.synth_blocks.split()[0]}): module {top} missing from the statistics")
    own = {}
    for name, cells in modules.items():
        own[name] = {t: n for t, n in sorted(cells.items()) if t not in modules}
    per_block, total = block_cells(own, top)
    return {
        "modules": dict(sorted(own.items())),
        "blocks": {b: summarize(dict(sorted(p.items())), device.family) for b, p in per_block.items()},
        "total": summarize(dict(sorted(total.items())), device.family),
    }


def block_cells(own, top):
    """(``{"dot": cells, "core": cells}``, total cells) from each module's own cell counts, the
    modules grouped by ``block_of``."""
    per_block = {"dot": {}, "core": {}}
    total = {}
    for name, cells in own.items():
        blk = per_block[block_of(name, top)]
        for t, n in cells.items():
            blk[t] = blk.get(t, 0) + n
            total[t] = total.get(t, 0) + n
    return per_block, total


def yosys_version():
    out = subprocess.run([find_tool("yosys"), "-V"], capture_output=True, text=True)
    return (out.stdout or out.stderr).strip().splitlines()[0] if (out.stdout or out.stderr).strip() else "yosys"
