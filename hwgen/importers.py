"""Import ternary weights from GGUF (llama.cpp TQ1_0 / TQ2_0) and safetensors files.

Both importers write, next to ``out_yaml``:

* ``<stem>.npz`` -- one int8 ``(out_features, in_features)`` matrix of {-1, 0, 1}
  per layer, keyed by the sanitised tensor name (every character outside
  ``[A-Za-z0-9_]`` becomes ``_``; clashes get ``_2``, ``_3`` ...), plus its scales:
  ``<key>__scales`` (GGUF: float32 ``(out, in // 256)``, one per TQ block, so
  ``W ~= w * repeat(scales, 256, axis=1)``) or ``<key>__scale`` (safetensors:
  float32 scalar, absmean scale of float tensors; none for int tensors that were
  already ternary).
* ``out_yaml`` -- a hwgen model description (``hwgen.model`` format) listing every
  imported tensor, in file order (GGUF) or natural name order (safetensors), as a
  ``ternary_linear`` layer named by its key; ``input.features`` is the first layer's
  ``in_features``, every layer but the last gets a placeholder
  ``requant: {shift: floor(log2(in_features)/2), relu: false}`` and the last one
  ``output: acc``, so that a chain of layers loads as is.  The layers of a whole
  transformer are not a chain (q/k/v/o, FFN ...): ``ImportResult.warnings`` and a
  YAML comment say so; use ``select=`` patterns to import a chain.

Outputs are written atomically (temporary files in the destination folder, then
``os.replace``; the npz is replaced before the YAML) and nothing is written
outside ``out_yaml``'s folder.  Tensors that are not imported are returned in
``ImportResult.skipped`` as ``(name, reason)``; a file that yields no layer raises
:class:`hwgen.errors.ModelError` naming the file.
"""

from __future__ import annotations

import json
import os
import re
import struct
import tempfile
import zipfile
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path

import numpy as np

from hwgen import packing
from hwgen.errors import ModelError

__all__ = ["ImportResult", "import_gguf", "import_safetensors", "absmean_ternarize",
           "sanitize_key", "DEFAULT_ENGINE", "DEFAULT_SAFETENSORS_SKIP"]

DEFAULT_ENGINE = {"kind": "tlmm", "group": 3, "tables": 4, "columns": 8}
INPUT_BITS = 8
ABSMEAN_EPS = 1e-5
# Float tensors whose name matches one of these (fnmatch, case-sensitive) are left out of a
# safetensors import: BitNet-style models keep their embedding and output head in float.
DEFAULT_SAFETENSORS_SKIP = ("*embed*", "*lm_head*")


@dataclass
class ImportResult:
    yaml_path: Path
    npz_path: Path
    layers: list = field(default_factory=list)    # npz keys = layer names, in YAML order
    skipped: list = field(default_factory=list)   # (tensor name, reason)
    warnings: list = field(default_factory=list)  # one-line notes, e.g. layers not forming a chain


# --------------------------------------------------------------------------- helpers


_RESERVED = ("input", "output")


def sanitize_key(name: str) -> str:
    """A hwgen identifier for a tensor name: characters outside ``[A-Za-z0-9_]`` become
    ``_``; a leading digit (or an empty name) gets a ``_`` prefix; the reserved layer
    names ``input`` / ``output`` get a ``_`` suffix."""
    key = re.sub(r"[^A-Za-z0-9_]", "_", name)
    if not key or key[0].isdigit():
        key = "_" + key
    if key in _RESERVED:
        key += "_"
    return key


def _unique(key: str, used: set, suffixes=("",)) -> str:
    cand, i = key, 1
    while any(cand + s in used for s in suffixes):
        i += 1
        cand = f"{key}_{i}"
    used.update(cand + s for s in suffixes)
    return cand


def _natural(name: str):
    return [(0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.split(r"(\d+)", name)]


def absmean_ternarize(w, eps: float = ABSMEAN_EPS):
    """BitNet b1.58 absmean rule: ``scale = mean(|W|) + eps``,
    ``W_t = clip(round(W / scale), -1, 1)`` (round half to even).
    Returns ``(int8 array, float32 scale)``."""
    a = np.asarray(w, dtype=np.float64)
    scale = float(np.mean(np.abs(a))) + eps if a.size else 1.0
    t = np.clip(np.rint(a / scale), -1, 1).astype(np.int8)
    return t, np.float32(scale)


_SAFE_SCALAR = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")


def _yaml_str(s: str) -> str:
    if _SAFE_SCALAR.match(s) and s.lower() not in ("true", "false", "null", "yes", "no", "on", "off", "y", "n", "~"):
        return s
    return json.dumps(s)  # a JSON string is a valid YAML double-quoted scalar


def _output_paths(out_yaml, sources) -> tuple[Path, Path, str]:
    out_yaml = Path(out_yaml)
    if not out_yaml.name or out_yaml.name in (".", ".."):
        raise ModelError("output must be a file path ending in .yaml", file=out_yaml)
    if out_yaml.is_dir():
        raise ModelError("output path is a directory, expected a .yaml file", file=out_yaml)
    stem = out_yaml.stem
    if not stem or ":" in stem or stem.startswith("."):
        raise ModelError("output file stem must be non-empty, without ':' and not hidden", file=out_yaml)
    folder = out_yaml.parent
    npz = folder / f"{stem}.npz"
    if npz.name == out_yaml.name:
        raise ModelError("output YAML must not itself be named .npz", file=out_yaml)
    for src in sources:
        s = Path(src).resolve()
        if s in (out_yaml.resolve(), npz.resolve()):
            raise ModelError("output would overwrite the input file", file=out_yaml)
    return out_yaml, npz, stem


def _atomic_write(final: Path, write) -> None:
    """Write through ``write(fileobj)`` into a temp file in ``final``'s folder, then replace."""
    fd, tmp = tempfile.mkstemp(dir=final.parent, prefix=f".{final.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, final)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def default_shift(in_features: int) -> int:
    """Placeholder requantisation shift, ``floor(log2(in_features) / 2)``: the accumulator
    of K int8 x ternary products grows roughly like sqrt(K).  Tune it for a real model."""
    return max(0, (int(in_features).bit_length() - 1) // 2)


def _chain_breaks(layers: list) -> list:
    return [i for i in range(1, len(layers)) if layers[i]["in_features"] != layers[i - 1]["out_features"]]


def _write_model(out_yaml: Path, npz: Path, stem: str, arrays: dict, layers: list,
                 comments: list, source: str, importer: str) -> None:
    out_yaml.parent.mkdir(parents=True, exist_ok=True)
    first_in = layers[0]["in_features"]
    breaks = _chain_breaks(layers)
    lines = [
        f"# Generated by hwgen.importers.{importer} from {source} -- do not edit by hand.",
        "# requant shifts are placeholders (floor(log2(in_features) / 2)); tune them.",
    ]
    if breaks:
        i = breaks[0]
        lines.append(f"# NOTE: the layers do not form a chain (layer {i} takes {layers[i]['in_features']} "
                     f"inputs, layer {i - 1} gives {layers[i - 1]['out_features']}); select a chain "
                     "before loading this model.")
    lines += [
        f"name: {_yaml_str(sanitize_key(stem))}",
        f"description: {json.dumps(f'imported from {source} by hwgen.importers.{importer}')}",
        f"input: {{features: {first_in}, bits: {INPUT_BITS}}}",
        "engine: {" + ", ".join(f"{k}: {v}" for k, v in DEFAULT_ENGINE.items()) + "}",
        "layers:",
    ]
    for i, (layer, comment) in enumerate(zip(layers, comments)):
        lines.append("  # " + comment.encode("unicode_escape").decode("ascii"))
        ref = _yaml_str(f"{npz.name}:{layer['key']}")
        tail = ("output: acc" if i == len(layers) - 1
                else f"requant: {{shift: {default_shift(layer['in_features'])}, relu: false}}")
        lines.append(f"  - {{name: {_yaml_str(layer['key'])}, op: ternary_linear, "
                     f"out_features: {layer['out_features']}, weights: {ref}, {tail}}}")
    text = "\n".join(lines) + "\n"
    _atomic_write(npz, lambda f: _write_npz(f, arrays))
    _atomic_write(out_yaml, lambda f: f.write(text.encode("utf-8")))


def _write_npz(f, arrays: dict) -> None:
    """Like ``np.savez`` (uncompressed, deterministic), but any key is allowed."""
    with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED) as z:
        for key, value in arrays.items():
            with z.open(f"{key}.npy", "w", force_zip64=True) as out:
                np.lib.format.write_array(out, np.asanyarray(value), allow_pickle=False)


def _result(out_yaml, npz, layers, skipped) -> ImportResult:
    warnings = []
    for i in _chain_breaks(layers):
        warnings.append(f"layer {layers[i]['key']} takes {layers[i]['in_features']} inputs but "
                        f"{layers[i - 1]['key']} gives {layers[i - 1]['out_features']}: not a chain, "
                        "hwgen.model.load_model will reject the model until layers are selected")
    return ImportResult(out_yaml, npz, [la["key"] for la in layers], skipped, warnings)


def _selected(name: str, select) -> bool:
    return select is None or any(fnmatchcase(name, p) for p in select)


def _one_line(e: BaseException) -> str:
    msg = str(e).strip().splitlines()
    return f"{type(e).__name__}: {msg[0]}" if msg else type(e).__name__


# --------------------------------------------------------------------------- GGUF


def import_gguf(path, out_yaml, *, select=None) -> ImportResult:
    """Import every 2-D TQ1_0 / TQ2_0 tensor of a GGUF file (see module docstring).

    ``select``: optional fnmatch patterns; only tensors whose name matches one are imported
    (the others are listed in ``skipped``)."""
    try:
        from gguf import GGMLQuantizationType, GGUFReader
    except ImportError as e:  # pragma: no cover - dependency missing
        raise ModelError("the 'gguf' package is required to import GGUF files", file=path) from e
    path = Path(path)
    out_yaml, npz, stem = _output_paths(out_yaml, [path])
    if not path.is_file():
        raise ModelError("no such file", file=path)
    try:
        reader = GGUFReader(path)
    except Exception as e:
        raise ModelError(f"not a readable GGUF file ({_one_line(e)})", file=path) from None

    decoders = {GGMLQuantizationType.TQ1_0: packing.unpack_tq1_0,
                GGMLQuantizationType.TQ2_0: packing.unpack_tq2_0}
    arrays, layers, comments, skipped, used = {}, [], [], [], set()
    for t in reader.tensors:
        if not _selected(t.name, select):
            skipped.append((t.name, "not selected"))
            continue
        ttype = t.tensor_type
        tname = getattr(ttype, "name", str(ttype))
        if ttype not in decoders:
            skipped.append((t.name, f"type {tname} is not ternary (only TQ1_0 / TQ2_0 are imported)"))
            continue
        dims = [int(d) for d in t.shape]           # ggml order: ne0 (row length) first
        if len(dims) != 2:
            skipped.append((t.name, f"{tname} tensor with {len(dims)} dimension(s); only 2-D matrices become layers"))
            continue
        cols, rows = dims
        try:
            w, scales = decoders[ttype](np.ascontiguousarray(t.data, dtype=np.uint8).ravel(), rows * cols)
        except ValueError as e:
            raise ModelError(str(e), file=path, field=t.name) from None
        key = _unique(sanitize_key(t.name), used, ("", "__scales"))
        arrays[key] = w.reshape(rows, cols)
        arrays[key + "__scales"] = scales.reshape(rows, cols // packing.QK)
        layers.append({"key": key, "out_features": rows, "in_features": cols})
        comments.append(f"{t.name}: {tname} [{rows} x {cols}]")
    del reader
    if not layers:
        raise ModelError("no 2-D TQ1_0 / TQ2_0 ternary tensors found", file=path)
    _write_model(out_yaml, npz, stem, arrays, layers, comments, path.name, "import_gguf")
    return _result(out_yaml, npz, layers, skipped)


# --------------------------------------------------------------------------- safetensors

_ST_FLOAT = {"F16", "F32", "F64", "BF16"}
_ST_INT = {"I8", "I16", "I32", "I64", "U8", "U16", "U32", "U64"}


def _st_header(path: Path) -> tuple[dict, int]:
    """Parse the safetensors header: 8-byte little-endian length, then JSON."""
    with open(path, "rb") as f:
        raw = f.read(8)
        if len(raw) != 8:
            raise ValueError("file shorter than the 8-byte header length")
        (n,) = struct.unpack("<Q", raw)
        size = path.stat().st_size
        if n > size - 8 or n > 100 * 2**20:
            raise ValueError(f"header length {n} is out of range")
        header = json.loads(f.read(n))
    header.pop("__metadata__", None)
    return header, 8 + n


def _st_bf16(path: Path, info: dict, data_start: int) -> np.ndarray:
    start, end = info["data_offsets"]
    shape = tuple(info["shape"])
    raw = np.fromfile(path, dtype="<u2", count=(end - start) // 2, offset=data_start + start)
    return (raw.astype(np.uint32) << 16).view(np.float32).reshape(shape)


def import_safetensors(path, out_yaml, *, select=None, skip=DEFAULT_SAFETENSORS_SKIP) -> ImportResult:
    """Import every 2-D tensor of a safetensors file as a ternary layer.

    Float tensors (F16/BF16/F32/F64) are ternarised with :func:`absmean_ternarize`
    (scale saved as ``<key>__scale``); integer tensors are taken as is when all their
    values are in {-1, 0, 1} and skipped otherwise.  Tensors whose name matches one of
    the ``skip`` patterns (default: embeddings and the LM head) are skipped, as are
    tensors not matching any ``select`` pattern when ``select`` is given.
    """
    try:
        from safetensors import safe_open
    except ImportError as e:  # pragma: no cover - dependency missing
        raise ModelError("the 'safetensors' package is required to import safetensors files", file=path) from e
    path = Path(path)
    out_yaml, npz, stem = _output_paths(out_yaml, [path])
    if not path.is_file():
        raise ModelError("no such file", file=path)
    try:
        header, data_start = _st_header(path)
        handle = safe_open(str(path), framework="np")
    except Exception as e:
        raise ModelError(f"not a readable safetensors file ({_one_line(e)})", file=path) from None

    arrays, layers, comments, skipped, used = {}, [], [], [], set()
    with handle as f:
        for name in sorted(header, key=_natural):
            info = header[name]
            if not _selected(name, select):
                skipped.append((name, "not selected"))
                continue
            dtype, shape = info.get("dtype"), list(info.get("shape", []))
            if len(shape) != 2:
                skipped.append((name, f"{len(shape)}-D tensor; only 2-D matrices become layers"))
                continue
            if any(fnmatchcase(name, p) for p in skip):
                skipped.append((name, "matches a skip pattern (embedding / output head kept in float)"))
                continue
            if dtype not in _ST_FLOAT and dtype not in _ST_INT:
                skipped.append((name, f"dtype {dtype} is not supported"))
                continue
            try:
                a = _st_bf16(path, info, data_start) if dtype == "BF16" else f.get_tensor(name)
            except Exception as e:
                raise ModelError(f"cannot read tensor ({_one_line(e)})", file=path, field=name) from None
            rows, cols = shape
            scale = None
            if dtype in _ST_INT:
                if a.size and (a.min() < -1 or a.max() > 1):
                    skipped.append((name, f"{dtype} tensor with values outside {{-1, 0, 1}}"))
                    continue
                w = a.astype(np.int8)
                how = f"{dtype}, already ternary"
            else:
                a = np.asarray(a, dtype=np.float32)
                if not np.all(np.isfinite(a)):
                    raise ModelError("tensor holds NaN or infinite values", file=path, field=name)
                w, scale = absmean_ternarize(a)
                how = f"{dtype}, absmean scale {float(scale):.6g}"
            key = _unique(sanitize_key(name), used, ("", "__scale", "__scales"))
            arrays[key] = np.ascontiguousarray(w.reshape(rows, cols))
            if scale is not None:
                arrays[key + "__scale"] = np.float32(scale)
            layers.append({"key": key, "out_features": rows, "in_features": cols})
            comments.append(f"{name}: {how} [{rows} x {cols}]")
    if not layers:
        raise ModelError("no 2-D tensors to import as ternary layers", file=path)
    _write_model(out_yaml, npz, stem, arrays, layers, comments, path.name, "import_safetensors")
    return _result(out_yaml, npz, layers, skipped)
