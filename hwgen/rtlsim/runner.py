"""Build generated Verilog with Verilator and run the cocotb bench on a batch of inputs."""

import hashlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import HwgenError
from ..streaming import is_streaming, stream_cycles, weight_beats
from ..tools import verilator_env

TOP = "hwgen_top"


@dataclass
class RtlResult:
    outputs: np.ndarray      # (batch, out_features)
    cycles: int              # first input beat to last output beat
    stalls: int              # cycles the output was valid but not ready
    lasts: np.ndarray        # tlast of every output beat


def run_rtl(plan, verilog_path, x, work_dir, ready=None, max_cycles=None, bench=None, expected=None):
    """Simulate ``verilog_path`` (the accelerator for ``plan``) on int8 inputs ``x``.

    ``ready`` is the output-ready pattern, repeated (default: always ready). Verilator builds are
    cached in ``work_dir`` by the Verilog's hash. ``bench`` is the cocotb test module to run
    (default: hwgen's own ``bench``, which only collects); ``expected`` holds extra arrays for
    the case file, for benches that check results inside the simulation. A failing cocotb test
    raises ``HwgenError``.
    """
    try:
        from cocotb_tools.check_results import get_results
        from cocotb_tools.runner import get_runner
    except ImportError:
        raise HwgenError("cocotb is not installed: pip install 'hwgen[rtl]' (or run scripts/setup.sh)") from None
    env = verilator_env()
    work_dir = Path(work_dir).resolve()
    verilog_path = Path(verilog_path).resolve()
    digest = hashlib.sha256(verilog_path.read_bytes()).hexdigest()[:16]
    build_dir = work_dir / f"verilator-{digest}"
    x = np.asarray(x)
    beats = plan.pack_input(x)
    ready = np.ones(1, dtype=np.uint8) if ready is None else np.asarray(ready, dtype=np.uint8)
    blocks = plan.layers[-1].blocks
    streaming = is_streaming(plan)       # weights from DRAM: one beat offered every cycle
    if max_cycles is None:
        slowdown = len(ready) / max(1, int(ready.sum()))      # output-ready duty cycle
        base = stream_cycles(plan, len(x)).cycles if streaming else plan.total_cycles(len(x))
        max_cycles = int(base * slowdown * 2) + 100
    case = work_dir / "case.npz"
    result = work_dir / "result.npz"
    work_dir.mkdir(parents=True, exist_ok=True)
    extra = dict(expected or {})
    if streaming and "wbeats" not in extra:
        extra.update(wbeats=weight_beats(plan), dram=np.ones(1, dtype=np.uint8), lead=0)
    np.savez(case, beats=beats, ready=ready, columns=plan.columns,
             out_bits=plan.out_bits, blocks=blocks, max_cycles=max_cycles, **extra)
    if result.exists():
        result.unlink()

    saved = dict(os.environ)
    os.environ.update(env)
    try:
        runner = get_runner("verilator")
        try:
            runner.build(sources=[verilog_path], hdl_toplevel=TOP, build_dir=build_dir,
                         build_args=["-Wno-fatal", "--x-assign", "fast", "--x-initial", "fast"],
                         always=False, log_file=work_dir / "verilator_build.log")
        except (SystemExit, RuntimeError):
            raise HwgenError(f"Verilator build failed; see {work_dir / 'verilator_build.log'}") from None
        bench_path = Path(bench) if bench else Path(__file__).with_name("bench.py")
        try:
            results_xml = runner.test(
                hdl_toplevel=TOP, test_module=bench_path.stem, test_dir=bench_path.parent,
                build_dir=build_dir, results_xml=str(work_dir / "results.xml"), log_file=work_dir / "sim.log",
                extra_env={"HWGEN_CASE": str(case), "HWGEN_RESULT": str(result),
                           "PYTHONPATH": os.pathsep.join([str(bench_path.parent)] + sys.path)})
        except (SystemExit, RuntimeError):  # under pytest the runner exits on a failed test
            results_xml = None
    finally:
        os.environ.clear()
        os.environ.update(saved)
    failed = get_results(Path(results_xml))[1] if results_xml and Path(results_xml).exists() else 1
    if failed or not result.exists():
        raise HwgenError(f"RTL simulation failed; see {work_dir / 'sim.log'}")
    r = np.load(result)
    outputs = plan.unpack_output(r["outputs"]).astype(plan.model.output_dtype)
    return RtlResult(outputs, int(r["cycles"]), int(r["stalls"]), r["lasts"])
