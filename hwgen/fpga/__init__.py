"""The FPGA flow: ``hwgen build --target fpga`` (synthesis, place and route, bitstream, reports).

- ``devices``: the supported devices (ecp5-85k, ice40-up5k, xcup) and their tools;
- ``board``: board tops (UART host link, PLL) and pin constraints;
- ``yosys``: the flattened netlist and the per-block counts;
- ``nextpnr``: place and route, bitstream packers, nextpnr's report;
- ``report``: report.md;
- ``flow``: ``build_fpga``, which ``hwgen.build.build`` calls.
"""

from .devices import DEFAULT_DEVICE, DEVICES, get_device

__all__ = ["DEVICES", "DEFAULT_DEVICE", "get_device", "build_fpga"]


def build_fpga(plan, tmp_dir, **kwargs):
    from .flow import build_fpga as _build
    return _build(plan, tmp_dir, **kwargs)
