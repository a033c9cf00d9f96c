"""The host link: how a PC drives an accelerator on a board over a UART (8N1), in one place.

This module holds both sides of the protocol: the Amaranth ``HostLink`` component (UART bytes to
and from the accelerator's AXI-Stream ports, inside the bitstream) and the Python side used by
``hwgen run`` and the tests (frame encoding and decoding, the device check, a blocking host
client, and ``DeviceModel``, a byte-exact Python reference of the device). fpga/README.md has
the same protocol as byte tables.

Protocol (version 1)
--------------------
Host to device, one command byte, then its payload:

``0xA5`` IDENTIFY
    No payload. Only send it while no vector is in flight.
``0x5A`` RUN
    Followed by ``P_in = input_beats * lanes`` bytes: the accelerator's input beats in order,
    each beat lane 0 first, int8 two's complement (so feature ``k`` is byte ``k``); the unused
    lanes of the last beat are sent as 0 and ignored.
any other byte between frames
    Ignored. The host sends ``P_in`` zero bytes to resynchronize: they complete a frame the
    device may be in the middle of, and the rest are ignored.

Device to host, one reply per command, in command order, never interleaved:

IDENTIFY reply, 31 bytes
    ``0xA5``, then ``IDENT_FORMAT`` (little-endian): magic ``b"hw"``, protocol version, status
    (bit 0: a received byte was lost since the last IDENTIFY, the input buffer being full; bit 1:
    a UART framing error was seen; both cleared by this reply), out_bits (8 or 32), window (how
    many RUN frames the host may have in flight), lanes (u16), columns (u16), input beats per
    vector (u32), output beats per vector (u32), in_features (u32), out_features (u32), and the
    model fingerprint (u32, ``model_fingerprint``: CRC-32 of the layer shapes, requantization,
    engine parameters and weights).
RUN reply, ``P_out + 3`` bytes
    ``0x5A``; ``P_out = output_beats * columns * out_bits / 8`` bytes: the output beats in order,
    each column 0 first, each value little-endian two's complement (int8, or int32
    accumulators); then ``in_sum`` (the sum mod 256 of the ``P_in`` payload bytes as the device
    received them) and ``out_sum`` (the sum mod 256 of the ``P_out`` bytes). Padding columns of
    the last output beat carry 0.

Flow control: the UART has none, so the device buffers input bytes in a FIFO that holds
``window - 1`` whole RUN frames besides the vector the accelerator is working on. The host keeps
at most ``window`` RUN frames unanswered (it sends frame ``i + window`` only after the reply to
frame ``i`` is complete); then no byte is ever dropped, and both directions of the line stay
busy.
"""

from __future__ import annotations

import json
import struct
import time
import zlib
from dataclasses import asdict, dataclass, is_dataclass

import numpy as np
from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.fifo import SyncFIFO, SyncFIFOBuffered
from amaranth.lib.wiring import In, Out

from ..errors import HwgenError

PROTOCOL_VERSION = 1
CMD_IDENTIFY = 0xA5
CMD_RUN = 0x5A
MAGIC = b"hw"
IDENT_FORMAT = "<2sBBBBHHIIIII"
IDENT_SIZE = struct.calcsize(IDENT_FORMAT)          # 30 bytes after the 0xA5 tag
STATUS_OFFSET = 3                                   # status byte within IDENT_FORMAT
STATUS_OVERRUN = 0x01
STATUS_FRAME_ERROR = 0x02
MAX_WINDOW = 4             # enough to keep the line busy across a USB-serial adapter's latency
FIFO_BUDGET = 1024         # bytes of input FIFO a window may use (two iCE40 EBRs, half an ECP5 DP16KD)
FIFO_SLACK = 16


# engine kinds whose hwgen_top has the int8-lane AXI-Stream beats this protocol carries
SUPPORTED_KINDS = ("tlmm", "addertree", "hardwired")


# ---------------------------------------------------------------------------------------------
# Geometry and identity
# ---------------------------------------------------------------------------------------------

def check_supported(plan):
    """HwgenError (one line) unless the host link can carry ``plan``'s accelerator beats."""
    kind = plan.engine.kind
    if kind not in SUPPORTED_KINDS:
        raise HwgenError(f"the UART host link carries the beats of {', '.join(SUPPORTED_KINDS)} "
                         f"engines; engine kind {kind!r} has a different beat format")


def input_beats(plan):
    return plan.input_chunks


def output_beats(plan):
    return plan.layers[-1].blocks


def in_payload_size(plan):
    """P_in: payload bytes of a RUN frame."""
    return input_beats(plan) * plan.lanes


def out_beat_bytes(plan):
    return plan.columns * plan.out_bits // 8


def out_payload_size(plan):
    """P_out: output bytes in a RUN reply."""
    return output_beats(plan) * out_beat_bytes(plan)


def reply_size(plan):
    return out_payload_size(plan) + 3


def default_window(plan):
    """RUN frames the host may have in flight: 1 + as many as fit in ``FIFO_BUDGET`` bytes, at
    most ``MAX_WINDOW``. A frame larger than the budget gives 1 (stop and wait: the host sends a
    frame only when the previous reply is complete, when the accelerator is already loading)."""
    return min(MAX_WINDOW, 1 + FIFO_BUDGET // (in_payload_size(plan) + 1))


def fifo_depth(plan, window):
    """Input FIFO entries for ``window``: ``window - 1`` whole RUN frames plus slack."""
    return (window - 1) * (in_payload_size(plan) + 1) + FIFO_SLACK


def sums_depth(plan):
    """Entries of the in_sum FIFO: at least the vectors taken whose replies have not started (those
    whose output beats the accelerator's output queue holds or reserves, or the hardwired engine's
    layer pipeline holds), plus one."""
    if plan.engine.kind == "hardwired":     # vectors overlap in its layer pipeline
        return len(plan.layers) + 3
    from hwgen.rtl.outqueue import queue_depth
    beats = output_beats(plan)
    return (queue_depth(beats) + 1) // beats + 1


def model_fingerprint(model):
    """CRC-32 of what the hardware computes: shapes, requantization, engine parameters, weights.

    The model's name and file paths are left out, so a renamed copy of a model still matches.
    """
    engine = model.engine
    # the engine's own parameters (not derived quantities, which may gain fields over versions)
    params = asdict(engine) if is_dataclass(engine) else engine.as_dict()
    desc = {
        "in_features": model.in_features, "in_bits": model.in_bits,
        "engine": {k: v for k, v in params.items() if isinstance(v, (bool, int, str, float))},
        "layers": [{"op": l.op, "in": l.in_features, "out": l.out_features,
                    "requant": None if l.requant is None else [l.requant.shift, bool(l.requant.relu)]}
                   for l in model.layers],
    }
    crc = zlib.crc32(json.dumps(desc, sort_keys=True).encode())
    for layer in model.layers:
        crc = zlib.crc32(np.ascontiguousarray(layer.weights, dtype=np.int8).tobytes(), crc)
    return crc & 0xFFFFFFFF


@dataclass(frozen=True)
class DeviceInfo:
    """The fields of an IDENTIFY reply."""

    version: int
    status: int
    out_bits: int
    window: int
    lanes: int
    columns: int
    input_beats: int
    output_beats: int
    in_features: int
    out_features: int
    fingerprint: int

    # fields that must match between the device and the model the host was given
    CHECKED = ("out_bits", "lanes", "columns", "input_beats", "output_beats", "in_features",
               "out_features", "fingerprint")

    def to_bytes(self):
        """The reply without its 0xA5 tag (``IDENT_SIZE`` bytes)."""
        return struct.pack(IDENT_FORMAT, MAGIC, self.version, self.status, self.out_bits, self.window,
                           self.lanes, self.columns, self.input_beats, self.output_beats,
                           self.in_features, self.out_features, self.fingerprint)

    @classmethod
    def from_bytes(cls, data):
        if len(data) != IDENT_SIZE:
            raise HwgenError(f"identify reply has {len(data)} bytes, expected {IDENT_SIZE}")
        magic, *fields = struct.unpack(IDENT_FORMAT, bytes(data))
        if magic != MAGIC:
            raise HwgenError(f"identify reply starts with {magic!r}, not {MAGIC!r}: not an hwgen "
                             "board (or wrong baud rate)")
        return cls(*fields)

    def as_dict(self):
        d = asdict(self)
        d["fingerprint"] = f"0x{self.fingerprint:08x}"
        return d


def device_info(plan, *, window=None, status=0):
    """The IDENTIFY reply a board built for ``plan`` gives."""
    model = plan.model
    return DeviceInfo(
        version=PROTOCOL_VERSION, status=status, out_bits=plan.out_bits,
        window=default_window(plan) if window is None else window,
        lanes=plan.lanes, columns=plan.columns, input_beats=input_beats(plan),
        output_beats=output_beats(plan), in_features=model.in_features,
        out_features=model.out_features, fingerprint=model_fingerprint(model))


def check_device(info, plan):
    """Raise HwgenError (one line) unless the device ``info`` runs the accelerator for ``plan``."""
    if info.version != PROTOCOL_VERSION:
        raise HwgenError(f"the device speaks host-link protocol version {info.version}, this hwgen "
                         f"speaks {PROTOCOL_VERSION}: rebuild the bitstream")
    want = device_info(plan)
    diffs = [f"{k} {getattr(info, k)} (model: {getattr(want, k)})" for k in DeviceInfo.CHECKED
             if k != "fingerprint" and getattr(info, k) != getattr(want, k)]
    if info.fingerprint != want.fingerprint:
        diffs.append(f"fingerprint 0x{info.fingerprint:08x} (model: 0x{want.fingerprint:08x})")
    if diffs:
        raise HwgenError(f"the device runs a different accelerator than {plan.model.name}: "
                         + ", ".join(diffs))
    if info.window < 1:
        raise HwgenError(f"the device reports window {info.window}; expected at least 1")


# ---------------------------------------------------------------------------------------------
# Frames (Python side)
# ---------------------------------------------------------------------------------------------

def checksum(data):
    return sum(bytes(data)) & 0xFF


def identify_request():
    return bytes([CMD_IDENTIFY])


def encode_vector(plan, x):
    """One RUN frame for the int8 vector ``x`` (in_features,)."""
    beats = plan.pack_input(np.asarray(x).reshape(1, -1))[0]        # (input_beats, lanes)
    return bytes([CMD_RUN]) + beats.astype(np.int8).tobytes()


def encode_batch(plan, x):
    """RUN frames for a batch (batch, in_features), one per vector."""
    return [encode_vector(plan, row) for row in np.asarray(x)]


def resync_bytes(plan):
    """Bytes that bring the device back to waiting for a command from any state."""
    return bytes(in_payload_size(plan))


def _out_dtype(plan):
    return np.dtype("<i4") if plan.out_bits == 32 else np.dtype("i1")


def decode_vector(plan, payload):
    """RUN payload (``P_in`` bytes) -> the int8 vector (in_features,): feature k is byte k."""
    flat = np.frombuffer(bytes(payload), dtype=np.int8)
    if flat.size != in_payload_size(plan):
        raise HwgenError(f"RUN payload has {flat.size} bytes, expected {in_payload_size(plan)}")
    return flat[:plan.model.in_features].copy()


def encode_reply(plan, outputs, in_payload):
    """The RUN reply for one vector's ``outputs`` (out_features,) and the payload it answered."""
    values = np.zeros(output_beats(plan) * plan.columns, dtype=np.int64)
    values[:plan.model.out_features] = np.asarray(outputs, dtype=np.int64)
    data = values.astype(_out_dtype(plan)).tobytes()
    return bytes([CMD_RUN]) + data + bytes([checksum(in_payload), checksum(data)])


def decode_reply(plan, frame, sent=None, *, index=None):
    """One RUN reply -> outputs (out_features,) int8 or int32.

    Checks the tag and ``out_sum``; with ``sent`` (the RUN frame it answers) also ``in_sum``.
    Raises HwgenError naming vector ``index`` on any mismatch.
    """
    where = "" if index is None else f"vector {index}: "
    frame = bytes(frame)
    if len(frame) != reply_size(plan):
        raise HwgenError(f"{where}reply has {len(frame)} bytes, expected {reply_size(plan)}")
    if frame[0] != CMD_RUN:
        raise HwgenError(f"{where}reply starts with 0x{frame[0]:02x}, expected 0x{CMD_RUN:02x} "
                         "(out of sync with the device)")
    data, in_sum, out_sum = frame[1:-2], frame[-2], frame[-1]
    if checksum(data) != out_sum:
        raise HwgenError(f"{where}reply corrupted on the line (checksum 0x{checksum(data):02x}, "
                         f"device sent 0x{out_sum:02x})")
    if sent is not None and checksum(bytes(sent)[1:]) != in_sum:
        raise HwgenError(f"{where}the device received different input bytes than were sent "
                         f"(checksum 0x{in_sum:02x}, sent 0x{checksum(bytes(sent)[1:]):02x})")
    beats = np.frombuffer(data, dtype=_out_dtype(plan)).reshape(1, output_beats(plan), plan.columns)
    return plan.unpack_output(beats)[0].astype(plan.model.output_dtype)


def decode_identify(frame):
    """A whole IDENTIFY reply (tag included) -> DeviceInfo."""
    frame = bytes(frame)
    if not frame or frame[0] != CMD_IDENTIFY:
        got = f"0x{frame[0]:02x}" if frame else "nothing"
        raise HwgenError(f"identify reply starts with {got}, expected 0x{CMD_IDENTIFY:02x}: not an "
                         "hwgen board (or wrong baud rate)")
    return DeviceInfo.from_bytes(frame[1:])


class DeviceModel:
    """Byte-level Python reference of the device side: ``feed(bytes) -> reply bytes``.

    ``run(x)`` computes outputs (batch, out_features) for int8 inputs (batch, in_features); the
    default is the cycle-accurate simulator of ``plan.model``. ``info`` overrides the IDENTIFY
    reply (to play a different device).
    """

    def __init__(self, plan, run=None, *, info=None):
        self.plan = plan
        if run is None:
            from ..sim import make_simulator
            sim = make_simulator(plan.model)
            run = lambda x: sim.run(x).outputs                  # noqa: E731
        self.run = run
        self.info = info or device_info(plan)
        self._payload = None                                    # bytes of a RUN frame so far
        self.vectors = 0

    def feed(self, data):
        out = bytearray()
        need = in_payload_size(self.plan)
        for b in bytes(data):
            if self._payload is not None:
                self._payload.append(b)
                if len(self._payload) == need:
                    payload, self._payload = bytes(self._payload), None
                    x = decode_vector(self.plan, payload)
                    y = np.asarray(self.run(x[None, :]))[0]
                    out += encode_reply(self.plan, y, payload)
                    self.vectors += 1
            elif b == CMD_RUN:
                self._payload = bytearray()
            elif b == CMD_IDENTIFY:
                out += bytes([CMD_IDENTIFY]) + self.info.to_bytes()
        return bytes(out)


# ---------------------------------------------------------------------------------------------
# Host client (blocking; ``port`` is a pyserial Serial or anything with read/write/timeout)
# ---------------------------------------------------------------------------------------------

class HostClient:
    """Drives a board over ``port``: ``resync()``, ``identify()``, ``run(x)``.

    ``timeout`` (seconds) bounds the wait for each reply. Failures raise HwgenError (one line).
    """

    def __init__(self, port, plan, *, baud=115200, timeout=5.0):
        self.port = port
        self.plan = plan
        self.baud = baud
        self.timeout = float(timeout)
        self.info = None

    def _line_seconds(self, nbytes):
        return nbytes * 10.0 / self.baud

    def _read_exact(self, n, what):
        deadline = time.monotonic() + self.timeout + self._line_seconds(n)
        buf = bytearray()
        while len(buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise HwgenError(f"no complete {what} from the device within {self.timeout:g} s "
                                 f"(got {len(buf)} of {n} bytes; check the port, --baud and that "
                                 "the board runs an hwgen bitstream)")
            self.port.timeout = min(left, 0.25)
            buf += self.port.read(n - len(buf))
        return bytes(buf)

    def resync(self, quiet=None):
        """Complete any half-sent frame, then discard whatever the device sends until it is quiet."""
        if quiet is None:
            quiet = 0.05 + 2 * self._line_seconds(MAX_WINDOW * reply_size(self.plan) + IDENT_SIZE)
        self.port.write(resync_bytes(self.plan))
        self.port.flush()
        deadline = time.monotonic() + self.timeout + quiet
        self.port.timeout = quiet
        while self.port.read(4096):
            if time.monotonic() > deadline:
                raise HwgenError("the device keeps sending data: not an hwgen board, or a wrong --baud")
        if hasattr(self.port, "reset_input_buffer"):
            self.port.reset_input_buffer()

    def identify(self):
        self.port.write(identify_request())
        self.port.flush()
        self.info = decode_identify(self._read_exact(1 + IDENT_SIZE, "identify reply"))
        return self.info

    def run(self, x):
        """Outputs (batch, out_features) for int8 inputs (batch, in_features)."""
        plan = self.plan
        info = self.info or self.identify()
        x = np.asarray(x)
        frames = encode_batch(plan, x)
        window = max(1, info.window)
        out = np.zeros((len(frames), plan.model.out_features), dtype=plan.model.output_dtype)
        sent = 0
        while sent < min(window, len(frames)):
            self.port.write(frames[sent])
            sent += 1
        self.port.flush()
        for i in range(len(frames)):
            reply = self._read_exact(reply_size(plan), f"reply to vector {i}")
            out[i] = decode_reply(plan, reply, frames[i], index=i)
            if sent < len(frames):
                self.port.write(frames[sent])
                self.port.flush()
                sent += 1
        return out


# ---------------------------------------------------------------------------------------------
# The device side in hardware
# ---------------------------------------------------------------------------------------------

class HostLink(wiring.Component):
    """Protocol engine between UART byte streams and the accelerator's AXI-Stream ports.

    Ports
    -----
    ``rx`` (in, ``stream.Signature(8)``)
        Bytes from the UART receiver, buffered in a FIFO of ``fifo_depth(plan, window)`` bytes.
    ``tx`` (out, ``stream.Signature(8)``)
        Reply bytes to the UART transmitter.
    ``rx_overrun``, ``rx_frame_error`` (in)
        One-cycle error pulses from the receiver; reported (sticky) in the next IDENTIFY status.
    ``s_axis_tdata/tvalid/tready``
        To the accelerator: input beats assembled from RUN payloads (lane 0 first).
    ``m_axis_tdata/tvalid/tready/tlast``
        From the accelerator: output beats, sent as RUN replies; ``tlast`` ends a reply. A beat is
        accepted with its last byte; until then ``tdata`` must stay stable (AXI-Stream rule, kept
        by the accelerator's output queue).

    The parser takes one byte per cycle from the FIFO while it is assembling a beat and stops
    while a full beat waits for ``s_axis_tready``, so the FIFO absorbs whatever arrives while the
    accelerator is busy. The reply framer sends an output beat byte by byte from ``m_axis_tdata``
    and holds ``m_axis_tready`` low meanwhile (the accelerator's output queue holds the beat; the
    accelerator starts a vector only when the queue has room for its replies). Replies never interleave: IDENTIFY is answered between RUN replies.
    """

    def __init__(self, plan, *, window=None):
        check_supported(plan)
        self.plan = plan
        self.window = default_window(plan) if window is None else int(window)
        if self.window < 1:
            raise ValueError("window must be at least 1")
        self.info = device_info(plan, window=self.window)
        self.fifo_depth = fifo_depth(plan, self.window)
        super().__init__({
            "rx": In(stream.Signature(8)),
            "tx": Out(stream.Signature(8)),
            "rx_overrun": In(1),
            "rx_frame_error": In(1),
            "s_axis_tdata": Out(8 * plan.lanes),
            "s_axis_tvalid": Out(1),
            "s_axis_tready": In(1),
            "m_axis_tdata": In(plan.out_bits * plan.columns),
            "m_axis_tvalid": In(1),
            "m_axis_tready": Out(1),
            "m_axis_tlast": In(1),
        })

    def elaborate(self, platform):
        plan = self.plan
        m = Module()
        L = plan.lanes
        n_in = input_beats(plan)
        ob_bytes = out_beat_bytes(plan)

        def counter(limit, name):
            return Signal(range(max(2, limit)), name=name)

        # ---- input: FIFO -> parser -> beat register -> s_axis ----
        m.submodules.fifo = fifo = SyncFIFOBuffered(width=8, depth=self.fifo_depth)
        m.d.comb += [fifo.w_data.eq(self.rx.payload), fifo.w_en.eq(self.rx.valid),
                     self.rx.ready.eq(fifo.w_rdy)]
        # the FIFO's block RAM output goes straight into a register (its clock-to-output delay
        # leaves no room for logic behind it): the parser reads `byte` while `byte_valid`
        byte = Signal(8, reset_less=True)
        byte_valid = Signal()
        consume = Signal()              # the parser takes `byte` in this cycle
        m.d.comb += fifo.r_en.eq(~byte_valid | consume)
        with m.If(fifo.r_en):
            m.d.sync += [byte_valid.eq(fifo.r_rdy), byte.eq(fifo.r_data)]

        beat = Signal(8 * L, reset_less=True)
        beat_valid = Signal()
        beat_last = Signal()        # the beat in the register is its vector's last
        beat_sum = Signal(8)        # in_sum of that vector (valid with beat_last)
        lane = counter(L, "lane")
        nbeat = counter(n_in, "nbeat")
        run_sum = Signal(8)
        ident_req = Signal()

        # in_sum of each vector the accelerator took, until its reply starts (the accelerator's
        # output queue lets it take vectors while replies are pending)
        m.submodules.sums = sums = SyncFIFO(width=8, depth=sums_depth(plan))
        m.d.comb += [self.s_axis_tdata.eq(beat), self.s_axis_tvalid.eq(beat_valid)]
        with m.If(beat_valid & self.s_axis_tready):
            m.d.sync += beat_valid.eq(0)
        m.d.comb += [sums.w_data.eq(beat_sum), sums.w_en.eq(beat_valid & self.s_axis_tready & beat_last)]

        with m.FSM(name="parser"):
            with m.State("IDLE"):
                m.d.comb += consume.eq(byte_valid)
                with m.If(byte_valid):
                    with m.If(byte == CMD_RUN):
                        m.d.sync += [lane.eq(0), nbeat.eq(0), run_sum.eq(0)]
                        m.next = "PAYLOAD"
                    with m.Elif(byte == CMD_IDENTIFY):
                        m.d.sync += ident_req.eq(1)
            with m.State("PAYLOAD"):
                take = Signal()
                m.d.comb += [take.eq(byte_valid & ~beat_valid), consume.eq(take)]
                with m.If(take):
                    m.d.sync += [beat.eq(Cat(beat[8:], byte)), run_sum.eq(run_sum + byte),
                                 lane.eq(lane + 1)]
                    with m.If(lane == L - 1):
                        m.d.sync += [lane.eq(0), nbeat.eq(nbeat + 1), beat_valid.eq(1),
                                     beat_last.eq(nbeat == n_in - 1),
                                     beat_sum.eq(run_sum + byte)]
                        with m.If(nbeat == n_in - 1):
                            m.next = "IDLE"

        # ---- output: m_axis -> beat register -> reply framer -> tx ----
        # An output beat is taken whenever the beat register is empty (so m_axis_tready comes
        # straight from a flip-flop); the framer sends its bytes from there, shifting.
        obuf = Signal(len(self.m_axis_tdata), reset_less=True)
        obuf_full = Signal()
        olast = Signal()
        obyte = counter(ob_bytes, "obyte")
        out_sum = Signal(8)
        in_sum = Signal(8)
        ident = bytes([CMD_IDENTIFY]) + self.info.to_bytes()
        idx = counter(len(ident), "ident_idx")
        status = Signal(2)
        status_clear = Signal()

        with m.If(status_clear):
            m.d.sync += status.eq(0)
        with m.If(self.rx_overrun):
            m.d.sync += status[0].eq(1)
        with m.If(self.rx_frame_error):
            m.d.sync += status[1].eq(1)

        m.d.comb += self.m_axis_tready.eq(~obuf_full)
        with m.If(~obuf_full & self.m_axis_tvalid):
            m.d.sync += [obuf.eq(self.m_axis_tdata), olast.eq(self.m_axis_tlast), obuf_full.eq(1)]

        # the framer hands bytes to a one-byte register in front of ``tx`` (it takes a byte only
        # when empty, so no combinational path runs from the UART back into the framer)
        fr = stream.Signature(8).create(path=("framer",))
        tx_byte = Signal(8, reset_less=True)
        tx_full = Signal()
        m.d.comb += [fr.ready.eq(~tx_full), self.tx.payload.eq(tx_byte), self.tx.valid.eq(tx_full)]
        with m.If(fr.valid & fr.ready):
            m.d.sync += [tx_byte.eq(fr.payload), tx_full.eq(1)]
        with m.Elif(self.tx.ready):
            m.d.sync += tx_full.eq(0)

        with m.FSM(name="framer"):
            with m.State("IDLE"):
                with m.If(obuf_full):
                    m.d.comb += sums.r_en.eq(1)
                    m.d.sync += [in_sum.eq(sums.r_data), out_sum.eq(0), obyte.eq(0)]
                    m.next = "TAG"
                with m.Elif(ident_req):
                    m.d.sync += [ident_req.eq(0), idx.eq(0)]
                    m.next = "IDENT"
            with m.State("TAG"):
                m.d.comb += [fr.payload.eq(CMD_RUN), fr.valid.eq(1)]
                with m.If(fr.ready):
                    m.next = "DATA"
            with m.State("DATA"):
                m.d.comb += [fr.payload.eq(obuf[:8]), fr.valid.eq(1)]
                with m.If(fr.ready):
                    m.d.sync += [out_sum.eq(out_sum + obuf[:8]), obuf.eq(obuf >> 8), obyte.eq(obyte + 1)]
                    with m.If(obyte == ob_bytes - 1):
                        m.d.sync += [obuf_full.eq(0), obyte.eq(0)]
                        m.next = "BEAT_END"
            with m.State("BEAT_END"):           # olast still describes the beat just sent
                m.next = "IN_SUM"
                with m.If(~olast):
                    m.next = "NEXT"
            with m.State("NEXT"):
                with m.If(obuf_full):
                    m.next = "DATA"
            with m.State("IN_SUM"):
                m.d.comb += [fr.payload.eq(in_sum), fr.valid.eq(1)]
                with m.If(fr.ready):
                    m.next = "OUT_SUM"
            with m.State("OUT_SUM"):
                m.d.comb += [fr.payload.eq(out_sum), fr.valid.eq(1)]
                with m.If(fr.ready):
                    m.next = "IDLE"
            with m.State("IDENT"):
                m.d.comb += fr.valid.eq(1)
                with m.Switch(idx):
                    for i, b in enumerate(ident):
                        with m.Case(i):
                            if i == 1 + STATUS_OFFSET:
                                m.d.comb += [fr.payload.eq(status),
                                             status_clear.eq(fr.ready)]
                            else:
                                m.d.comb += fr.payload.eq(b)
                with m.If(fr.ready):
                    m.d.sync += idx.eq(idx + 1)
                    with m.If(idx == len(ident) - 1):
                        m.next = "IDLE"
        return m
