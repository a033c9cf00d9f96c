"""``hwgen import-gguf`` and ``hwgen import-safetensors``: checkpoints as model descriptions.

Both write ``MODEL.yaml`` and its weights ``MODEL.npz`` next to it (``hwgen.importers``), print
what was imported, skipped and noted (``--json``: as JSON). Errors: one line, exit code 2.
"""

import json


def _report(result, as_json):
    summary = {
        "yaml": str(result.yaml_path), "npz": str(result.npz_path), "layers": list(result.layers),
        "skipped": [{"tensor": n, "reason": r} for n, r in result.skipped],
        "warnings": list(result.warnings),
    }
    if as_json:
        print(json.dumps(summary))
        return 0
    print(f"hwgen: wrote {summary['yaml']} and {summary['npz']}: {len(summary['layers'])} ternary layers")
    for s in summary["skipped"]:
        print(f"  skipped {s['tensor']}: {s['reason']}")
    for w in summary["warnings"]:
        print(f"  note: {w}")
    return 0


def cmd_import_gguf(args):
    from ..importers import import_gguf
    return _report(import_gguf(args.checkpoint, args.output, select=args.select), args.json)


def cmd_import_safetensors(args):
    from ..importers import import_safetensors
    return _report(import_safetensors(args.checkpoint, args.output, select=args.select), args.json)


def register(sub):
    for name, func, what in (
        ("import-gguf", cmd_import_gguf, "a GGUF file's TQ1_0/TQ2_0 ternary tensors"),
        ("import-safetensors", cmd_import_safetensors,
         "a safetensors checkpoint (float weights ternarized with the absmean rule, or int8 ternary)"),
    ):
        p = sub.add_parser(name, help=f"import {what} as a model description")
        p.add_argument("checkpoint", help="the file to import")
        p.add_argument("-o", "--output", required=True, help="MODEL.yaml to write (weights go to MODEL.npz beside it)")
        p.add_argument("--select", action="append", metavar="PATTERN",
                       help="import only tensors whose name matches this fnmatch pattern (repeatable)")
        p.add_argument("--json", action="store_true", help="print the summary as JSON")
        p.set_defaults(func=func)
