"""Small arithmetic helpers shared by the RTL blocks."""

from amaranth.hdl import Mux


def tree_sum(terms):
    """Sum ``terms`` with a balanced adder tree (Amaranth widens each sum as needed)."""
    terms = list(terms)
    if not terms:
        raise ValueError("tree_sum of nothing")
    while len(terms) > 1:
        paired = [terms[i] + terms[i + 1] for i in range(0, len(terms) - 1, 2)]
        if len(terms) % 2:
            paired.append(terms[-1])
        terms = paired
    return terms[0]


def signed_sum(values, negate):
    """sum_i (-values[i] if negate[i] else values[i]), without a negator per term.

    Two's complement: -v = ~v + 1, so each negated term becomes ``v ^ 1...1`` and the +1s are
    added once as the count of negated terms. The XOR folds into the first level of adders.
    """
    width = max(len(v) for v in values) + 1
    flipped = [v.as_signed() ^ n.replicate(width).as_signed() for v, n in zip(values, negate)]
    count = tree_sum(n.as_unsigned() for n in negate)
    return tree_sum(flipped + [count])


def requantize(acc, shift, relu):
    """saturate_int8(acc >> shift), then max(., 0) if relu: an 8-bit signed value."""
    v = acc >> shift                       # arithmetic: acc is signed
    v = Mux(v > 127, 127, Mux(v < -128, -128, v))
    if relu:
        v = Mux(v < 0, 0, v)
    return v[:8]
