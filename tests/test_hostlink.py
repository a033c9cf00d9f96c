"""The host-link protocol (hwgen.fpga.hostlink) and ``hwgen run`` against an emulated board.

Property tests: frames round-trip through encode/decode for random engine geometries, any
one-byte corruption of a reply is caught, the device model answers the same whatever the byte
chunking. End to end: ``hwgen run`` talks through a pseudo-terminal (os.openpty) to a thread that
plays the device with ``DeviceModel`` (the protocol's device-side reference, running the
cycle-accurate simulator); its outputs must equal the golden model. Bad cases: a board with a
different model, a silent board, no or a wrong --port, no pyserial: one line, exit code 2.
In Amaranth's simulator (no Verilator): the UARTs (loopback, framing error, overrun) and the
HostLink RTL with the accelerator, byte for byte against ``DeviceModel``.
"""

import dataclasses
import json
import os
import select
import sys
import threading

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hwgen.cli import main
from hwgen.errors import HwgenError
from hwgen.fpga import hostlink as hl
from hwgen.golden import golden
from hwgen.model import load_model
from hwgen.plan import make_plan

SMALL = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def engines(draw):
    if draw(st.booleans()):
        return {"kind": "tlmm", "group": draw(st.sampled_from([2, 3, 4])), "tables": draw(st.integers(1, 4)),
                "columns": draw(st.integers(1, 9))}
    return {"kind": "addertree", "lanes": draw(st.integers(1, 12)), "columns": draw(st.integers(1, 9))}


@st.composite
def plans_and_inputs(draw, make_model):
    engine = draw(engines())
    sizes = draw(st.lists(st.integers(1, 40), min_size=2, max_size=3))
    acc = draw(st.booleans())
    seed = draw(st.integers(0, 2 ** 16))
    rng = np.random.default_rng(seed)
    requants = [(2, True)] * (len(sizes) - 2) + [None if acc else (1, False)]
    model = make_model(engine, sizes, rng, requants=requants)
    batch = draw(st.integers(1, 4))
    x = rng.integers(-128, 128, (batch, sizes[0])).astype(np.int8)
    return make_plan(model), x


# ---- frames ----

@SMALL
@given(data=st.data())
def test_vector_frames_round_trip(make_model, data):
    plan, x = data.draw(plans_and_inputs(make_model))
    for row in x:
        frame = hl.encode_vector(plan, row)
        assert frame[0] == hl.CMD_RUN and len(frame) == 1 + hl.in_payload_size(plan)
        assert np.array_equal(hl.decode_vector(plan, frame[1:]), row)
        # the payload is the accelerator's input beats, lane 0 first (Plan.pack_input)
        beats = np.frombuffer(frame[1:], dtype=np.int8).reshape(hl.input_beats(plan), plan.lanes)
        assert np.array_equal(beats, plan.pack_input(row[None])[0])


@SMALL
@given(data=st.data())
def test_reply_frames_round_trip_and_catch_corruption(make_model, data):
    plan, x = data.draw(plans_and_inputs(make_model))
    want = golden(plan.model, x)
    for row, y in zip(x, want):
        sent = hl.encode_vector(plan, row)
        reply = hl.encode_reply(plan, y, sent[1:])
        assert len(reply) == hl.reply_size(plan)
        got = hl.decode_reply(plan, reply, sent)
        assert got.dtype == want.dtype and np.array_equal(got, y)
        pos = data.draw(st.integers(1, len(reply) - 1))
        flip = data.draw(st.integers(1, 255))
        bad = bytearray(reply)
        bad[pos] ^= flip
        with pytest.raises(HwgenError) as e:
            hl.decode_reply(plan, bytes(bad), sent, index=3)
        assert "vector 3" in str(e.value) and "\n" not in str(e.value)


@SMALL
@given(data=st.data())
def test_device_model_is_chunking_independent(make_model, data):
    plan, x = data.draw(plans_and_inputs(make_model))
    stream = hl.resync_bytes(plan) + hl.identify_request() + b"".join(hl.encode_batch(plan, x))
    whole = hl.DeviceModel(plan, run=lambda v: golden(plan.model, v)).feed(stream)
    device = hl.DeviceModel(plan, run=lambda v: golden(plan.model, v))
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=6)))
    pieces = [stream[a:b] for a, b in zip([0] + cuts, cuts + [len(stream)])]
    assert b"".join(device.feed(p) for p in pieces) == whole
    info = hl.decode_identify(whole[:1 + hl.IDENT_SIZE])
    assert info == hl.device_info(plan)
    hl.check_device(info, plan)
    rs = hl.reply_size(plan)
    frames = hl.encode_batch(plan, x)
    body = whole[1 + hl.IDENT_SIZE:]
    out = np.stack([hl.decode_reply(plan, body[i * rs:(i + 1) * rs], frames[i]) for i in range(len(x))])
    assert np.array_equal(out, golden(plan.model, x))


@given(st.tuples(*[st.integers(0, 255)] * 4, *[st.integers(0, 65535)] * 2, *[st.integers(0, 2 ** 32 - 1)] * 5))
def test_identify_fields_round_trip(fields):
    info = hl.DeviceInfo(*fields)
    raw = info.to_bytes()
    assert len(raw) == hl.IDENT_SIZE and raw[:2] == hl.MAGIC
    assert hl.decode_identify(bytes([hl.CMD_IDENTIFY]) + raw) == info


def test_identify_rejects_garbage():
    with pytest.raises(HwgenError, match="not an hwgen board"):
        hl.decode_identify(b"\x00" * (1 + hl.IDENT_SIZE))
    with pytest.raises(HwgenError, match="not an hwgen board"):
        hl.decode_identify(bytes([hl.CMD_IDENTIFY]) + b"xx" + bytes(hl.IDENT_SIZE - 2))


def test_fingerprint_and_device_check(make_model):
    rng = np.random.default_rng(1)
    eng = {"kind": "tlmm", "group": 2, "tables": 2, "columns": 3}
    model = make_model(eng, [10, 6, 4], rng)
    plan = make_plan(model)
    assert hl.model_fingerprint(model.replace(name="renamed")) == hl.model_fingerprint(model)
    w = model.layers[1].weights.copy()
    w[0, 0] = 1 if w[0, 0] != 1 else -1
    other = model.replace(layers=(model.layers[0], dataclasses.replace(model.layers[1], weights=w)))
    assert hl.model_fingerprint(other) != hl.model_fingerprint(model)
    with pytest.raises(HwgenError) as e:
        hl.check_device(hl.device_info(make_plan(other)), plan)
    assert "fingerprint" in str(e.value) and "lanes" not in str(e.value)
    wider = make_plan(make_model({**eng, "tables": 3}, [10, 6, 4], rng))
    with pytest.raises(HwgenError, match="lanes 6 .model: 4."):
        hl.check_device(hl.device_info(wider), plan)
    old = dataclasses.replace(hl.device_info(plan), version=0)
    with pytest.raises(HwgenError, match="protocol version 0"):
        hl.check_device(old, plan)


def test_window_and_fifo_sizes(make_model):
    rng = np.random.default_rng(2)
    small = make_plan(make_model({"kind": "tlmm", "group": 3, "tables": 4, "columns": 8}, [64, 64, 10], rng))
    assert hl.in_payload_size(small) == 72 and hl.default_window(small) == hl.MAX_WINDOW
    assert hl.fifo_depth(small, hl.default_window(small)) >= (hl.MAX_WINDOW - 1) * 73
    big = make_plan(make_model({"kind": "tlmm", "group": 2, "tables": 2, "columns": 4}, [4000, 4], rng))
    assert hl.default_window(big) == 1 and hl.fifo_depth(big, 1) == hl.FIFO_SLACK
    mid = make_plan(make_model({"kind": "tlmm", "group": 2, "tables": 2, "columns": 4}, [600, 4], rng))
    assert hl.default_window(mid) == 2 and hl.fifo_depth(mid, 2) >= 601


# ---- hwgen run against an emulated board ----

class FakeBoard:
    """Plays the board on the master side of a pty; the host opens the slave path."""

    def __init__(self, device):
        self.device = device
        self.master, self.slave = os.openpty()
        self.path = os.ttyname(self.slave)
        self.received = bytearray()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self):
        while not self._stop.is_set():
            ready, _, _ = select.select([self.master], [], [], 0.02)
            if not ready:
                continue
            try:
                data = os.read(self.master, 4096)
            except OSError:
                return
            self.received += data
            reply = self.device.feed(data) if self.device is not None else b""
            if reply:
                os.write(self.master, reply)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=5)
        os.close(self.master)
        os.close(self.slave)


@pytest.fixture
def board_files(tmp_path, write_model):
    pytest.importorskip("serial", reason="pyserial not installed")
    rng = np.random.default_rng(7)
    path = write_model(tmp_path / "m", {"kind": "tlmm", "group": 2, "tables": 2, "columns": 3}, [10, 6, 4], rng)
    model = load_model(path)
    x = rng.integers(-128, 128, (5, 10)).astype(np.int8)
    np.save(tmp_path / "x.npy", x)
    return path, model, x


def _run(args, capsys):
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_run_end_to_end_over_pty(tmp_path, board_files, capsys):
    path, model, x = board_files
    plan = make_plan(model)
    labels = golden(model, x).argmax(axis=1)
    np.save(tmp_path / "labels.npy", labels)
    with FakeBoard(hl.DeviceModel(plan)) as board:
        code, out, err = _run(["run", str(path), "--port", board.path, "--input", str(tmp_path / "x.npy"),
                               "--output", str(tmp_path / "y.npy"), "--json", "--timeout", "5",
                               "--labels", str(tmp_path / "labels.npy")], capsys)
        assert board.device.vectors == len(x)
    assert code == 0, err
    summary = json.loads(out)
    assert summary["golden_match"] is True and summary["batch"] == 5 and summary["accuracy"] == 1.0
    assert summary["device"]["fingerprint"] == f"0x{hl.model_fingerprint(model):08x}"
    y = np.load(tmp_path / "y.npy")
    assert y.dtype == np.int32 and np.array_equal(y, golden(model, x))
    assert not list(tmp_path.glob(".y.npy.*")), "temporary output left behind"


def test_run_text_summary(tmp_path, board_files, capsys):
    path, model, x = board_files
    with FakeBoard(hl.DeviceModel(make_plan(model))) as board:
        code, out, err = _run(["run", str(path), "--port", board.path, "--input", str(tmp_path / "x.npy"),
                               "--output", str(tmp_path / "y.npy")], capsys)
    assert code == 0, err
    assert out.startswith("hwgen: run: 5 vectors on ") and out.rstrip().endswith("matches golden model: yes")


def test_run_wrong_device_is_one_line_exit_2(tmp_path, board_files, make_model, capsys):
    path, model, x = board_files
    other = make_model({"kind": "tlmm", "group": 2, "tables": 2, "columns": 3}, [10, 6, 4], np.random.default_rng(99))
    with FakeBoard(hl.DeviceModel(make_plan(other))) as board:
        code, out, err = _run(["run", str(path), "--port", board.path, "--input", str(tmp_path / "x.npy"),
                               "--output", str(tmp_path / "y.npy")], capsys)
        assert board.device.vectors == 0, "vectors were sent to the wrong device"
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and "different accelerator" in err and "fingerprint" in err
    assert not (tmp_path / "y.npy").exists()


def test_run_silent_device_times_out(tmp_path, board_files, capsys):
    path, model, x = board_files
    with FakeBoard(None) as board:
        code, out, err = _run(["run", str(path), "--port", board.path, "--input", str(tmp_path / "x.npy"),
                               "--output", str(tmp_path / "y.npy"), "--timeout", "0.3"], capsys)
        assert board.received.startswith(hl.resync_bytes(make_plan(model)) + hl.identify_request())
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and "no complete identify reply" in err


def test_run_port_missing_or_wrong(tmp_path, board_files, capsys):
    path, model, x = board_files
    common = [str(path), "--input", str(tmp_path / "x.npy"), "--output", str(tmp_path / "y.npy")]
    code, out, err = _run(["run", *common], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "--port" in err
    code, out, err = _run(["run", *common, "--port", str(tmp_path / "no-such-tty")], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "--port" in err and "no-such-tty" in err


def test_run_without_pyserial(tmp_path, board_files, monkeypatch, capsys):
    path, model, x = board_files
    monkeypatch.setitem(sys.modules, "serial", None)          # import serial -> ImportError
    code, out, err = _run(["run", str(path), "--port", "/dev/ttyUSB0", "--input", str(tmp_path / "x.npy"),
                           "--output", str(tmp_path / "y.npy")], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "pyserial" in err


def test_host_client_resyncs_a_half_sent_frame(board_files):
    """A frame cut off by an earlier run is completed by the resync bytes and its reply dropped."""
    _, model, x = board_files
    plan = make_plan(model)
    import serial
    with FakeBoard(hl.DeviceModel(plan)) as board:
        port = serial.Serial(board.path, baudrate=115200, timeout=0.25)
        try:
            port.write(hl.encode_vector(plan, x[0])[:4])        # an aborted run
            client = hl.HostClient(port, plan, timeout=5)
            client.resync()
            assert client.identify() == hl.device_info(plan)
            assert np.array_equal(client.run(x), golden(model, x))
        finally:
            port.close()
        assert board.device.vectors == 1 + len(x)


# ---- the UARTs in Amaranth's simulator (no Verilator) ----

def _uart_sim(divisor, testbench, events=None):
    from amaranth.hdl import Module
    from amaranth.sim import Simulator

    from hwgen.fpga.uart import UartRx, UartTx
    m = Module()
    m.submodules.tx = tx = UartTx(divisor)
    m.submodules.rx = rx = UartRx(divisor)
    sim = Simulator(m)
    sim.add_clock(1e-6)

    async def bench(ctx):
        await testbench(ctx, tx, rx)

    async def watch(ctx):
        """Count the receiver's pulses and handshakes, sampled at every clock edge."""
        async for _, _, fe, ov, valid, ready, payload in ctx.tick().sample(
                rx.frame_error, rx.overrun, rx.stream.valid, rx.stream.ready, rx.stream.payload):
            events["frame_error"] += fe
            events["overrun"] += ov
            if valid and ready:
                events["bytes"].append(payload)

    sim.add_testbench(bench)
    if events is not None:
        sim.add_process(watch)
    sim.run()


async def _drive_frame(ctx, pin, value, divisor, stop=1):
    for b in [0] + [(value >> i) & 1 for i in range(8)] + [stop]:
        ctx.set(pin, b)
        await ctx.tick().repeat(divisor)
    ctx.set(pin, 1)


@pytest.mark.parametrize("divisor", [4, 7, 16])
def test_uart_loopback_back_to_back(divisor):
    data = [0x00, 0xFF, 0x5A, 0xA5, 0x01, 0x80, 0x3C]
    got = []

    async def tb(ctx, tx, rx):
        ctx.set(rx.stream.ready, 1)
        sent = 0
        for cycle in range(len(data) * 10 * divisor + 20 * divisor):
            ctx.set(rx.rx, ctx.get(tx.tx))
            ctx.set(tx.stream.valid, sent < len(data))
            ctx.set(tx.stream.payload, data[sent] if sent < len(data) else 0)
            if sent < len(data) and ctx.get(tx.stream.ready):
                sent += 1
            if ctx.get(rx.stream.valid):
                got.append(ctx.get(rx.stream.payload))
            assert not ctx.get(rx.overrun) and not ctx.get(rx.frame_error)
            await ctx.tick()
        # back to back: the last byte is on the line 10 bit times after the first started
        assert sent == len(data)

    _uart_sim(divisor, tb)
    assert got == data


def test_uart_rx_framing_error_and_overrun():
    divisor = 8
    events = {"frame_error": 0, "overrun": 0, "bytes": []}

    async def tb(ctx, tx, rx):
        ctx.set(rx.rx, 1)
        await ctx.tick().repeat(5)
        # a frame whose stop bit is 0: dropped, one frame_error pulse
        ctx.set(rx.stream.ready, 1)
        await _drive_frame(ctx, rx.rx, 0x42, divisor, stop=0)
        await ctx.tick().repeat(2 * divisor)
        assert events["frame_error"] == 1 and events["bytes"] == []
        # consumer not ready: the first byte waits, the second is dropped with an overrun pulse
        ctx.set(rx.stream.ready, 0)
        for value in (0x11, 0x22):
            await _drive_frame(ctx, rx.rx, value, divisor)
        await ctx.tick().repeat(divisor)
        assert events["overrun"] == 1 and ctx.get(rx.stream.valid) and ctx.get(rx.stream.payload) == 0x11
        ctx.set(rx.stream.ready, 1)
        await ctx.tick().repeat(2)
        await _drive_frame(ctx, rx.rx, 0x33, divisor)
        await ctx.tick().repeat(2 * divisor)
        assert events["bytes"] == [0x11, 0x33] and events["frame_error"] == 1

    _uart_sim(divisor, tb, events)


def test_uart_rejects_small_divisor():
    from hwgen.fpga.uart import UartRx
    with pytest.raises(ValueError, match="divisor"):
        UartRx(3)


def test_hostlink_rtl_matches_device_model_byte_for_byte(make_model):
    """HostLink + accelerator in Amaranth's simulator, bytes in and out without the UARTs.

    The input stream goes in as fast as the FIFO takes it, the reply side stalls at random; the
    reply bytes must equal ``DeviceModel``'s (the Python reference) exactly. An ``rx_overrun``
    pulse before the last IDENTIFY must show in its status byte.
    """
    from amaranth.hdl import Module
    from amaranth.sim import Simulator

    from hwgen.rtl.accelerator import Accelerator
    rng = np.random.default_rng(11)
    model = make_model({"kind": "tlmm", "group": 2, "tables": 2, "columns": 3}, [10, 6, 4], rng)
    plan = make_plan(model)
    x = rng.integers(-128, 128, (3, 10)).astype(np.int8)
    head = hl.resync_bytes(plan) + hl.identify_request() + b"".join(hl.encode_batch(plan, x))
    tail = hl.identify_request()
    ref = hl.DeviceModel(plan, run=lambda v: golden(model, v))
    want = ref.feed(head)
    ref.info = hl.device_info(plan, status=hl.STATUS_OVERRUN)
    want += ref.feed(tail)

    m = Module()
    m.submodules.link = link = hl.HostLink(plan)
    m.submodules.acc = acc = Accelerator(plan)
    m.d.comb += [
        acc.s_axis_tdata.eq(link.s_axis_tdata), acc.s_axis_tvalid.eq(link.s_axis_tvalid),
        link.s_axis_tready.eq(acc.s_axis_tready),
        link.m_axis_tdata.eq(acc.m_axis_tdata), link.m_axis_tvalid.eq(acc.m_axis_tvalid),
        acc.m_axis_tready.eq(link.m_axis_tready), link.m_axis_tlast.eq(acc.m_axis_tlast),
    ]
    got = []
    ready = (rng.random(4096) < 0.4).astype(int)

    async def send(ctx, data):
        for b in data:
            ctx.set(link.rx.valid, 1)
            ctx.set(link.rx.payload, b)
            await ctx.tick().until(link.rx.ready)
        ctx.set(link.rx.valid, 0)

    async def host(ctx):
        await send(ctx, head)
        for _ in range(4000):
            if len(got) == len(want) - len(tail) - hl.IDENT_SIZE:
                break
            await ctx.tick()
        ctx.set(link.rx_overrun, 1)
        await ctx.tick()
        ctx.set(link.rx_overrun, 0)
        await send(ctx, tail)
        for _ in range(4000):
            if len(got) == len(want):
                break
            await ctx.tick()

    async def reply_side(ctx):
        k = 0
        async for _, _, valid, rdy, payload in ctx.tick().sample(link.tx.valid, link.tx.ready, link.tx.payload):
            if valid and rdy:
                got.append(payload)
            ctx.set(link.tx.ready, int(ready[k % len(ready)]))
            k += 1

    sim = Simulator(m)
    sim.add_clock(1e-6)
    sim.add_testbench(host)
    sim.add_process(reply_side)
    sim.run()
    assert bytes(got) == want


def test_unsupported_engine_kind_is_one_line_error():
    class FakePlan:
        engine = type("E", (), {"kind": "lif"})()
    with pytest.raises(HwgenError, match="engine kind 'lif'") as e:
        hl.check_supported(FakePlan())
    assert "\n" not in str(e.value)
