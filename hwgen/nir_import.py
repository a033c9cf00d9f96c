"""Import a NIR graph (PyPI ``nir``) of Affine/Linear and LIF/IF nodes as a spiking hwgen model.

The graph must be a chain ``Input -> (Affine | Linear) -> (LIF | IF) -> ... -> Output``; every
other node type is refused with one line naming the node. Each (Affine | Linear, LIF | IF) pair
becomes one ``op: lif`` layer. The rules (docs/model-format.md, "Importing NIR graphs"):

* Time: NIR neurons are continuous; hwgen steps them with forward Euler at ``dt`` (default 1e-4 s,
  the step snnTorch's NIR export assumes). A LIF neuron ``tau dv/dt = (v_leak - v) + r I``
  becomes ``v <- (1 - dt/tau) v + (dt/tau) r I``, an IF neuron ``dv/dt = r I`` becomes
  ``v <- v + dt r I``.
* Leak: ``leak_shift = k`` with ``1 - 2**-k`` closest to ``beta = 1 - dt/tau`` (k in 0..31);
  every neuron of a node must map to the same k. IF nodes get ``leak_shift: null``.
* Scale: neuron i's input weights become ``g_i W[i, :] / v_threshold_i`` with ``g_i = dt r_i / tau_i``
  (LIF) or ``dt r_i`` (IF): each neuron is normalized to threshold 1 (exact: the dynamics are linear
  in v while ``v_leak = v_reset = 0``).
* Weights: ternary (``weight_bits`` 2): ``delta = 0.7 mean|w|``, ``W_int = sign(w) [|w| > delta]``,
  scale ``q = mean |w| over |w| > delta``; ``weight_bits`` b > 2: ``q = max|w| / (2**(b-1) - 1)``,
  ``W_int = round(w / q)`` (half to even).
* Threshold: the normalized threshold 1 is ``1 / q`` integer units; NIR fires on ``v > v_threshold``,
  and for integer v, ``v > 1/q`` is ``v > floor(1/q)``: ``threshold = floor(1/q)``,
  ``threshold_compare: gt`` (exact for the quantized weights). Reset: NIR resets to
  ``v_reset``, which must be 0: ``reset: zero``.
* Not representable, so refused: ``v_leak != 0``, ``v_reset != 0``, non-positive tau, r or threshold,
  a nonzero bias (unless ``drop_bias``, which drops it and reports its size).

The report gives, per layer, the relative L2 error of the quantized weights
``||w - q W_int|| / ||w||``, the leak error ``max |beta - (1 - 2**-k)|`` and the dropped bias.
"""

import math
import re

import numpy as np

from .errors import HwgenError

SUPPORTED = ("Input", "Affine", "Linear", "LIF", "IF", "Output")
DEFAULT_DT = 1e-4


class NirImportError(HwgenError):
    pass


def _arr(node, key):
    return np.atleast_1d(np.asarray(getattr(node, key), dtype=np.float64))


def _ident(name, used):
    s = re.sub(r"[^A-Za-z0-9_]", "_", str(name)) or "layer"
    if not re.match(r"[A-Za-z_]", s) or s in ("input", "output"):
        s = "n_" + s
    base, k = s, 1
    while s in used:
        k += 1
        s = f"{base}_{k}"
    used.add(s)
    return s


def read_graph(path):
    try:
        import nir
    except ImportError:
        raise NirImportError("the nir package is not installed: pip install nir==1.0.8") from None
    try:
        return nir.read(str(path))
    except FileNotFoundError:
        raise NirImportError("file not found", file=path) from None
    except Exception as e:
        raise NirImportError(f"cannot read NIR graph: {str(e).splitlines()[0] if str(e) else type(e).__name__}",
                             file=path) from None


def chain(graph, file=None):
    """The graph's nodes from Input to Output as a list of (name, node)."""
    nodes = graph.nodes
    for name, node in nodes.items():
        kind = type(node).__name__
        if kind not in SUPPORTED:
            raise NirImportError(f"node {name!r}: unsupported NIR node type {kind} "
                                 f"(supported: {', '.join(SUPPORTED)})", file=file)
    succ, pred = {}, {}
    for a, b in graph.edges:
        succ.setdefault(a, []).append(b)
        pred.setdefault(b, []).append(a)
    inputs = [n for n, node in nodes.items() if type(node).__name__ == "Input"]
    if len(inputs) != 1:
        raise NirImportError(f"the graph must have exactly one Input node, has {len(inputs)}", file=file)
    order, cur, seen = [], inputs[0], set()
    while True:
        if cur in seen:
            raise NirImportError(f"node {cur!r}: the graph has a cycle (recurrent graphs are not supported)", file=file)
        seen.add(cur)
        order.append((cur, nodes[cur]))
        if type(nodes[cur]).__name__ == "Output":
            break
        nxt = succ.get(cur, [])
        if len(nxt) != 1:
            raise NirImportError(f"node {cur!r}: must feed exactly one node (a chain), feeds {len(nxt)}", file=file)
        cur = nxt[0]
        if cur not in nodes:
            raise NirImportError(f"edge to unknown node {cur!r}", file=file)
        if len(pred.get(cur, [])) != 1:
            raise NirImportError(f"node {cur!r}: must have exactly one input, has {len(pred.get(cur, []))}", file=file)
    if len(seen) != len(nodes):
        extra = sorted(set(nodes) - seen)[0]
        raise NirImportError(f"node {extra!r}: not on the Input -> Output chain", file=file)
    return order


def leak_shift_for(beta):
    """k in 0..31 with 1 - 2**-k closest to beta (None for beta >= 1: no leak)."""
    if beta >= 1.0:
        return None
    ks = np.arange(32)
    return int(ks[np.argmin(np.abs((1.0 - 2.0 ** -ks) - beta))])


def quantize(w, weight_bits):
    """(W_int int8, scale q) per the rules of the module docstring."""
    w = np.asarray(w, dtype=np.float64)
    if weight_bits == 2:
        a = np.abs(w)
        delta = 0.7 * a.mean() if a.size else 0.0
        mask = a > delta
        q = float(a[mask].mean()) if mask.any() else 1.0
        wi = (np.sign(w) * mask).astype(np.int8)
    else:
        lim = (1 << (weight_bits - 1)) - 1
        m = float(np.abs(w).max()) if w.size else 0.0
        q = m / lim if m > 0 else 1.0
        wi = np.clip(np.round(w / q), -lim, lim).astype(np.int8)
    return wi, q


def convert(graph, *, name="nir_model", dt=DEFAULT_DT, weight_bits=2, membrane_bits=None, drop_bias=False,
            neurons=8, lanes=32, mode="event", file=None):
    """Convert a ``nir.NIRGraph``. Returns ``(doc, arrays, report)``: the YAML document (weights
    referenced as ``<name>.npz:<layer>``), the weight arrays by layer name, and the report."""
    if not dt > 0:
        raise NirImportError(f"must be > 0, got {dt}", field="--dt")
    order = chain(graph, file)
    body = order[1:-1]
    if not body:
        raise NirImportError("the graph has no Affine/Linear -> LIF/IF layer", file=file)
    layers, arrays, report, used = [], {}, [], set()
    in_features = None
    i = 0
    while i < len(body):
        sname, syn = body[i]
        skind = type(syn).__name__
        if skind not in ("Affine", "Linear"):
            raise NirImportError(f"node {sname!r}: a {skind} node must follow an Affine or Linear node", file=file)
        if i + 1 >= len(body) or type(body[i + 1][1]).__name__ not in ("LIF", "IF"):
            raise NirImportError(f"node {sname!r}: an {skind} node must be followed by a LIF or IF node", file=file)
        nname, neu = body[i + 1]
        nkind = type(neu).__name__
        i += 2
        w = np.asarray(syn.weight, dtype=np.float64)
        if w.ndim != 2:
            raise NirImportError(f"node {sname!r}: weight must be 2-D (out, in), got shape {w.shape}", file=file)
        n_out, n_in = w.shape
        if in_features is None:
            in_features = n_in
        elif n_in != layers[-1]["out_features"]:
            raise NirImportError(f"node {sname!r}: {n_in} inputs, but the previous layer has "
                                 f"{layers[-1]['out_features']} neurons", file=file)
        bias = np.zeros(n_out) if skind == "Linear" else np.broadcast_to(np.asarray(syn.bias, dtype=np.float64), (n_out,))
        bias_max = float(np.abs(bias).max()) if bias.size else 0.0
        if bias_max > 0 and not drop_bias:
            raise NirImportError(f"node {sname!r}: nonzero Affine bias (max |b| = {bias_max:.3g}) has no lif "
                                 "equivalent; pass --drop-bias to drop it", file=file)

        def param(key, default=None):
            if not hasattr(neu, key) or getattr(neu, key) is None:
                return np.full(n_out, default, dtype=np.float64)
            a = _arr(neu, key)
            if a.size == 1:
                a = np.full(n_out, float(a[0]))
            if a.shape != (n_out,):
                raise NirImportError(f"node {nname!r}: {key} has shape {a.shape}, expected ({n_out},)", file=file)
            return a
        r = param("r")
        vth = param("v_threshold")
        vreset = param("v_reset", 0.0)
        if (r <= 0).any():
            raise NirImportError(f"node {nname!r}: r must be > 0", file=file)
        if (vth <= 0).any():
            raise NirImportError(f"node {nname!r}: v_threshold must be > 0", file=file)
        if (vreset != 0).any():
            raise NirImportError(f"node {nname!r}: v_reset must be 0 (hwgen resets to 0), got {vreset[vreset != 0][0]:g}", file=file)
        if nkind == "LIF":
            tau = param("tau")
            vleak = param("v_leak", 0.0)
            if (tau <= 0).any():
                raise NirImportError(f"node {nname!r}: tau must be > 0", file=file)
            if (vleak != 0).any():
                raise NirImportError(f"node {nname!r}: v_leak must be 0, got {vleak[vleak != 0][0]:g}", file=file)
            beta = 1.0 - dt / tau
            if (beta < 0).any():
                raise NirImportError(f"node {nname!r}: tau < dt ({tau.min():g} < {dt:g}): Euler step unstable", file=file)
            ks = {leak_shift_for(b) for b in beta}
            if len(ks) != 1:
                raise NirImportError(f"node {nname!r}: tau maps to different leak shifts across neurons "
                                     f"({sorted(ks, key=lambda k: -1 if k is None else k)}); a layer has one leak", file=file)
            k = ks.pop()
            gain = dt * r / tau
            leak_err = float(np.max(np.abs(beta - (1.0 if k is None else 1.0 - 2.0 ** -k))))
        else:
            k, gain, leak_err = None, dt * r, 0.0
        eff = w * (gain / vth)[:, None]
        wi, q = quantize(eff, weight_bits)
        thr = int(math.floor(1.0 / q + 1e-9))
        norm = float(np.linalg.norm(eff))
        werr = float(np.linalg.norm(eff - q * wi) / norm) if norm > 0 else 0.0
        wmax = (1 << (weight_bits - 1)) - 1
        mbits = membrane_bits or min(32, max(8, (thr + n_in * wmax).bit_length() + 1))
        if thr > (1 << (mbits - 1)) - 1:
            raise NirImportError(f"node {nname!r}: threshold {thr} does not fit membrane_bits {mbits}", file=file)
        lname = _ident(nname, used)
        arrays[lname] = wi
        layers.append({"name": lname, "op": "lif", "out_features": n_out, "weights": f"{name}.npz:{lname}",
                       "threshold": thr, "leak_shift": k, "reset": "zero", "threshold_compare": "gt",
                       "membrane_bits": mbits, "weight_bits": weight_bits})
        report.append({"layer": lname, "from": [sname, nname], "leak_shift": k, "threshold": thr,
                       "scale": q, "weight_rel_error": round(werr, 6), "leak_error": round(leak_err, 6),
                       "bias_dropped_max": bias_max, "zero_weights": round(float(np.mean(wi == 0)), 4)})
    doc = {"name": name, "description": "imported from NIR by hwgen import-nir",
           "input": {"features": int(in_features), "bits": 1},
           "engine": {"kind": "lif", "neurons": neurons, "lanes": lanes, "mode": mode},
           "layers": layers}
    return doc, arrays, report


def yaml_text(doc):
    """The YAML text of a converted model: one flow mapping per layer, as hand-written models."""
    import yaml

    def flow(d):
        return yaml.safe_dump(d, default_flow_style=True, sort_keys=False, width=1 << 16).strip()
    lines = [f"name: {doc['name']}", f"description: {doc['description']}",
             f"input: {flow(doc['input'])}", f"engine: {flow(doc['engine'])}", "layers:"]
    lines += [f"  - {flow(layer)}" for layer in doc["layers"]]
    return "\n".join(lines) + "\n"
