"""The ``hwgen`` command line."""

import argparse
import importlib
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

from .errors import HwgenError

# More subcommands: each module has ``register(subparsers)`` adding its parser and ``func``.
COMMAND_MODULES = [
    "hwgen.commands.run",
    "hwgen.commands.cost",
    "hwgen.commands.import_nir",
    "hwgen.commands.import_weights",
]


def read_npy(path, field="--input"):
    """An .npy array, or a one-line error naming the file and ``field``."""
    path = Path(path)
    if not path.is_file():
        raise HwgenError("input file not found", file=path, field=field)
    try:
        return np.load(path, allow_pickle=False)
    except Exception as e:
        raise HwgenError(f"cannot read: {str(e).splitlines()[0]}", file=path, field=field) from None


def finish_summary(summary, y, labels, as_json, line):
    """Add ``accuracy`` (argmax of ``y`` vs the ``labels`` file, if given), print the summary as
    JSON or as ``line`` plus accuracy and the golden check; exit code 0 when it matches golden."""
    if labels:
        want = np.load(labels, allow_pickle=False)
        if want.shape != (y.shape[0],):
            raise HwgenError(f"shape must be ({y.shape[0]},), got {want.shape}", file=labels, field="--labels")
        summary["accuracy"] = round(float((y.argmax(axis=1) == want).mean()), 6)
    if as_json:
        print(json.dumps(summary))
    else:
        extra = f", accuracy {summary['accuracy']:.4f}" if "accuracy" in summary else ""
        print(f"{line}{extra}; matches golden model: {'yes' if summary['golden_match'] else 'NO'}")
    return 0 if summary["golden_match"] else 1


def _load_input(path, model):
    x = read_npy(path)
    path = Path(path)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2 or x.shape[1] != model.in_features:
        raise HwgenError(f"shape must be (batch, {model.in_features}), got {x.shape}", file=path, field="--input")
    if x.dtype.kind not in "iu":
        raise HwgenError(f"must be an integer array (int8), got {x.dtype}", file=path, field="--input")
    lo, hi = -(1 << (model.in_bits - 1)), (1 << (model.in_bits - 1)) - 1
    if x.size and (x.min() < lo or x.max() > hi):
        raise HwgenError(f"values must fit input.bits = {model.in_bits} ({lo}..{hi})", file=path, field="--input")
    return x.astype(np.int8)


def _save_atomic(path, array):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            np.save(f, array)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def cmd_build(args):
    from .build import build
    from .model import load_model
    model = load_model(args.model)
    out_dir, rep = build(model, target=args.target, out_dir=args.out, device=args.device,
                         clock_mhz=args.clock_mhz, node=args.node)
    c = rep["cycles"]
    print(f"hwgen: built {model.name} ({rep['engine']['kind']}) in {out_dir}: "
          f"{c['per_vector']} cycles per vector, pipeline utilization {c['pipeline_utilization']:.3f}")
    return 0


def cmd_sim(args):
    from .build import default_out_dir, write_rtl
    from .golden import golden
    from .model import load_model
    from .sim import make_simulator
    model = load_model(args.model)
    if model.engine.kind == "lif":      # spike inputs and outputs (hwgen.lif)
        from .lif import cmd_sim_lif
        return cmd_sim_lif(args, model)
    x = _load_input(args.input, model)
    sim = make_simulator(model)
    plan = sim.plan
    if args.rtl:
        from .rtlsim.runner import run_rtl
        work = Path(args.out) if args.out else default_out_dir(model) / "rtlsim"
        verilog = write_rtl(plan, work / "rtl")
        r = run_rtl(plan, verilog, x, work)
        y, cycles, stalls = r.outputs, r.cycles, r.stalls
    else:
        r = sim.run(x)
        y, cycles, stalls = r.outputs, r.cycles, 0
    y = y.astype(model.output_dtype)
    _save_atomic(args.output, y)
    summary = {
        "model": model.name,
        "backend": "rtl" if args.rtl else "sim",
        "batch": int(x.shape[0]),
        "cycles": int(cycles),
        "cycles_per_vector": plan.total_cycles(1),
        "stalls": int(stalls),
        "output": str(args.output),
        "dtype": np.dtype(model.output_dtype).name,
        "golden_match": bool(np.array_equal(y, golden(model, x))),
    }
    return finish_summary(summary, y, args.labels, args.json,
                          f"hwgen: {summary['backend']}: {summary['batch']} vectors in {cycles} cycles")


def parser():
    p = argparse.ArgumentParser(prog="hwgen", description="Ternary neural-network accelerator generator and simulator.")
    sub = p.add_subparsers(dest="command", required=True)

    b = sub.add_parser("build", help="generate RTL and report.json for a model")
    b.add_argument("model", help="model description (YAML)")
    b.add_argument("--target", default="sim", choices=["sim", "fpga", "asic"],
                   help="sim: RTL and cycle/resource report; fpga: synthesis, place and route, bitstream; "
                        "asic: area, energy and mask cost")
    b.add_argument("--device", help="fpga: ecp5-85k (default), ice40-up5k or xcup")
    b.add_argument("--clock-mhz", type=float, help="fpga: requested clock (default per device)")
    b.add_argument("--node", type=int, help="asic: process node in nm (45, 28, 16, 7, 5, 3)")
    b.add_argument("-o", "--out", help="output folder (default build/<name>)")
    b.set_defaults(func=cmd_build)

    s = sub.add_parser("sim", help="run a model on inputs with the cycle-accurate simulator or the RTL")
    s.add_argument("model", help="model description (YAML)")
    s.add_argument("--input", required=True, help="int8 array (batch, features), .npy")
    s.add_argument("--output", required=True, help="where to write outputs (.npy: int8, or int32 for output: acc)")
    s.add_argument("--rtl", action="store_true", help="run the generated Verilog in Verilator instead of the Python model")
    s.add_argument("--json", action="store_true", help="print a JSON summary (cycles, golden_match ...)")
    s.add_argument("--labels", help="labels (.npy) to report argmax accuracy against")
    s.add_argument("-o", "--out", help="work folder for --rtl (default build/<name>/rtlsim)")
    s.set_defaults(func=cmd_sim)

    for module in COMMAND_MODULES:
        importlib.import_module(module).register(sub)
    return p


def main(argv=None):
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except HwgenError as e:
        print(f"hwgen: error: {e}", file=sys.stderr)
        return e.exit_code


if __name__ == "__main__":
    sys.exit(main())
