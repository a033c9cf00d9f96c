"""cocotb testbench: the accelerator RTL against the Python cycle-accurate simulator.

The case file (``HWGEN_CASE``) carries the input beats, the output-ready pattern, and what the
simulator predicts for that pattern: ``expected`` output beats (batch, blocks, columns),
``expected_cycles`` and ``expected_stalls`` (cycles an output beat is held; ``Plan.output_schedule``;
-1 for a stalled-core top such as the hardwired engine, whose cycles are the all-ready prediction
plus the measured held cycles).
The bench drives the DUT (hwgen.rtlsim.bench.run_case) and checks, inside the simulation: every
output beat equals the prediction, ``tlast`` marks exactly the last beat of each vector, and the
measured cycles and held cycles equal the prediction.
"""

import os

import cocotb
import numpy as np

from hwgen.rtlsim.bench import check_beats, run_case


@cocotb.test()
async def matches_simulator(dut):
    case = np.load(os.environ["HWGEN_CASE"])
    out, lasts, cycles, stalls, _ = await run_case(dut, case)
    check_beats(out, lasts, case)
    if not case["ready"].all():
        assert stalls > 0, "the ready pattern never held a valid output beat: backpressure untested"
    want_cycles, want_stalls = int(case["expected_cycles"]), int(case["expected_stalls"])
    if want_stalls < 0:         # a stalled-core top: each held cycle delays the engine by one
        want_cycles, want_stalls = want_cycles + stalls, stalls
    assert (cycles, stalls) == (want_cycles, want_stalls), (
        f"rtl took {cycles} cycles with {stalls} held, simulator predicts {want_cycles} with {want_stalls}")
    np.savez(os.environ["HWGEN_RESULT"], outputs=out, lasts=lasts, cycles=cycles, stalls=stalls)
