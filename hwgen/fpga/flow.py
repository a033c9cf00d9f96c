"""``hwgen build --target fpga``: synthesis, place and route, bitstream and reports.

``build_fpga(plan, tmp_dir, device=None, clock_mhz=None, progress=None)`` runs, for ``device``
(``hwgen.fpga.devices``: ``ecp5-85k`` default, ``ice40-up5k``, ``xcup``):

1. for ecp5/ice40, the board top (``hwgen.fpga.board.board_verilog``: a UART host link and a
   PLL around ``hwgen_top``; the bare accelerator has hundreds of AXI data pins) into
   ``fpga/<top>.v``, with the board's pin constraints copied to ``fpga/<board>.lpf|.pcf``;
2. Yosys on the placed top, flattened (``logs/yosys.log``); for xcup the top is ``hwgen_top``;
3. Yosys on ``hwgen_top`` keeping the hierarchy, for the per-block counts
   (``logs/yosys_blocks.log``);
4. nextpnr with the requested clock (``logs/nextpnr.log``, ``fpga/nextpnr_report.json``);
5. ecppack / icepack to ``fpga/<board>.bit|.bin`` (``logs/ecppack.log`` / ``icepack.log``).

It writes ``report.md`` and returns the ``fpga`` section of report.json: resources per block and
in total next to ``hwgen.estimate.estimate_resources(plan, family)`` with relative errors, the
placed design's utilization, the post-route maximum frequency per clock with pass/fail against
the requested clock and the critical path, throughput and latency at that frequency, tool
versions, the run time of each step and the bitstream's path and sha256.

Every tool is looked up before anything runs: a missing one raises ToolMissing (exit 3) naming
its package. Everything is written inside ``tmp_dir``; intermediate files (netlist JSON, nextpnr's
textual configuration) are removed at the end. Synthesis and placement are deterministic (fixed
nextpnr seed); the logs and step times are not.

``progress``: None prints one line per step on stderr (``hwgen: fpga: <step>: <s> s``; on a
terminal the step's name shows while it runs; place and route adds its fmax and PASS/FAIL); a
callable gets ``(step, seconds)`` after each step, ``step`` including that result.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import sys
import time
from pathlib import Path

from hwgen.errors import HwgenError
from hwgen.estimate import estimate_resources
from hwgen.rtl.verilog import TOP

from . import nextpnr as pnr
from .devices import check_clock, get_device
from .report import write_report_md
from .yosys import synth_blocks, synth_netlist, yosys_version

__all__ = ["build_fpga", "COMPARED_KEYS", "relative_error", "performance"]

BAUD = 115200           # the board's UART host link

#: resource keys compared with the analytic estimate
COMPARED_KEYS = ("lut", "ff", "carry", "lutram_luts", "lut_equiv", "bram", "uram", "dsp")


class _Steps:
    """Times the flow's steps and reports each one (see the module docstring)."""

    def __init__(self, progress):
        self.progress = progress
        self.done = []
        self.tty = progress is None and sys.stderr.isatty()

    def run(self, name, func, *args, result=None, **kwargs):
        """Run ``func``; ``result(value)`` may give a short text appended to the step's line."""
        if self.tty:
            print(f"hwgen: fpga: {name} ...", end="", file=sys.stderr, flush=True)
        t0 = time.monotonic()
        try:
            value = func(*args, **kwargs)
        except BaseException:
            if self.tty:
                print(file=sys.stderr, flush=True)
            raise
        seconds = time.monotonic() - t0
        detail = result(value) if result is not None else None
        self.done.append({"step": name, "seconds": round(seconds, 2)})
        if self.progress is None:
            print(f"{chr(13) if self.tty else ''}hwgen: fpga: {name}: {seconds:.1f} s"
                  + (f"; {detail}" if detail else ""), file=sys.stderr, flush=True)
        else:
            self.progress(name + (f": {detail}" if detail else ""), seconds)
        return value


def relative_error(estimate, synthesized):
    """(estimate - synthesized) / synthesized, rounded; 0 when both are 0, None when only the
    synthesized figure is 0."""
    if synthesized == 0:
        return 0.0 if estimate == 0 else None
    return round((estimate - synthesized) / synthesized, 4)


def _compare(estimate, synthesized):
    return {k: relative_error(estimate[k], synthesized[k])
            for k in COMPARED_KEYS if k in estimate and k in synthesized}


def performance(plan, clock_mhz):
    """Throughput and latency of ``plan`` at ``clock_mhz``."""
    stride = plan.vector_stride
    latency = plan.total_cycles(1)
    return {
        "clock_mhz": round(clock_mhz, 3),
        "vector_stride_cycles": stride,
        "inferences_per_s": round(clock_mhz * 1e6 / stride, 1),
        "latency_cycles": latency,
        "latency_us": round(latency / clock_mhz, 4),
        "layers": [{"name": l["name"], "cycles": l["cycles"], "us": round(l["cycles"] / clock_mhz, 4)}
                   for l in plan.summary()["layers"]],
    }


def _sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _board(plan, device, clock_mhz, out_dir):
    """Write the board top and its constraints into ``out_dir``.

    Returns (top, Verilog path, constraints path, the core clock in MHz the PLL really makes).
    """
    from . import board as board_mod
    hz = clock_mhz * 1e6
    try:   # what the PLL can make, and the UART divisor at that clock: both follow from --clock-mhz
        actual_hz = board_mod.core_clock(device.board, hz)
        board_mod.uart_divisor(actual_hz, BAUD)
    except HwgenError as e:
        raise HwgenError(e.message, field="--clock-mhz") from None
    text, top = board_mod.board_verilog(plan, board=device.board, core_clock_hz=hz, baud=BAUD)
    actual_mhz = actual_hz / 1e6
    src = out_dir / f"{top}.v"
    src.write_text(text)
    cfile = Path(board_mod.constraints_file(device.board))
    if not cfile.is_file():
        raise HwgenError("board constraints not found", file=cfile)
    constraints = out_dir / f"{device.board}{cfile.suffix}"
    shutil.copyfile(cfile, constraints)
    return top, src, constraints, actual_mhz


def _timing(rep, clock_mhz, core_mhz):
    """The timing summary of a parsed nextpnr report: the core clock is the one constrained
    closest to the PLL output; PASS when it reaches that output and every clock meets its
    constraint."""
    core = pnr.pick_core_clock(rep["clocks"], core_mhz)
    if core is None:
        raise HwgenError("nextpnr reported no clock: is the board top clocked?")
    c = rep["clocks"][core]
    return {
        "requested_mhz": clock_mhz,
        "core_clock_mhz": round(core_mhz, 6),
        "core_clock": core,
        "constraint_mhz": c["constraint_mhz"],
        "fmax_mhz": c["achieved_mhz"],
        "pass": c["achieved_mhz"] >= core_mhz and all(v["pass"] for v in rep["clocks"].values()),
        "clocks": rep["clocks"],
        "seed": pnr.SEED,
    }


def _tools(device):
    """Look every tool up before anything runs (ToolMissing names the missing package)."""
    from hwgen.tools import find_tool
    find_tool("yosys")
    if device.has_pnr:
        pnr.find_fpga_tool(device.pnr)
        pnr.find_fpga_tool(device.packer)


def build_fpga(plan, tmp_dir, *, device=None, clock_mhz=None, progress=None):
    dev = get_device(device)
    clock_mhz = check_clock(clock_mhz, dev)
    _tools(dev)
    tmp_dir = Path(tmp_dir).resolve()      # the tools run in tmp_dir/fpga/work
    rtl = tmp_dir / "rtl" / f"{TOP}.v"
    if not rtl.is_file():
        raise HwgenError("accelerator Verilog missing", file=rtl)
    fpga_dir = tmp_dir / "fpga"
    work = fpga_dir / "work"
    logs = tmp_dir / "logs"
    for d in (fpga_dir, work, logs):
        d.mkdir(parents=True, exist_ok=True)
    steps = _Steps(progress)
    synth_name = dev.synth.split()[0]
    files = {}
    log_files = {}

    # 1. what gets placed: the board top around the accelerator (ecp5, ice40) or hwgen_top (xcup)
    if dev.has_pnr:
        top, board_src, constraints, core_mhz = steps.run(f"board top ({dev.board})", _board, plan, dev,
                                                          clock_mhz, fpga_dir)
        # the board top embeds the accelerator, unless it instantiates the module hwgen_top
        instantiates = re.search(rf"^\s*\\?{TOP}\s+\S+\s*\(", board_src.read_text(), re.M)
        sources = [rtl, board_src] if instantiates else [board_src]
        files[f"fpga/{board_src.name}"] = board_src
        files[f"fpga/{constraints.name}"] = constraints
    else:
        top, sources = TOP, [rtl]

    # 2. flattened synthesis of the placed top
    ylog = logs / "yosys.log"
    netlist, placed_summary, placed_prims = steps.run(
        f"synthesis (yosys {synth_name}, {top})", synth_netlist, sources, top, dev, work, ylog)
    log_files["yosys"] = ylog

    # 3. per-block counts of the accelerator, hierarchy kept
    blog = logs / "yosys_blocks.log"
    blocks = steps.run(f"per-block synthesis (yosys {dev.synth_blocks})", synth_blocks, rtl, TOP, dev,
                       work, blog)
    log_files["yosys_blocks"] = blog

    estimate = estimate_resources(plan, dev.family)
    resources = {
        "synthesized": {"blocks": blocks["blocks"], "total": blocks["total"], "modules": blocks["modules"],
                        "basis": f"Yosys {dev.synth_blocks} of {TOP} (module hierarchy kept); "
                                 f"dot = {TOP}.core.dot, core = the rest of {TOP}"},
        "estimate": {"blocks": estimate["blocks"], "total": estimate["total"], "basis": estimate.get("basis")},
        "relative_error": {
            "blocks": {b: _compare(estimate["blocks"].get(b, {}), blocks["blocks"][b])
                       for b in blocks["blocks"]},
            "total": _compare(estimate["total"], blocks["total"]),
        },
        "placed": {"top": top, "synthesis": placed_summary, "primitives": placed_prims,
                   "basis": f"Yosys {dev.synth} of {top}"},
    }

    tools = {"yosys": yosys_version()}
    timing = None
    bitstream = None
    if dev.has_pnr:
        report_json = fpga_dir / "nextpnr_report.json"
        pnr_out = work / f"{dev.board}{dev.pnr_output_ext}"
        plog = logs / "nextpnr.log"
        shutil.copyfile(constraints, work / constraints.name)

        def place_and_route():
            pnr.run_nextpnr(dev, netlist, work / constraints.name, work, plog, clock_mhz=core_mhz,
                            report=work / report_json.name, output=pnr_out)
            shutil.move(work / report_json.name, report_json)
            rep = pnr.parse_report(report_json)
            return rep, _timing(rep, clock_mhz, core_mhz)

        def verdict(value):
            t = value[1]
            return (f"fmax {t['fmax_mhz']:.1f} MHz, {'PASS' if t['pass'] else 'FAIL'} "
                    f"at {t['core_clock_mhz']:g} MHz")

        rep, timing = steps.run(f"place and route ({dev.pnr})", place_and_route, result=verdict)
        log_files["nextpnr"] = plog
        files["fpga/nextpnr_report.json"] = report_json
        resources["placed"]["utilization"] = rep["utilization"]
        timing["critical_path"] = pnr.critical_path_summary(rep["critical_paths"], timing["core_clock"])

        bit = fpga_dir / f"{dev.board}{dev.bitstream_ext}"
        klog = logs / f"{dev.packer}.log"
        steps.run(f"bitstream ({dev.packer})", pnr.run_packer, dev, pnr_out, work / bit.name, work, klog)
        shutil.move(work / bit.name, bit)
        log_files[dev.packer] = klog
        bitstream = {"path": f"fpga/{bit.name}", "bytes": bit.stat().st_size, "sha256": _sha256(bit)}
        tools["nextpnr"] = pnr.tool_version(dev.pnr)
        tools["packer"] = pnr.tool_version(dev.packer)

    if timing is not None:
        perf = {"basis": f"post-route fmax of {timing['core_clock']}", **performance(plan, timing["fmax_mhz"]),
                "at_core_clock": {k: v for k, v in performance(plan, timing["core_clock_mhz"]).items()
                                  if k != "layers"}}
    else:
        perf = {"basis": "requested clock (no open place and route for this device)",
                **performance(plan, clock_mhz)}

    shutil.rmtree(work, ignore_errors=True)
    section = {
        "device": dev.name,
        "part": dev.part,
        "family": dev.family,
        "board": dev.board,
        "top": top,
        "clock_mhz": clock_mhz,
        "timing": timing,
        "resources": resources,
        "performance": perf,
        "bitstream": bitstream,
        "tools": tools,
        "steps": steps.done,
        "files": {name: _sha256(p) for name, p in sorted(files.items())},
        "logs": {k: str(p.relative_to(tmp_dir)) for k, p in sorted(log_files.items())},
        "report_md": "report.md",
    }
    write_report_md(plan, section, tmp_dir / "report.md")
    return section
