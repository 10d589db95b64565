"""`digits add`: add two whole numbers with a ripple-carry adder of NAND perceptrons."""

from __future__ import annotations

import argparse

import numpy as np

from ..book.circuits import MAX_ADDER_BITS, adder, adder_inputs, decode_bits, read_bits
from ..errors import CircuitError
from .common import non_negative_int, positive_float

HELP = "add two whole numbers with a circuit of NAND perceptrons"
DESCRIPTION = (
    HELP + ".\n\nBuilds an N-bit ripple-carry adder in which every unit is the same NAND\n"
    "perceptron (weights -2, -2, bias 3), feeds it the bits of A and B, and prints\n"
    "the sum it computes, its number of perceptrons and its depth in layers.\n"
    "With --sigmoid C the same circuit runs with sigmoid neurons whose weights and\n"
    "biases are multiplied by C, and says whether every output bit still comes out right."
)


def adder_width(text: str) -> int:
    try:
        bits = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number of bits, got {text!r}") from None
    if not 1 <= bits <= MAX_ADDER_BITS:
        raise argparse.ArgumentTypeError(f"expected 1 to {MAX_ADDER_BITS} bits, got {bits}")
    return bits


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("a", type=non_negative_int, metavar="A", help="first non-negative number")
    parser.add_argument("b", type=non_negative_int, metavar="B", help="second non-negative number")
    parser.add_argument(
        "--bits",
        type=adder_width,
        metavar="N",
        help="width of the adder in bits (default: just wide enough for A and B)",
    )
    parser.add_argument(
        "--sigmoid",
        type=positive_float,
        metavar="C",
        help="also run the circuit with sigmoid neurons, weights and biases multiplied by C "
        "(default: perceptrons only)",
    )


def width(a: int, b: int, bits: int | None) -> int:
    """The adder's width: ``bits``, checked to hold A and B, or just enough for both."""
    needed = max(a.bit_length(), b.bit_length(), 1)
    if bits is None:
        if needed > MAX_ADDER_BITS:
            raise CircuitError(
                f"A and B need {needed} bits; the widest adder is {MAX_ADDER_BITS} bits"
            )
        return needed
    for name, value in (("A", a), ("B", b)):
        if value.bit_length() > bits:
            raise CircuitError(
                f"{name} = {value} needs {value.bit_length()} bits, too wide for --bits {bits} "
                f"(the largest {bits}-bit number is {2**bits - 1})"
            )
    return bits


def below_half(distance: float) -> str:
    """``distance`` (< 1/2) with just enough digits not to print as 0.5."""
    for digits in range(3, 18):
        text = f"{distance:.{digits}g}"
        if float(text) < 0.5:
            return text
    return repr(distance)


def run(args: argparse.Namespace) -> int:
    bits = width(args.a, args.b, args.bits)
    circuit = adder(bits)
    x = adder_inputs([args.a], [args.b], bits)
    perceptron_bits = circuit.evaluate(x)
    total = int(decode_bits(read_bits(perceptron_bits))[0])
    say = args.console.result  # every line is the result
    say(f"{args.a} + {args.b} = {total}")
    say(
        f"computed by a {bits}-bit ripple-carry adder of {circuit.size} NAND perceptrons "
        f"in {circuit.depth} layers"
    )
    if args.sigmoid is not None:
        sigmoid_bits = circuit.evaluate(x, args.sigmoid)
        sigmoid_total = int(decode_bits(read_bits(sigmoid_bits))[0])
        distance = np.abs(sigmoid_bits - perceptron_bits)
        if np.all(distance < 0.5):
            verdict = (
                f"exact: every output is within {below_half(distance.max())} of its bit (< 1/2)"
            )
        else:
            wrong = int(np.sum(distance >= 0.5))
            verdict = (
                f"NOT exact: {wrong} of {distance.size} output bits "
                f"{'is' if wrong == 1 else 'are'} on the wrong side of 1/2 "
                "(a larger C would fix it)"
            )
        say(f"with sigmoid neurons scaled by {args.sigmoid:g}: {sigmoid_total}, {verdict}")
    return 0
