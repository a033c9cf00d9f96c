"""8N1 UART receiver and transmitter with ``amaranth.lib.stream`` byte interfaces.

Both run in the ``sync`` domain and take ``divisor``: clock cycles per bit
(``round(clock_hz / baud)``, at least 4). A frame is one start bit (0), eight data bits, least
significant first, and one stop bit (1); the line idles high.
"""

from amaranth.hdl import Cat, Const, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out

MIN_DIVISOR = 4
SYNC_STAGES = 2     # FFSynchronizer stages on the rx pin


def _check_divisor(component, divisor):
    if isinstance(divisor, bool) or not isinstance(divisor, int) or divisor < MIN_DIVISOR:
        component._MustUse__silence = True      # never elaborated: no "unused elaboratable" warning
        raise ValueError(f"UART divisor must be an integer >= {MIN_DIVISOR} (clock cycles per bit), "
                         f"got {divisor!r}")
    return divisor


class UartRx(wiring.Component):
    """8N1 receiver: the ``rx`` pin to a stream of bytes.

    Contract
    --------
    ``rx`` (in)
        The serial line, asynchronous to the clock (it goes through a 2-stage synchronizer).
    ``stream`` (out, ``stream.Signature(8)``)
        One payload per received frame. ``valid`` stays high and ``payload`` stable until
        ``ready`` (the usual stream rules). A UART cannot be paused, so when a new frame
        completes while the previous byte is still waiting, the new byte is dropped and
        ``overrun`` pulses for one cycle.
    ``overrun`` (out)
        One-cycle pulse: a byte was lost because the consumer was not ready.
    ``frame_error`` (out)
        One-cycle pulse: a stop bit read 0 (wrong baud rate, noise, or a break); the byte is
        dropped and the receiver waits for the line to go high before it looks for a start bit.

    Timing: the start bit is detected on the first low sample, confirmed half a bit later, and each
    following bit is sampled ``divisor`` cycles after the previous one, i.e. near the middle of
    the bit. A start bit that is
    gone at the confirmation point is ignored as a glitch. The byte is offered on ``stream`` at
    the middle of the stop bit.
    """

    def __init__(self, divisor):
        self.divisor = _check_divisor(self, divisor)
        super().__init__({
            "rx": In(1, init=1),
            "stream": Out(stream.Signature(8)),
            "overrun": Out(1),
            "frame_error": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        d = self.divisor
        line = Signal(init=1)
        m.submodules.sync_rx = FFSynchronizer(self.rx, line, init=1, stages=SYNC_STAGES)

        timer = Signal(range(d))
        bit = Signal(range(8))
        shreg = Signal(8)
        # The start bit is confirmed (half + 1) = d // 2 cycles after its first low sample; the
        # synchronizer delays every sample alike, so it does not shift the sampling points.
        half = d // 2 - 1

        with m.If(self.stream.ready):
            m.d.sync += self.stream.valid.eq(0)

        with m.FSM(name="rx_fsm"):
            with m.State("IDLE"):
                with m.If(~line):
                    m.d.sync += timer.eq(half)
                    m.next = "START"
            with m.State("START"):
                with m.If(timer != 0):
                    m.d.sync += timer.eq(timer - 1)
                with m.Elif(line):
                    m.next = "IDLE"                 # glitch, not a start bit
                with m.Else():
                    m.d.sync += [timer.eq(d - 1), bit.eq(0)]
                    m.next = "DATA"
            with m.State("DATA"):
                with m.If(timer != 0):
                    m.d.sync += timer.eq(timer - 1)
                with m.Else():
                    m.d.sync += [timer.eq(d - 1), shreg.eq(Cat(shreg[1:], line)), bit.eq(bit + 1)]
                    with m.If(bit == 7):
                        m.next = "STOP"
            with m.State("STOP"):
                with m.If(timer != 0):
                    m.d.sync += timer.eq(timer - 1)
                with m.Elif(line):
                    with m.If(self.stream.valid & ~self.stream.ready):
                        m.d.comb += self.overrun.eq(1)
                    with m.Else():
                        m.d.sync += [self.stream.payload.eq(shreg), self.stream.valid.eq(1)]
                    m.next = "IDLE"
                with m.Else():
                    m.d.comb += self.frame_error.eq(1)
                    m.next = "BREAK"
            with m.State("BREAK"):
                with m.If(line):
                    m.next = "IDLE"
        return m


class UartTx(wiring.Component):
    """8N1 transmitter: a stream of bytes to the ``tx`` pin.

    Contract
    --------
    ``stream`` (in, ``stream.Signature(8)``)
        Bytes to send. ``ready`` is high while the transmitter is idle and in the last cycle of
        a stop bit, so consecutive bytes go out back to back (10 bits, ``10 * divisor`` cycles
        per byte, no idle time in between).
    ``tx`` (out)
        The serial line, driven from a register (no glitches), high when idle and after reset.
    ``busy`` (out)
        High while a frame is on the line.
    """

    def __init__(self, divisor):
        self.divisor = _check_divisor(self, divisor)
        super().__init__({
            "stream": In(stream.Signature(8)),
            "tx": Out(1, init=1),
            "busy": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        d = self.divisor
        shreg = Signal(9, init=0x1FF)       # data bits then the stop bit, LSB goes out next
        left = Signal(range(11))            # bits of the frame still to finish, the current one included
        timer = Signal(range(d))
        last_cycle = (left == 1) & (timer == 0)
        m.d.comb += [
            self.stream.ready.eq((left == 0) | last_cycle),
            self.busy.eq(left != 0),
        ]
        with m.If(self.stream.valid & self.stream.ready):
            m.d.sync += [
                self.tx.eq(0),                                   # start bit
                shreg.eq(Cat(self.stream.payload, Const(1, 1))),
                left.eq(10),
                timer.eq(d - 1),
            ]
        with m.Elif(left != 0):
            with m.If(timer != 0):
                m.d.sync += timer.eq(timer - 1)
            with m.Else():
                m.d.sync += [
                    self.tx.eq(shreg[0]),
                    shreg.eq(Cat(shreg[1:], Const(1, 1))),
                    left.eq(left - 1),
                    timer.eq(d - 1),
                ]
        return m
