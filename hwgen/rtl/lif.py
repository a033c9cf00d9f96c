"""The LIF core: spiking layers on ``neurons`` time-multiplexed update units, and its AXI-Stream top.

Contract of ``hwgen_top`` for a spiking model (clock ``clk``, synchronous active-high ``rst``):

``s_axis_tdata[W-1:0]``, ``s_axis_tvalid``, ``s_axis_tready``, ``s_axis_tlast``
    One beat = ``W = engine.lanes`` input spike bits: bit ``i`` of beat ``c`` of a timestep is
    input feature ``c * W + i``; a timestep is ``ceil(in_features / W)`` beats (bits past
    ``in_features`` are ignored). ``tlast`` on the last beat of a sample's last timestep: the
    next timestep starts a new sample (membranes from 0). ``tready`` is high only while a
    timestep is being loaded.
``m_axis_tdata``, ``m_axis_tvalid``, ``m_axis_tready``, ``m_axis_tlast``
    One beat per block of ``P = engine.neurons`` neurons of the last layer, per timestep:
    bit ``n`` = spike of neuron ``b * P + n`` (0 for padding neurons); with ``output: membrane``
    the ``P`` membranes after the update follow, ``membrane_bits`` each (two's complement),
    neuron ``n`` at bits ``P + n * membrane_bits``. ``tlast`` on the last beat of a sample.

Schedule (cycle-exact, ``hwgen.lif``): per timestep, ``ceil(K_0 / W)`` load cycles; per layer an
accumulate phase (event: one cycle per (spiking input, block), one per spike-free scanner word;
dense: one per (input, block)), ``B`` update cycles, and one drain cycle between layers. A held
output beat (``tvalid`` and not ``tready``) freezes the whole core for that cycle. After reset
the core clears its current memory (``current_words`` cycles) before it accepts input.

Pipeline: an accumulate issue at cycle t reads the weight word and the current word of its
block (synchronous reads), and writes the sum back at t + 1; the current memory's read port is
transparent to its write port, so back-to-back events on one block need no bubble. An update
issue at t reads the membrane and current words, at t + 1 writes the new membranes, clears the
currents and writes the block's spikes into the next spike bank (or the output register).
"""

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import enum, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .stall import stalled_core


class State(enum.Enum, shape=3):
    INIT = 0    # after reset: clear the current memory
    LOAD = 1    # accept one timestep's input beats into spike bank 0
    ACC = 2     # accumulate phase of a layer
    UPD = 3     # update phase of a layer
    DRAIN = 4   # let the last block's spikes land before the next layer scans them


def _counter(limit, name):
    return Signal(range(max(2, limit)), name=name)


def _table(values, signed_=False):
    width = max(1, max(abs(v) for v in values).bit_length() + (1 if signed_ else 0))
    return Array(Const(v, signed(width) if signed_ else unsigned(width)) for v in values)


class LifCore(wiring.Component):
    """Every spiking layer of ``plan.model`` on ``plan.neurons`` update units (see module doc).

    Its ``sync`` domain may be gated by an enable (the top stalls it on output backpressure).
    """

    def __init__(self, plan):
        self.plan = plan
        super().__init__({
            "in_data": In(plan.lanes),
            "in_valid": In(1),
            "in_last": In(1),
            "in_ready": Out(1),
            "out_data": Out(plan.out_beat_bits),
            "out_valid": Out(1),
            "out_last": Out(1),
        })

    def elaborate(self, platform):
        plan = self.plan
        m = Module()
        P, W = plan.neurons, plan.lanes
        layers = plan.layers
        NL = len(layers)
        wb, mb, cb = plan.weight_bits, plan.membrane_bits, plan.current_bits
        event = plan.mode == "event"

        # ---- memories ----
        wmem = Memory(shape=unsigned(P * wb), depth=plan.weight_words, init=plan.weight_memory)
        mmem = Memory(shape=unsigned(P * mb), depth=plan.membrane_words, init=[])
        cmem = Memory(shape=unsigned(P * cb), depth=plan.current_words, init=[])
        m.submodules.weights, m.submodules.membranes, m.submodules.currents = wmem, mmem, cmem
        w_rd = wmem.read_port()
        m_rd = mmem.read_port()
        m_wr = mmem.write_port()
        c_wr = cmem.write_port()
        c_rd = cmem.read_port(transparent_for=(c_wr,))

        # ---- per-layer constants ----
        last_input = _table([lp.inputs - 1 for lp in layers])
        last_block = _table([lp.blocks - 1 for lp in layers])
        last_word = _table([lp.words - 1 for lp in layers])
        word_mask = _table([(1 << (lp.inputs - (lp.words - 1) * W)) - 1 for lp in layers])
        mem_base = _table([lp.membrane_base for lp in layers])

        # ---- spike banks: bank l % 2 is read by layer l, bank 0 is loaded from the input ----
        banks = [Signal(plan.bank_bits, name=f"bank{i}") for i in range(2)]

        # ---- sequencer ----
        state = Signal(State, init=State.INIT)
        layer = _counter(NL, "layer")
        ld = _counter(plan.input_chunks, "ld")
        blk = _counter(max(lp.blocks for lp in layers), "blk")
        word = _counter(max(lp.words for lp in layers), "word")
        done = Signal(W, name="done")
        inp = _counter(max(lp.inputs for lp in layers), "inp")
        clr = _counter(plan.current_words, "clr")
        first_ts = Signal(init=1)          # this timestep starts a sample: membranes read as 0
        ts_last = Signal()                 # this timestep ends a sample

        in_bank = Mux(layer[0], banks[1], banks[0])
        m.d.comb += self.in_ready.eq(state == State.LOAD)

        # event scanner: lowest pending spike of the current word
        idx_bits = max(1, (W - 1).bit_length())
        pend = Signal(W, name="pend")
        low = Signal(W, name="low")
        idx = Signal(idx_bits, name="idx")
        cur_word = in_bank.word_select(word, W) if plan.bank_bits > W else in_bank[:W]
        m.d.comb += [
            pend.eq(cur_word & Mux(word == last_word[layer], word_mask[layer], (1 << W) - 1) & ~done),
            low.eq(pend & (~pend + 1)),
            idx.eq(Cat(*[Cat(*[low[i] for i in range(W) if (i >> k) & 1]).any() for k in range(idx_bits)])),
        ]
        has = pend.any()
        only = (pend & (pend - 1))[:W] == 0

        # issue signals of the accumulate phase
        is_acc = state == State.ACC
        iss_valid = Signal()
        iss_input = Signal(range(max(2, max(lp.inputs for lp in layers))), name="iss_input")
        iss_spike = Signal()
        if event:
            m.d.comb += [iss_valid.eq(is_acc & has), iss_input.eq(word * W + idx), iss_spike.eq(1)]
        else:
            m.d.comb += [iss_valid.eq(is_acc), iss_input.eq(inp), iss_spike.eq(in_bank.bit_select(inp, 1))]

        def start_acc(next_layer):
            m.d.sync += [state.eq(State.ACC), layer.eq(next_layer), word.eq(0), done.eq(0), inp.eq(0), blk.eq(0)]

        def end_acc():
            m.d.sync += [state.eq(State.UPD), blk.eq(0)]

        with m.Switch(state):
            with m.Case(State.INIT):
                m.d.sync += clr.eq(clr + 1)
                with m.If(clr == plan.current_words - 1):
                    m.d.sync += [state.eq(State.LOAD), ld.eq(0), layer.eq(0), first_ts.eq(1)]
            with m.Case(State.LOAD):
                with m.If(self.in_valid):
                    if plan.bank_bits > W:
                        m.d.sync += banks[0].word_select(ld, W).eq(self.in_data)
                    else:
                        m.d.sync += banks[0][:W].eq(self.in_data)
                    with m.If(ld == plan.input_chunks - 1):
                        m.d.sync += [ld.eq(0), ts_last.eq(self.in_last)]
                        start_acc(0)
                    with m.Else():
                        m.d.sync += ld.eq(ld + 1)
            with m.Case(State.ACC):
                if event:
                    with m.If(~has):                          # a word without (more) spikes
                        with m.If(word == last_word[layer]):
                            end_acc()
                        with m.Else():
                            m.d.sync += [word.eq(word + 1), done.eq(0)]
                    with m.Elif(blk == last_block[layer]):
                        m.d.sync += blk.eq(0)
                        with m.If(only):
                            with m.If(word == last_word[layer]):
                                end_acc()
                            with m.Else():
                                m.d.sync += [word.eq(word + 1), done.eq(0)]
                        with m.Else():
                            m.d.sync += done.eq(done | low)
                    with m.Else():
                        m.d.sync += blk.eq(blk + 1)
                else:
                    with m.If(blk == last_block[layer]):
                        m.d.sync += blk.eq(0)
                        with m.If(inp == last_input[layer]):
                            end_acc()
                        with m.Else():
                            m.d.sync += inp.eq(inp + 1)
                    with m.Else():
                        m.d.sync += blk.eq(blk + 1)
            with m.Case(State.UPD):
                m.d.sync += blk.eq(blk + 1)
                with m.If(blk == last_block[layer]):
                    m.d.sync += blk.eq(0)
                    with m.If(layer == NL - 1):
                        m.d.sync += [state.eq(State.LOAD), layer.eq(0), first_ts.eq(ts_last)]
                    with m.Else():
                        m.d.sync += state.eq(State.DRAIN)
            with m.Case(State.DRAIN):
                start_acc(layer + 1)

        # ---- addresses ----
        waddr = Signal(range(max(2, plan.weight_words)), name="waddr")
        with m.Switch(layer):
            for lp in layers:
                with m.Case(lp.index):
                    m.d.comb += waddr.eq(lp.weight_base + iss_input * lp.blocks + blk)
        is_upd = state == State.UPD
        m.d.comb += [w_rd.addr.eq(waddr), m_rd.addr.eq(mem_base[layer] + blk), c_rd.addr.eq(blk)]

        # ---- stage 1 registers ----
        a_valid = Signal()
        a_spike = Signal()
        a_blk = Signal.like(blk, name="a_blk")
        u_valid = Signal()
        u_blk = Signal.like(blk, name="u_blk")
        u_layer = Signal.like(layer, name="u_layer")
        u_first = Signal()
        u_last = Signal()
        u_maddr = Signal.like(m_rd.addr, name="u_maddr")
        m.d.sync += [
            a_valid.eq(iss_valid), a_spike.eq(iss_spike), a_blk.eq(blk),
            u_valid.eq(is_upd), u_blk.eq(blk), u_layer.eq(layer), u_first.eq(first_ts),
            u_last.eq(ts_last), u_maddr.eq(m_rd.addr),
        ]

        # ---- stage 1: accumulate ----
        w_lane = [w_rd.data[n * wb:(n + 1) * wb].as_signed() for n in range(P)]
        c_lane = [c_rd.data[n * cb:(n + 1) * cb].as_signed() for n in range(P)]
        acc_new = [Signal(signed(cb), name=f"cur{n}") for n in range(P)]
        m.d.comb += [acc_new[n].eq(c_lane[n] + Mux(a_spike, w_lane[n], 0)) for n in range(P)]

        # ---- stage 1: update ----
        v_old = [Mux(u_first, 0, m_rd.data[n * mb:(n + 1) * mb].as_signed()) for n in range(P)]
        v_new = [Signal(signed(mb), name=f"v{n}") for n in range(P)]
        fire = [Signal(name=f"fire{n}") for n in range(P)]
        with m.Switch(u_layer):
            for lp in layers:
                l = lp.layer
                valid_last = l.out_features - (lp.blocks - 1) * P     # real neurons in the last block
                with m.Case(lp.index):
                    for n in range(P):
                        v = v_old[n]
                        leaked = v if l.leak_shift is None else v - (v >> l.leak_shift)
                        u = Signal(signed(max(mb, cb) + 2), name=f"u{lp.index}_{n}")
                        sat = Signal(signed(l.membrane_bits), name=f"sat{lp.index}_{n}")
                        m.d.comb += [
                            u.eq(leaked + c_lane[n]),
                            sat.eq(Mux(u > l.v_max, l.v_max, Mux(u < l.v_min, l.v_min, u))),
                        ]
                        f = (sat >= l.threshold) if l.compare == "ge" else (sat > l.threshold)
                        if n >= valid_last:
                            f = f & (u_blk != lp.blocks - 1)
                        after = 0 if l.reset == "zero" else sat - l.threshold
                        m.d.comb += [fire[n].eq(f), v_new[n].eq(Mux(f, after, sat))]
        spikes = Cat(*fire)

        # ---- stage 1 writes ----
        m.d.comb += [
            m_wr.addr.eq(u_maddr), m_wr.data.eq(Cat(*v_new)), m_wr.en.eq(u_valid),
        ]
        with m.If(state == State.INIT):
            m.d.comb += [c_wr.addr.eq(clr), c_wr.data.eq(0), c_wr.en.eq(1)]
        with m.Elif(a_valid):
            m.d.comb += [c_wr.addr.eq(a_blk), c_wr.data.eq(Cat(*acc_new)), c_wr.en.eq(1)]
        with m.Elif(u_valid):
            m.d.comb += [c_wr.addr.eq(u_blk), c_wr.data.eq(0), c_wr.en.eq(1)]

        # spikes of a hidden layer into the next bank (layer l writes bank (l + 1) % 2)
        hidden = u_valid & (u_layer != NL - 1)
        for bank_idx, bank in enumerate(banks):
            writes = hidden & (u_layer[0] == (1 - bank_idx))
            if plan.bank_bits > P:
                with m.If(writes):
                    m.d.sync += bank.word_select(u_blk, P).eq(spikes)
            else:
                with m.If(writes):
                    m.d.sync += bank[:P].eq(spikes)

        # output register
        last_lp = layers[-1]
        out_fields = [spikes]
        if plan.out_membrane:
            out_fields += [v_new[n][:last_lp.layer.membrane_bits] for n in range(P)]
        m.d.sync += [
            self.out_valid.eq(u_valid & (u_layer == NL - 1)),
            self.out_data.eq(Cat(*out_fields)),
            self.out_last.eq(u_last & (u_blk == last_lp.blocks - 1)),
        ]
        return m


class LifTop(wiring.Component):
    """``hwgen_top`` of a spiking model: the LIF core with AXI-Stream ports (module docstring)."""

    def __init__(self, plan):
        self.plan = plan
        super().__init__({
            "s_axis_tdata": In(plan.lanes),
            "s_axis_tvalid": In(1),
            "s_axis_tready": Out(1),
            "s_axis_tlast": In(1),
            "m_axis_tdata": Out(plan.out_beat_bits),
            "m_axis_tvalid": Out(1),
            "m_axis_tready": In(1),
            "m_axis_tlast": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        core = LifCore(self.plan)
        stalled_core(m, self, core)
        m.d.comb += core.in_last.eq(self.s_axis_tlast)
        return m
