"""cocotb testbench for the board top (``hwgen_board``, board "sim"): the host link over the UART pins.

The bench is a byte pipe with a host's pacing: it drives ``uart_rx`` bit by bit (8N1, ``divisor``
clock cycles per bit) and decodes ``uart_tx`` the same way, checking every stop bit. What to send
and when comes from the case file (``HWGEN_CASE``, written by test_board.py with the protocol's
Python side, hwgen.fpga.hostlink): chunk ``k`` of bytes is sent once ``after[k]`` reply bytes
have arrived, which is how the host keeps at most ``window`` RUN frames in flight. The bench stops
when ``expect`` bytes have arrived and writes them to ``HWGEN_RESULT``; test_board.py decodes
them and compares with the golden model.
"""

import os

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, First, ReadOnly, RisingEdge, Timer


async def send_byte(dut, value, divisor):
    bits = [0] + [(value >> i) & 1 for i in range(8)] + [1]
    for b in bits:
        dut.uart_rx.value = b
        await ClockCycles(dut.clk, divisor)


async def receive(dut, divisor, got, expect):
    """Decode ``uart_tx`` frames into ``got`` until it holds ``expect`` bytes."""
    while len(got) < expect:
        if dut.uart_tx.value == 1:
            await FallingEdge(dut.uart_tx)
        await ClockCycles(dut.clk, divisor // 2)
        await ReadOnly()
        assert dut.uart_tx.value == 0, f"glitch instead of a start bit before reply byte {len(got)}"
        value = 0
        for i in range(8):
            await ClockCycles(dut.clk, divisor)
            await ReadOnly()
            value |= int(dut.uart_tx.value) << i
        await ClockCycles(dut.clk, divisor)
        await ReadOnly()
        assert dut.uart_tx.value == 1, f"stop bit of reply byte {len(got)} is 0"
        got.append(value)
        await RisingEdge(dut.clk)       # leave the read-only phase


@cocotb.test()
async def host_link(dut):
    case = np.load(os.environ["HWGEN_CASE"])
    divisor = int(case["divisor"])
    chunks = np.split(case["data"], case["splits"])
    after = [int(a) for a in case["after"]]
    expect = int(case["expect"])
    max_cycles = int(case["max_cycles"])

    dut.uart_rx.value = 1
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    await ClockCycles(dut.clk, int(case["por_cycles"]) + 16)    # the board resets itself

    got = []
    rx_task = cocotb.start_soon(receive(dut, divisor, got, expect))

    async def host():
        for chunk, threshold in zip(chunks, after):
            while len(got) < threshold:
                await ClockCycles(dut.clk, divisor)
            for b in chunk:
                await send_byte(dut, int(b), divisor)

    host_task = cocotb.start_soon(host())
    await First(rx_task, ClockCycles(dut.clk, max_cycles))
    assert len(got) == expect, (
        f"timeout after {max_cycles} cycles: {len(got)} of {expect} reply bytes "
        f"(host {'done' if host_task.done() else 'still sending'})")
    await Timer(1, unit="ns")
    np.savez(os.environ["HWGEN_RESULT"], received=np.array(got, dtype=np.uint8))
