"""The output queue of the accelerator: results in, AXI-Stream out, and credits for whole vectors."""

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out


def queue_depth(beats):
    """Entries of the queue's memory for vectors of ``beats`` output beats (a power of two >= 2)."""
    return 1 << max(1, (beats - 1).bit_length())


class OutputQueue(wiring.Component):
    """A first-in first-out queue between the engine and ``m_axis``, sized for whole vectors.

    Write side: ``w_en`` writes ``w_data`` / ``w_last`` (never when full: the engine reserves the
    room first). Read side: ``m_axis_tdata/tvalid/tlast`` come straight from a register;
    ``m_axis_tready`` only moves the queue, never the engine. A beat written in cycle ``t`` into an
    empty queue is on ``m_axis`` in cycle ``t + 1``; otherwise it follows the beat before it
    the cycle after that one is taken.

    Credits: the queue holds ``capacity = queue_depth(beats) + 1`` beats (the memory plus the
    output register). ``can_reserve`` is high while at least ``beats`` of them are neither stored
    nor reserved; ``reserve`` (one cycle) reserves ``beats`` of them for a vector, and each beat
    taken from ``m_axis`` frees one from the next cycle on. The engine starts a vector only when
    it can reserve its beats, so the queue never overflows and backpressure never stalls the
    engine mid-vector.
    """

    def __init__(self, width, beats):
        self.width = width
        self.beats = beats
        self.depth = queue_depth(beats)
        self.capacity = self.depth + 1
        super().__init__({
            "w_data": In(width), "w_last": In(1), "w_en": In(1),
            "reserve": In(1), "can_reserve": Out(1),
            "m_axis_tdata": Out(width), "m_axis_tvalid": Out(1), "m_axis_tready": In(1),
            "m_axis_tlast": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        abits = (self.depth - 1).bit_length()
        m.submodules.output_queue = mem = Memory(shape=self.width + 1, depth=self.depth, init=[])
        wp = mem.write_port()
        rp = mem.read_port(domain="comb")
        wr = Signal(abits)
        rd = Signal(abits)
        stored = Signal(range(self.depth + 1))        # beats in the memory (not the register)

        take = self.m_axis_tvalid & self.m_axis_tready
        load = ~self.m_axis_tvalid | self.m_axis_tready   # the output register is free after this cycle
        from_mem = load & (stored != 0)
        bypass = load & (stored == 0) & self.w_en
        push = self.w_en & ~bypass
        m.d.comb += [rp.addr.eq(rd), wp.addr.eq(wr), wp.data.eq(Cat(self.w_data, self.w_last)),
                     wp.en.eq(push)]
        with m.If(push):
            m.d.sync += wr.eq(wr + 1)
        with m.If(from_mem):
            m.d.sync += rd.eq(rd + 1)
        m.d.sync += stored.eq(stored + push - from_mem)
        data = Signal(self.width + 1, reset_less=True)     # the output register: tdata, tlast
        m.d.comb += [self.m_axis_tdata.eq(data[:self.width]), self.m_axis_tlast.eq(data[-1])]
        with m.If(from_mem):
            m.d.sync += [data.eq(rp.data), self.m_axis_tvalid.eq(1)]
        with m.Elif(bypass):
            m.d.sync += [data.eq(Cat(self.w_data, self.w_last)), self.m_axis_tvalid.eq(1)]
        with m.Elif(load):
            m.d.sync += self.m_axis_tvalid.eq(0)

        credits = Signal(range(self.capacity + 1), init=self.capacity)
        m.d.comb += self.can_reserve.eq(credits >= self.beats)
        m.d.sync += credits.eq(credits + take - Mux(self.reserve, self.beats, 0))
        return m
