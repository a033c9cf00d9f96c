"""Model descriptions: YAML files of layers with ternary weights, loaded and validated.

Format (documented in docs/model-format.md)::

    name: tiny
    input: {features: 96, bits: 8}
    engine: {kind: tlmm, group: 3, tables: 4, columns: 8}
    layers:
      - {name: fc1, op: ternary_linear, out_features: 64, weights: tiny.npz:fc1, requant: {shift: 6, relu: true}}
      - {name: fc2, op: ternary_linear, out_features: 10, weights: tiny.npz:fc2, output: acc}

Every problem is reported as one line naming the file and the field.
"""

import re
from dataclasses import dataclass
from pathlib import Path

import networkx as nx
import numpy as np
import yaml

from .engine import EngineParams
from .errors import ModelError

NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
MAX_FEATURES = 1 << 16
MAX_SHIFT = 31


@dataclass(frozen=True)
class Requant:
    """y = saturate_int8(acc >> shift) (arithmetic shift), then max(y, 0) if relu."""

    shift: int
    relu: bool

    def apply(self, acc):
        y = np.clip(np.asarray(acc, dtype=np.int64) >> self.shift, -128, 127)
        if self.relu:
            y = np.maximum(y, 0)
        return y.astype(np.int8)


@dataclass(frozen=True)
class Layer:
    name: str
    op: str
    in_features: int
    out_features: int
    weights: np.ndarray          # int8, (out_features, in_features), values in {-1, 0, 1}
    requant: Requant | None      # None when the layer outputs raw accumulators
    weights_ref: str

    @property
    def outputs_acc(self):
        return self.requant is None


@dataclass(frozen=True)
class Model:
    name: str
    in_features: int
    in_bits: int
    engine: EngineParams
    layers: tuple
    path: Path | None = None
    memory: object = None        # hwgen.streaming.MemoryParams (the memory: section); None: weights in ROM

    @property
    def out_features(self):
        return self.layers[-1].out_features

    @property
    def output_dtype(self):
        return np.int32 if self.layers[-1].outputs_acc else np.int8

    def graph(self):
        """The model as a networkx graph: input -> layer -> ... -> output, layers carry their spec."""
        g = nx.DiGraph(name=self.name)
        g.add_node("input", kind="input", features=self.in_features, bits=self.in_bits)
        prev = "input"
        for layer in self.layers:
            g.add_node(layer.name, kind="layer", layer=layer)
            g.add_edge(prev, layer.name, features=layer.in_features)
            prev = layer.name
        g.add_node("output", kind="output", features=self.out_features)
        g.add_edge(prev, "output", features=self.out_features)
        return g

    def layers_in_order(self):
        """Layers in dataflow order, from a topological walk of the graph."""
        g = self.graph()
        return [g.nodes[n]["layer"] for n in nx.topological_sort(g) if g.nodes[n]["kind"] == "layer"]

    def replace(self, **kw):
        d = dict(name=self.name, in_features=self.in_features, in_bits=self.in_bits,
                 engine=self.engine, layers=self.layers, path=self.path, memory=self.memory)
        d.update(kw)
        return Model(**d)


def _check_keys(d, allowed, file, field):
    for key in d:
        if key not in allowed:
            raise ModelError(f"unknown key (allowed: {', '.join(sorted(allowed))})", file=file,
                             field=f"{field}.{key}" if field else str(key))


def _int_field(d, key, lo, hi, file, field):
    v = d.get(key)
    if v is None:
        raise ModelError("is required", file=file, field=f"{field}.{key}")
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise ModelError(f"must be an integer in {lo}..{hi}, got {v!r}", file=file, field=f"{field}.{key}")
    return v


def _parse_memory(doc, file):
    """The optional ``memory:`` section (hwgen.streaming.MemoryParams), None when absent."""
    if "memory" not in doc:
        return None
    from .streaming import MemoryParams
    memory = MemoryParams.from_mapping(doc["memory"], file=file)
    kind = doc.get("engine", {}).get("kind") if isinstance(doc.get("engine"), dict) else None
    if memory.stream and kind not in ("tlmm", "addertree"):
        raise ModelError(f"weights: stream needs engine kind tlmm or addertree, got {kind!r}", file=file,
                         field="memory.weights")
    return memory


def load_weights(ref, base_dir, *, file, field):
    """Load ``file.npz:key`` or ``file.npy`` relative to ``base_dir`` as an int8 array."""
    if not isinstance(ref, str) or not ref:
        raise ModelError("must be 'file.npz:key' or 'file.npy'", file=file, field=field)
    fname, _, key = ref.partition(":")
    path = Path(base_dir) / fname
    if not path.is_file():
        raise ModelError(f"weights file not found: {path}", file=file, field=field)
    try:
        if fname.endswith(".npz"):
            if not key:
                raise ModelError(f"an .npz file needs a key: {fname}:KEY", file=file, field=field)
            with np.load(path, allow_pickle=False) as npz:
                if key not in npz.files:
                    raise ModelError(f"key {key!r} not in {fname} (has: {', '.join(npz.files)})", file=file, field=field)
                arr = npz[key]
        elif fname.endswith(".npy"):
            if key:
                raise ModelError("an .npy file takes no key", file=file, field=field)
            arr = np.load(path, allow_pickle=False)
        else:
            raise ModelError(f"weights must be .npz or .npy, got {fname}", file=file, field=field)
    except ModelError:
        raise
    except Exception as e:  # corrupt file, pickled object array ...
        raise ModelError(f"cannot read {path}: {str(e).splitlines()[0]}", file=file, field=field) from None
    return arr


def check_ternary(arr, shape, *, file, field):
    """Return ``arr`` as int8 after checking its shape and that every value is -1, 0 or 1."""
    if arr.ndim != 2 or arr.shape != shape:
        raise ModelError(f"shape must be (out_features, in_features) = {shape}, got {arr.shape}", file=file, field=field)
    if arr.dtype.kind not in "iuf":
        raise ModelError(f"must be numeric, got dtype {arr.dtype}", file=file, field=field)
    bad = ~np.isin(arr, (-1, 0, 1))
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise ModelError(f"value {arr[r, c].item()!r} at [{r}, {c}] is not ternary (-1, 0, 1)", file=file, field=field)
    return arr.astype(np.int8)


def parse_model(doc, *, file=None, base_dir="."):
    """Validate a parsed YAML document and load its weights."""
    if not isinstance(doc, dict):
        raise ModelError("top level must be a mapping with name, input, engine, layers", file=file)
    _check_keys(doc, {"name", "input", "engine", "layers", "description", "memory"}, file, "")
    memory = _parse_memory(doc, file)
    name = doc.get("name")
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise ModelError(f"must be an identifier (letters, digits, _), got {name!r}", file=file, field="name")

    inp = doc.get("input")
    if not isinstance(inp, dict):
        raise ModelError("must be a mapping {features: N, bits: B}", file=file, field="input")
    from .lif import is_spiking, parse_lif_input, parse_lif_layers
    if is_spiking(doc):                 # spiking model: op: lif layers on a lif engine (hwgen.lif)
        in_features, in_bits = parse_lif_input(inp, file=file)
        engine = EngineParams.from_mapping(doc.get("engine"), file=file)
        layers = parse_lif_layers(doc.get("layers"), in_features, file=file, base_dir=base_dir)
        return Model(name, in_features, in_bits, engine, layers, Path(file) if file else None)
    _check_keys(inp, {"features", "bits"}, file, "input")
    in_features = _int_field(inp, "features", 1, MAX_FEATURES, file, "input")
    in_bits = inp.get("bits", 8)
    if isinstance(in_bits, bool) or not isinstance(in_bits, int) or not 2 <= in_bits <= 8:
        raise ModelError(f"must be an integer in 2..8, got {in_bits!r}", file=file, field="input.bits")

    engine = EngineParams.from_mapping(doc.get("engine"), file=file)

    layers_doc = doc.get("layers")
    if not isinstance(layers_doc, list) or not layers_doc:
        raise ModelError("must be a non-empty list of layers", file=file, field="layers")
    layers = []
    seen = set()
    features = in_features
    for i, ld in enumerate(layers_doc):
        f = f"layers[{i}]"
        if not isinstance(ld, dict):
            raise ModelError("must be a mapping", file=file, field=f)
        if ld.get("op") == "lif":
            raise ModelError("op lif needs engine.kind: lif", file=file, field=f"{f}.op")
        _check_keys(ld, {"name", "op", "out_features", "weights", "requant", "output"}, file, f)
        lname = ld.get("name", f"layer{i}")
        if not isinstance(lname, str) or not NAME_RE.match(lname) or lname in ("input", "output"):
            raise ModelError(f"must be an identifier other than input/output, got {lname!r}", file=file, field=f"{f}.name")
        if lname in seen:
            raise ModelError(f"duplicate layer name {lname!r}", file=file, field=f"{f}.name")
        seen.add(lname)
        op = ld.get("op")
        if op != "ternary_linear":
            raise ModelError(f"unsupported op {op!r} (supported: ternary_linear)", file=file, field=f"{f}.op")
        out_features = _int_field(ld, "out_features", 1, MAX_FEATURES, file, f)
        last = i == len(layers_doc) - 1
        output = ld.get("output", "int8")
        if output not in ("int8", "acc"):
            raise ModelError(f"must be int8 or acc, got {output!r}", file=file, field=f"{f}.output")
        if output == "acc" and not last:
            raise ModelError("only the last layer can output raw accumulators", file=file, field=f"{f}.output")
        rq = ld.get("requant")
        if output == "acc":
            if rq is not None:
                raise ModelError("a layer with output: acc takes no requant", file=file, field=f"{f}.requant")
            requant = None
        else:
            if not isinstance(rq, dict):
                raise ModelError("must be {shift: S, relu: true|false} (or set output: acc on the last layer)",
                                 file=file, field=f"{f}.requant")
            _check_keys(rq, {"shift", "relu"}, file, f"{f}.requant")
            shift = _int_field(rq, "shift", 0, MAX_SHIFT, file, f"{f}.requant")
            relu = rq.get("relu", False)
            if not isinstance(relu, bool):
                raise ModelError(f"must be true or false, got {relu!r}", file=file, field=f"{f}.requant.relu")
            requant = Requant(shift, relu)
        ref = ld.get("weights")
        arr = load_weights(ref, base_dir, file=file, field=f"{f}.weights")
        w = check_ternary(arr, (out_features, features), file=file, field=f"{f}.weights")
        layers.append(Layer(lname, op, features, out_features, w, requant, ref))
        features = out_features
    return Model(name, in_features, in_bits, engine, tuple(layers), Path(file) if file else None, memory)


def load_model(path):
    """Load and validate a model description file."""
    path = Path(path)
    if not path.is_file():
        raise ModelError("model file not found", file=path)
    try:
        doc = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "yaml"
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ModelError(f"malformed YAML: {problem}", file=path, field=where) from None
    except UnicodeDecodeError:
        raise ModelError("not a text file", file=path) from None
    return parse_model(doc, file=path, base_dir=path.parent)
