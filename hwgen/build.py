"""``hwgen build``: model description -> RTL and a report, written atomically."""

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

from . import __version__
from .errors import HwgenError
from .estimate import estimate_resources
from .plan import make_plan
from .rtl.verilog import TOP, accelerator_verilog


def default_out_dir(model):
    return Path("build") / model.name


class staged_dir:
    """Write into a temporary sibling of ``dest``; on success replace ``dest`` with it.

    Nothing is left behind on failure, and an existing ``dest`` stays as it was until the new
    folder is complete.
    """

    def __init__(self, dest):
        self.dest = Path(dest)

    def __enter__(self):
        self.dest.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = Path(tempfile.mkdtemp(prefix=f".{self.dest.name}.", dir=self.dest.parent))
        return self.tmp

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            return False
        old = None
        if self.dest.exists():
            old = self.dest.with_name(f".{self.dest.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(self.dest, old)
        os.replace(self.tmp, self.dest)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return False


def write_rtl(plan, rtl_dir):
    rtl_dir.mkdir(parents=True, exist_ok=True)
    path = rtl_dir / f"{TOP}.v"
    path.write_text(accelerator_verilog(plan))
    return path


def report(plan, files):
    model = plan.model
    return {
        "hwgen_version": __version__,
        "model": model.name,
        "top": TOP,
        "engine": plan.engine.as_dict(),
        "input": {"features": model.in_features, "bits": model.in_bits, "beat_lanes": plan.lanes,
                  "beats_per_vector": plan.input_chunks},
        "output": {"features": model.out_features, "bits": plan.out_bits, "beat_lanes": plan.columns,
                   "beats_per_vector": plan.layers[-1].blocks},
        "plan": plan.summary(),
        "cycles": {
            "per_vector": plan.total_cycles(1),
            "stride": plan.vector_stride,
            "busy": plan.busy_cycles,
            "pipeline_utilization": round(plan.busy_cycles / plan.vector_stride, 4),
        },
        "resources_estimate": estimate_resources(plan),
        "files": {name: hashlib.sha256(p.read_bytes()).hexdigest() for name, p in sorted(files.items())},
    }


TARGETS = ("sim", "fpga", "asic")


def build(model, target="sim", out_dir=None, *, device=None, clock_mhz=None, node=None, progress=None):
    """Generate ``out_dir`` (default ``build/<name>``) with ``rtl/`` and ``report.json``.

    ``target`` ``sim``: RTL and the cycle/resource report. ``fpga``: also synthesis, place and
    route and a bitstream for ``device`` (``hwgen.fpga.flow``). ``asic``: also the area, energy
    and mask-cost estimate at ``node`` nm (``hwgen.cost.asic``). Targets add a section to
    report.json and may write ``report.md`` and more files into the folder.
    """
    if target not in TARGETS:
        raise HwgenError(f"unknown target {target!r} (supported: {', '.join(TARGETS)})", field="--target")
    out_dir = Path(out_dir) if out_dir is not None else default_out_dir(model)
    plan = make_plan(model)
    with staged_dir(out_dir) as tmp:
        top = write_rtl(plan, tmp / "rtl")
        rep = report(plan, {f"rtl/{top.name}": top})
        if target == "fpga":
            from .fpga.flow import build_fpga
            rep["fpga"] = build_fpga(plan, tmp, device=device, clock_mhz=clock_mhz, progress=progress)
        elif target == "asic":
            from .cost.asic import build_asic
            rep["asic"] = build_asic(plan, tmp, node=node)
        (tmp / "report.json").write_text(json.dumps(rep, indent=2) + "\n")
    return out_dir, rep
