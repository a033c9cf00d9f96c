"""cocotb testbench: the accelerator RTL against the Python cycle-accurate simulator.

The case file (``HWGEN_CASE``) carries the input beats, the output-ready pattern, and what the
simulator predicts: ``expected`` output beats (batch, blocks, columns) and ``expected_cycles``
with the output always ready. The bench drives the DUT (hwgen.rtlsim.bench.run_case) and checks,
inside the simulation: every output beat equals the prediction, ``tlast`` marks exactly the last
beat of each vector, and the measured cycles equal the prediction plus the cycles the output was
held by backpressure (each such cycle stalls the engine by exactly one).
"""

import os

import cocotb
import numpy as np

from hwgen.rtlsim.bench import run_case


@cocotb.test()
async def matches_simulator(dut):
    case = np.load(os.environ["HWGEN_CASE"])
    blocks = int(case["blocks"])
    out, lasts, cycles, stalls = await run_case(
        dut, case["beats"], case["ready"], int(case["columns"]), int(case["out_bits"]),
        blocks, int(case["max_cycles"]))
    expected = case["expected"]
    mismatch = np.argwhere(out != expected)
    assert mismatch.size == 0, (
        f"{len(mismatch)} output values differ; first at (vector, beat, column) "
        f"{tuple(mismatch[0])}: rtl {out[tuple(mismatch[0])]} vs simulator {expected[tuple(mismatch[0])]}")
    want_last = np.tile(np.arange(blocks) == blocks - 1, len(expected)).astype(np.int8)
    assert np.array_equal(lasts, want_last), f"tlast pattern {lasts.tolist()} != {want_last.tolist()}"
    if not case["ready"].all():
        assert stalls > 0, "the ready pattern never held a valid output beat: backpressure untested"
    assert cycles == int(case["expected_cycles"]) + stalls, (
        f"rtl took {cycles} cycles, simulator predicts {int(case['expected_cycles'])} + {stalls} stalls")
    np.savez(os.environ["HWGEN_RESULT"], outputs=out, lasts=lasts, cycles=cycles, stalls=stalls)
