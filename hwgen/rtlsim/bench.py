"""cocotb testbench for the accelerator top: drives input beats, collects output beats, counts cycles.

The case (inputs, output-ready pattern, geometry) comes from the npz named by ``HWGEN_CASE``;
results go to the npz named by ``HWGEN_RESULT``. Used by ``hwgen sim --rtl`` and rtl_tests/.

Each cycle, at the falling clock edge, the bench drives ``s_axis_tvalid/tdata`` and
``m_axis_tready``, waits for the signals to settle, and notes which handshakes the next rising edge
will complete. Cycles are counted from the first input handshake to the last output handshake,
both included, as in ``Plan.total_cycles``.
"""

import os

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge


def pack_lanes(values, bits):
    mask = (1 << bits) - 1
    word = 0
    for i, v in enumerate(values):
        word |= (int(v) & mask) << (bits * i)
    return word


def unpack_lanes(word, count, bits):
    out = []
    for i in range(count):
        v = (word >> (bits * i)) & ((1 << bits) - 1)
        out.append(v - (1 << bits) if v >> (bits - 1) else v)
    return out


async def run_case(dut, case):
    """Drive a case and collect its output beats; returns outputs (batch, blocks, columns), the
    tlast bits, cycles, output stalls (cycles an output beat was held) and the weight beats taken.

    ``case`` (an npz mapping) holds ``beats`` (batch, chunks, lanes), the output-ready pattern
    ``ready``, ``columns``, ``out_bits``, ``blocks`` and ``max_cycles``. For a top with streamed
    weights (``s_axis_weights_*``) it also holds the weight beats of one vector (``wbeats``), the
    DRAM pattern (``dram``, 1 where the DRAM can deliver a beat) and ``lead`` (cycles the weight
    stream runs before the first input beat); without them no weight beat is driven.
    """
    beats, ready = case["beats"], case["ready"]
    columns, out_bits = int(case["columns"]), int(case["out_bits"])
    blocks, max_cycles = int(case["blocks"]), int(case["max_cycles"])
    stream = "wbeats" in case
    lead = int(case["lead"]) if stream else 0
    batch = beats.shape[0]

    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.rst.value = 1
    dut.s_axis_tvalid.value = 0
    dut.s_axis_tdata.value = 0
    if stream:
        dut.s_axis_weights_tvalid.value = 0
        dut.s_axis_weights_tdata.value = 0
    dut.m_axis_tready.value = 0
    for _ in range(3):
        await RisingEdge(dut.clk)
    dut.rst.value = 0

    words = [pack_lanes(b, 8) for b in beats.reshape(-1, beats.shape[-1])]
    if stream:
        dram = case["dram"]
        wwords = [int.from_bytes(row.tobytes(), "little") for row in case["wbeats"]]
        n_w = len(wwords) * batch
    expected_beats = batch * blocks
    got, lasts = [], []
    sent = wsent = 0
    holding = False
    first_in = last_out = None
    stalls = 0
    for k in range(max_cycles):
        await FallingEdge(dut.clk)
        if k >= lead and sent < len(words):
            dut.s_axis_tvalid.value = 1
            dut.s_axis_tdata.value = words[sent]
        else:
            dut.s_axis_tvalid.value = 0
        if stream:
            wvalid = wsent < n_w and (holding or bool(dram[k % len(dram)]))
            dut.s_axis_weights_tvalid.value = int(wvalid)
            if wvalid:
                dut.s_axis_weights_tdata.value = wwords[wsent % len(wwords)]
        dut.m_axis_tready.value = int(ready[k % len(ready)])
        await ReadOnly()
        if k >= lead and sent < len(words) and dut.s_axis_tready.value == 1:
            if first_in is None:
                first_in = k
            sent += 1
        if stream and wvalid:
            if dut.s_axis_weights_tready.value == 1:
                wsent += 1
                holding = False
            else:
                holding = True
        if dut.m_axis_tvalid.value == 1:
            if dut.m_axis_tready.value == 1:
                got.append(unpack_lanes(dut.m_axis_tdata.value.to_unsigned(), columns, out_bits))
                lasts.append(int(dut.m_axis_tlast.value))
                last_out = k
                if len(got) == expected_beats:
                    break
            else:
                stalls += 1
    else:
        raise AssertionError(f"timeout after {max_cycles} cycles: {sent} input beats, {wsent} weight beats in, "
                             f"{len(got)} out")
    out = np.array(got, dtype=np.int64).reshape(batch, blocks, columns)
    return out, np.array(lasts, dtype=np.int8), last_out - first_in + 1, stalls, wsent


def check_beats(out, lasts, case):
    """Assert (inside the simulation) that the collected beats equal ``case["expected"]`` and
    that ``tlast`` marks exactly the last beat of each vector."""
    expected, blocks = case["expected"], int(case["blocks"])
    mismatch = np.argwhere(out != expected)
    assert mismatch.size == 0, (
        f"{len(mismatch)} output values differ; first at (vector, beat, column) "
        f"{tuple(mismatch[0])}: rtl {out[tuple(mismatch[0])]} vs simulator {expected[tuple(mismatch[0])]}")
    want_last = np.tile(np.arange(blocks) == blocks - 1, len(expected)).astype(np.int8)
    assert np.array_equal(lasts, want_last), f"tlast pattern {lasts.tolist()} != {want_last.tolist()}"


@cocotb.test()
async def accelerator_case(dut):
    case = np.load(os.environ["HWGEN_CASE"])
    out, lasts, cycles, stalls, _ = await run_case(dut, case)
    np.savez(os.environ["HWGEN_RESULT"], outputs=out, lasts=lasts, cycles=cycles, stalls=stalls)
