"""``hwgen import-nir GRAPH.nir -o MODEL.yaml``: a NIR graph as a spiking (lif) model.

Writes ``MODEL.yaml`` and its weights ``MODEL.npz`` (next to it), after checking that the result
loads as a model; prints the quantization report (``--json``: as JSON). The conversion rules are
in ``hwgen.nir_import`` and docs/model-format.md. Errors: one line, exit code 2.
"""

import json
import os
import re
import tempfile
from pathlib import Path

import numpy as np

from ..errors import HwgenError


def _positive_float(text):
    try:
        v = float(text)
    except ValueError:
        v = float("nan")
    if not v > 0:
        raise HwgenError(f"must be a number > 0, got {text!r}", field="--dt")
    return v


def cmd_import_nir(args):
    from ..model import load_model
    from ..nir_import import DEFAULT_DT, convert, read_graph, yaml_text
    out = Path(args.output)
    if out.suffix not in (".yaml", ".yml"):
        raise HwgenError(f"must end in .yaml, got {out.name}", field="-o")
    name = args.name or re.sub(r"[^A-Za-z0-9_]", "_", out.stem)
    if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", name):
        raise HwgenError(f"must be an identifier, got {name!r}", field="--name")
    dt = DEFAULT_DT if args.dt is None else _positive_float(args.dt)
    graph = read_graph(args.graph)
    doc, arrays, report = convert(graph, name=name, dt=dt, weight_bits=args.weight_bits,
                                  membrane_bits=args.membrane_bits, drop_bias=args.drop_bias,
                                  neurons=args.neurons, lanes=args.lanes, mode=args.mode, file=args.graph)
    out.parent.mkdir(parents=True, exist_ok=True)
    npz = out.with_name(f"{name}.npz")
    tmpdir = Path(tempfile.mkdtemp(prefix=".import-nir.", dir=out.parent))
    try:
        np.savez(tmpdir / npz.name, **arrays)
        (tmpdir / out.name).write_text(yaml_text(doc))
        load_model(tmpdir / out.name)                       # the result must be a valid model
        os.replace(tmpdir / npz.name, npz)
        os.replace(tmpdir / out.name, out)
    finally:
        for p in tmpdir.iterdir():
            p.unlink()
        tmpdir.rmdir()
    if args.json:
        print(json.dumps({"model": str(out), "weights": str(npz), "dt": dt, "layers": report}))
    else:
        print(f"hwgen: imported {args.graph} as {out} ({len(report)} lif layers, dt = {dt:g} s)")
        for r in report:
            leak = "none" if r["leak_shift"] is None else r["leak_shift"]
            print(f"  {r['layer']}: threshold {r['threshold']}, leak_shift {leak}, scale {r['scale']:.4g}, "
                  f"weight error {r['weight_rel_error']:.2%}, leak error {r['leak_error']:.2g}, "
                  f"zeros {r['zero_weights']:.0%}" + (f", bias dropped (max {r['bias_dropped_max']:.3g})"
                                                      if r["bias_dropped_max"] else ""))
    return 0


def register(subparsers):
    p = subparsers.add_parser("import-nir", help="convert a NIR graph (Affine/Linear + LIF/IF) into a lif model")
    p.add_argument("graph", help="NIR graph (.nir, HDF5)")
    p.add_argument("-o", "--output", required=True, help="model description to write (.yaml; weights go to NAME.npz beside it)")
    p.add_argument("--name", help="model name (default: the output file's stem)")
    p.add_argument("--dt", help="Euler time step in seconds (default 1e-4, snnTorch's export)")
    p.add_argument("--weight-bits", type=int, default=2, choices=range(2, 9), metavar="{2..8}",
                   help="2 = ternary (default), else signed integers")
    p.add_argument("--membrane-bits", type=int, choices=range(2, 33), metavar="{2..32}",
                   help="membrane width (default: enough for threshold + fan-in, at least 8)")
    p.add_argument("--drop-bias", action="store_true", help="drop Affine biases (reported) instead of refusing them")
    p.add_argument("--neurons", type=int, default=8, help="engine.neurons (parallel update units)")
    p.add_argument("--lanes", type=int, default=32, help="engine.lanes (spike bits per input beat)")
    p.add_argument("--mode", default="event", choices=["event", "dense"], help="engine.mode")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=cmd_import_nir)
