"""Small arithmetic helpers shared by the RTL blocks."""

from amaranth.hdl import Cat, Const, Mux, Signal


def tree_sum(terms):
    """Sum ``terms`` with a balanced adder tree (Amaranth widens each sum as needed)."""
    terms = list(terms)
    if not terms:
        raise ValueError("tree_sum of nothing")
    while len(terms) > 1:
        terms = _pair(terms)
    return terms[0]


def _pair(terms):
    """One level of a balanced adder tree."""
    paired = [terms[i] + terms[i + 1] for i in range(0, len(terms) - 1, 2)]
    if len(terms) % 2:
        paired.append(terms[-1])
    return paired


def register(m, value, name):
    """``value`` through a ``sync`` register of its own shape (a datapath register: no reset)."""
    r = Signal(value.shape(), name=name, reset_less=True)
    m.d.sync += r.eq(value)
    return r


def staged_tree_sum(m, terms, levels, name):
    """A balanced adder tree over ``terms`` whose first ``levels`` adder levels end in registers.

    Returns the combinational rest of the tree: the sum appears ``levels`` cycles after the
    terms. (``levels = 0`` is ``tree_sum``.)
    """
    terms = list(terms)
    for lv in range(levels):
        if len(terms) > 1:
            terms = _pair(terms)
        terms = [register(m, t, f"{name}_l{lv}_{i}") for i, t in enumerate(terms)]
    return tree_sum(terms)


def sign_flip(value, negate):
    """``value`` (signed) with all bits inverted when ``negate``, one bit wider: ``-value - 1``.

    Two's complement: -v = ~v + 1, so a sum of terms some of which are negated is the sum of the
    flipped terms plus the count of negated ones, without a negator per term.
    """
    width = len(value) + 1
    return value.as_signed() ^ negate.replicate(width).as_signed()


def requantize(acc, shift, relu):
    """saturate_int8(acc >> shift), then max(., 0) if relu: an 8-bit signed value.

    Without comparators: the shifted value fits in int8 exactly when its bits 7 and up are all
    equal; otherwise it saturates towards its sign. With ``relu`` a negative value becomes 0.
    """
    v = (acc >> shift).as_signed()         # arithmetic: acc is signed
    if len(v) < 9:                         # sign-extend so that bits 7.. exist
        v = Cat(v, v[-1].replicate(9 - len(v))).as_signed()
    top = v[7:]
    fits = top.all() | ~top.any()
    sign = v[-1]
    r = Mux(fits, v[:8], Mux(sign, Const(0x80, 8), Const(0x7F, 8)))
    if relu:
        r = Mux(sign, Const(0, 8), r)
    return r
