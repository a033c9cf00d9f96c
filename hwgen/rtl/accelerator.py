"""The accelerator top: every layer of a model on one ternary engine, AXI-Stream in and out."""

from amaranth.hdl import Array, Cat, Const, Elaboratable, EnableInserter, Module, Signal, signed, unsigned
from amaranth.lib import enum, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..engine import DRAIN, STAGE_ACC_READ, STAGE_WRITE
from ..streaming import memory_of, tile_plan
from .addertree import AdderTreeDot
from .arith import requantize
from .outqueue import OutputQueue
from .tlmm import TlmmDot
from .weightbuf import WeightBuffer


class State(enum.Enum, shape=2):
    LOAD = 0    # accept input beats into activation bank 0
    BUILD = 1   # prologue of a tlmm layer: build the first chunk's tables
    RUN = 2     # one period per chunk, one output block issued per cycle
    DRAIN = 3   # let the last blocks of the layer leave the pipeline


class Accelerator(wiring.Component):
    """Runs every layer of ``plan.model`` on one engine, one input vector at a time.

    Ports (AXI-Stream names; clock ``clk``, synchronous active-high reset ``rst``):

    ``s_axis_tdata/tvalid/tready``
        Input beats of ``lanes`` int8 values (lane ``i`` at bits ``8i .. 8i+7``): a vector of
        ``in_features`` values is ``input_chunks`` beats, feature ``k`` in lane ``k % lanes`` of
        beat ``k // lanes``; the unused lanes of the last beat are ignored.
    ``m_axis_tdata/tvalid/tready/tlast``
        Output beats of ``columns`` results (8-bit, or 32-bit accumulators for ``output: acc``);
        beat ``b`` carries outputs ``b * columns ..``; ``tlast`` marks the last beat of a vector.

    Timing: see ``hwgen.plan`` and the stage constants of ``hwgen.engine``. ``s_axis_tready`` is
    high only while loading, and for a vector's first beat only when the output queue
    (``hwgen.rtl.outqueue``) can reserve room for all of the vector's output beats: ``m_axis``
    backpressure moves the queue, never the engine. With the output always ready the schedule is
    fixed (``Plan.total_cycles``); for a ready pattern, ``Plan.output_schedule``.

    With ``memory: {weights: stream}`` (``hwgen.streaming``) the weights are not a ROM but come in on
    ``s_axis_weights_tdata/tvalid/tready`` (``dram_bits`` wide: the words of
    ``Plan.weight_memory``, each ``ceil(word_bits / dram_bits)`` beats, little-endian, once per
    vector) into a ``WeightBuffer``. In a cycle where the engine would issue a word of a tile that
    is not complete, the engine is frozen (one cycle lost) and ``m_axis_tvalid`` is held low; this
    variant has no output queue: a held output beat freezes the engine too, one cycle per held
    cycle (``hwgen.streaming.StreamModel``).
    """

    def __init__(self, plan):
        self.plan = plan
        mem = memory_of(plan.model)
        self.stream = mem if mem.stream else None
        ports = {
            "s_axis_tdata": In(8 * plan.lanes),
            "s_axis_tvalid": In(1),
            "s_axis_tready": Out(1),
            "m_axis_tdata": Out(plan.out_bits * plan.columns),
            "m_axis_tvalid": Out(1),
            "m_axis_tready": In(1),
            "m_axis_tlast": Out(1),
        }
        if self.stream is not None:
            ports.update({
                "s_axis_weights_tdata": In(mem.dram_bits),
                "s_axis_weights_tvalid": In(1),
                "s_axis_weights_tready": Out(1),
            })
        super().__init__(ports)

    def elaborate(self, platform):
        if self.stream is not None:
            return self._elaborate_stream()
        m = Module()
        m.submodules.core = core = _Core(self.plan)
        m.submodules.queue = queue = OutputQueue(self.plan.out_bits * self.plan.columns, self.plan.out_beats)
        accept = Signal()               # a vector may start: its output beats are reserved
        m.d.comb += [
            accept.eq(~core.in_first | queue.can_reserve),
            core.in_data.eq(self.s_axis_tdata),
            core.in_valid.eq(self.s_axis_tvalid & accept),
            self.s_axis_tready.eq(core.in_ready & accept),
            queue.reserve.eq(core.in_first & self.s_axis_tvalid & queue.can_reserve),
            queue.w_data.eq(core.out_data),
            queue.w_last.eq(core.out_last),
            queue.w_en.eq(core.out_valid),
            self.m_axis_tdata.eq(queue.m_axis_tdata),
            self.m_axis_tvalid.eq(queue.m_axis_tvalid),
            self.m_axis_tlast.eq(queue.m_axis_tlast),
            queue.m_axis_tready.eq(self.m_axis_tready),
        ]
        return m

    def _elaborate_stream(self):
        m = Module()
        core = _Core(self.plan, stream=True)
        run = Signal()
        m.submodules.core = EnableInserter({"sync": run})(core)
        m.submodules.weight_buffer = wbuf = WeightBuffer(tile_plan(self.plan, self.stream), self.stream.ram_style)
        wstall = Signal()               # the engine would issue a word of an incomplete tile
        m.d.comb += [
            wstall.eq(core.w_issue & ~wbuf.tile_ready),
            run.eq(~wstall & (~core.out_valid | self.m_axis_tready)),
            core.in_data.eq(self.s_axis_tdata),
            core.in_valid.eq(self.s_axis_tvalid),
            self.s_axis_tready.eq(core.in_ready & run),
            self.m_axis_tdata.eq(core.out_data),
            self.m_axis_tvalid.eq(core.out_valid & ~wstall),
            self.m_axis_tlast.eq(core.out_last),
            wbuf.s_axis_tdata.eq(self.s_axis_weights_tdata),
            wbuf.s_axis_tvalid.eq(self.s_axis_weights_tvalid),
            self.s_axis_weights_tready.eq(wbuf.s_axis_tready),
            wbuf.rd_issue.eq(core.w_issue & run),
            wbuf.rd_en.eq(run),
            core.w_data.eq(wbuf.rd_data),
        ]
        return m


class _Core(Elaboratable):
    """The engine with its sequencer and memories; its ``sync`` domain runs only when enabled.

    With ``stream`` the weight words come from outside: ``w_issue`` (out) is high in a cycle that
    issues a block (the word at the weight buffer's read pointer), and ``w_data`` (in) must carry
    that word from the next enabled cycle on.
    """

    def __init__(self, plan, stream=False):
        self.plan = plan
        self.stream = stream
        if stream:
            self.w_issue = Signal()
            self.w_data = Signal(plan.engine.weight_word_bits)
        self.in_data = Signal(8 * plan.lanes)
        self.in_valid = Signal()
        self.in_ready = Signal()
        self.out_data = Signal(plan.out_bits * plan.columns)
        self.out_valid = Signal()
        self.out_last = Signal()
        self.in_first = Signal()        # loading, and the next input beat is a vector's first

    def elaborate(self, platform):
        plan = self.plan
        e = plan.engine
        L, N, R = e.lanes, e.columns, plan.row_lanes
        S, Q = plan.subchunks, plan.blocks_per_row
        layers = plan.layers
        NL = len(layers)
        tlmm = e.kind == "tlmm"
        m = Module()

        # ---- memories ----
        rom = not self.stream
        if rom:
            wmem = Memory(shape=unsigned(e.weight_word_bits), depth=plan.weight_words, init=plan.weight_memory)
            m.submodules.weights = wmem
        amem = Memory(shape=unsigned(8 * R), depth=2 << plan.act_row_bits, init=[])
        cmem = Memory(shape=unsigned(N * plan.acc_bits), depth=plan.acc_depth, init=[])
        m.submodules.activations, m.submodules.accumulators = amem, cmem
        if rom:
            w_rd = wmem.read_port()
        a_rd = amem.read_port()
        a_wr = amem.write_port(granularity=8)
        c_rd = cmem.read_port()
        c_wr = cmem.write_port()

        # ---- per-layer constants ----
        def table(values):
            width = max(1, max(values).bit_length())
            return Array(Const(v, width) for v in values)

        last_chunk = table([lp.chunks - 1 for lp in layers])
        last_block = table([lp.blocks - 1 for lp in layers])
        last_cycle = table([lp.period - 1 for lp in layers])

        def counter(limit, name):
            """A counter for 0 .. limit - 1, at least one bit wide (Verilog has no empty vectors)."""
            return Signal(range(max(2, limit)), name=name)

        # ---- sequencer ----
        state = Signal(State)
        layer = counter(NL, "layer")              # its LSB picks the activation bank
        chunk = counter(max(lp.chunks for lp in layers), "chunk")
        cycle = counter(max([lp.period for lp in layers] + [e.build_cycles, DRAIN]) + 1, "cycle")
        if rom:
            waddr = counter(plan.weight_words, "waddr")
        pos_row = counter(plan.act_rows, "pos_row")    # next chunk to load or fetch: row ...
        pos_sub = counter(S, "pos_sub")                # ... and sub-chunk within the row
        parity = Signal()                           # table bank of the next fetched chunk
        blk_row = counter(plan.act_rows, "blk_row")    # where the block issued next lands
        blk_slot = counter(Q, "blk_slot")

        def advance_pos():
            with m.If(pos_sub == S - 1):
                m.d.sync += [pos_sub.eq(0), pos_row.eq(pos_row + 1)]
            with m.Else():
                m.d.sync += pos_sub.eq(pos_sub + 1)

        def start_layer(next_layer):
            m.d.sync += [layer.eq(next_layer), chunk.eq(0), cycle.eq(0),
                         pos_row.eq(0), pos_sub.eq(0), parity.eq(0),
                         state.eq(State.BUILD if tlmm else State.RUN)]

        is_run = state == State.RUN
        issue = is_run & (cycle <= last_block[layer])
        fetch = Signal()
        m.d.comb += fetch.eq(((state == State.BUILD) & (cycle == 0)) |
                             (is_run & (cycle == 0) & ((chunk != last_chunk[layer]) if tlmm else 1)))
        m.d.comb += [self.in_ready.eq(state == State.LOAD),
                     self.in_first.eq((state == State.LOAD) & (chunk == 0))]

        with m.Switch(state):
            with m.Case(State.LOAD):
                with m.If(self.in_valid):
                    advance_pos()
                    m.d.sync += chunk.eq(chunk + 1)
                    with m.If(chunk == layers[0].chunks - 1):
                        if rom:
                            m.d.sync += waddr.eq(0)
                        start_layer(0)
            with m.Case(State.BUILD):
                m.d.sync += cycle.eq(cycle + 1)
                with m.If(cycle == e.build_cycles - 1):
                    m.d.sync += [state.eq(State.RUN), cycle.eq(0)]
            with m.Case(State.RUN):
                with m.If((chunk == last_chunk[layer]) & (cycle == last_block[layer])):
                    m.d.sync += [state.eq(State.DRAIN), cycle.eq(0)]
                with m.Elif(cycle == last_cycle[layer]):
                    m.d.sync += [cycle.eq(0), chunk.eq(chunk + 1)]
                with m.Else():
                    m.d.sync += cycle.eq(cycle + 1)
            with m.Case(State.DRAIN):
                m.d.sync += cycle.eq(cycle + 1)
                with m.If(cycle == DRAIN - 1):
                    with m.If(layer == NL - 1):
                        m.d.sync += [state.eq(State.LOAD), layer.eq(0), chunk.eq(0), cycle.eq(0),
                                     pos_row.eq(0), pos_sub.eq(0)]
                    with m.Else():
                        start_layer(layer + 1)

        with m.If(fetch):
            advance_pos()
            m.d.sync += parity.eq(~parity)

        # block placement in the next activation bank (used by the last chunk's blocks)
        cur_row = Signal.like(blk_row)
        cur_slot = Signal.like(blk_slot)
        m.d.comb += [cur_row.eq(blk_row), cur_slot.eq(blk_slot)]
        with m.If(cycle == 0):
            m.d.comb += [cur_row.eq(0), cur_slot.eq(0)]
        with m.If(issue):
            if rom:
                m.d.sync += waddr.eq(waddr + 1)
            with m.If(cur_slot == Q - 1):
                m.d.sync += [blk_slot.eq(0), blk_row.eq(cur_row + 1)]
            with m.Else():
                m.d.sync += [blk_slot.eq(cur_slot + 1), blk_row.eq(cur_row)]

        # ---- activation fetch: the chunk the builder (tlmm) or the adder tree (addertree) uses ----
        fetch_sub = counter(S, "fetch_sub")
        m.d.comb += [a_rd.addr.eq(Cat(pos_row[:plan.act_row_bits], layer[0])), a_rd.en.eq(fetch)]
        with m.If(fetch):
            m.d.sync += fetch_sub.eq(pos_sub)
        subs = Array(a_rd.data[s * 8 * L:(s + 1) * 8 * L] for s in range(S))
        chunk_bits = subs[fetch_sub] if S > 1 else a_rd.data[:8 * L]
        chunk_lanes = [chunk_bits[8 * x:8 * x + 8].as_signed() for x in range(L)]

        # ---- pipeline control: stage records s1 .. s{STAGE_WRITE} (hwgen.engine), one per cycle ----
        def field(limit, name):     # a pipeline field: meaningful only while its stage is valid
            return Signal(range(max(2, limit)), name=name, reset_less=True)

        def stage(name):
            return {
                "valid": Signal(name=f"{name}_valid"),
                "block": field(plan.acc_depth, f"{name}_block"),
                "first": field(2, f"{name}_first"),
                "last": field(2, f"{name}_last"),
                "bank": field(2, f"{name}_bank"),
                "row": field(plan.act_rows, f"{name}_row"),
                "slot": field(Q, f"{name}_slot"),
                "layer": field(NL, f"{name}_layer"),
            }
        st = [None] + [stage(f"s{i}") for i in range(1, STAGE_WRITE + 1)]
        s1, s_acc, s3 = st[1], st[STAGE_ACC_READ + 1], st[STAGE_WRITE]   # issue, accumulate, write
        m.d.sync += [
            s1["valid"].eq(issue), s1["block"].eq(cycle), s1["first"].eq(chunk == 0),
            s1["last"].eq(chunk == last_chunk[layer]), s1["bank"].eq(chunk[0]),
            s1["row"].eq(cur_row), s1["slot"].eq(cur_slot), s1["layer"].eq(layer),
        ]
        for a, b in zip(st[1:], st[2:]):
            m.d.sync += [b[k].eq(a[k]) for k in a]

        # S0 -> S1: weight word
        if rom:
            m.d.comb += w_rd.addr.eq(waddr)
            w_data = w_rd.data
        else:
            m.d.comb += self.w_issue.eq(issue)
            w_data = self.w_data

        # S1: partial sums
        if tlmm:
            m.submodules.dot = dot = TlmmDot(e)
            m.d.comb += [dot.build_start.eq(fetch), dot.build_bank.eq(parity), dot.bank.eq(s1["bank"])]
        else:
            m.submodules.dot = dot = AdderTreeDot(e)
        m.d.comb += [dot.weights.eq(w_data)] + [dot.chunk[x].eq(chunk_lanes[x]) for x in range(L)]
        # partial sums registered DOT_STAGES + 1 cycles after S1; the accumulator read meanwhile
        partial = [Signal(signed(plan.acc_bits), name=f"partial{n}", reset_less=True) for n in range(N)]
        m.d.sync += [partial[n].eq(dot.partial[n]) for n in range(N)]
        m.d.comb += c_rd.addr.eq(st[STAGE_ACC_READ]["block"])

        # accumulate
        acc = [Signal(signed(plan.acc_bits), name=f"acc{n}", reset_less=True) for n in range(N)]
        for n in range(N):
            old = c_rd.data[n * plan.acc_bits:(n + 1) * plan.acc_bits].as_signed()
            with m.If(s_acc["first"]):
                m.d.sync += acc[n].eq(partial[n])
            with m.Else():
                m.d.sync += acc[n].eq(old + partial[n])

        # write back, or requantize into the next bank / the output
        final = s3["layer"] == NL - 1
        m.d.comb += [c_wr.addr.eq(s3["block"]), c_wr.data.eq(Cat(*acc)),
                     c_wr.en.eq(s3["valid"] & ~s3["last"])]
        rq = [Signal(signed(8), name=f"rq{n}") for n in range(N)]
        with m.Switch(s3["layer"]):
            for lp in layers:
                if lp.layer.requant is not None:
                    with m.Case(lp.index):
                        m.d.comb += [rq[n].eq(requantize(acc[n], lp.layer.requant.shift, lp.layer.requant.relu))
                                     for n in range(N)]
        block_bits = Cat(*rq)
        with m.If(state == State.LOAD):
            m.d.comb += [
                a_wr.addr.eq(Cat(pos_row[:plan.act_row_bits], Const(0, 1))),
                a_wr.data.eq(Cat(*[self.in_data] * S)),
                a_wr.en.eq(Cat(*[((pos_sub == s) & self.in_valid).replicate(L) for s in range(S)])),
            ]
        with m.Else():
            write_block = s3["valid"] & s3["last"] & ~final
            m.d.comb += [
                a_wr.addr.eq(Cat(s3["row"][:plan.act_row_bits], ~s3["layer"][0])),
                a_wr.data.eq(Cat(*[block_bits] * Q)),
                a_wr.en.eq(Cat(*[((s3["slot"] == q) & write_block).replicate(N) for q in range(Q)])),
            ]

        out_lanes = [Signal(signed(plan.out_bits), name=f"out{n}") for n in range(N)]
        m.d.comb += [out_lanes[n].eq(acc[n] if plan.out_acc else rq[n]) for n in range(N)]
        result = [self.out_valid.eq(s3["valid"] & s3["last"] & final),
                  self.out_data.eq(Cat(*out_lanes)),
                  self.out_last.eq(s3["block"] == layers[-1].blocks - 1)]
        if self.stream:
            m.d.sync += result          # the output register (frozen with the engine)
        else:
            m.d.comb += result          # into the output queue, which registers it
        return m
