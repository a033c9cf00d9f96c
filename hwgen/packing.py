"""Ternary weight packing formats (numpy-vectorised).

Every format packs a ternary weight array ``w`` (values in {-1, 0, +1}, any
integer dtype, 1-D or 2-D) into a flat ``np.ndarray`` of ``uint8`` and unpacks
``(data, n)`` back into a flat ``int8`` array of ``n`` weights.

Conventions shared by all formats
---------------------------------
* **Flattening.**  A 2-D array is flattened row-major (C order): weight ``i`` is
  ``w[i // cols, i % cols]``.  For a layer matrix of shape ``(out, in)`` this puts
  each output row's weights next to each other, as llama.cpp does.  ``unpack``
  always returns the flat array; reshape it yourself.
* **Blocked formats** (``tq2_0``, ``tq1_0``: 256 weights; ``sherry``: 4) need
  ``n`` to be a multiple of the block; for a 2-D array the *row length* must be a
  multiple of the block, so that no block straddles two rows.
* **Unblocked formats** (``2bit``, ``trit5``, ``tlmm*``) accept any ``n``; the
  last byte / group is padded with zero weights, and ``unpack`` drops them.
* **Bit streams** (``tlmm*``, ``sherry``) are little-endian: code ``j`` of width
  ``b`` occupies stream bits ``j*b .. j*b+b-1`` (its least significant bit first),
  and stream bit ``k`` is bit ``k % 8`` of byte ``k // 8``.  Unused high bits of
  the last byte are zero.
* **Bad input** raises ``ValueError`` with a one-line message.

Formats (``FORMATS[name]``)
---------------------------
========  =====  ==============================================================
name      bpw    layout
========  =====  ==============================================================
2bit      2.0    code ``w+1`` (0,1,2; 3 is invalid); weight ``i`` at bits
                 ``2*(i%4) .. 2*(i%4)+1`` of byte ``i//4``.
tq2_0     2.0625 llama.cpp TQ2_0: per 256 weights, 64 bytes of 2-bit codes then
                 an fp16 (little-endian) scale = 66 bytes.  The block is two
                 halves of 128 weights; in half ``h``, byte ``32h+m`` holds weight
                 ``128h + m + 32n`` at bits ``2n..2n+1`` (n = 0..3).
tq1_0     1.6875 llama.cpp TQ1_0: per 256 weights, qs[48] + qh[4] + fp16 d = 54
                 bytes.  Trits are ``w+1``.  qs[m] (m<32) holds weights
                 ``m + 32n`` (n = 0..4), qs[32+m] (m<16) holds ``160 + m + 16n``
                 (n = 0..4), qh[m] (m<4) holds ``240 + m + 4n`` (n = 0..3).
                 A byte's trits form a base-3 number with trit n = 0 the MOST
                 significant digit: ``q = sum t_n * 3**(4-n)`` (for qh the
                 least significant digit is 0, i.e. the 4 trits use 81,27,9,3).
                 The byte stored is ``ceil(q * 256 / 243)`` and trit n decodes
                 as ``((uint8)(byte * 3**n) * 3) >> 8``.
trit5     1.6    5 trits per byte, plain base 3 with weight 3**k for the k-th
                 weight of the group (least significant first):
                 ``byte = sum (w[5j+k]+1) * 3**k``, 0..242 (243..255 invalid).
tlmm4     2.0    TLMM index, G=2: 4-bit code per pair (see below).
tlmm5     1.667  TLMM index, G=3: 5-bit code per triple (TeLLMe-style).
tlmm7     1.75   TLMM index, G=4: 7-bit code per quad.
sherry    1.25   Sherry 3:4: per 4 weights with exactly one zero, a 5-bit code:
                 bits 0-1 = position of the zero (0..3), bits 2,3,4 = sign bits
                 of the three non-zero weights in increasing position order
                 (1 = -1, 0 = +1).
========  =====  ==============================================================

TLMM index (hwgen convention)
-----------------------------
A group of ``G`` consecutive weights ``w0..w{G-1}`` maps to the signed value
``v = sum w_i * 3**i`` (weight ``i`` of the group has weight ``3**i``; note
bitnet.cpp TL2 uses the reverse order ``9*w0 + 3*w1 + w2``), ``|v| <= (3**G-1)/2``.
The stored code is sign-magnitude: ``code = |v| | (v < 0) << M`` where ``M`` is
the magnitude width (G=2: 3 bits, G=3: 4 bits, G=4: 6 bits), so the code is
``M+1`` bits wide.  Example: (1, 0, -1) -> v = 1 - 9 = -8 -> 0b1_1000 = 24.
"Negative zero" (sign bit with magnitude 0) and magnitudes above the maximum are
invalid codes.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Callable

import numpy as np

__all__ = [
    "FORMATS",
    "Format",
    "Check34",
    "check_3_4",
    "enforce_3_4",
    "tlmm_values",
    "tlmm_index",
    "tlmm_decode",
    "tlmm_index_bits",
    "pack_2bit",
    "unpack_2bit",
    "pack_tq2_0",
    "unpack_tq2_0",
    "pack_tq1_0",
    "unpack_tq1_0",
    "pack_trit5",
    "unpack_trit5",
    "pack_tlmm",
    "unpack_tlmm",
    "pack_sherry",
    "unpack_sherry",
]

QK = 256  # llama.cpp super-block size for TQ1_0 / TQ2_0
TQ2_0_BLOCK_BYTES = 66
TQ1_0_BLOCK_BYTES = 54
_FP16_MAX = 65504.0


# --------------------------------------------------------------------------- validation


def _ternary(w, fmt: str, block: int = 1) -> np.ndarray:
    """Validate ``w`` and return it as a flat int8 array (row-major)."""
    arr = np.asarray(w)
    if arr.dtype.kind not in "iu":
        raise ValueError(f"{fmt}: weights must be an integer array, got dtype {arr.dtype}")
    if arr.ndim not in (1, 2):
        raise ValueError(f"{fmt}: weights must be 1-D or 2-D, got shape {arr.shape}")
    if arr.size:
        bad = (arr < -1) | (arr > 1)
        if bad.any():
            i = int(np.flatnonzero(bad.ravel())[0])
            raise ValueError(
                f"{fmt}: weights must be in {{-1, 0, 1}}; flat index {i} holds {arr.ravel()[i]}")
    if block > 1:
        if arr.ndim == 2 and arr.shape[1] % block:
            raise ValueError(
                f"{fmt}: row length {arr.shape[1]} is not a multiple of the block size {block}")
        if arr.size % block:
            raise ValueError(f"{fmt}: {arr.size} weights is not a multiple of the block size {block}")
    return np.ascontiguousarray(arr, dtype=np.int8).ravel()


def _count(n, fmt: str, block: int = 1) -> int:
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 0:
        raise ValueError(f"{fmt}: n must be a non-negative integer, got {n!r}")
    n = int(n)
    if n % block:
        raise ValueError(f"{fmt}: n = {n} is not a multiple of the block size {block}")
    return n


def _bytes(data, fmt: str, expected: int) -> np.ndarray:
    if isinstance(data, np.ndarray):
        if data.dtype != np.uint8:
            raise ValueError(f"{fmt}: packed data must be uint8, got dtype {data.dtype}")
        buf = np.ascontiguousarray(data).ravel()
    elif isinstance(data, (bytes, bytearray, memoryview)):
        buf = np.frombuffer(bytes(data), dtype=np.uint8)
    else:
        raise ValueError(f"{fmt}: packed data must be bytes or a uint8 array, got {type(data).__name__}")
    if buf.size != expected:
        raise ValueError(f"{fmt}: expected {expected} bytes of packed data, got {buf.size}")
    return buf


def _pad(flat: np.ndarray, multiple: int) -> np.ndarray:
    r = (-flat.size) % multiple
    return np.concatenate([flat, np.zeros(r, dtype=flat.dtype)]) if r else flat


def _block_scales(scales, nblocks: int, fmt: str) -> np.ndarray:
    if scales is None:
        return np.ones(nblocks, dtype="<f2")
    s = np.asarray(scales)
    if s.dtype.kind not in "fiu":
        raise ValueError(f"{fmt}: scales must be numeric, got dtype {s.dtype}")
    s = s.astype(np.float64).ravel()
    if s.size != nblocks:
        raise ValueError(f"{fmt}: expected {nblocks} per-block scales, got {s.size}")
    if not np.all(np.isfinite(s)) or np.any(np.abs(s) > _FP16_MAX):
        raise ValueError(f"{fmt}: scales must be finite and fit in fp16 (|s| <= {_FP16_MAX})")
    return s.astype("<f2")


# --------------------------------------------------------------------------- bit streams


def _pack_bits(codes: np.ndarray, width: int) -> np.ndarray:
    """Little-endian bit stream of ``width``-bit codes (see module docstring)."""
    codes = codes.astype(np.uint16)
    bits = ((codes[:, None] >> np.arange(width, dtype=np.uint16)) & 1).astype(np.uint8)
    return np.packbits(bits.ravel(), bitorder="little")


def _unpack_bits(buf: np.ndarray, count: int, width: int) -> np.ndarray:
    bits = np.unpackbits(buf, bitorder="little")[: count * width].reshape(count, width)
    return (bits.astype(np.uint16) << np.arange(width, dtype=np.uint16)).sum(axis=1).astype(np.uint16)


def _stream_bytes(count: int, width: int) -> int:
    return (count * width + 7) // 8


# --------------------------------------------------------------------------- 2bit


def pack_2bit(w) -> np.ndarray:
    """Codes ``w+1``, 4 per byte, weight ``i`` at bits ``2*(i%4)`` of byte ``i//4``."""
    flat = _pad(_ternary(w, "2bit"), 4)
    codes = (flat + 1).astype(np.uint8).reshape(-1, 4)
    return (codes << np.array([0, 2, 4, 6], dtype=np.uint8)).sum(axis=1, dtype=np.uint8)


def unpack_2bit(data, n) -> np.ndarray:
    n = _count(n, "2bit")
    buf = _bytes(data, "2bit", (n + 3) // 4)
    codes = ((buf[:, None] >> np.array([0, 2, 4, 6], dtype=np.uint8)) & 3).ravel()[:n]
    if np.any(codes == 3):
        i = int(np.flatnonzero(codes == 3)[0])
        raise ValueError(f"2bit: weight {i} has the invalid code 3")
    return codes.astype(np.int8) - 1


# --------------------------------------------------------------------------- TQ2_0


def pack_tq2_0(w, scales=None) -> np.ndarray:
    """llama.cpp TQ2_0 blocks (66 bytes per 256 weights); ``scales``: one float per block
    (default 1.0), stored as fp16."""
    flat = _ternary(w, "tq2_0", QK)
    nb = flat.size // QK
    d = _block_scales(scales, nb, "tq2_0")
    codes = (flat + 1).astype(np.uint8).reshape(nb, 2, 4, 32)  # block, half, n, m
    shifts = np.array([0, 2, 4, 6], dtype=np.uint8).reshape(1, 1, 4, 1)
    qs = (codes << shifts).sum(axis=2, dtype=np.uint8).reshape(nb, 64)
    return np.concatenate([qs, d.view(np.uint8).reshape(nb, 2)], axis=1).ravel()


def unpack_tq2_0(data, n) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(weights int8[n], scales float32[n // 256])``.  Code 3 is rejected."""
    n = _count(n, "tq2_0", QK)
    nb = n // QK
    buf = _bytes(data, "tq2_0", nb * TQ2_0_BLOCK_BYTES).reshape(nb, TQ2_0_BLOCK_BYTES)
    qs = buf[:, :64].reshape(nb, 2, 1, 32)
    shifts = np.array([0, 2, 4, 6], dtype=np.uint8).reshape(1, 1, 4, 1)
    codes = ((qs >> shifts) & 3).reshape(n)
    if np.any(codes == 3):
        i = int(np.flatnonzero(codes == 3)[0])
        raise ValueError(f"tq2_0: weight {i} has the invalid code 3")
    scales = np.ascontiguousarray(buf[:, 64:]).view("<f2").reshape(nb).astype(np.float32)
    return codes.astype(np.int8) - 1, scales


# --------------------------------------------------------------------------- TQ1_0

_POW5_MSB = np.array([81, 27, 9, 3, 1], dtype=np.uint16)   # trit n has weight 3**(4-n)
_POW3 = np.array([1, 3, 9, 27, 81], dtype=np.uint16)


def _tq1_digits_to_byte(trits: np.ndarray) -> np.ndarray:
    """trits: (..., k, m) with k <= 5 digits (most significant first) -> (..., m) bytes."""
    k = trits.shape[-2]
    q = (trits.astype(np.uint16) * _POW5_MSB[:k, None]).sum(axis=-2, dtype=np.uint16)
    return ((q * 256 + 242) // 243).astype(np.uint8)  # ceil(q * 256 / 243)


def _tq1_byte_to_digits(b: np.ndarray, k: int) -> np.ndarray:
    """b: (..., m) bytes -> (..., k, m) trits 0..2."""
    x = (b[..., None, :].astype(np.uint16) * _POW3[:k, None]) & 0xFF  # (uint8)(b * 3**n)
    return ((x * 3) >> 8).astype(np.int8)


def pack_tq1_0(w, scales=None) -> np.ndarray:
    """llama.cpp TQ1_0 blocks (54 bytes per 256 weights); ``scales`` as for :func:`pack_tq2_0`."""
    flat = _ternary(w, "tq1_0", QK)
    nb = flat.size // QK
    d = _block_scales(scales, nb, "tq1_0")
    t = (flat + 1).astype(np.uint8).reshape(nb, QK)
    qs0 = _tq1_digits_to_byte(t[:, :160].reshape(nb, 5, 32))
    qs1 = _tq1_digits_to_byte(t[:, 160:240].reshape(nb, 5, 16))
    qh = _tq1_digits_to_byte(t[:, 240:].reshape(nb, 4, 4))
    return np.concatenate([qs0, qs1, qh, d.view(np.uint8).reshape(nb, 2)], axis=1).ravel()


def unpack_tq1_0(data, n) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(weights int8[n], scales float32[n // 256])``."""
    n = _count(n, "tq1_0", QK)
    nb = n // QK
    buf = _bytes(data, "tq1_0", nb * TQ1_0_BLOCK_BYTES).reshape(nb, TQ1_0_BLOCK_BYTES)
    t0 = _tq1_byte_to_digits(buf[:, :32], 5).reshape(nb, 160)
    t1 = _tq1_byte_to_digits(buf[:, 32:48], 5).reshape(nb, 80)
    t2 = _tq1_byte_to_digits(buf[:, 48:52], 4).reshape(nb, 16)
    w = np.concatenate([t0, t1, t2], axis=1).reshape(n) - np.int8(1)
    scales = np.ascontiguousarray(buf[:, 52:]).view("<f2").reshape(nb).astype(np.float32)
    return w, scales


# --------------------------------------------------------------------------- trit5


def pack_trit5(w) -> np.ndarray:
    """5 trits per byte: ``byte j = sum (w[5j+k] + 1) * 3**k``."""
    t = (_pad(_ternary(w, "trit5"), 5) + 1).astype(np.uint16).reshape(-1, 5)
    return (t * _POW3).sum(axis=1).astype(np.uint8)


def unpack_trit5(data, n) -> np.ndarray:
    n = _count(n, "trit5")
    buf = _bytes(data, "trit5", (n + 4) // 5)
    if np.any(buf > 242):
        j = int(np.flatnonzero(buf > 242)[0])
        raise ValueError(f"trit5: byte {j} holds {buf[j]}, above the largest 5-trit value 242")
    digits = (buf[:, None] // _POW3.astype(np.uint8)) % 3
    return digits.astype(np.int8).ravel()[:n] - np.int8(1)


# --------------------------------------------------------------------------- TLMM index

_TLMM_GROUPS = (1, 2, 3, 4, 5)


def _check_group(group) -> int:
    if isinstance(group, bool) or not isinstance(group, numbers.Integral) or group not in _TLMM_GROUPS:
        raise ValueError(f"tlmm: group must be one of {_TLMM_GROUPS}, got {group!r}")
    return int(group)


def _tlmm_max(group: int) -> int:
    return (3 ** group - 1) // 2


def _tlmm_mag_bits(group: int) -> int:
    return int(_tlmm_max(group)).bit_length()


def tlmm_index_bits(group: int) -> int:
    """Width of one TLMM code: magnitude bits + 1 sign bit (G=2: 4, G=3: 5, G=4: 7)."""
    return _tlmm_mag_bits(_check_group(group)) + 1


def tlmm_values(w, group: int = 3) -> np.ndarray:
    """Signed group values ``v = sum w_i * 3**i`` along the last axis.

    ``w`` has shape ``(..., K)`` (1-D or 2-D); ``K`` is zero-padded to a multiple of
    ``group`` per row.  Returns int8 of shape ``(..., ceil(K / group))``.
    """
    g = _check_group(group)
    arr = np.asarray(w)
    _ternary(arr, "tlmm")
    arr = arr.astype(np.int16)
    k = arr.shape[-1]
    r = (-k) % g
    if r:
        arr = np.concatenate([arr, np.zeros(arr.shape[:-1] + (r,), dtype=arr.dtype)], axis=-1)
    grouped = arr.reshape(arr.shape[:-1] + (arr.shape[-1] // g, g))
    pw = (3 ** np.arange(g)).astype(np.int16)
    return (grouped * pw).sum(axis=-1).astype(np.int8)


def tlmm_index(w, group: int = 3) -> np.ndarray:
    """Sign-magnitude TLMM codes (uint8) of shape ``(..., ceil(K / group))``; see module doc."""
    g = _check_group(group)
    v = tlmm_values(w, g).astype(np.int16)
    return (np.abs(v) | ((v < 0).astype(np.int16) << _tlmm_mag_bits(g))).astype(np.uint8)


def tlmm_decode(idx, group: int = 3) -> np.ndarray:
    """Inverse of :func:`tlmm_index`: codes ``(..., J)`` -> weights int8 ``(..., J * group)``."""
    g = _check_group(group)
    c = np.asarray(idx)
    if c.dtype.kind not in "iu":
        raise ValueError(f"tlmm: indices must be an integer array, got dtype {c.dtype}")
    c = c.astype(np.int64)
    mbits = _tlmm_mag_bits(g)
    mag = c & ((1 << mbits) - 1)
    sign = c >> mbits
    bad = (c < 0) | (sign > 1) | (mag > _tlmm_max(g)) | ((sign == 1) & (mag == 0))
    if bad.any():
        i = int(np.flatnonzero(bad.ravel())[0])
        raise ValueError(f"tlmm: index {i} holds {c.ravel()[i]}, not a valid G={g} code")
    u = np.where(sign == 1, -mag, mag) + _tlmm_max(g)  # digits of u in base 3 are w_i + 1
    digits = (u[..., None] // (3 ** np.arange(g))) % 3
    return (digits - 1).astype(np.int8).reshape(c.shape[:-1] + ((c.shape[-1] if c.ndim else 1) * g,))


def pack_tlmm(w, group: int = 3) -> np.ndarray:
    """Flat (row-major) weights in groups of ``group`` -> bit stream of TLMM codes.

    Groups run over the flattened array (they may straddle rows); use
    :func:`tlmm_index` for per-row grouping as the hardware does.
    """
    g = _check_group(group)
    flat = _ternary(w, f"tlmm{tlmm_index_bits(g)}")
    return _pack_bits(tlmm_index(flat, g), tlmm_index_bits(g))


def unpack_tlmm(data, n, group: int = 3) -> np.ndarray:
    g = _check_group(group)
    width = tlmm_index_bits(g)
    fmt = f"tlmm{width}"
    n = _count(n, fmt)
    count = -(-n // g)
    buf = _bytes(data, fmt, _stream_bytes(count, width))
    return tlmm_decode(_unpack_bits(buf, count, width), g)[:n]


# --------------------------------------------------------------------------- Sherry 3:4


@dataclass(frozen=True)
class Check34:
    """Result of :func:`check_3_4`.  Group ``j`` is flat weights ``4j .. 4j+3`` (row-major)."""

    groups: int
    count: int               # groups that do not have exactly one zero
    first: tuple             # up to 8 offending group indices, ascending

    @property
    def ok(self) -> bool:
        return self.count == 0

    def __str__(self) -> str:
        if self.ok:
            return f"3:4 ok ({self.groups} groups)"
        return (f"{self.count} of {self.groups} groups violate 3:4 sparsity "
                f"(first: {', '.join(map(str, self.first))})")


def _groups4(w, fmt: str) -> np.ndarray:
    return _ternary(w, fmt, 4).reshape(-1, 4)


def check_3_4(w) -> Check34:
    """Report groups of 4 (row-major, rows must be a multiple of 4 long) whose zero
    count is not exactly one."""
    g = _groups4(w, "sherry")
    bad = np.flatnonzero((g == 0).sum(axis=1) != 1)
    return Check34(groups=g.shape[0], count=int(bad.size), first=tuple(int(i) for i in bad[:8]))


def enforce_3_4(w, scores=None) -> np.ndarray:
    """Return a copy of ``w`` (same shape, int8) with exactly one zero per group of 4.

    * Group with no zero: zero the weight with the smallest ``|score|`` (ties: the
      lowest position).  Without ``scores`` all weights tie, so position 0 is zeroed.
    * Group with two or more zeros: keep as zero the zero position with the smallest
      ``|score|`` (ties: lowest position); each other zero becomes ``sign(score)``
      (``+1`` where the score is exactly 0).  Needs ``scores`` (e.g. the latent float
      weights): without them this raises ``ValueError``.
    """
    arr = np.asarray(w)
    g = _groups4(arr, "sherry").copy()
    if scores is None:
        s = None
    else:
        s = np.asarray(scores)
        if s.shape != arr.shape:
            raise ValueError(f"sherry: scores shape {s.shape} differs from weights shape {arr.shape}")
        if s.dtype.kind not in "fiu" or not np.all(np.isfinite(s)):
            raise ValueError("sherry: scores must be finite numbers")
        s = s.astype(np.float64).reshape(-1, 4)
    zeros = g == 0
    nz = zeros.sum(axis=1)
    rows = np.arange(g.shape[0])
    # groups with no zero
    none = nz == 0
    if none.any():
        pos = np.zeros(g.shape[0], dtype=np.intp) if s is None else np.argmin(np.abs(s), axis=1)
        g[rows[none], pos[none]] = 0
    # groups with 2+ zeros
    many = nz >= 2
    if many.any():
        if s is None:
            j = int(np.flatnonzero(many)[0])
            raise ValueError(
                f"sherry: group {j} has {int(nz[j])} zeros; enforce_3_4 needs scores to choose their signs")
        a = np.where(zeros, np.abs(s), np.inf)
        keep = np.argmin(a, axis=1)
        fill = np.where(s >= 0, 1, -1).astype(np.int8)
        turn = zeros & many[:, None]
        turn[rows, keep] = False
        g[turn] = fill[turn]
    return g.reshape(arr.shape)


def pack_sherry(w) -> np.ndarray:
    """Sherry 3:4 -> 5-bit codes (zero position | signs << 2) in a little-endian bit stream."""
    g = _groups4(w, "sherry")
    zeros = g == 0
    nz = zeros.sum(axis=1)
    bad = np.flatnonzero(nz != 1)
    if bad.size:
        j = int(bad[0])
        raise ValueError(
            f"sherry: group {j} (weights {4 * j}..{4 * j + 3}) has {int(nz[j])} zeros, "
            f"3:4 needs exactly one ({bad.size} bad groups; see enforce_3_4)")
    pos = np.argmax(zeros, axis=1).astype(np.uint8)
    signs = (g[~zeros].reshape(-1, 3) < 0).astype(np.uint8)
    codes = pos | (signs[:, 0] << 2) | (signs[:, 1] << 3) | (signs[:, 2] << 4)
    return _pack_bits(codes, 5)


def unpack_sherry(data, n) -> np.ndarray:
    n = _count(n, "sherry", 4)
    count = n // 4
    buf = _bytes(data, "sherry", _stream_bytes(count, 5))
    codes = _unpack_bits(buf, count, 5)
    pos = (codes & 3).astype(np.intp)
    vals = 1 - 2 * ((codes[:, None] >> np.array([2, 3, 4])) & 1).astype(np.int8)  # (count, 3)
    col = np.arange(4)[None, :]
    j = np.clip(col - (col > pos[:, None]), 0, 2)           # non-zero slot feeding column c
    out = np.take_along_axis(vals, j, axis=1)
    out[col == pos[:, None]] = 0
    return out.astype(np.int8).ravel()


# --------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class Format:
    """A packing format.  ``pack(w, scales=None) -> uint8[...]``; ``unpack(data, n) -> int8[n]``;
    ``unpack_with_scales(data, n) -> (int8[n], float32 scales or None)``."""

    name: str
    bits_per_weight: float
    block: int                 # n (and 2-D row length) must be a multiple of this
    has_scales: bool           # per-block fp16 scales (tq1_0, tq2_0)
    _pack: Callable
    _unpack: Callable
    description: str = ""

    def pack(self, w, scales=None) -> np.ndarray:
        if self.has_scales:
            return self._pack(w, scales)
        if scales is not None:
            raise ValueError(f"{self.name}: this format stores no scales")
        return self._pack(w)

    def unpack_with_scales(self, data, n):
        out = self._unpack(data, n)
        return out if self.has_scales else (out, None)

    def unpack(self, data, n) -> np.ndarray:
        return self.unpack_with_scales(data, n)[0]

    def packed_size(self, n: int) -> int:
        """Bytes that ``pack`` produces for ``n`` weights."""
        n = _count(n, self.name, self.block)
        if self.name == "tq2_0":
            return n // QK * TQ2_0_BLOCK_BYTES
        if self.name == "tq1_0":
            return n // QK * TQ1_0_BLOCK_BYTES
        if self.name == "2bit":
            return (n + 3) // 4
        if self.name == "trit5":
            return (n + 4) // 5
        if self.name == "sherry":
            return _stream_bytes(n // 4, 5)
        g = _TLMM_BY_NAME[self.name]
        return _stream_bytes(-(-n // g), tlmm_index_bits(g))


_TLMM_BY_NAME = {"tlmm4": 2, "tlmm5": 3, "tlmm7": 4}


def _tlmm_format(name: str, g: int) -> Format:
    width = tlmm_index_bits(g)
    return Format(name, width / g, 1, False,
                  lambda w, _g=g: pack_tlmm(w, _g),
                  lambda data, n, _g=g: unpack_tlmm(data, n, _g),
                  f"TLMM index, G={g}: {width}-bit sign-magnitude code per {g} weights")


FORMATS: dict[str, Format] = {
    "2bit": Format("2bit", 2.0, 1, False, pack_2bit, unpack_2bit, "2-bit codes w+1, 4 per byte"),
    "tq2_0": Format("tq2_0", 66 * 8 / 256, QK, True, pack_tq2_0, unpack_tq2_0,
                    "llama.cpp TQ2_0 (66 bytes per 256 weights)"),
    "trit5": Format("trit5", 8 / 5, 1, False, pack_trit5, unpack_trit5, "5 trits per byte, base 3"),
    "tq1_0": Format("tq1_0", 54 * 8 / 256, QK, True, pack_tq1_0, unpack_tq1_0,
                    "llama.cpp TQ1_0 (54 bytes per 256 weights)"),
    "tlmm4": _tlmm_format("tlmm4", 2),
    "tlmm5": _tlmm_format("tlmm5", 3),
    "tlmm7": _tlmm_format("tlmm7", 4),
    "sherry": Format("sherry", 5 / 4, 4, False, pack_sherry, unpack_sherry,
                     "Sherry 3:4 sparse ternary, 5 bits per 4 weights"),
}
