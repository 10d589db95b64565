"""`digits gates`: truth tables of logic gates built from NAND perceptrons alone."""

from __future__ import annotations

import argparse

import numpy as np

from ..book.circuits import GATES, Circuit
from .add import below_half
from .common import positive_float

HELP = "print the truth tables of NOT, AND, OR, XOR and adders built from NAND perceptrons"
DESCRIPTION = (
    HELP + ".\n\nEvery unit is the same perceptron, weights -2, -2 and bias 3: a NAND gate.\n"
    "With --sigmoid C each table also shows the same circuit run with sigmoid\n"
    "neurons whose weights and biases are multiplied by C."
)

TITLES = {
    "nand": "NAND",
    "not": "NOT",
    "and": "AND",
    "or": "OR",
    "xor": "XOR",
    "half-adder": "half adder",
    "full-adder": "full adder",
}


def gate_name(text: str) -> str:
    name = text.lower()
    if name not in GATES:
        raise argparse.ArgumentTypeError(f"unknown gate {text!r}; known: {', '.join(GATES)}")
    return name


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "gates",
        nargs="*",
        type=gate_name,
        metavar="GATE",
        help=f"gates to show, from: {', '.join(GATES)} (default: all)",
    )
    parser.add_argument(
        "--sigmoid",
        type=positive_float,
        metavar="C",
        help="also run each circuit with sigmoid neurons scaled by C (default: perceptrons only)",
    )


def table(circuit: Circuit, c: float | None) -> list[str]:
    """The truth table's lines: inputs | outputs [| sigmoid outputs]."""
    x, y = circuit.truth_table()
    columns = [*circuit.inputs, "|", *circuit.outputs]
    cells = [[*map(str, xi), "|", *map(str, yi)] for xi, yi in zip(x, y)]
    if c is not None:
        sig = circuit.evaluate(x, c)
        columns += ["|", *(f"σ {name}" for name in circuit.outputs)]
        for row, si in zip(cells, sig):
            row += ["|", *(f"{v:.4f}" for v in si)]
    widths = [max(len(col), *(len(row[i]) for row in cells)) for i, col in enumerate(columns)]
    return [
        "  " + " ".join(cell.rjust(w) for cell, w in zip(row, widths)) for row in [columns, *cells]
    ]


def run(args: argparse.Namespace) -> int:
    say = args.console.result  # every line is the result
    for i, name in enumerate(args.gates or GATES):
        circuit = GATES[name]()
        units = "perceptron" if circuit.size == 1 else "perceptrons"
        layers = "layer" if circuit.depth == 1 else "layers"
        if i:
            say("")
        say(f"{TITLES[name]}: {circuit.size} NAND {units}, {circuit.depth} {layers}")
        for line in table(circuit, args.sigmoid):
            say(line)
        if args.sigmoid is not None:
            x, y = circuit.truth_table()
            worst = float(np.max(np.abs(circuit.evaluate(x, args.sigmoid) - y)))
            if worst < 0.5:
                verdict = f"exact: every output is within {below_half(worst)} of its bit"
            else:
                verdict = "NOT exact: some output is on the wrong side of 1/2"
            say(f"  sigmoid × {args.sigmoid:g}: {verdict}")
    return 0
