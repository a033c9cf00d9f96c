"""Synthesize Verilog with native Yosys and report FPGA resource counts.

``synthesize(verilog_files, top, family, workdir)`` runs

- ``xcup`` (also ``xcu``, ``xc7``): ``synth_xilinx -family <family> -flatten -noiopad``
  (``-noiopad``: no IBUF/OBUF on the ports, the design is a block, not a whole chip);
- ``ecp5``: ``synth_ecp5`` (flattens by default);
- ``ice40``: ``synth_ice40 -dsp`` (flattens by default; ``-dsp`` maps large multipliers to the
  UltraPlus SB_MAC16),

then ``stat``, and returns::

    {"family": ..., "top": ..., "log": <path of the Yosys log>, "command": <synthesis command>,
     "primitives": {cell type: count, ...},          # sorted by name
     "summary": {"lut", "ff", "carry", "carry_luts", "lutram", "lutram_luts", "srl",
                 "bram", "uram", "dsp", "muxf", "latch", "unmapped", "lut_equiv", "cells"},
     "modules": {module: {cell type: count}}}        # the module's own cells (see flatten)

``synthesize(..., flatten=False)`` keeps the module hierarchy: the same command without
``-flatten`` (Xilinx) or with ``-noflatten`` (ECP5, iCE40), ``synth_command(family, flatten=False)``
-- the command ``hwgen build --target fpga`` runs for its per-block counts
(``hwgen.fpga.devices.Device.synth_blocks``, ``hwgen.fpga.yosys.synth_blocks``). ``modules`` then
holds each module's own primitives (submodule instances left out) and ``primitives`` / ``summary``
the whole design (each module counted as often as it is instantiated); flattened, ``modules`` is
``{top: primitives}``. Flattening lets Yosys optimize across module boundaries (constants,
sign-extension copies, merged registers): for hwgen's accelerators logic LUTs drop by 0 to about
30 % (``benchmarks/bench_estimates.py --flat-check``).

Summary keys (all ints except ``bram``, a float):

- ``lut``: logic LUTs. Xilinx: LUT1..LUT6 plus INV (Yosys's INV cell is a one-input LUT).
  ECP5: LUT4. iCE40: SB_LUT4.
- ``ff``: flip-flops (Xilinx FDRE/FDSE/FDCE/FDPE and their _1 variants; TRELLIS_FF; SB_DFF*).
  ``latch``: Xilinx LDCE/LDPE (should be 0).
- ``carry``: carry primitives (Xilinx CARRY4/CARRY8 -- Yosys 0.23 emits CARRY4, 4 bits each,
  even for xcup; ECP5 CCU2C, 2 bits each; iCE40 SB_CARRY, 1 bit each).
  ``carry_luts``: LUT sites taken by carry logic and not counted in ``lut``: 2 per ECP5 CCU2C
  (a CCU2C is the two LUT4s of a slice in ripple mode); 0 on Xilinx (the LUTs feeding CARRY4
  are ordinary LUT cells) and iCE40 (SB_CARRY sits beside an SB_LUT4 that is counted).
- ``lutram``: distributed-RAM primitives. ``lutram_luts``: LUTs they occupy, assuming
  RAM16X1S/RAM32X1S/RAM64X1S = 1, RAM16X1D/RAM32X1D/RAM64X1D/RAM128X1S = 2,
  RAM128X1D/RAM256X1S/RAM32M/RAM64M = 4, RAM256X1D/RAM512X1S/RAM32M16/RAM64M8/RAM32X16DR8/
  RAM64X8SW = 8; shift-register LUTs (SRL16E/SRLC16E/SRLC32E, also counted in ``srl``) = 1 each,
  so ``lutram_luts`` matches Vivado's "LUT as Memory". ECP5 TRELLIS_DPR16X4 (16x4 bits) = 6
  LUT4 sites: its 64 bits fill four LUT4s (two slices) and the write port takes a third slice
  (Lattice TN1264: a 16x4 pseudo-dual-port RAM uses 3 slices; nextpnr-ecp5 packs it as four
  RAM-mode TRELLIS_COMBs plus a TRELLIS_RAMW).
- ``bram``: block RAM in units of the family's large block (Xilinx RAMB36E2 + 0.5 * RAMB18E2,
  E1 likewise; ECP5 DP16KD (18 Kbit); iCE40 SB_RAM40_4K (4 Kbit)).
- ``uram``: Xilinx URAM288 (+ URAM288_BASE); iCE40 SB_SPRAM256KA (only if instantiated; Yosys
  does not infer it); 0 on ECP5.
- ``dsp``: DSP48E2/DSP48E1; ECP5 MULT18X18D; iCE40 SB_MAC16.
- ``muxf``: wide-function multiplexers between LUTs (Xilinx MUXF7/8/9, ECP5 PFUMX/L6MUX21);
  they use slice routing, not LUTs, and are not in ``lut_equiv``.
- ``unmapped``: generic Yosys cells (``$...``) left after synthesis (should be 0).
- ``lut_equiv`` = ``lut + lutram_luts + carry_luts``: the LUT-equivalents benchmarks compare.
- ``cells``: total cell count.

A missing Yosys raises ToolMissing; a failed run raises HwgenError with a one-line message that
names the log file. The result depends only on the inputs (ABC and Yosys are deterministic).
"""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

from hwgen.errors import HwgenError
from hwgen.tools import find_tool

__all__ = ["synthesize", "synth_command", "FAMILIES", "summarize"]

_XILINX_LUTRAM_LUTS = {
    "RAM16X1S": 1, "RAM32X1S": 1, "RAM64X1S": 1,
    "RAM16X1D": 2, "RAM32X1D": 2, "RAM64X1D": 2, "RAM128X1S": 2,
    "RAM128X1D": 4, "RAM256X1S": 4, "RAM32M": 4, "RAM64M": 4,
    "RAM256X1D": 8, "RAM512X1S": 8, "RAM32M16": 8, "RAM64M8": 8, "RAM32X16DR8": 8, "RAM64X8SW": 8,
}
_XILINX_LUTRAM_LUTS.update({f"{k}_1": v for k, v in list(_XILINX_LUTRAM_LUTS.items())})  # negedge

_XILINX = {
    "lut": {"LUT1": 1, "LUT2": 1, "LUT3": 1, "LUT4": 1, "LUT5": 1, "LUT6": 1, "INV": 1},
    "ff": {n: 1 for base in ("FDRE", "FDSE", "FDCE", "FDPE") for n in (base, base + "_1")},
    "latch": {"LDCE": 1, "LDPE": 1},
    "carry": {"CARRY4": 1, "CARRY8": 1},
    "carry_luts": {},
    "lutram": {n: 1 for n in _XILINX_LUTRAM_LUTS},
    "lutram_luts": dict(_XILINX_LUTRAM_LUTS, SRL16E=1, SRLC16E=1, SRLC32E=1),
    "srl": {"SRL16E": 1, "SRLC16E": 1, "SRLC32E": 1},
    "bram": {"RAMB36E2": 1.0, "RAMB18E2": 0.5, "RAMB36E1": 1.0, "RAMB18E1": 0.5},
    "uram": {"URAM288": 1, "URAM288_BASE": 1},
    "dsp": {"DSP48E2": 1, "DSP48E1": 1},
    "muxf": {"MUXF7": 1, "MUXF8": 1, "MUXF9": 1},
}

_ECP5 = {
    "lut": {"LUT4": 1},
    "ff": {"TRELLIS_FF": 1},
    "latch": {},
    "carry": {"CCU2C": 1},
    "carry_luts": {"CCU2C": 2},
    "lutram": {"TRELLIS_DPR16X4": 1},
    "lutram_luts": {"TRELLIS_DPR16X4": 6},
    "srl": {},
    "bram": {"DP16KD": 1.0, "PDPW16KD": 1.0},
    "uram": {},
    "dsp": {"MULT18X18D": 1},
    "muxf": {"PFUMX": 1, "L6MUX21": 1},
}

_ICE40 = {
    "lut": {"SB_LUT4": 1},
    "ff": {},  # every SB_DFF* variant, see _count
    "latch": {},
    "carry": {"SB_CARRY": 1},
    "carry_luts": {},
    "lutram": {},
    "lutram_luts": {},
    "srl": {},
    "bram": {"SB_RAM40_4K": 1.0, "SB_RAM40_4KNR": 1.0, "SB_RAM40_4KNW": 1.0, "SB_RAM40_4KNRNW": 1.0},
    "uram": {"SB_SPRAM256KA": 1},
    "dsp": {"SB_MAC16": 1},
    "muxf": {},
}

#: family name -> (flattening Yosys synthesis command without -top, primitive tables)
FAMILIES = {
    "xcup": ("synth_xilinx -family xcup -flatten -noiopad", _XILINX),
    "xcu": ("synth_xilinx -family xcu -flatten -noiopad", _XILINX),
    "xc7": ("synth_xilinx -family xc7 -flatten -noiopad", _XILINX),
    "ecp5": ("synth_ecp5", _ECP5),
    "ice40": ("synth_ice40 -dsp", _ICE40),
}



def synth_command(family: str, *, flatten: bool = True) -> str:
    """The Yosys synthesis command (without ``-top``) for ``family``, flattening or keeping the
    module hierarchy (``synth_xilinx`` flattens only with ``-flatten``; ``synth_ecp5`` and
    ``synth_ice40`` flatten unless given ``-noflatten``)."""
    if family not in FAMILIES:
        raise HwgenError(f"unknown FPGA family {family!r}; choose one of {', '.join(FAMILIES)}")
    cmd = FAMILIES[family][0]
    if flatten:
        return cmd
    words = cmd.split()
    if "-flatten" in words:
        return " ".join(w for w in words if w != "-flatten")
    return f"{cmd} -noflatten"


_KEYS = ("lut", "ff", "carry", "carry_luts", "lutram", "lutram_luts", "srl", "bram", "uram", "dsp",
         "muxf", "latch")


def summarize(primitives: dict, family: str) -> dict:
    """The summary (see the module docstring) of a ``{cell type: count}`` mapping."""
    if family not in FAMILIES:
        raise HwgenError(f"unknown FPGA family {family!r}; choose one of {', '.join(FAMILIES)}")
    table = FAMILIES[family][1]
    summary = {}
    for key in _KEYS:
        weights = table[key]
        total = sum(weights[t] * n for t, n in primitives.items() if t in weights)
        if family == "ice40" and key == "ff":
            total = sum(n for t, n in primitives.items() if t.startswith("SB_DFF"))
        summary[key] = float(total) if key == "bram" else int(total)
    summary["unmapped"] = sum(n for t, n in primitives.items() if t.startswith("$"))
    summary["lut_equiv"] = summary["lut"] + summary["lutram_luts"] + summary["carry_luts"]
    summary["cells"] = int(sum(primitives.values()))
    return summary


def _yosys_quote(path: Path) -> str:
    text = str(path)
    if any(c in text for c in '"\n;'):
        raise HwgenError("unsupported character in path for Yosys", file=text)
    return f'"{text}"'


def run_yosys(script: Path, workdir: Path, log: Path, what: str, timeout=None) -> None:
    """Run the Yosys script ``script`` in ``workdir``, its output in ``log``. A timeout, a signal
    or a non-zero exit raises HwgenError (one line: ``yosys (<what>) ...`` and the first error
    in the log)."""
    yosys = find_tool("yosys")
    try:
        with open(log, "w") as log_file:
            proc = subprocess.run([yosys, "-s", str(script)], stdout=log_file,
                                  stderr=subprocess.STDOUT, cwd=workdir, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise HwgenError(f"yosys ({what}) did not finish within {timeout:g} s") from None
    if proc.returncode < 0:
        try:
            name = signal.Signals(-proc.returncode).name
        except ValueError:
            name = f"signal {-proc.returncode}"
        hint = " (out of memory?)" if name == "SIGKILL" else ""
        raise HwgenError(f"yosys ({what}) was killed by {name}{hint}")
    if proc.returncode != 0:
        err = _first_error(log) or f"exit code {proc.returncode}"
        raise HwgenError(f"yosys ({what}) failed: {err}")


def _first_error(log: Path) -> str:
    try:
        lines = log.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    for i, line in enumerate(lines):
        if line.startswith("ERROR:"):
            msg = line[len("ERROR:"):].strip()
            # Yosys wraps long error messages onto following lines
            for extra in lines[i + 1:i + 4]:
                if not extra.strip() or extra.startswith(("End of script", "Warning", "ERROR")):
                    break
                msg += " " + extra.strip()
            return msg
    return ""


def _design_totals(modules: dict, top: str) -> dict:
    """Primitives of ``top`` with its submodules, each counted per instance, from the modules'
    own cells (``{module: {cell type: count}}``, instances included as cells of the module's
    type)."""
    memo = {}

    def total(name, depth=0):
        if name in memo:
            return memo[name]
        if depth > len(modules):
            raise HwgenError(f"recursive module hierarchy at {name}")
        out = {}
        for t, n in modules.get(name, {}).items():
            sub = total(t, depth + 1) if t in modules else {t: 1}
            for k, v in sub.items():
                out[k] = out.get(k, 0) + n * v
        memo[name] = out
        return out

    return total(top)


def synthesize(verilog_files, top: str, family: str, workdir, log_path=None, *,
               timeout: float | None = None, flatten: bool = True) -> dict:
    """Synthesize ``verilog_files`` (top module ``top``) for ``family`` and count resources.

    ``flatten=False`` keeps the module hierarchy (see the module docstring). ``workdir`` holds
    the Yosys script and the statistics (created if missing); the Yosys log goes to ``log_path``
    if given, else ``workdir/yosys_<top>_<family>.log``.
    """
    if family not in FAMILIES:
        raise HwgenError(f"unknown FPGA family {family!r}; choose one of {', '.join(FAMILIES)}")
    if isinstance(verilog_files, (str, Path)):
        verilog_files = [verilog_files]
    sources = [Path(f).resolve() for f in verilog_files]
    if not sources:
        raise HwgenError("synthesize: no Verilog files given")
    for src in sources:
        if not src.is_file():
            raise HwgenError("Verilog file not found", file=str(src))
    find_tool("yosys")                  # a missing Yosys fails before any file is written

    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    stem = f"{top}_{family}"
    log = Path(log_path).resolve() if log_path is not None else workdir / f"yosys_{stem}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    # Yosys 0.23's ``stat -json`` of a design with several modules is not valid JSON (it appends
    # the hierarchy as text): the text ``stat`` is parsed instead (hwgen.fpga.yosys.parse_stat)
    stat_file = workdir / (f"stat_{stem}.json" if flatten else f"stat_{stem}.txt")
    script = workdir / f"synth_{stem}.ys"
    if stat_file.exists():
        stat_file.unlink()

    synth_cmd = synth_command(family, flatten=flatten)
    lines = [f"read_verilog -sv -noassert -noassume {' '.join(_yosys_quote(s) for s in sources)}",
             f"hierarchy -check -top {top}",
             f"{synth_cmd} -top {top}",
             # relative to cwd=workdir: Yosys 0.23's tee fails silently on a quoted path
             f"tee -q -o {stat_file.name} stat -json" if flatten else
             f"tee -q -o {stat_file.name} stat -top {top}"]
    script.write_text("\n".join(lines) + "\n")

    what = synth_cmd.split()[0]
    try:
        run_yosys(script, workdir, log, what, timeout=timeout)
    except HwgenError as e:
        raise HwgenError(f"{e}; see {log}") from None
    if not stat_file.is_file():
        raise HwgenError(f"yosys ({what}) wrote no statistics; see {log}")

    if flatten:
        stat = json.loads(stat_file.read_text())
        if "design" in stat:
            by_type = stat["design"].get("num_cells_by_type", {})
        else:
            modules = stat.get("modules", {})
            entry = modules.get("\\" + top) or (next(iter(modules.values())) if len(modules) == 1 else {})
            by_type = entry.get("num_cells_by_type", {})
        primitives = {t: int(by_type[t]) for t in sorted(by_type)}
        modules = {top: primitives}
    else:
        from hwgen.fpga.yosys import parse_stat
        parsed = parse_stat(stat_file.read_text())
        if top not in parsed:
            raise HwgenError(f"yosys {synth_cmd.split()[0]}: module {top} missing from the statistics; see {log}")
        primitives = dict(sorted(_design_totals(parsed, top).items()))
        modules = {name: {t: n for t, n in sorted(cells.items()) if t not in parsed}
                   for name, cells in sorted(parsed.items())}
    return {"family": family, "top": top, "log": str(log), "command": synth_cmd,
            "primitives": primitives, "summary": summarize(primitives, family), "modules": modules}
