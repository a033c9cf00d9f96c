"""The FPGA devices ``hwgen build --target fpga --device D`` supports.

Each device names its Yosys family (``hwgen.synth`` summaries and ``hwgen.estimate`` terms), the
synthesis commands (flattened for place and route, hierarchical for the per-block counts), the
place-and-route tool with its device arguments, the bitstream packer, the board whose wrapper
(``hwgen.fpga.board``) and pin constraints are placed, and the default clock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hwgen.errors import HwgenError

__all__ = ["Device", "DEVICES", "DEFAULT_DEVICE", "get_device", "check_clock"]


@dataclass(frozen=True)
class Device:
    name: str                    # the --device value
    family: str                  # hwgen.synth / hwgen.estimate family
    part: str                    # human description of the part
    synth: str                   # Yosys command for the netlist that is placed (flattens)
    synth_blocks: str            # Yosys command for per-module counts (keeps the hierarchy)
    default_clock_mhz: float
    pnr: str | None = None       # nextpnr tool name (None: synthesis only)
    pnr_args: tuple = ()         # device arguments of nextpnr
    constraints_flag: str = ""   # nextpnr option that reads the board's pin constraints
    packer: str | None = None    # ecppack / icepack
    pnr_output_flag: str = ""    # nextpnr option writing the packer's input
    pnr_output_ext: str = ""     # extension of that file
    bitstream_ext: str = ""      # extension of the bitstream
    board: str | None = None     # hwgen.fpga.board board name
    constraints_ext: str = ""    # .lpf / .pcf

    @property
    def has_pnr(self):
        return self.pnr is not None


DEVICES = {
    "ecp5-85k": Device(
        name="ecp5-85k", family="ecp5", part="Lattice ECP5 LFE5U-85F, CABGA381, speed grade 6",
        synth="synth_ecp5", synth_blocks="synth_ecp5 -noflatten", default_clock_mhz=125.0,
        pnr="nextpnr-ecp5", pnr_args=("--85k", "--package", "CABGA381"), constraints_flag="--lpf",
        packer="ecppack", pnr_output_flag="--textcfg", pnr_output_ext=".config", bitstream_ext=".bit",
        board="ulx3s", constraints_ext=".lpf"),
    "ice40-up5k": Device(
        name="ice40-up5k", family="ice40", part="Lattice iCE40 UltraPlus UP5K, SG48",
        synth="synth_ice40 -dsp", synth_blocks="synth_ice40 -dsp -noflatten", default_clock_mhz=24.0,
        pnr="nextpnr-ice40", pnr_args=("--up5k", "--package", "sg48"), constraints_flag="--pcf",
        packer="icepack", pnr_output_flag="--asc", pnr_output_ext=".asc", bitstream_ext=".bin",
        board="icebreaker", constraints_ext=".pcf"),
    "xcup": Device(
        name="xcup", family="xcup", part="AMD UltraScale+ (resource counts only: no open place and route)",
        synth="synth_xilinx -family xcup -flatten -noiopad",
        synth_blocks="synth_xilinx -family xcup -noiopad", default_clock_mhz=250.0),
}

DEFAULT_DEVICE = "ecp5-85k"


def get_device(name):
    """The Device called ``name`` (None: the default); HwgenError (exit 2) naming --device if unknown."""
    if name is None:
        name = DEFAULT_DEVICE
    try:
        return DEVICES[name]
    except (KeyError, TypeError):
        raise HwgenError(f"unknown device {name!r} (supported: {', '.join(DEVICES)})",
                         field="--device") from None


def check_clock(clock_mhz, device):
    """The requested clock in MHz (the device default for None); HwgenError naming --clock-mhz."""
    if clock_mhz is None:
        return device.default_clock_mhz
    try:
        f = float(clock_mhz)
    except (TypeError, ValueError):
        raise HwgenError(f"must be a number of MHz, got {clock_mhz!r}", field="--clock-mhz") from None
    if not math.isfinite(f) or not 0 < f <= 1000:
        raise HwgenError(f"must be in (0, 1000] MHz, got {clock_mhz!r}", field="--clock-mhz")
    return f
