"""The AXI-Stream top shared by the engines: a core whose ``sync`` domain stalls with the output."""

from amaranth.hdl import EnableInserter, Signal


def stalled_core(m, top, core):
    """Add ``core`` to ``m`` as ``core`` and wire it to ``top``'s AXI-Stream ports.

    The core's ``sync`` domain runs only while ``run = ~out_valid | m_axis_tready``: a held output
    beat freezes the whole engine, input handshake included, one cycle per held cycle. The core
    provides ``in_data``, ``in_valid``, ``in_ready``, ``out_data``, ``out_valid`` and ``out_last``.
    Returns ``run``.
    """
    run = Signal()
    m.submodules.core = EnableInserter({"sync": run})(core)
    m.d.comb += [
        run.eq(~core.out_valid | top.m_axis_tready),
        core.in_data.eq(top.s_axis_tdata),
        core.in_valid.eq(top.s_axis_tvalid),
        top.s_axis_tready.eq(core.in_ready & run),
        top.m_axis_tdata.eq(core.out_data),
        top.m_axis_tvalid.eq(core.out_valid),
        top.m_axis_tlast.eq(core.out_last),
    ]
    return run
