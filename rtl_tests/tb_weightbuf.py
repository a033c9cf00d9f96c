"""cocotb testbench: the streamed-weight accelerator against the simulator and the stream cycle model.

The case file (``HWGEN_CASE``) carries the input beats, the weight beats of one vector
(``wbeats``: rows of little-endian tdata bytes, sent once per vector), the DRAM pattern ``dram``
(1: the DRAM can deliver a beat in that cycle; repeated), ``lead`` (cycles the weight stream runs
before the first input beat is offered), the output-ready pattern, and what the models predict:
``expected`` output beats, ``expected_cycles`` and ``expected_output_stalls``
(``hwgen.streaming.StreamModel``).

Each cycle, at the falling clock edge, the bench drives both input streams and ``m_axis_tready``,
waits for the signals to settle and notes the handshakes of the next rising edge. The weight
source follows AXI-Stream: it offers its next beat at the first pattern cycle after the previous
handshake and keeps it valid, unchanged, until it is taken. Cycles are counted from the first
input handshake to the last output handshake, both included. The bench checks every output beat,
``tlast``, the cycle count and the output stall count, and that the weight stream never offers
more beats than the vectors need. The driver is ``hwgen.rtlsim.bench.run_case``.
"""

import os

import cocotb
import numpy as np

from hwgen.rtlsim.bench import check_beats, run_case


@cocotb.test()
async def stream_matches_model(dut):
    case = np.load(os.environ["HWGEN_CASE"])
    out, lasts, cycles, stalls, wsent = await run_case(dut, case)
    check_beats(out, lasts, case)
    expected = case["expected"]
    assert wsent == len(case["wbeats"]) * len(expected), f"{wsent} weight beats taken"
    assert stalls == int(case["expected_output_stalls"]), (
        f"output held {stalls} cycles, model predicts {int(case['expected_output_stalls'])}")
    assert cycles == int(case["expected_cycles"]), (
        f"rtl took {cycles} cycles, stream model predicts {int(case['expected_cycles'])}")
    np.savez(os.environ["HWGEN_RESULT"], outputs=out, lasts=lasts, cycles=cycles, stalls=stalls)
