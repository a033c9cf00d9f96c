"""Board tops: the accelerator behind a UART host link, with clock and power-on reset.

``board_verilog(plan, board=..., core_clock_hz=..., baud=...)`` returns the Verilog of
``hwgen_board``::

    clk (board oscillator) --[PLL]--> core clock --+-- power-on reset (counter, waits for PLL lock)
    uart_rx --> UartRx --> HostLink --s_axis--> accelerator (hwgen_top logic)
    uart_tx <-- UartTx <-- HostLink <--m_axis--
    led     <-- heartbeat (about one blink per second)

Ports: ``clk``, ``uart_rx`` (FPGA input, from the USB-UART), ``uart_tx`` (FPGA output), ``led``,
on every board; the constraint files in fpga/boards/ use these names.

Boards (``BOARDS``): ``ulx3s`` (ECP5 LFE5U-85F, 25 MHz, EHXPLLL), ``icebreaker`` (iCE40 UP5K,
12 MHz, SB_PLL40_PAD) and ``sim`` (no PLL: the core runs on ``clk``; for simulation and lint).
The PLL is only instantiated when ``core_clock_hz`` differs from the oscillator.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from amaranth.back import verilog
from amaranth.hdl import ClockDomain, ClockSignal, Const, Instance, Module, ResetSignal, Signal
from amaranth.lib import wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out

from ..errors import HwgenError
from .hostlink import HostLink, check_supported
from .uart import MIN_DIVISOR, UartRx, UartTx

TOP = "hwgen_board"
FPGA_DIR = Path(__file__).resolve().parent.parent.parent / "fpga"
POR_CYCLES = 1024           # core-clock cycles of reset after configuration / PLL lock
PLL_TOLERANCE = 0.01        # largest relative error of a PLL output against the requested clock
BAUD_TOLERANCE = 0.02       # largest baud-rate error of the UART divisor (8N1 tolerates ~4%)


@dataclass(frozen=True)
class BoardInfo:
    name: str
    oscillator_hz: float | None     # None: the core clock is whatever drives ``clk`` (sim)
    family: str | None              # "ecp5" | "ice40" | None
    device: str | None
    package: str | None
    constraints: Path | None        # LPF (ECP5) or PCF (iCE40)
    pll: str | None                 # primitive used when the core clock differs from the oscillator
    nextpnr_args: tuple = field(default=())
    flash: str | None = None        # how to load a bitstream (documentation only)


BOARDS = {
    "ulx3s": BoardInfo(
        "ulx3s", 25e6, "ecp5", "LFE5U-85F", "CABGA381", FPGA_DIR / "boards" / "ulx3s.lpf",
        "EHXPLLL", ("--85k", "--package", "CABGA381"),
        "openFPGALoader -b ulx3s ulx3s.bit"),
    "icebreaker": BoardInfo(
        "icebreaker", 12e6, "ice40", "iCE40UP5K", "SG48", FPGA_DIR / "boards" / "icebreaker.pcf",
        "SB_PLL40_PAD", ("--up5k", "--package", "sg48"),
        "iceprog icebreaker.bin"),
    "sim": BoardInfo("sim", None, None, None, None, None, None),
}


# ---------------------------------------------------------------------------------------------
# PLL parameter search
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PllConfig:
    primitive: str
    input_hz: float
    output_hz: float        # what the dividers give (within PLL_TOLERANCE of the request)
    vco_hz: float
    pfd_hz: float
    params: dict            # the primitive's divider parameters


# ECP5 EHXPLLL, feedback from CLKOP (f_out = f_in / CLKI_DIV * CLKFB_DIV, f_vco = f_out * CLKOP_DIV).
# Ranges as used by Project Trellis' ecppll (prjtrellis libtrellis/tools/ecppll.cpp: INPUT 8-400,
# PFD 3.125-400, VCO 400-800, OUTPUT 10-400 MHz; CLKI_DIV and CLKOP_DIV 1-128, CLKFB_DIV 1-80),
# which follow Lattice TN1263 "ECP5 and ECP5-5G sysCLOCK PLL/DLL Design and Usage Guide".
ECP5_IN = (8e6, 400e6)
ECP5_PFD = (3.125e6, 400e6)
ECP5_VCO = (400e6, 800e6)
ECP5_OUT = (10e6, 400e6)

# iCE40 SB_PLL40_*, FEEDBACK_PATH "SIMPLE": f_pfd = f_in / (DIVR + 1), f_vco = f_pfd * (DIVF + 1),
# f_out = f_vco / 2**DIVQ. Ranges as used by IceStorm's icepll (icestorm icepll/icepll.cc: input
# and PFD 10-133, VCO 533-1066, output 16-275 MHz; DIVR 0-15, DIVF 0-127, DIVQ 1-6), from Lattice
# TN1251 "iCE40 sysCLOCK PLL Design and Usage Guide"; FILTER_RANGE from the PFD frequency as icepll
# sets it.
ICE40_IN = (10e6, 133e6)
ICE40_PFD = (10e6, 133e6)
ICE40_VCO = (533e6, 1066e6)
ICE40_OUT = (16e6, 275e6)


def _inside(f, lim):
    return lim[0] * (1 - 1e-12) <= f <= lim[1] * (1 + 1e-12)


def _best(candidates, target, mid_vco):
    """Closest output to ``target``; ties go to the lower output, then to the VCO nearest
    ``mid_vco`` (ecppll's and icepll's rule is the same closest-output search)."""
    if not candidates:
        return None
    return min(candidates, key=lambda c: (round(abs(target - c.output_hz), 3), c.output_hz,
                                          abs(c.vco_hz - mid_vco)))


def _ecp5_configs(f_in):
    if not _inside(f_in, ECP5_IN):
        return
    for clki in range(1, 129):
        pfd = f_in / clki
        if not _inside(pfd, ECP5_PFD):
            continue
        for clkfb in range(1, 81):
            out = pfd * clkfb
            if not _inside(out, ECP5_OUT):
                continue
            for clkop in range(1, 129):
                vco = out * clkop
                if _inside(vco, ECP5_VCO):
                    yield PllConfig("EHXPLLL", f_in, out, vco, pfd, {
                        "CLKI_DIV": clki, "CLKFB_DIV": clkfb, "CLKOP_DIV": clkop,
                        # CLKOP phase as ecppll sets it (half the output period, in VCO cycles)
                        "CLKOP_CPHASE": clkop // 2})


def _ice40_filter_range(pfd):
    mhz = pfd / 1e6
    return 1 if mhz < 17 else 2 if mhz < 26 else 3 if mhz < 44 else 4 if mhz < 66 else 5 if mhz < 101 else 6


def _ice40_configs(f_in):
    if not _inside(f_in, ICE40_IN):
        return
    for divr in range(16):
        pfd = f_in / (divr + 1)
        if not _inside(pfd, ICE40_PFD):
            continue
        for divf in range(128):
            vco = pfd * (divf + 1)
            if not _inside(vco, ICE40_VCO):
                continue
            for divq in range(1, 7):
                out = vco / (1 << divq)
                if _inside(out, ICE40_OUT):
                    yield PllConfig("SB_PLL40_PAD", f_in, out, vco, pfd, {
                        "DIVR": divr, "DIVF": divf, "DIVQ": divq,
                        "FILTER_RANGE": _ice40_filter_range(pfd)})


def _board(board):
    if board not in BOARDS:
        raise HwgenError(f"unknown board {board!r} (choose from {', '.join(BOARDS)})", field="board")
    return BOARDS[board]


def _mhz(hz):
    return f"{hz / 1e6:.6g} MHz"


def pll_config(board, core_clock_hz):
    """The PLL settings that make ``core_clock_hz`` on ``board``, or None when no PLL is needed.

    Picks the closest output to the request; raises HwgenError (one line) when that is more than
    ``PLL_TOLERANCE`` (1%) off or nothing is in range. ``core_clock`` gives the output.
    """
    info = _board(board)
    if not core_clock_hz or core_clock_hz <= 0:
        raise HwgenError(f"must be a positive frequency, got {core_clock_hz!r}", field="core_clock_hz")
    if info.pll is None or abs(core_clock_hz - info.oscillator_hz) <= 1e-6 * info.oscillator_hz:
        return None
    if info.family == "ecp5":
        cands, mid, lim = _ecp5_configs(info.oscillator_hz), 600e6, ECP5_OUT
    else:
        cands, mid, lim = _ice40_configs(info.oscillator_hz), 800e6, ICE40_OUT
    best = _best(list(cands), core_clock_hz, mid)
    if best is None or abs(core_clock_hz - best.output_hz) > PLL_TOLERANCE * core_clock_hz:
        near = f" (closest: {_mhz(best.output_hz)})" if best is not None else ""
        raise HwgenError(f"{board}: the {info.pll} cannot make {_mhz(core_clock_hz)} from the "
                         f"{_mhz(info.oscillator_hz)} oscillator within {PLL_TOLERANCE:.0%}{near}; "
                         f"its output range is {_mhz(lim[0])} to {_mhz(lim[1])}")
    return best


def core_clock(board, core_clock_hz):
    """The core clock ``board`` really runs at for a requested ``core_clock_hz`` (Hz)."""
    cfg = pll_config(board, core_clock_hz)
    return core_clock_hz if cfg is None else cfg.output_hz


def uart_divisor(clock_hz, baud):
    """Clock cycles per UART bit; raises HwgenError when the baud rate is off by more than 2%."""
    if not baud or baud <= 0:
        raise HwgenError(f"must be a positive baud rate, got {baud!r}", field="baud")
    divisor = round(clock_hz / baud)
    if divisor < MIN_DIVISOR:
        raise HwgenError(f"{baud} baud needs at least {MIN_DIVISOR} clock cycles per bit; "
                         f"the {_mhz(clock_hz)} core clock gives {clock_hz / baud:.3g}", field="baud")
    err = abs(clock_hz / divisor - baud) / baud
    if err > BAUD_TOLERANCE:
        raise HwgenError(f"{baud} baud is {err:.1%} off at {_mhz(clock_hz)} (divisor {divisor}); "
                         f"the UART needs within {BAUD_TOLERANCE:.0%}", field="baud")
    return divisor


# ---------------------------------------------------------------------------------------------
# The board top
# ---------------------------------------------------------------------------------------------

def constraints_file(board):
    """The pin constraint file (LPF or PCF) of ``board``."""
    info = _board(board)
    if info.constraints is None:
        raise HwgenError(f"board {board!r} has no pin constraints (it is for simulation)", field="board")
    return info.constraints


def _accelerator(plan):
    if plan.engine.kind == "hardwired":
        from ..rtl.hardwired import HardwiredAccelerator
        return HardwiredAccelerator(plan)
    from ..rtl.accelerator import Accelerator
    return Accelerator(plan)


class BoardTop(wiring.Component):
    """Board top for ``plan`` (see the module docstring). Build it through ``board_verilog``."""

    def __init__(self, plan, *, board, core_clock_hz, baud=115200):
        self.plan = plan
        try:
            check_supported(plan)
            self.board = _board(board)
            self.pll = pll_config(board, core_clock_hz)
            self.clock_hz = core_clock_hz if self.pll is None else self.pll.output_hz
            self.baud = baud
            self.divisor = uart_divisor(self.clock_hz, baud)
        except HwgenError:
            self._MustUse__silence = True       # never elaborated: no "unused elaboratable" warning
            raise
        super().__init__({
            "clk": In(1),
            "uart_rx": In(1, init=1),
            "uart_tx": Out(1, init=1),
            "led": Out(1),
        })

    def _clock(self, m):
        """Drive the ``sync`` domain's clock; return the PLL lock (1 without a PLL)."""
        m.domains.sync = ClockDomain("sync")
        if self.pll is None:
            m.d.comb += ClockSignal("sync").eq(self.clk)
            return Const(1, 1)
        clk_core, lock = Signal(name="clk_core"), Signal(name="pll_lock")
        p = self.pll.params
        if self.pll.primitive == "EHXPLLL":
            # Port ties and attributes as in the EHXPLLL instances ecppll writes.
            m.submodules.pll = Instance(
                "EHXPLLL",
                a_FREQUENCY_PIN_CLKI=f"{self.pll.input_hz / 1e6:g}",
                a_FREQUENCY_PIN_CLKOP=f"{self.pll.output_hz / 1e6:g}",
                a_ICP_CURRENT="12", a_LPF_RESISTOR="8", a_MFG_ENABLE_FILTEROPAMP="1",
                a_MFG_GMCREF_SEL="2",
                p_PLLRST_ENA="DISABLED", p_INTFB_WAKE="DISABLED", p_STDBY_ENABLE="DISABLED",
                p_DPHASE_SOURCE="DISABLED", p_OUTDIVIDER_MUXA="DIVA", p_OUTDIVIDER_MUXB="DIVB",
                p_OUTDIVIDER_MUXC="DIVC", p_OUTDIVIDER_MUXD="DIVD",
                p_CLKI_DIV=p["CLKI_DIV"], p_CLKFB_DIV=p["CLKFB_DIV"], p_CLKOP_DIV=p["CLKOP_DIV"],
                p_CLKOP_CPHASE=p["CLKOP_CPHASE"], p_CLKOP_FPHASE=0, p_CLKOP_ENABLE="ENABLED",
                p_FEEDBK_PATH="CLKOP",
                i_CLKI=self.clk, i_CLKFB=clk_core, o_CLKOP=clk_core, o_LOCK=lock,
                i_RST=0, i_STDBY=0, i_PHASESEL0=0, i_PHASESEL1=0, i_PHASEDIR=1, i_PHASESTEP=1,
                i_PHASELOADREG=1, i_PLLWAKESYNC=0, i_ENCLKOP=0)
        else:
            # The iCEBreaker's 12 MHz oscillator is on pin 35, the UP5K's PLL input pad: only the
            # _PAD variants can use it, with the top-level port on PACKAGEPIN (YosysHQ/icestorm
            # issue #142; icepll -p). PLLOUTGLOBAL drives the global clock network directly.
            m.submodules.pll = Instance(
                "SB_PLL40_PAD",
                p_FEEDBACK_PATH="SIMPLE",
                p_DIVR=Const(p["DIVR"], 4), p_DIVF=Const(p["DIVF"], 7), p_DIVQ=Const(p["DIVQ"], 3),
                p_FILTER_RANGE=Const(p["FILTER_RANGE"], 3),
                i_PACKAGEPIN=self.clk, o_PLLOUTGLOBAL=clk_core, o_LOCK=lock,
                i_RESETB=1, i_BYPASS=0)
        m.d.comb += ClockSignal("sync").eq(clk_core)
        return lock

    def elaborate(self, platform):
        m = Module()
        lock = self._clock(m)

        # power-on reset: POR_CYCLES core cycles after the PLL locks (no reset pin needed)
        m.domains.por = ClockDomain("por", reset_less=True)
        m.d.comb += ClockSignal("por").eq(ClockSignal("sync"))
        locked = Signal(name="locked")
        if isinstance(lock, Const):
            m.d.comb += locked.eq(1)
        else:
            m.submodules.lock_sync = FFSynchronizer(lock, locked, o_domain="por", init=0)
        por = Signal(range(POR_CYCLES + 1), name="por_count")
        with m.If(~locked):
            m.d.por += por.eq(0)
        with m.Elif(por != POR_CYCLES):
            m.d.por += por.eq(por + 1)
        rst = Signal(init=1, name="por_rst")    # from a flip-flop: it fans out to the whole design
        m.d.por += rst.eq(por != POR_CYCLES)
        m.d.comb += ResetSignal("sync").eq(rst)

        m.submodules.uart_rx = rx = UartRx(self.divisor)
        m.submodules.uart_tx = tx = UartTx(self.divisor)
        m.submodules.hostlink = link = HostLink(self.plan)
        m.submodules.accelerator = acc = _accelerator(self.plan)
        wiring.connect(m, rx.stream, link.rx)
        wiring.connect(m, link.tx, tx.stream)
        m.d.comb += [
            rx.rx.eq(self.uart_rx),
            self.uart_tx.eq(tx.tx),
            link.rx_overrun.eq(rx.overrun),
            link.rx_frame_error.eq(rx.frame_error),
            acc.s_axis_tdata.eq(link.s_axis_tdata),
            acc.s_axis_tvalid.eq(link.s_axis_tvalid),
            link.s_axis_tready.eq(acc.s_axis_tready),
            link.m_axis_tdata.eq(acc.m_axis_tdata),
            link.m_axis_tvalid.eq(acc.m_axis_tvalid),
            acc.m_axis_tready.eq(link.m_axis_tready),
            link.m_axis_tlast.eq(acc.m_axis_tlast),
        ]

        # heartbeat: the LED toggles every 2**(bits - 1) cycles, about every 0.5 to 1 s
        bits = max(2, math.ceil(math.log2(max(self.clock_hz, 4))))
        beat = Signal(bits, name="heartbeat")
        m.d.sync += beat.eq(beat + 1)
        m.d.comb += self.led.eq(beat[-1])
        return m


def board_verilog(plan, *, board, core_clock_hz, baud=115200):
    """(Verilog text, top module name) of the board top for ``plan`` on ``board``.

    ``board``: "ulx3s", "icebreaker" or "sim" (``BOARDS``). ``core_clock_hz``: the accelerator's
    clock; a PLL makes it from the board oscillator when they differ (HwgenError if it cannot,
    within 1%; ``core_clock`` tells the exact frequency). The UART runs at ``baud`` (divisor ``round(clock / baud)``, within 2%).
    Deterministic for the same arguments.
    """
    top = BoardTop(plan, board=board, core_clock_hz=core_clock_hz, baud=baud)
    return verilog.convert(top, name=TOP, emit_src=False), TOP
