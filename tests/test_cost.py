"""Tests of hwgen.cost: formulas against hand arithmetic, the HNLPU preset, monotonicity, errors.

Reference figures are from /work/shared/REFERENCE.md sections 4 (HNLPU) and 5 (energy/area).
"""

import math
import re

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from hwgen.cost import (
    DEFAULT_PATH,
    CostInputError,
    area_report,
    chip_count,
    custom_share,
    dies_per_wafer,
    duv_equivalents,
    energy_report,
    estimate_model,
    load_constants,
    mask_costs,
    murphy_yield,
    naive_estimate,
    node_mask_costs,
    normalize_node,
    nre,
    preset,
    recurring_cost,
)

NODES = ["45nm", "28nm", "16nm", "7nm", "5nm", "3nm"]  # large -> small
STACK_5NM = dict(euv_layers=12, duv_layers=58, euv_weight=6, custom_layers=10)


def rel(a, b):
    return abs(a - b) / abs(b)


# ---------------------------------------------------------------------------------------------
# constants file
# ---------------------------------------------------------------------------------------------


def test_default_file_loads_with_all_nodes_and_sources():
    c = load_constants()
    assert list(c.nodes) == NODES
    raw = yaml.safe_load(DEFAULT_PATH.read_text())

    # every mapping that carries a number carries a non-empty source (walk the raw YAML)
    def walk(node, path):
        if isinstance(node, dict):
            leaves = [k for k, v in node.items() if isinstance(v, (int, float))
                      and not isinstance(v, bool) and k != "schema"]
            if leaves and path not in ("global.transistors_per_cell.by_type",):
                assert isinstance(node.get("source"), str) and node["source"].strip(), path
            for k, v in node.items():
                walk(v, f"{path}.{k}" if path else k)

    walk(raw, "")


def test_reference_constants_are_the_reference_values():
    c = load_constants()
    # REF §5 Horowitz 45 nm pJ
    pj = {a: c.actions[a].pj_45nm for a in c.actions}
    assert pj["int8_add"] == 0.03 and pj["int32_add"] == 0.1 and pj["int8_mult"] == 0.2
    assert pj["fp32_mult"] == 3.7 and pj["sram_read_64b_1mb"] == 100
    assert c.actions["dram_access_64b"].pj_45nm_high == 2600
    # REF §5 scaling factors
    assert c.node("7nm").area_factor.value == 0.059 and c.node("7nm").energy_factor.value == 0.094
    assert c.node("5nm").area_factor.value == 0.042 and c.node("5nm").energy_factor.value == 0.080
    # REF §5 bitcells, wafers; REF §4 stack, D0
    assert c.node(5).sram_bitcell_um2.value == 0.021 and c.node(7).sram_bitcell_um2.value == 0.027
    assert c.node(5).wafer_usd.value == 16988 and c.node(7).wafer_usd.value == 9346
    assert c.node(16).wafer_usd.value == 3984
    n5 = c.node("5nm")
    assert (n5.mask_stack.euv_layers, n5.mask_stack.duv_layers, n5.custom_layers.value) == (12, 58, 10)
    assert c.euv_weight.value == 6 and n5.defect_density_per_cm2.value == 0.11
    assert (n5.mask_set_musd.low, n5.mask_set_musd.high) == (15.0, 30.0)


@pytest.mark.parametrize("kind,f7,f5", [("energy_factor", 0.094, 0.080),
                                        ("area_factor", 0.059, 0.042)])
def test_interpolated_factors_follow_the_documented_power_law(kind, f7, f5):
    c = load_constants()
    # 28/16 nm: f = (node/45)^s, s = ln(f7)/ln(7/45)
    #   energy: s = ln 0.094 / ln(7/45) = -2.3645/-1.8608 = 1.2707; (28/45)^1.2707 = 0.5472
    #   area:   s = ln 0.059 / ln(7/45) = -2.8302/-1.8608 = 1.5210; (28/45)^1.5210 = 0.4859
    s = math.log(f7) / math.log(7 / 45)
    for n in (28, 16):
        assert rel(getattr(c.node(n), kind).value, (n / 45) ** s) < 5e-4
    # 3 nm: f5 * (3/5)^s', s' = ln(f5/f7)/ln(5/7)
    s3 = math.log(f5 / f7) / math.log(5 / 7)
    assert rel(getattr(c.node(3), kind).value, f5 * (3 / 5) ** s3) < 5e-4


def test_normalize_node_spellings():
    assert normalize_node(5) == normalize_node("5") == normalize_node("5 nm") == "5nm"
    assert normalize_node("N7") == normalize_node("7NM") == "7nm"


def test_user_constants_file_is_used(tmp_path):
    raw = yaml.safe_load(DEFAULT_PATH.read_text())
    raw["nodes"]["5nm"]["mask_set_musd"]["high"] = 20.0
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(raw))
    m = node_mask_costs("5nm", chips=16, constants=str(path))
    assert m["pessimistic"]["naive_usd"] == pytest.approx(16 * 20e6)  # 320M


# ---------------------------------------------------------------------------------------------
# mask / NRE formulas (hand arithmetic)
# ---------------------------------------------------------------------------------------------


def test_duv_equivalents_and_custom_share():
    assert duv_equivalents(12, 58, 6) == 130  # 12*6 + 58
    assert custom_share(10, 12, 58, 6) == pytest.approx(10 / 130)  # 0.076923
    assert custom_share(10, 0, 50, 6) == pytest.approx(0.2)  # 10/50


def test_mask_costs_hnlpu_pessimistic():
    m = mask_costs(30e6, chips=16, **STACK_5NM)
    assert m["naive_usd"] == pytest.approx(480e6)  # 16 * 30M
    assert m["homogeneous_set_usd"] == pytest.approx(30e6 * 120 / 130)  # 27,692,307.69
    assert m["custom_per_chip_usd"] == pytest.approx(30e6 * 10 / 130)  # 2,307,692.31
    # 27,692,307.69 + 16 * 2,307,692.31 = 64,615,384.6
    assert m["metal_embedding_usd"] == pytest.approx(64_615_384.6, rel=1e-9)
    assert m["respin_usd"] == pytest.approx(36_923_076.9, rel=1e-9)  # 16 * 2,307,692.31
    # naive / ME = 16*130 / (120 + 16*10) = 2080/280 = 7.428571
    assert m["reduction_x"] == pytest.approx(2080 / 280)


def test_mask_costs_from_area():
    # 13,232 mm^2 / 827.08 mm^2 = 15.9985 -> 16 chips
    assert chip_count(13232, 827.08) == 16
    assert chip_count(1000, 858) == 2  # 1.166 -> 2
    assert chip_count(2 * 858, 858) == 2  # exact multiple stays 2
    assert chip_count(1, 858) == 1
    m = mask_costs(30e6, design_area_mm2=13232, max_die_area_mm2=827.08, **STACK_5NM)
    assert m["chips"] == 16


def test_one_chip_metal_embedding_equals_one_full_set():
    m = mask_costs(30e6, chips=1, **STACK_5NM)
    # 30M * 120/130 + 1 * 30M * 10/130 = 30M
    assert m["metal_embedding_usd"] == pytest.approx(30e6) == m["naive_usd"]


def test_naive_estimate_arithmetic():
    n = naive_estimate(120e9, transistors_per_weight=200, density_mtr_per_mm2=138,
                       max_die_area_mm2=858, set_cost_usd=30e6)
    assert n["transistors"] == pytest.approx(2.4e13)  # 120e9 * 200
    assert n["area_mm2"] == pytest.approx(173_913.043, rel=1e-6)  # 2.4e13 / 138e6
    assert n["chips"] == 203  # 173,913 / 858 = 202.70 -> 203
    assert n["mask_usd"] == pytest.approx(6.09e9)  # 203 * 30M


def test_murphy_yield_and_dies_per_wafer():
    # A = 8.2708 cm^2, A*D0 = 0.909788; e^-0.909788 = 0.402611;
    # ((1 - 0.402611) / 0.909788)^2 = 0.656625^2 = 0.431156
    assert murphy_yield(827.08, 0.11) == pytest.approx(0.431158, abs=2e-6)
    assert murphy_yield(100, 0.0) == 1.0
    # pi*150^2/827.08 = 85.4643; pi*300/sqrt(2*827.08) = 942.478/40.6714 = 23.1730; 62.29 -> 62
    assert dies_per_wafer(827.08, 300) == 62
    # 100 mm^2: 706.858 - 942.478/14.1421 = 706.858 - 66.643 = 640.2 -> 640
    assert dies_per_wafer(100, 300) == 640


def test_recurring_cost_per_good_die():
    r = recurring_cost(827.08, wafer_usd=16988, defect_density_per_cm2=0.11, chips=16)
    # 16,988 / (62 * 0.431158) = 16,988 / 26.7318 = 635.50 per good die; x16 = 10,168
    assert r["cost_per_good_die_usd"] == pytest.approx(635.50, abs=0.01)
    assert r["cost_per_system_usd"] == pytest.approx(16 * 635.50, abs=0.2)


def test_nre_line_items_sum():
    r = nre("5nm", chips=16, other_initial_usd=(1e6, 2e6), other_respin_usd=0.5e6)
    # optimistic masks: 15M*120/130 + 16*15M*10/130 = 13.846M + 18.462M = 32.308M; + 1M other
    assert r["initial_total_usd"]["optimistic"] == pytest.approx(32_307_692.3 + 1e6, rel=1e-9)
    # pessimistic: 64.615M + 2M
    assert r["initial_total_usd"]["pessimistic"] == pytest.approx(64_615_384.6 + 2e6, rel=1e-9)
    # re-spin: 16 * 30M * 10/130 = 36.923M + 0.5M
    assert r["respin_total_usd"]["pessimistic"] == pytest.approx(36_923_076.9 + 0.5e6, rel=1e-9)
    assert len(r["initial"]) == 3 and len(r["respin"]) == 2


# ---------------------------------------------------------------------------------------------
# HNLPU preset: every REF §4 figure within 1% (lower bounds: not below)
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hnlpu():
    return preset("hnlpu-gpt-oss-120b")


@pytest.mark.parametrize("path,paper", [
    (("masks", "pessimistic", "naive_usd"), 480e6),
    (("masks", "pessimistic", "metal_embedding_usd"), 64.65e6),
    (("masks", "pessimistic", "homogeneous_set_usd"), 27.69e6),
    (("masks", "pessimistic", "custom_per_chip_usd"), 2.31e6),
    (("masks", "pessimistic", "respin_usd"), 37e6),
    (("masks", "pessimistic", "custom_share"), 0.077),
    (("masks", "pessimistic", "reduction_x"), 7.42),
    (("overall_reduction_x",), 112),
    (("recurring", "murphy_yield"), 0.43),
    (("recurring", "dies_per_wafer"), 62),
    (("nre", "initial_total_usd", "optimistic"), 59.25e6),
    (("nre", "initial_total_usd", "pessimistic"), 123.3e6),
    (("nre", "respin_total_usd", "optimistic"), 18.53e6),
    (("nre", "respin_total_usd", "pessimistic"), 37.06e6),
])
def test_hnlpu_preset_within_1pct(hnlpu, path, paper):
    v = hnlpu
    for k in path:
        v = v[k]
    assert rel(v, paper) <= 0.01, (path, v, paper)


def test_hnlpu_preset_naive_and_counts(hnlpu):
    assert hnlpu["masks"]["pessimistic"]["chips"] == 16
    assert hnlpu["inputs"]["chips_from_area"] == 16  # 13,232 / 827.08
    # "200+ chips", "over $6B": lower bounds, and ours stays within 2%
    assert 200 <= hnlpu["naive_hardwired"]["chips"] <= 204
    assert 6e9 <= hnlpu["naive_hardwired"]["mask_usd"] <= 6.12e9
    assert rel(hnlpu["naive_hardwired"]["area_mm2"], 176_000) < 0.02
    # optimistic masks: 15M * 120/130 + 16 * 15M * 10/130 = 32.31M
    assert hnlpu["masks"]["optimistic"]["metal_embedding_usd"] == pytest.approx(32.3077e6, rel=1e-5)
    # every row of the preset's own comparison table passes
    assert all(ch["ok"] for ch in hnlpu["checks"]), [c for c in hnlpu["checks"] if not c["ok"]]


# ---------------------------------------------------------------------------------------------
# user model estimate
# ---------------------------------------------------------------------------------------------


def test_estimate_bitnet_2b_ternary_5nm():
    e = estimate_model(2.4e9, "ternary", "5nm")
    # mm^2/weight = 573.16 * 16 / 120e9 = 7.64213e-8; x 2.4e9 = 183.411 mm^2 of HN array
    assert e["hn_array_mm2"] == pytest.approx(183.411, rel=1e-5)
    # / (573.16/827.08 = 0.692992) = 264.666 mm^2 -> 1 chip under 858 mm^2
    assert e["design_area_mm2"] == pytest.approx(264.666, rel=1e-5)
    assert e["chips"] == 1
    assert e["mask_cost_usd"]["pessimistic"] == pytest.approx(30e6)  # one full set
    assert e["respin_usd"]["pessimistic"] == pytest.approx(30e6 * 10 / 130)  # 2.31M
    # per_bit model: x log2(3)/4 = 0.39624 -> 104.87 mm^2
    assert e["design_area_mm2_by_model"]["per_bit"] == pytest.approx(264.666 * 0.396241, rel=1e-5)


def test_estimate_bitnet_2b_at_28nm():
    e = estimate_model(2.4e9, "ternary", 28)
    # 264.666 * 0.4859/0.042 = 264.666 * 11.5690 = 3061.9 mm^2 -> /858 = 3.57 -> 4 chips
    assert e["design_area_mm2"] == pytest.approx(3061.92, rel=1e-4)
    assert e["chips"] == 4
    # 28 nm: 50 DUV masks, share 10/50; set $3M: 3M*0.8 + 4*3M*0.2 = 4.8M
    assert e["mask_cost_usd"]["pessimistic"] == pytest.approx(4.8e6)


def test_estimate_weight_formats():
    assert estimate_model(1e9, 4)["bits_per_weight"] == 4
    assert estimate_model(1e9, 1.58)["weight_format"] == "ternary"
    e8 = estimate_model(1e9, 8, area_model="per_bit")
    e4 = estimate_model(1e9, 4, area_model="per_bit")
    assert e8["design_area_mm2"] == pytest.approx(2 * e4["design_area_mm2"])


# ---------------------------------------------------------------------------------------------
# monotonicity
# ---------------------------------------------------------------------------------------------


def test_energy_falls_as_node_shrinks():
    counts = {"int8_add": 1000, "int8_mult": 100, "sram_read_64b_8kb": 10, "fp16_add": 5}
    totals = [energy_report(counts, n)["total_pj"] for n in NODES]
    assert all(a > b for a, b in zip(totals, totals[1:])), totals
    # 45 nm by hand: 1000*0.03 + 100*0.2 + 10*10 + 5*0.4 = 30 + 20 + 100 + 2 = 152 pJ
    assert totals[0] == pytest.approx(152.0)
    assert totals[4] == pytest.approx(152.0 * 0.080)  # 5 nm: 12.16 pJ


def test_energy_report_dram_unscaled_range_and_sources():
    r = energy_report({"int8_add": 1000, "dram_access_64b": 10}, "5nm")
    # 1000 * 0.03 * 0.080 = 2.4 pJ; DRAM 10 * 1300 = 13,000 (high 26,000), not scaled
    assert r["actions"]["int8_add"]["pj"] == pytest.approx(2.4)
    assert r["actions"]["dram_access_64b"]["pj"] == pytest.approx(13000)
    assert r["total_pj"] == pytest.approx(13002.4)
    assert r["total_pj_high"] == pytest.approx(26002.4)
    assert "Horowitz" in r["actions"]["int8_add"]["source"]
    assert "0.08" in r["actions"]["int8_add"]["source"]


def test_area_report_arithmetic():
    r = area_report({"$_AND_": 100, "$_DFF_P_": 50, "LUT4": 3}, 8192, "5nm")
    # 100*6 + 50*24 + 3*10 (unknown -> default) = 600 + 1200 + 30 = 1830 transistors
    assert r["logic"]["transistors"] == 1830
    assert r["logic"]["unknown_cell_types"] == ["LUT4"]
    # 1830 / (138e6 * 0.7) = 1.8944e-5 mm^2
    assert r["logic"]["mm2"] == pytest.approx(1830 / 96.6e6)
    # 8192 * 0.021 um^2 * 1.43 = 246.006 um^2 = 2.46006e-4 mm^2
    assert r["memory"]["mm2"] == pytest.approx(2.46006e-4, rel=1e-5)
    # plain count: 1000 cells * 10 = 10,000 transistors at 7 nm:
    # density 138 * 0.042/0.059 = 98.237 MTr/mm^2 -> 10,000 / (98.237e6 * 0.7) = 1.4542e-4
    r7 = area_report(1000, 0, 7)
    assert r7["logic"]["density_mtr_per_mm2"] == pytest.approx(98.2373, rel=1e-5)
    assert r7["logic"]["mm2"] == pytest.approx(1.4542e-4, rel=1e-4)


def test_area_falls_as_node_shrinks():
    logic = [area_report(10_000, 0, n)["logic"]["mm2"] for n in NODES]
    assert all(a > b for a, b in zip(logic, logic[1:])), logic
    mem = [area_report(0, 1 << 20, n)["memory"]["mm2"] for n in NODES]
    # SRAM stopped scaling at 3 nm (N3E bitcell = N5's 0.021 um^2): non-increasing
    assert all(a >= b for a, b in zip(mem, mem[1:])), mem
    assert mem[0] > mem[-1]


@settings(max_examples=60, deadline=None)
@given(chips=st.integers(1, 400), set_musd=st.floats(0.5, 60))
def test_mask_cost_grows_with_chip_count(chips, set_musd):
    a = mask_costs(set_musd * 1e6, chips=chips, **STACK_5NM)
    b = mask_costs(set_musd * 1e6, chips=chips + 1, **STACK_5NM)
    assert b["metal_embedding_usd"] > a["metal_embedding_usd"]
    assert b["naive_usd"] > a["naive_usd"]
    assert a["metal_embedding_usd"] <= a["naive_usd"] * (1 + 1e-12)
    assert b["respin_usd"] > a["respin_usd"]


def test_mask_cost_grows_with_design_area():
    costs = [node_mask_costs("5nm", design_area_mm2=a)["pessimistic"]["metal_embedding_usd"]
             for a in (500, 1000, 5000, 20000)]
    assert all(x < y for x, y in zip(costs, costs[1:])), costs


def test_sparsity_and_fewer_weights_mean_less_area():
    dense = estimate_model(7e9, "ternary", "5nm")["design_area_mm2"]
    sparse = estimate_model(7e9, "ternary", "5nm", zero_fraction=1 / 3)["design_area_mm2"]
    small = estimate_model(3e9, "ternary", "5nm")["design_area_mm2"]
    assert sparse == pytest.approx(dense * 2 / 3)
    assert small < dense
    areas = [estimate_model(2.4e9, "ternary", n)["design_area_mm2"] for n in NODES]
    assert all(a > b for a, b in zip(areas, areas[1:]))


# ---------------------------------------------------------------------------------------------
# bad inputs: ValueError, one line, naming the field
# ---------------------------------------------------------------------------------------------


def _one_line_naming(excinfo, field):
    msg = str(excinfo.value)
    assert "\n" not in msg
    assert field in msg, msg
    assert isinstance(excinfo.value, ValueError)


@pytest.mark.parametrize("call,field", [
    (lambda: chip_count(-5, 858), "design_area_mm2"),
    (lambda: chip_count(100, 0), "max_die_area_mm2"),
    (lambda: mask_costs(-1, chips=16, **STACK_5NM), "set_cost_usd"),
    (lambda: mask_costs(30e6, chips=-2, **STACK_5NM), "chips"),
    (lambda: mask_costs(30e6, chips=2.5, **STACK_5NM), "chips"),
    (lambda: mask_costs(30e6, **STACK_5NM), "chips"),
    (lambda: custom_share(70, 12, 58, 6), "custom_layers"),
    (lambda: murphy_yield(-1, 0.11), "die_area_mm2"),
    (lambda: dies_per_wafer(100_000, 300), "die_area_mm2"),
    (lambda: estimate_model(-1, "ternary"), "params_count"),
    (lambda: estimate_model(1e9, "ternary", zero_fraction=1.0), "zero_fraction"),
    (lambda: estimate_model(1e9, "quaternary"), "weight_bits"),
    (lambda: estimate_model(1e9, "ternary", "4nm"), "node"),
    (lambda: energy_report({"int8_add": -3}, "5nm"), "action_counts.int8_add"),
    (lambda: energy_report({"warp_drive": 1}, "5nm"), "warp_drive"),
    (lambda: energy_report({"int8_add": 1}, "2nm"), "node"),
    (lambda: area_report(-10, 0, "5nm"), "logic_cells"),
    (lambda: area_report(10, -1, "5nm"), "memory_bits"),
    (lambda: area_report({"$_AND_": "many"}, 0, "5nm"), "logic_cells.$_AND_"),
    (lambda: preset("nope"), "preset"),
    (lambda: normalize_node("fast"), "node"),
])
def test_bad_inputs_raise_one_line_value_error(call, field):
    with pytest.raises(ValueError) as ei:
        call()
    _one_line_naming(ei, field)


def _write_modified(tmp_path, edit):
    raw = yaml.safe_load(DEFAULT_PATH.read_text())
    edit(raw)
    path = tmp_path / "user.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.mark.parametrize("edit,field", [
    (lambda r: r["nodes"]["5nm"].pop("area_factor"), "nodes.5nm.area_factor"),
    (lambda r: r["nodes"]["7nm"]["sram_bitcell_um2"].pop("source"),
     "nodes.7nm.sram_bitcell_um2.source"),
    (lambda r: r["nodes"]["5nm"]["area_factor"].update(value=-1), "nodes.5nm.area_factor.value"),
    (lambda r: r["nodes"]["5nm"]["wafer_usd"].update(value="cheap"), "nodes.5nm.wafer_usd.value"),
    (lambda r: r["nodes"]["5nm"]["mask_set_musd"].update(high=1.0),
     "nodes.5nm.mask_set_musd.high"),
    (lambda r: r["global"].pop("euv_weight"), "global.euv_weight"),
    (lambda r: r["energy_45nm"]["int8_add"].pop("pj"), "energy_45nm.int8_add.pj"),
    (lambda r: r["global"]["logic_utilization"].update(value=1.5),
     "global.logic_utilization.value"),
    (lambda r: r.pop("presets"), "presets"),
    (lambda r: r["nodes"].update({"fast": r["nodes"]["5nm"]}), "nodes.fast"),
    (lambda r: r["presets"]["hnlpu-gpt-oss-120b"].update(node="4nm"),
     "presets.hnlpu-gpt-oss-120b.node"),
])
def test_bad_constants_file_names_the_key(tmp_path, edit, field):
    path = _write_modified(tmp_path, edit)
    with pytest.raises(CostInputError) as ei:
        load_constants(path)
    _one_line_naming(ei, field)
    assert str(path) in str(ei.value)


def test_unreadable_and_invalid_constants_files(tmp_path):
    with pytest.raises(ValueError) as ei:
        load_constants(tmp_path / "missing.yaml")
    assert "\n" not in str(ei.value)
    bad = tmp_path / "bad.yaml"
    bad.write_text("nodes: [unclosed\n")
    with pytest.raises(ValueError) as ei:
        load_constants(bad)
    assert re.search(r"line \d+", str(ei.value)) and "\n" not in str(ei.value)
