"""The performance goal, as a slow regression: the default model (models/digits) built for the
ECP5-85k closes timing at 125 MHz after place and route, and its bitstream and report agree with
the simulator. About two minutes (most of it nextpnr-ecp5):

    bash scripts/test.sh -m slow tests/test_fpga_default.py
"""

import json
from pathlib import Path

import numpy as np
import pytest

from hwgen.build import build
from hwgen.errors import ToolMissing
from hwgen.fpga import nextpnr as pnr
from hwgen.model import load_model
from hwgen.sim import make_simulator
from hwgen.tools import find_tool

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_digits_closes_timing_on_ecp5(tmp_path):
    try:
        find_tool("yosys")
        pnr.find_fpga_tool("nextpnr-ecp5")
        pnr.find_fpga_tool("ecppack")
    except ToolMissing as e:
        pytest.skip(str(e))
    model = load_model(ROOT / "models/digits/digits.yaml")
    out = tmp_path / "digits"
    build(model, target="fpga", out_dir=out, device="ecp5-85k", clock_mhz=125,
          progress=lambda step, seconds: None)
    rep = json.loads((out / "report.json").read_text())["fpga"]
    t = rep["timing"]
    assert t["core_clock_mhz"] == pytest.approx(125, rel=0.01)
    assert t["pass"] and t["fmax_mhz"] >= 125, f"fmax {t['fmax_mhz']} MHz, critical path {t['critical_path']}"
    assert (out / "fpga" / "ulx3s.bit").stat().st_size > 0
    # the report's cycles are the simulator's
    x = np.load(ROOT / "sim/digits/test_x.npy")[:2]
    sim = make_simulator(model)
    one, two = sim.run(x[:1]).cycles, sim.run(x).cycles
    perf = rep["performance"]
    assert perf["latency_cycles"] == one
    assert perf["vector_stride_cycles"] == two - one
    assert perf["inferences_per_s"] == pytest.approx(t["fmax_mhz"] * 1e6 / (two - one), abs=0.1)
