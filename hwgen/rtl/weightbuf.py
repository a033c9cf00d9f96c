"""Ping-pong weight buffer between a DRAM-side AXI-Stream and the engine: ``WeightBuffer``."""

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, unsigned
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out


class WeightBuffer(wiring.Component):
    """Two slots of weight words: one filled from DRAM while the engine reads the other.

    Parameters: ``tile_plan`` (``hwgen.streaming.TilePlan``: word width ``W``, beat width ``D``,
    ``slot_words`` ``H`` and the tiles of every layer of one plan) and ``ram_style`` (Verilog
    ``ram_style`` attribute of the memory: ``"ultra"`` maps to URAM288, ``"block"`` to block RAM;
    ``None`` leaves the choice to the tool). The memory is ``2 H`` words of ``W`` bits, one write
    port and one synchronous read port; slot ``s`` is words ``s H .. s H + H - 1``.

    Ports (clock ``clk``, synchronous reset ``rst``; the buffer runs every cycle):

    ``s_axis_tdata`` (D), ``s_axis_tvalid``, ``s_axis_tready``
        DRAM side. A word is ``P = ceil(W / D)`` beats, little-endian (beat ``j`` carries word bits
        ``j D ..``; the bits of the last beat above ``W`` are ignored). Words come in the order the
        engine issues them; tiles follow the tile plan, layer after layer, then again from layer 0.
        ``tready`` is high while the slot being filled is free; it does not depend on ``tvalid``.
        Throughput: one beat per cycle; the beat that completes a tile marks its slot full at the
        end of that cycle, and the next beat goes to the other slot.
    ``tile_ready`` (out)
        The slot the engine reads holds a complete tile (registered).
    ``rd_issue`` (in)
        The engine takes the word at the read pointer in this cycle; only allowed while
        ``tile_ready``. Taking the tile's last word frees the slot: ``s_axis_tready`` can rise in
        the next cycle.
    ``rd_en`` (in), ``rd_data`` (out, W)
        Read port enable (the engine's clock enable): the word issued in cycle ``t`` (with
        ``rd_en``) is on ``rd_data`` from cycle ``t + 1`` (latency 1) and stays there while
        ``rd_en`` is low.
    """

    def __init__(self, tile_plan, ram_style=None):
        self.tile_plan = tp = tile_plan
        if len(tp.layers) != 1:
            raise ValueError("a WeightBuffer serves the layers of one plan")
        self.tiles = tp.layers[0]
        self.ram_style = ram_style
        super().__init__({
            "s_axis_tdata": In(tp.dram_bits),
            "s_axis_tvalid": In(1),
            "s_axis_tready": Out(1),
            "tile_ready": Out(1),
            "rd_issue": In(1),
            "rd_en": In(1),
            "rd_data": Out(tp.word_bits),
        })

    def elaborate(self, platform):
        tp = self.tile_plan
        W, D, H, P = tp.word_bits, tp.dram_bits, tp.slot_words, tp.beats_per_word
        layers = self.tiles
        NL = len(layers)
        m = Module()

        attrs = {"ram_style": self.ram_style} if self.ram_style else None
        mem = Memory(shape=unsigned(W), depth=2 * H, init=[], attrs=attrs)
        m.submodules.mem = mem
        wp = mem.write_port()
        rp = mem.read_port()

        def table(values):
            width = max(1, max(values).bit_length())
            return Array(Const(v, width) for v in values)

        def counter(limit, name):
            return Signal(range(max(2, limit)), name=name)

        last_tile = table([lt.tiles - 1 for lt in layers])
        full_end = table([lt.full_words - 1 for lt in layers])
        last_end = table([lt.last_words - 1 for lt in layers])

        full = Signal(2)                    # slot s holds a complete, not yet consumed tile

        class Side:
            def __init__(self, name):
                self.slot = Signal(name=f"{name}_slot")
                self.word = counter(H, f"{name}_word")
                self.tile = counter(max(lt.tiles for lt in layers), f"{name}_tile")
                self.layer = counter(NL, f"{name}_layer")
                self.end = Signal(name=f"{name}_end")      # the word at the pointer ends its tile
                m.d.comb += self.end.eq(self.word == Mux(self.tile == last_tile[self.layer],
                                                         last_end[self.layer], full_end[self.layer]))
                self.addr = Signal(range(2 * H), name=f"{name}_addr")
                m.d.comb += self.addr.eq(self.word + Mux(self.slot, H, 0))

            def advance(self):
                with m.If(self.end):
                    m.d.sync += [self.word.eq(0), self.slot.eq(~self.slot)]
                    with m.If(self.tile == last_tile[self.layer]):
                        m.d.sync += self.tile.eq(0)
                        m.d.sync += self.layer.eq(Mux(self.layer == NL - 1, 0, self.layer + 1))
                    with m.Else():
                        m.d.sync += self.tile.eq(self.tile + 1)
                with m.Else():
                    m.d.sync += self.word.eq(self.word + 1)

        wr, rd = Side("wr"), Side("rd")

        # ---- write side: beats -> words -> slot ----
        accept = Signal()
        m.d.comb += [self.s_axis_tready.eq(~full.bit_select(wr.slot, 1)),
                     accept.eq(self.s_axis_tvalid & self.s_axis_tready)]
        if P > 1:
            beats = Signal((P - 1) * D)     # beats 0 .. P-2 of the word, oldest at the bottom
            beat = counter(P, "beat")
            word_in = Signal()
            m.d.comb += word_in.eq(accept & (beat == P - 1))
            with m.If(accept):
                m.d.sync += [beats.eq(Cat(beats[D:], self.s_axis_tdata)),
                             beat.eq(Mux(beat == P - 1, 0, beat + 1))]
            data = Cat(beats, self.s_axis_tdata)[:W]
        else:
            word_in = accept
            data = self.s_axis_tdata[:W]
        m.d.comb += [wp.addr.eq(wr.addr), wp.data.eq(data), wp.en.eq(word_in)]
        with m.If(word_in):
            wr.advance()

        # ---- read side ----
        m.d.comb += [rp.addr.eq(rd.addr), rp.en.eq(self.rd_en), self.rd_data.eq(rp.data),
                     self.tile_ready.eq(full.bit_select(rd.slot, 1))]
        with m.If(self.rd_issue):
            rd.advance()

        # ---- slot flags: the writer sets, the reader clears (never the same slot at once) ----
        for s in range(2):
            with m.If(word_in & wr.end & (wr.slot == s)):
                m.d.sync += full[s].eq(1)
            with m.Elif(self.rd_issue & rd.end & (rd.slot == s)):
                m.d.sync += full[s].eq(0)
        return m
