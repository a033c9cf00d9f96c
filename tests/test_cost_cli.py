"""``hwgen cost`` and ``hwgen build --target asic``: action counts, energy/area, reports, errors.

Hand arithmetic in the comments; reference figures from /work/shared/REFERENCE.md section 4.
Needs Yosys (the ASIC build synthesizes the tiny model's Verilog, a few seconds).
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from hwgen.cli import main
from hwgen.cost import DEFAULT_PATH, load_constants
from hwgen.cost.actions import action_counts
from hwgen.cost.asic import (
    HARDWIRED_CELLS_PER_ADDER_BIT,
    HARDWIRED_CELLS_PER_NEGATION_BIT,
    PLOTS,
    area_from_synthesis,
    hardwired_cells_estimate,
    memory_energy_per_bit,
    price_actions,
)
from hwgen.plan import make_plan

NODES = ["45nm", "28nm", "16nm", "7nm", "5nm", "3nm"]
TINY_ENGINE = {"kind": "tlmm", "group": 2, "tables": 2, "columns": 2}
TINY_SIZES = [6, 3, 2]
needs_yosys = pytest.mark.skipif(shutil.which("yosys") is None, reason="yosys not installed")


def rel(a, b):
    return abs(a - b) / abs(b)


@pytest.fixture(scope="module")
def tiny_plan(make_model):
    return make_plan(make_model(TINY_ENGINE, TINY_SIZES, np.random.default_rng(1)))


@pytest.fixture(scope="module")
def tiny_yaml(tmp_path_factory, write_model):
    folder = tmp_path_factory.mktemp("tiny")
    return write_model(folder, TINY_ENGINE, TINY_SIZES, np.random.default_rng(1), name="tiny")


def _one_line_error(capsys, *names):
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("hwgen: error: "), err
    for n in names:
        assert n in lines[0], (n, err)
    return lines[0]


# ---------------------------------------------------------------------------------------------
# action counts (hand computed)
# ---------------------------------------------------------------------------------------------


def test_action_counts_tiny_tlmm(tiny_plan):
    # Engine G=2, T=2, N=2: lanes 4, entries (3^2+1)/2 = 5, index 3+1 = 4 bits, read_ports 4 ->
    # 1 replica. 6 -> 3 -> 2. fc0: chunks ceil(6/4) = 2, blocks ceil(3/2) = 2. fc1 reads fc0's
    # 3 outputs from one buffer row (row_lanes 4): chunks 1, blocks 1.
    a = action_counts(tiny_plan)
    fc0, fc1 = a["layers"]
    assert (fc0["chunks"], fc0["blocks"], fc1["chunks"], fc1["blocks"]) == (2, 2, 1, 1)
    assert fc0["block_issues"] == 4                  # C x B = 2 x 2
    assert fc0["table_builds"] == 2                  # one per chunk
    assert fc0["table_entries_written"] == 20        # C x T x entries x replicas = 2 x 2 x 5 x 1
    assert fc0["table_entry_adds"] == 20             # C x T x entries x (G - 1) = 2 x 2 x 5 x 1
    assert fc0["lookups"] == 16                      # C x B x N x T = 2 x 2 x 2 x 2
    assert fc0["adder_tree_adds"] == 16              # C x B x N x T (T lookups + sign count)
    assert fc0["sign_count_adds"] == 8               # C x B x N x (T - 1)
    assert fc0["accumulator_adds"] == 4              # (C - 1) x B x N = 1 x 2 x 2
    assert fc0["accumulator_reads"] == fc0["accumulator_writes"] == 2   # (C - 1) x B
    assert fc0["requantizations"] == 4               # B x N
    assert fc0["additions"] == 20 + 16 + 8 + 4 + 2 * 4   # = 56
    assert (fc1["block_issues"], fc1["table_entries_written"], fc1["lookups"]) == (1, 10, 4)
    assert fc1["accumulator_adds"] == 0 and fc1["requantizations"] == 0   # one chunk, output acc
    assert fc1["output_register_bits"] == 64         # B x N x 32
    # memories: weights 5 words (4 + 1) of N x T x 4 = 16 bits, read once each = 80 bits
    w = a["memories"]["weights"]
    assert (w["words"], w["width"], w["reads"], w["read_bits"], w["writes"]) == (5, 16, 5, 80, 0)
    # activations: input 2 beats x 32 bits + fc0's 2 blocks x 2 bytes = 64 + 32 = 96 bits
    # written; 3 chunk fetches (2 + 1) of a 32-bit row = 96 bits read
    act = a["memories"]["activations"]
    assert (act["writes"], act["write_bits"], act["reads"], act["read_bits"]) == (4, 96, 3, 96)
    # accumulators: acc_bits = (6 x 128).bit_length() + 1 = 11; word N x 11 = 22 bits, 2 r + 2 w
    assert tiny_plan.acc_bits == 11
    acc = a["memories"]["accumulators"]
    assert (acc["width"], acc["read_bits"], acc["write_bits"]) == (22, 44, 44)
    # tables: 2 copies (T x replicas) of 16 x 9 bits; 30 entries written, 20 lookups, 9 bits each
    t = a["memories"]["tables"]
    assert (t["instances"], t["words"], t["width"]) == (2, 16, 9)
    assert (t["write_bits"], t["read_bits"]) == (270, 180)
    # DRAM: weights on chip; 6 input bytes + 2 outputs x 4 bytes (int32 accumulators) = 14
    assert a["dram"]["bytes"] == 14 and a["dram"]["weights_bytes"] == 0
    assert a["totals"]["macs"] == 6 * 3 + 3 * 2 == 24


def test_action_counts_hardwired_and_cell_model(make_model):
    # one layer 4 -> 3, rows: [+ + + -], [0 - - 0], [+ 0 0 0]; int8 inputs, output acc.
    w = np.array([[1, 1, 1, -1], [0, -1, -1, 0], [1, 0, 0, 0]], dtype=np.int8)
    model = make_model({"kind": "hardwired", "lanes": 4, "columns": 8}, [4, 3], weights=[w],
                       requants=[None])
    a = action_counts(make_plan(model))
    # acc_bits: row 0 ranges 3 x -128 - 127 = -511 .. 3 x 127 + 128 = 509 -> 10 bits
    # row 0: plus tree x0+x1 (9 bits), +x2 (10); minus = x3 alone; subtract min(10 + 1, 10) = 10
    # row 1: minus tree x1+x2 (9); negation 0 - (9 bits) -> 10. row 2: a wire, no adder.
    assert a["adds"]["adder_tree"]["by_width"] == {"9": 2, "10": 1}
    assert a["adds"]["subtract"]["by_width"] == {"10": 2}
    (layer,) = a["layers"]
    assert (layer["nonzero_weights"], layer["adder_tree_adds"], layer["subtractions"]) == (7, 3, 2)
    assert a["memories"] == {}
    assert a["registers"]["input_register_bits"] == 4 * 8
    assert a["registers"]["output_register_bits"] == 3 * 10       # one output beat
    assert a["dram"]["bytes"] == 4 + 3 * 4
    # cell model: distinct adders 9 + 10 + 10 (subtract) + 9 (row 1) = 38 bits, negation 10 bits
    # -> (fitted constants, now 6.0 and 2.0) 6.0 x 38 + 2.0 x 10 = 228 + 20 = 248 cells
    e = hardwired_cells_estimate(w, 8)
    assert (e["adder_bits"], e["negation_bits"]) == (38, 10)
    assert e["cells"] == pytest.approx(HARDWIRED_CELLS_PER_ADDER_BIT * 38
                                       + HARDWIRED_CELLS_PER_NEGATION_BIT * 10)
    # a subtree two outputs share is one adder (Yosys opt_merge): rows [+ + 0], [+ + -]
    shared = hardwired_cells_estimate(np.array([[1, 1, 0], [1, 1, -1]]), 8)
    assert shared["adders"] == 2 and shared["adders_without_sharing"] == 3


# ---------------------------------------------------------------------------------------------
# energy model
# ---------------------------------------------------------------------------------------------


def test_memory_energy_rule_reproduces_horowitz_points():
    # at the tabulated sizes the per-bit energy is the table's 64-bit figure / 64 (45 nm)
    assert memory_energy_per_bit(8 * 1024, 45)["pj"] == pytest.approx(10 / 64)
    assert memory_energy_per_bit(32 * 1024, 45)["pj"] == pytest.approx(20 / 64)
    assert memory_energy_per_bit(1 << 20, 45)["pj"] == pytest.approx(100 / 64)
    # 2 KB: 8 KB figure x sqrt(2/8) = 10 x 0.5 = 5 pJ per 64 bits
    assert memory_energy_per_bit(2048, 45)["pj"] == pytest.approx(5 / 64)


def test_energy_falls_as_node_shrinks(tiny_plan):
    a = action_counts(tiny_plan)
    on_chip = [price_actions(a, n)["on_chip_pj"] for n in NODES]
    total = [price_actions(a, n)["total_pj"] for n in NODES]
    assert all(x > y for x, y in zip(on_chip, on_chip[1:])), on_chip
    assert all(x > y for x, y in zip(total, total[1:])), total
    # on-chip energy scales exactly with the node's energy factor (every on-chip action scales)
    assert on_chip[4] == pytest.approx(on_chip[0] * 0.080)
    # DRAM is not scaled: 14 bytes = 1.75 x 64-bit accesses x 1,300 pJ = 2,275 pJ at any node
    assert price_actions(a, "5nm")["dram_pj"] == pytest.approx(2275.0)


def test_energy_block_arithmetic(tiny_plan):
    e = price_actions(action_counts(tiny_plan), "45nm")
    # accumulate: 4 adds of 11 bits, linear between int8 (0.03) and int16 (0.05):
    # 0.03 + 3/8 x 0.02 = 0.0375 pJ -> 0.15 pJ
    assert e["blocks"]["accumulate (adds)"]["pj"] == pytest.approx(0.15)
    # weights ROM: 5 x 16 bits = 10 bytes -> 8 KB figure x sqrt(10 / 8192) = 10 x 0.0349386
    # = 0.349386 pJ per 64 bits; 80 bits read -> 0.349386 x 80 / 64 = 0.436732 pJ
    assert e["blocks"]["weight memory (ROM)"]["pj"] == pytest.approx(0.436732, rel=1e-5)
    assert e["total_pj"] == pytest.approx(sum(b["pj"] for b in e["blocks"].values()))


# ---------------------------------------------------------------------------------------------
# hwgen cost --preset / --params
# ---------------------------------------------------------------------------------------------


def test_preset_json_reproduces_hnlpu(capsys):
    assert main(["cost", "--preset", "hnlpu-gpt-oss-120b", "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    p = r["masks"]["pessimistic"]
    assert rel(p["naive_usd"], 480e6) <= 0.01                 # 16 x $30M
    assert rel(p["metal_embedding_usd"], 64.65e6) <= 0.01     # $27.69M + 16 x $2.31M
    assert rel(p["respin_usd"], 37e6) <= 0.01                 # 16 x $2.31M
    assert (p["custom_layers"], p["duv_equivalents"]) == (10, 130)
    assert p["custom_share"] == pytest.approx(10 / 130)
    assert rel(r["overall_reduction_x"], 112) <= 0.01         # 15.2 x 7.43
    assert p["chips"] == 16
    assert all(c["ok"] for c in r["checks"])
    # tokens at the preset's own size and node are HNLPU's
    assert r["tokens"]["tokens_per_s"] == pytest.approx(249960)
    assert r["tokens"]["tokens_per_j"] * 1e3 == pytest.approx(36226)


def test_params_bitnet_2b(capsys):
    assert main(["cost", "--params", "2.4e9", "--weights", "ternary", "--node", "5",
                 "--sparsity", "0.4", "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    # wired 2.4e9 x 0.6 = 1.44e9; area 1.44e9 x 7.64213e-8 / 0.692992 = 158.80 mm^2 -> 1 chip
    assert r["wired_weights"] == pytest.approx(1.44e9)
    assert r["design_area_mm2"] == pytest.approx(158.80, rel=1e-4)
    assert r["chips"] == 1
    assert r["masks"]["pessimistic"]["naive_usd"] == pytest.approx(30e6)
    # energy per token: 1000/36,226 J x 1.44e9/120e9 = 27.6045 mJ x 0.012 = 0.331254 mJ
    assert r["tokens"]["energy_per_token_j"] == pytest.approx(0.331254e-3, rel=1e-5)
    assert r["tokens"]["tokens_per_j"] == pytest.approx(1 / 0.331254e-3, rel=1e-5)


@pytest.mark.parametrize("argv,names", [
    (["--params", "-1", "--node", "5"], ["--params", "> 0"]),
    (["--params", "abc", "--node", "5"], ["--params"]),
    (["--params", "1e9", "--node", "9"], ["--node", "9"]),
    (["--params", "1e9"], ["--node"]),
    (["--params", "1e9", "--node", "5", "--sparsity", "1.5"], ["--sparsity"]),
    (["--params", "1e9", "--node", "5", "--weights", "fp7x"], ["--weights"]),
    (["--preset", "nope"], ["--preset", "nope"]),
    (["--preset", "hnlpu-gpt-oss-120b", "--node", "7"], ["--node"]),
    ([], ["exactly one"]),
])
def test_bad_cost_inputs(capsys, argv, names):
    assert main(["cost", *argv]) == 2
    _one_line_error(capsys, *names)


def test_constants_file_missing_key(tmp_path, capsys):
    raw = yaml.safe_load(DEFAULT_PATH.read_text())
    del raw["nodes"]["5nm"]["area_factor"]
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(raw))
    assert main(["cost", "--params", "1e9", "--node", "5", "--constants", str(path)]) == 2
    _one_line_error(capsys, "mine.yaml", "nodes.5nm.area_factor", "missing key")


def test_constants_file_is_used(tmp_path, capsys):
    raw = yaml.safe_load(DEFAULT_PATH.read_text())
    raw["nodes"]["5nm"]["mask_set_musd"]["high"] = 20.0
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(raw))
    assert main(["cost", "--preset", "hnlpu-gpt-oss-120b", "--constants", str(path),
                 "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["masks"]["pessimistic"]["naive_usd"] == pytest.approx(16 * 20e6)


# ---------------------------------------------------------------------------------------------
# hwgen build --target asic / hwgen cost MODEL
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def asic_build(tiny_yaml, tmp_path_factory):
    out = tmp_path_factory.mktemp("asic") / "out"
    assert main(["build", str(tiny_yaml), "--target", "asic", "--node", "7", "-o", str(out)]) == 0
    return out


@needs_yosys
def test_build_asic_writes_report(asic_build):
    out = asic_build
    rep = json.loads((out / "report.json").read_text())
    s = rep["asic"]
    assert s["node"] == "7nm" and s["engine"] == "tlmm"
    assert s["energy"]["total_pj"] > s["energy"]["on_chip_pj"] > 0
    assert s["area"]["logic_cells"] > 0 and s["area"]["total_mm2"] > 0
    # memories counted as memory bits, not as logic cells: the RAMs as planned (activations 128,
    # accumulators 44, tables 2 x 144); the weight ROM at most its planned 80 bits (Yosys drops
    # the bit columns that are constant in every word)
    mems = {m["name"].split("$")[0]: m["bits"] for m in s["synthesis"]["memories"]}
    assert (mems["activations"], mems["accumulators"], mems["table0_0"]) == (128, 44, 144)
    assert 0 < mems["weights"] <= 80
    assert s["area"]["memory_bits"] == sum(mems.values())
    names = sorted(m["name"].split("$")[0] for m in s["synthesis"]["memories"])
    assert names == ["accumulators", "activations", "output_queue", "table0_0", "table1_0", "weights"]
    assert s["chips"] == 1 and s["sources"] and s["assumptions"]
    files = sorted(p.name for p in out.iterdir())
    assert files == sorted(["report.json", "report.md", "rtl", *PLOTS])
    for png in PLOTS:
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md = (out / "report.md").read_text()
    assert "Energy per inference by block" in md and "Sources of the constants" in md
    assert not list(out.parent.glob(".out.*"))


@needs_yosys
def test_area_falls_as_node_shrinks(asic_build):
    s = json.loads((asic_build / "report.json").read_text())["asic"]
    areas = [area_from_synthesis(s["synthesis"], n)["total_mm2"] for n in NODES]
    assert all(a > b for a, b in zip(areas, areas[1:])), areas
    assert [s["nodes"][n]["area_mm2"] for n in NODES] == pytest.approx(areas)


@needs_yosys
def test_cost_model_matches_build_and_plots_are_reproducible(asic_build, tiny_yaml, tmp_path,
                                                             capsys):
    # a second full run (hwgen cost MODEL -o DIR) writes byte-identical report.md and PNGs
    d = tmp_path / "cost"
    d.mkdir()
    (d / "keep.txt").write_text("not ours")
    assert main(["cost", str(tiny_yaml), "--node", "7", "-o", str(d), "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    built = json.loads((asic_build / "report.json").read_text())["asic"]
    assert r.pop("mode") == "model" and r == built          # same section, same numbers
    assert sorted(p.name for p in d.iterdir()) == sorted(["keep.txt", "report.md", *PLOTS])
    for name in ["report.md", *PLOTS]:
        assert (d / name).read_bytes() == (asic_build / name).read_bytes(), name
    from hwgen.commands.cost import _text        # the text form of the same result
    text = _text({"mode": "model", **built})
    assert "energy per inference" in text and "area" in text and "tiny (tlmm) at 7nm" in text
    # and a separate process redraws the same bytes from report.json
    redo = tmp_path / "redo"
    redo.mkdir()
    code = ("import json, sys; from hwgen.cost.asic import write_plots; "
            "write_plots(json.load(open(sys.argv[1]))['asic'], sys.argv[2])")
    subprocess.run([sys.executable, "-c", code, str(asic_build / "report.json"), str(redo)],
                   check=True, cwd=Path(__file__).resolve().parent.parent)
    for name in PLOTS:
        assert (redo / name).read_bytes() == (asic_build / name).read_bytes(), name


@pytest.mark.parametrize("node_args,names", [(["--node", "9"], ["--node", "9"]),
                                             ([], ["--node", "required"])])
def test_build_asic_bad_node_leaves_nothing(tiny_yaml, tmp_path, capsys, node_args, names):
    out = tmp_path / "out"
    assert main(["build", str(tiny_yaml), "--target", "asic", *node_args, "-o", str(out)]) == 2
    _one_line_error(capsys, *names)
    assert list(tmp_path.iterdir()) == []


def test_default_constants_lack_register_energy_but_say_so(tiny_plan):
    # Horowitz gives no register figure: register bit writes are counted, and listed as unpriced
    c = load_constants()
    e = price_actions(action_counts(tiny_plan), "7nm", c)
    if "register_bit" not in c.actions:
        assert e["unpriced"] and "register" in e["unpriced"][0]
    # tiny: G=2 T=2 N=2, acc_bits 11, entries 9 bits; 5 issued blocks (4 + 1), each writing the
    # partial and accumulator registers (2 x 2 x 11 = 44) and the dot's pipeline: 2 columns x
    # (2 lookups x 10 bits + a 2-bit count + the first adder level: one 11-bit pair + the count)
    # = 2 x (20 + 2 + 13) = 70; plus the output register: 1 beat x 2 x 32 bits
    assert e["blocks"]["datapath registers"]["items"][0]["count"] == 5 * (44 + 70) + 64
