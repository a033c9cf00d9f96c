"""The board top through its host link: Verilog in Verilator (cocotb) driven over the UART pins.

``test_board_over_uart`` builds ``hwgen_board`` for board "sim" (no PLL, 8 clock cycles per UART
bit) around a tiny model, and plays the host with the protocol's Python side
(hwgen.fpga.hostlink): an aborted RUN frame and the resync bytes, IDENTIFY, three RUN frames sent
within the device's window, IDENTIFY again. The replies must decode to the golden model's
outputs, with the device's input checksum matching what was sent, and the IDENTIFY replies must
describe the plan with a clean status. One Verilator build.

The other tests are quick and need no simulator: PLL parameters, UART divisors, lint of the
"sim" board top, the constraint files.
"""

import os
import re
import sys
from pathlib import Path

import numpy as np
import pytest

from cases import engine, random_model
from hwgen.errors import HwgenError, ToolMissing
from hwgen.fpga import hostlink as hl
from hwgen.fpga.board import (BOARDS, POR_CYCLES, board_verilog, constraints_file, core_clock,
                              pll_config, uart_divisor)
from hwgen.golden import golden
from hwgen.plan import make_plan
from hwgen.tools import verilator_env

BENCH = Path(__file__).with_name("tb_board.py")
BAUD = 115200
DIVISOR = 8


def tiny_model(seed=5):
    rng = np.random.default_rng(seed)
    model = random_model(rng, engine("tlmm", 2, 2, 3), [10, 6, 4], shift=2)
    x = rng.integers(-128, 128, (3, 10)).astype(np.int8)
    x[1] = np.where(np.arange(10) % 2, 127, -128)          # saturating inputs
    return model, x


def host_schedule(plan, x):
    """(chunks of bytes, reply bytes to wait for before each chunk, all reply bytes expected)."""
    window = hl.default_window(plan)
    frames = hl.encode_batch(plan, x)
    rsize, isize = hl.reply_size(plan), 1 + hl.IDENT_SIZE
    aborted = frames[0][:6]                          # a RUN frame cut off after 5 payload bytes
    chunks = [aborted + hl.resync_bytes(plan), hl.identify_request()]
    after = [0, rsize]                               # the resync completes the aborted frame
    base = rsize + isize
    for i, f in enumerate(frames):
        chunks.append(f)
        after.append(base + max(0, i - window + 1) * rsize)
    chunks.append(hl.identify_request())
    after.append(base + len(frames) * rsize)
    return chunks, after, base + len(frames) * rsize + isize


def run_board(plan, verilog_path, chunks, after, expect, work):
    from cocotb_tools.check_results import get_results
    from cocotb_tools.runner import get_runner
    data = np.frombuffer(b"".join(chunks), dtype=np.uint8)
    splits = np.cumsum([len(c) for c in chunks])[:-1]
    sent = len(data)
    max_cycles = (sent + expect) * 10 * DIVISOR * 2 + 20 * plan.total_cycles(1) + 2000
    case, result = work / "case.npz", work / "result.npz"
    np.savez(case, data=data, splits=splits, after=np.array(after), expect=expect, divisor=DIVISOR,
             max_cycles=max_cycles, por_cycles=POR_CYCLES)
    saved = dict(os.environ)
    os.environ.update(verilator_env())
    try:
        runner = get_runner("verilator")
        runner.build(sources=[verilog_path], hdl_toplevel="hwgen_board", build_dir=work / "build",
                     build_args=["-Wno-fatal", "--x-assign", "fast", "--x-initial", "fast"],
                     always=False, log_file=work / "verilator_build.log")
        try:
            xml = runner.test(hdl_toplevel="hwgen_board", test_module=BENCH.stem, test_dir=BENCH.parent,
                              build_dir=work / "build", results_xml=str(work / "results.xml"),
                              log_file=work / "sim.log",
                              extra_env={"HWGEN_CASE": str(case), "HWGEN_RESULT": str(result),
                                         "PYTHONPATH": os.pathsep.join([str(BENCH.parent)] + sys.path)})
        except (SystemExit, RuntimeError):
            xml = None
    finally:
        os.environ.clear()
        os.environ.update(saved)
    failed = get_results(Path(xml))[1] if xml and Path(xml).exists() else 1
    assert not failed and result.exists(), f"cocotb bench failed; see {work / 'sim.log'}"
    return bytes(np.load(result)["received"])


@pytest.mark.rtl
def test_board_over_uart(tmp_path):
    model, x = tiny_model()
    plan = make_plan(model)
    text, top = board_verilog(plan, board="sim", core_clock_hz=DIVISOR * BAUD, baud=BAUD)
    assert top == "hwgen_board"
    src = tmp_path / "hwgen_board.v"
    src.write_text(text)
    chunks, after, expect = host_schedule(plan, x)
    got = run_board(plan, src, chunks, after, expect, tmp_path)

    rsize, isize = hl.reply_size(plan), 1 + hl.IDENT_SIZE
    assert got[0] == hl.CMD_RUN                          # the aborted frame's reply, discarded
    pos = rsize
    want_info = hl.device_info(plan)
    first = hl.decode_identify(got[pos:pos + isize])
    assert first == want_info, f"identify {first} != {want_info}"
    hl.check_device(first, plan)
    pos += isize
    frames = hl.encode_batch(plan, x)
    outputs = np.stack([hl.decode_reply(plan, got[pos + i * rsize:pos + (i + 1) * rsize], frames[i], index=i)
                        for i in range(len(x))])
    want = golden(model, x)
    assert outputs.dtype == want.dtype
    assert np.array_equal(outputs, want), f"board outputs\n{outputs}\n!= golden\n{want}"
    second = hl.decode_identify(got[pos + len(x) * rsize:])
    assert second.status == 0, "the device lost bytes or saw framing errors"


# ---- no simulator needed ----

def test_sim_board_lints_clean(tmp_path):
    from hwgen.lint import lint
    model, _ = tiny_model()
    plan = make_plan(model)
    text, top = board_verilog(plan, board="sim", core_clock_hz=DIVISOR * BAUD, baud=BAUD)
    src = tmp_path / "hwgen_board.v"
    src.write_text(text)
    try:
        lint([src], top)
    except ToolMissing as e:
        pytest.skip(f"Verilator not installed: {e}")


def test_board_verilog_deterministic_and_pll_instances():
    plan = make_plan(tiny_model()[0])
    a, _ = board_verilog(plan, board="ulx3s", core_clock_hz=50e6)
    assert a == board_verilog(plan, board="ulx3s", core_clock_hz=50e6)[0]
    assert "EHXPLLL" in a and ".CLKI(clk)" in a and ".CLKFB_DIV(32'd2)" in a
    b, _ = board_verilog(plan, board="icebreaker", core_clock_hz=24e6)
    assert "SB_PLL40_PAD" in b and ".PACKAGEPIN(clk)" in b and ".DIVF(7'h3f)" in b
    # at the oscillator's frequency there is no PLL (pll_config is None: test_known_pll_settings)


@pytest.mark.parametrize("board, mhz", [("ulx3s", 50), ("ulx3s", 125), ("ulx3s", 100), ("ulx3s", 33.3),
                                        ("ulx3s", 12.5), ("icebreaker", 24), ("icebreaker", 30),
                                        ("icebreaker", 48), ("icebreaker", 16), ("icebreaker", 100)])
def test_pll_dividers_within_ranges(board, mhz):
    cfg = pll_config(board, mhz * 1e6)
    f_in, p = BOARDS[board].oscillator_hz, cfg.params
    assert cfg.output_hz == pytest.approx(mhz * 1e6, rel=0.01)
    if board == "ulx3s":
        pfd = f_in / p["CLKI_DIV"]
        out = pfd * p["CLKFB_DIV"]
        vco = out * p["CLKOP_DIV"]
        assert 3.125e6 <= pfd <= 400e6 and 400e6 <= vco <= 800e6 and 10e6 <= out <= 400e6
        assert 1 <= p["CLKI_DIV"] <= 128 and 1 <= p["CLKFB_DIV"] <= 80 and 1 <= p["CLKOP_DIV"] <= 128
    else:
        pfd = f_in / (p["DIVR"] + 1)
        vco = pfd * (p["DIVF"] + 1)
        out = vco / 2 ** p["DIVQ"]
        assert 10e6 <= pfd <= 133e6 and 533e6 <= vco <= 1066e6 and 16e6 <= out <= 275e6
        assert p["FILTER_RANGE"] == 1                  # 12 MHz PFD (icepll: < 17 MHz -> 1)
    assert out == pytest.approx(cfg.output_hz)
    assert core_clock(board, mhz * 1e6) == cfg.output_hz


def test_known_pll_settings():
    # icepll -i 12 -o 30 gives DIVR 0, DIVF 79, DIVQ 5 (as quoted in public iCE40 designs)
    assert pll_config("icebreaker", 30e6).params == {"DIVR": 0, "DIVF": 79, "DIVQ": 5, "FILTER_RANGE": 1}
    assert pll_config("ulx3s", 25e6) is None and pll_config("icebreaker", 12e6) is None
    assert pll_config("sim", 1e6) is None


@pytest.mark.parametrize("board, mhz", [("icebreaker", 10), ("icebreaker", 300), ("ulx3s", 5),
                                        ("ulx3s", 48), ("ulx3s", 500)])
def test_unreachable_clock_is_one_line_error(board, mhz):
    with pytest.raises(HwgenError) as e:
        pll_config(board, mhz * 1e6)
    assert "\n" not in str(e.value) and board in str(e.value)


def test_unknown_board_and_bad_baud():
    plan = make_plan(tiny_model()[0])
    with pytest.raises(HwgenError, match="unknown board"):
        board_verilog(plan, board="de10", core_clock_hz=50e6)
    with pytest.raises(HwgenError, match="baud"):
        board_verilog(plan, board="sim", core_clock_hz=3 * BAUD, baud=BAUD)     # 3 cycles per bit
    assert uart_divisor(12e6, 115200) == 104
    with pytest.raises(HwgenError, match="off"):
        uart_divisor(1.1e6, 250000)                      # 4.4 cycles per bit: 10% off


def test_constraint_files_name_the_board_ports():
    for name in ("ulx3s", "icebreaker"):
        path = constraints_file(name)
        assert path == BOARDS[name].constraints and path.is_file()
        text = path.read_text()
        ports = set(re.findall(r'(?:COMP|PORT|set_io\s+(?:-\S+\s+)*)\s*"?(\w+)"?', text))
        assert {"clk", "uart_rx", "uart_tx", "led"} <= ports, ports
    ulx = constraints_file("ulx3s").read_text()
    for port, site in [("clk", "G2"), ("uart_rx", "M1"), ("uart_tx", "L4"), ("led", "B2")]:
        assert re.search(rf'LOCATE COMP "{port}" SITE "{site}"', ulx), port
    ice = constraints_file("icebreaker").read_text()
    for port, pin in [("clk", 35), ("uart_rx", 6), ("uart_tx", 9), ("led", 11)]:
        assert re.search(rf"set_io\s+(?:-\S+\s+)*{port}\s+{pin}\b", ice), port
