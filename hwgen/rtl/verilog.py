"""Verilog generation for a plan."""

from amaranth.back import verilog

from .accelerator import Accelerator

TOP = "hwgen_top"


def accelerator_verilog(plan, name=TOP):
    """The Verilog text of the accelerator for ``plan`` (deterministic for the same plan)."""
    if plan.engine.kind == "hardwired":
        from .hardwired import HardwiredAccelerator
        top = HardwiredAccelerator(plan)
    elif plan.engine.kind == "lif":
        from .lif import LifTop
        top = LifTop(plan)
    else:
        top = Accelerator(plan)
    text = verilog.convert(top, name=name, emit_src=False)
    return text
