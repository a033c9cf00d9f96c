"""PNG figures of the ASIC cost reports (matplotlib, Agg backend, byte-reproducible).

Every function takes plain numbers, draws one figure of fixed size and resolution and writes it
with :func:`save`. Reproducibility: the figure is drawn on a private ``Figure`` + Agg canvas (no
pyplot global state) inside an ``rc_context`` built from matplotlib's *defaults* (a user's
matplotlibrc or style does not leak in), and saved with ``metadata={"Software": None}`` so the
PNG carries no version string; the Agg PNG writer adds no timestamp. Same inputs and same
matplotlib (pinned: 3.11.2) give byte-identical files.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

__all__ = ["energy_breakdown", "area_breakdown", "mask_cost_vs_chips", "cost_vs_node", "save",
           "SIZE", "DPI"]

SIZE = (7.0, 4.2)   # inches
DPI = 100
_RC = dict(matplotlib.rcParamsDefault)
_RC.update({
    "font.family": "DejaVu Sans",   # ships with matplotlib: the same glyphs everywhere
    "font.size": 9,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "svg.hashsalt": "hwgen",
    "path.simplify": True,
})
_RC.pop("backend", None)
_LOGIC, _MEMORY, _OTHER = "#4C72B0", "#DD8452", "#8C8C8C"


def _figure(size=SIZE):
    fig = Figure(figsize=size, dpi=DPI)
    FigureCanvasAgg(fig)
    return fig


def save(fig, path) -> Path:
    """Write ``fig`` as PNG at the fixed DPI with no Software metadata."""
    path = Path(path)
    with matplotlib.rc_context(_RC):
        fig.savefig(path, format="png", dpi=DPI, metadata={"Software": None})
    return path


def _fmt(v):
    return "0" if v == 0 else f"{v:.3g}"


def _hbar(ax, labels, values, colors, unit):
    """Bars labelled with value and share; a log axis when the values span > 100x."""
    y = list(range(len(labels)))[::-1]
    total = sum(values) or 1.0
    positive = [v for v in values if v > 0]
    top = max(positive) if positive else 1.0
    log = len(positive) > 1 and top / min(positive) > 100
    if log:
        left = min(positive) / 3
        ax.barh(y, [max(v, left) - left for v in values], left=left, color=colors)
        ax.set_xscale("log")
        ax.set_xlim(left, top * 30)
    else:
        ax.barh(y, values, color=colors)
        ax.set_xlim(0, top * 1.4)
    ax.set_yticks(y, labels)
    ax.set_xlabel(unit + (" (log scale)" if log else ""))
    for yi, v in zip(y, values):
        x = v * 1.1 if log else v + top * 0.01
        ax.text(max(x, ax.get_xlim()[0]), yi, f"{_fmt(v)} ({100 * v / total:.1f}%)",
                va="center", fontsize=8)


def energy_breakdown(blocks: dict, path, *, title: str, unit="pJ per inference") -> Path:
    """Horizontal bars of energy per block (``{label: pJ}``), largest first."""
    with matplotlib.rc_context(_RC):
        fig = _figure()
        ax = fig.add_subplot(1, 1, 1)
        items = sorted(((k, v) for k, v in blocks.items() if v > 0), key=lambda kv: (-kv[1], kv[0]))
        labels = [k for k, _ in items]
        values = [float(v) for _, v in items]
        colors = [_OTHER if "DRAM" in k else _LOGIC for k in labels]
        _hbar(ax, labels, values, colors, unit)
        ax.set_title(title)
        fig.tight_layout()
        return save(fig, path)


def area_breakdown(blocks: dict, path, *, title: str, unit="mm^2") -> Path:
    """Horizontal bars of area per block: ``{label: (mm2, "logic" | "memory")}``."""
    with matplotlib.rc_context(_RC):
        fig = _figure()
        ax = fig.add_subplot(1, 1, 1)
        items = sorted(blocks.items(), key=lambda kv: (-kv[1][0], kv[0]))
        labels = [k for k, _ in items]
        values = [float(v[0]) for _, v in items]
        if unit == "mm^2" and values and max(values) < 0.1:
            values = [v * 1e6 for v in values]
            unit = "um^2"
        colors = [_MEMORY if v[1] == "memory" else _LOGIC for _, v in items]
        _hbar(ax, labels, values, colors, unit)
        from matplotlib.patches import Patch
        ax.legend(handles=[Patch(color=_LOGIC, label="logic (Yosys cells)"),
                           Patch(color=_MEMORY, label="memory (bits x bitcell x periphery)")],
                  loc="lower right", fontsize=8)
        ax.set_title(title)
        fig.tight_layout()
        return save(fig, path)


def mask_cost_vs_chips(curve: list, path, *, title: str, mark_chips=None) -> Path:
    """Photomask cost vs chip count, naive (a full set per chip) vs Metal-Embedding.

    ``curve``: rows ``(chips, naive_low, naive_high, me_low, me_high)`` in US dollars (low =
    optimistic set price, high = pessimistic). ``mark_chips`` draws a vertical line at the
    design's chip count.
    """
    with matplotlib.rc_context(_RC):
        fig = _figure()
        ax = fig.add_subplot(1, 1, 1)
        chips = [r[0] for r in curve]
        m = 1e6
        ax.fill_between(chips, [r[1] / m for r in curve], [r[2] / m for r in curve],
                        color=_MEMORY, alpha=0.25, linewidth=0)
        ax.plot(chips, [r[2] / m for r in curve], color=_MEMORY, marker="o", markersize=3,
                label="naive: a full mask set per chip (pessimistic)")
        ax.fill_between(chips, [r[3] / m for r in curve], [r[4] / m for r in curve],
                        color=_LOGIC, alpha=0.25, linewidth=0)
        ax.plot(chips, [r[4] / m for r in curve], color=_LOGIC, marker="o", markersize=3,
                label="Metal-Embedding: shared set + custom metal (pessimistic)")
        if mark_chips is not None:
            ax.axvline(mark_chips, color="black", linestyle="--", linewidth=1,
                       label=f"this design: {mark_chips} chip{'s' if mark_chips != 1 else ''}")
        ax.set_xlabel("chips")
        ax.set_ylabel("photomask cost, $M")
        ax.set_xlim(min(chips) - 0.5, max(chips) + 0.5)
        ax.set_ylim(0, None)
        ax.legend(loc="upper left", fontsize=8)
        ax.set_title(title + "\n(lines: pessimistic set price; bands down to the optimistic)",
                     fontsize=9)
        fig.tight_layout()
        return save(fig, path)


def cost_vs_node(rows: list, path, *, title: str, energy_label="energy per inference, pJ",
                 area_label="area, mm^2") -> Path:
    """Three panels over process nodes: energy, area, and photomask cost (low..high).

    ``rows``: ``(node, energy, area, mask_low_usd, mask_high_usd)``, any order (sorted large ->
    small node).
    """
    rows = sorted(rows, key=lambda r: -float(str(r[0]).rstrip("nm")))
    names = [str(r[0]).removesuffix("nm") for r in rows]
    x = list(range(len(rows)))
    with matplotlib.rc_context(_RC):
        fig = _figure((9.0, 3.4))
        panels = [(energy_label, [r[1] for r in rows], _LOGIC),
                  (area_label, [r[2] for r in rows], _MEMORY)]
        for i, (label, vals, color) in enumerate(panels):
            ax = fig.add_subplot(1, 3, i + 1)
            ax.plot(x, vals, marker="o", color=color)
            ax.set_xticks(x, names)
            if all(v > 0 for v in vals) and max(vals) / max(min(vals), 1e-300) > 20:
                ax.set_yscale("log")
            ax.set_title(label, fontsize=9)
            ax.set_xlabel("node, nm")
        ax = fig.add_subplot(1, 3, 3)
        lo = [r[3] / 1e6 for r in rows]
        hi = [r[4] / 1e6 for r in rows]
        ax.bar(x, [h - low for low, h in zip(lo, hi)], bottom=lo, color=_OTHER, alpha=0.6)
        ax.plot(x, hi, marker="o", color="black", linewidth=1)
        ax.set_xticks(x, names)
        if min(lo) > 0 and max(hi) / min(lo) > 20:
            ax.set_yscale("log")
        ax.set_title("photomask cost (Metal-Embedding), $M", fontsize=9)
        ax.set_xlabel("node, nm")
        fig.suptitle(title, fontsize=10)
        fig.tight_layout()
        return save(fig, path)
