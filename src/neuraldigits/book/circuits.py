"""Circuits of perceptrons: NAND is universal, so perceptrons can compute anything.

A :class:`Circuit` has named inputs, units and named outputs.  Each unit is a
perceptron reading earlier signals (inputs or other units); in the circuits
built here every unit is the same :data:`~neuraldigits.book.perceptron.NAND`
perceptron (weights −2, −2, bias 3).  The circuit is a feedforward network: a
unit's *depth* is one more than the deepest signal it reads, units of equal
depth form a layer, and evaluation runs layer by layer over a whole batch of
inputs at once, so exhaustive checks over every input are cheap.

Gate builders (:func:`not_gate`, :func:`and_gate`, :func:`or_gate`,
:func:`xor_gate`, :func:`half_adder`, :func:`full_adder`,
:func:`ripple_carry_adder`) add NAND units to a circuit and return the names of
the signals they compute, so they compose like the book's figures.

``evaluate(x, c=...)`` runs the *same* circuit with sigmoid neurons whose
weights and biases are multiplied by c.  Where no unit ever sees w·x + b = 0
(:meth:`Circuit.margin` > 0), the outputs tend to the perceptron circuit's as
c → ∞; :func:`smallest_exact_scale` finds how large c must be.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..errors import CircuitError
from ..wording import plural
from .perceptron import NAND, Perceptron, positive_number, scaled_sigmoid

# Columns (input rows) evaluated at a time: bounds memory for big batches.
_CHUNK = 4096

# Widest adder `adder` builds: 9 units a bit, so about 9,000 units and 2,000 layers.
MAX_ADDER_BITS = 1024


@dataclass(frozen=True)
class Unit:
    """One perceptron of a circuit: its signal's ``name`` and the signals it reads."""

    name: str
    perceptron: Perceptron
    sources: tuple[str, ...]


@dataclass(frozen=True)
class _Layer:
    """Units of one depth, as arrays: row ``start + i`` of the signal table is unit i."""

    start: int
    sources: NDArray[np.intp]  # (U, K) rows of the signal table read, padded with row 0
    weights: NDArray[np.float64]  # (U, K), 0 where padded
    biases: NDArray[np.float64]  # (U,)


class Circuit:
    """A feedforward circuit of perceptrons with named inputs and outputs.

    Build it by adding units (:meth:`nand`, :meth:`add_unit`) and naming outputs
    (:meth:`set_output`); evaluate it with :meth:`evaluate`.  Signal names
    (inputs and units) are unique; output names are a separate set of labels.
    """

    def __init__(self, inputs: Sequence[str]) -> None:
        if isinstance(inputs, str):
            raise CircuitError(f"circuit inputs must be a list of names, got the string {inputs!r}")
        self._inputs: tuple[str, ...] = ()
        self._units: list[Unit] = []
        self._depth: dict[str, int] = {}
        self._outputs: dict[str, str] = {}
        self._compiled: tuple[dict[str, int], list[_Layer]] | None = None
        for name in inputs:
            self._new_signal(name)
            self._depth[name] = 0
        self._inputs = tuple(inputs)

    # -- building -----------------------------------------------------------------

    def _new_signal(self, name: object) -> str:
        if not isinstance(name, str) or not name:
            raise CircuitError(f"signal names must be non-empty strings, got {name!r}")
        if name in self._depth:
            raise CircuitError(f"the circuit already has a signal named {name!r}")
        return name

    def _auto_name(self) -> str:
        k = len(self._units) + 1
        while f"u{k}" in self._depth:
            k += 1
        return f"u{k}"

    def add_unit(
        self, perceptron: Perceptron, sources: Sequence[str], name: str | None = None
    ) -> str:
        """Add a unit computing ``perceptron`` of ``sources``; return its signal name.

        ``sources`` name earlier signals, one per weight; a signal may be read
        twice (the book's NOT is NAND(x, x)).  Names default to u1, u2, ...
        """
        if not isinstance(perceptron, Perceptron):
            raise CircuitError(f"a unit must be a Perceptron, got {perceptron!r}")
        sources = (sources,) if isinstance(sources, str) else tuple(sources)
        if len(sources) != perceptron.n_inputs:
            raise CircuitError(
                f"{perceptron!r} takes {plural(perceptron.n_inputs, 'input')} but was given "
                f"{plural(len(sources), 'source')} {list(sources)}"
            )
        for source in sources:
            if source not in self._depth:
                raise CircuitError(
                    f"unknown signal {source!r}: a unit can read only the circuit's inputs "
                    f"{list(self._inputs)} or units added before it"
                )
        name = self._new_signal(self._auto_name() if name is None else name)
        self._units.append(Unit(name, perceptron, sources))
        self._depth[name] = 1 + max(self._depth[s] for s in sources)
        self._compiled = None
        return name

    def nand(self, a: str, b: str, name: str | None = None) -> str:
        """Add a NAND perceptron (weights −2, −2, bias 3) reading ``a`` and ``b``."""
        return self.add_unit(NAND, (a, b), name)

    def set_output(self, name: str, signal: str) -> None:
        """Make ``signal`` an output of the circuit, labelled ``name``."""
        if not isinstance(name, str) or not name:
            raise CircuitError(f"output names must be non-empty strings, got {name!r}")
        if name in self._outputs:
            raise CircuitError(f"the circuit already has an output named {name!r}")
        if signal not in self._depth:
            raise CircuitError(f"cannot output unknown signal {signal!r}")
        self._outputs[name] = signal

    # -- describing -----------------------------------------------------------------

    @property
    def inputs(self) -> tuple[str, ...]:
        return self._inputs

    @property
    def outputs(self) -> tuple[str, ...]:
        """Output names, in the order of :meth:`evaluate`'s columns."""
        return tuple(self._outputs)

    @property
    def units(self) -> tuple[Unit, ...]:
        return tuple(self._units)

    @property
    def size(self) -> int:
        """Number of perceptrons."""
        return len(self._units)

    @property
    def depth(self) -> int:
        """Number of layers: the longest path, in units, from an input to any unit."""
        return max((self._depth[u.name] for u in self._units), default=0)

    def depth_of(self, signal: str) -> int:
        """Layer of ``signal``: 0 for inputs, 1 + the deepest source for units."""
        if signal not in self._depth:
            raise CircuitError(f"unknown signal {signal!r}")
        return self._depth[signal]

    @property
    def is_nand_only(self) -> bool:
        """True when every unit is the NAND perceptron."""
        return all(u.perceptron == NAND for u in self._units)

    def __repr__(self) -> str:
        return (
            f"<Circuit: {plural(len(self._inputs), 'input')}, {plural(self.size, 'perceptron')}, "
            f"{plural(self.depth, 'layer')}, outputs {list(self._outputs)}>"
        )

    # -- evaluating -----------------------------------------------------------------

    def _compile(self) -> tuple[dict[str, int], list[_Layer]]:
        """Each signal's row in the signal table (inputs, then units layer by layer),
        and each layer's arrays."""
        if self._compiled is not None:
            return self._compiled
        order = list(self._inputs)
        by_depth: dict[int, list[Unit]] = {}
        for unit in self._units:
            by_depth.setdefault(self._depth[unit.name], []).append(unit)
        row = {name: i for i, name in enumerate(order)}
        layers = []
        for d in sorted(by_depth):
            units = by_depth[d]
            k = max(u.perceptron.n_inputs for u in units)
            sources = np.zeros((len(units), k), dtype=np.intp)
            weights = np.zeros((len(units), k))
            for i, u in enumerate(units):
                sources[i, : len(u.sources)] = [row[s] for s in u.sources]
                weights[i, : len(u.sources)] = u.perceptron.weights
            biases = np.array([u.perceptron.bias for u in units])
            layers.append(_Layer(len(order), sources, weights, biases))
            for u in units:
                row[u.name] = len(order)
                order.append(u.name)
        self._compiled = (row, layers)
        return self._compiled

    def _batch(self, x: ArrayLike) -> tuple[NDArray[np.float64], bool]:
        """``x`` as a (N, n_inputs) batch, and whether it was one (n_inputs,) input."""
        n = len(self._inputs)
        try:
            a = np.asarray(x, dtype=np.float64)
        except (TypeError, ValueError):
            raise CircuitError(f"circuit inputs must be numbers, got {x!r}") from None
        if a.ndim == 1 and a.shape[0] == n:
            a, single = a[np.newaxis, :], True
        elif a.ndim == 2 and a.shape[1] == n:
            single = False
        else:
            raise CircuitError(
                f"this circuit has {plural(n, 'input')} {list(self._inputs)}: expected shape "
                f"({n},) or (N, {n}), got {a.shape}"
            )
        if not np.all(np.isfinite(a)):
            raise CircuitError("circuit inputs must be finite numbers")
        return a, single

    def _run(self, x: NDArray[np.float64], c: float | None) -> tuple[NDArray, NDArray]:
        """Every signal's value (S, N) and every unit's weighted input (size, N).

        Rows follow the compiled order; ``c`` None means perceptrons, else
        sigmoid neurons σ(c(w·x + b)).
        """
        row, layers = self._compile()
        values = np.empty((len(row), x.shape[0]))
        values[: x.shape[1]] = x.T
        n_in = len(self._inputs)
        z_all = np.empty((len(self._units), x.shape[0]))
        for layer in layers:
            # (U, K, N) gathered sources, weighted and summed over the K inputs.
            z = np.einsum("ukn,uk->un", values[layer.sources], layer.weights)
            z += layer.biases[:, np.newaxis]
            stop = layer.start + z.shape[0]
            z_all[layer.start - n_in : stop - n_in] = z
            values[layer.start : stop] = (z > 0) if c is None else scaled_sigmoid(z, c)
        return values, z_all

    def evaluate(self, x: ArrayLike, c: float | None = None) -> NDArray[np.float64]:
        """The outputs for input ``x``: shape (n_outputs,) for one input (n_inputs,),
        (N, n_outputs) for a batch (N, n_inputs), columns in :attr:`outputs` order.

        With ``c`` None every unit is a perceptron (outputs 0.0 or 1.0); with a
        scale ``c`` > 0 every unit is the sigmoid neuron σ(c(w·x + b)).
        """
        if not self._outputs:
            raise CircuitError("the circuit has no outputs: name some with set_output()")
        if c is not None:
            c = positive_number(c, "the sigmoid scale c")
        batch, single = self._batch(x)
        row, _ = self._compile()
        rows = [row[s] for s in self._outputs.values()]
        out = np.empty((batch.shape[0], len(rows)))
        for start in range(0, batch.shape[0], _CHUNK):
            values, _ = self._run(batch[start : start + _CHUNK], c)
            out[start : start + _CHUNK] = values[rows].T
        return out[0] if single else out

    def weighted_inputs(self, x: ArrayLike) -> NDArray[np.float64]:
        """w·x + b of every unit of the perceptron circuit: (N, size), columns in
        :attr:`units` order (or (size,) for one input)."""
        batch, single = self._batch(x)
        row, _ = self._compile()
        n_in = len(self._inputs)
        column = [row[u.name] - n_in for u in self._units]
        z = np.empty((batch.shape[0], len(self._units)))
        for start in range(0, batch.shape[0], _CHUNK):
            _, z_chunk = self._run(batch[start : start + _CHUNK], None)
            z[start : start + _CHUNK] = z_chunk[column].T
        return z[0] if single else z

    def margin(self, x: ArrayLike) -> float:
        """The smallest |w·x + b| over every unit and input row (inf without units).

        Positive margin: the sigmoid circuit tends to the perceptron circuit as
        c → ∞.  Zero: some unit sits exactly on its threshold, where the sigmoid
        neuron outputs 1/2 for every c.
        """
        z = self.weighted_inputs(x)
        return float(np.min(np.abs(z))) if z.size else float("inf")

    def truth_table(self) -> tuple[NDArray[np.uint8], NDArray[np.uint8]]:
        """Every 0/1 input (2^n, n), counting up with the first input most significant,
        and the perceptron circuit's outputs (2^n, n_outputs)."""
        n = len(self._inputs)
        if n > 20:
            raise CircuitError(f"a truth table of {n} inputs has 2^{n} rows; 20 inputs at most")
        rows = np.arange(2**n)
        x = ((rows[:, np.newaxis] >> np.arange(n - 1, -1, -1)) & 1).astype(np.uint8)
        return x, self.evaluate(x).astype(np.uint8)


# -- gates from NAND alone -------------------------------------------------------------


def not_gate(circuit: Circuit, x: str) -> str:
    """NOT x = NAND(x, x): 1 unit."""
    return circuit.nand(x, x)


def and_gate(circuit: Circuit, x: str, y: str) -> str:
    """x AND y = NOT NAND(x, y): 2 units."""
    return not_gate(circuit, circuit.nand(x, y))


def or_gate(circuit: Circuit, x: str, y: str) -> str:
    """x OR y = NAND(NOT x, NOT y) (De Morgan): 3 units."""
    return circuit.nand(not_gate(circuit, x), not_gate(circuit, y))


def xor_gate(circuit: Circuit, x: str, y: str) -> str:
    """x XOR y = NAND(NAND(x, n), NAND(y, n)) with n = NAND(x, y): 4 units."""
    return _xor(circuit, x, y)[0]


def _xor(circuit: Circuit, x: str, y: str) -> tuple[str, str]:
    """(x XOR y, NAND(x, y)): the adders reuse the NAND for their carry."""
    n = circuit.nand(x, y)
    return circuit.nand(circuit.nand(x, n), circuit.nand(y, n)), n


def half_adder(circuit: Circuit, x: str, y: str) -> tuple[str, str]:
    """(sum, carry) of bits x + y: the book's 5-NAND adder; carry = NOT NAND(x, y)."""
    s, n = _xor(circuit, x, y)
    return s, not_gate(circuit, n)


def full_adder(circuit: Circuit, x: str, y: str, carry_in: str) -> tuple[str, str]:
    """(sum, carry) of bits x + y + carry_in: 9 units.

    Two half adders' XORs; the carry is (x AND y) OR (s AND carry_in) with
    s = x XOR y, which is NAND(NAND(x, y), NAND(s, carry_in)): the two NANDs are
    already there, so one more unit finishes it.
    """
    s1, n1 = _xor(circuit, x, y)
    s, m1 = _xor(circuit, s1, carry_in)
    return s, circuit.nand(n1, m1)


def ripple_carry_adder(circuit: Circuit, xs: Sequence[str], ys: Sequence[str]) -> list[str]:
    """Sum bits of the numbers with bits ``xs`` and ``ys`` (least significant first).

    Returns n + 1 signals, the last one the carry out.  A half adder for bit 0,
    then a full adder per bit, each taking the carry of the one before:
    5 + 9(n − 1) units.
    """
    if len(xs) != len(ys) or not xs:
        raise CircuitError(
            f"an adder needs the same positive number of bits on each side, got {len(xs)} "
            f"and {len(ys)}"
        )
    s, carry = half_adder(circuit, xs[0], ys[0])
    sums = [s]
    for x, y in zip(xs[1:], ys[1:]):
        s, carry = full_adder(circuit, x, y, carry)
        sums.append(s)
    return [*sums, carry]


# -- ready-made circuits -------------------------------------------------------------


def _one_output(inputs: Sequence[str], build: Callable[..., str]) -> Callable[[], Circuit]:
    def make() -> Circuit:
        circuit = Circuit(inputs)
        circuit.set_output("out", build(circuit, *inputs))
        return circuit

    return make


def _two_outputs(
    inputs: Sequence[str], build: Callable[..., tuple[str, str]]
) -> Callable[[], Circuit]:
    def make() -> Circuit:
        circuit = Circuit(inputs)
        s, carry = build(circuit, *inputs)
        circuit.set_output("sum", s)
        circuit.set_output("carry", carry)
        return circuit

    return make


GATES: dict[str, Callable[[], Circuit]] = {
    "nand": _one_output(("x", "y"), Circuit.nand),
    "not": _one_output(("x",), not_gate),
    "and": _one_output(("x", "y"), and_gate),
    "or": _one_output(("x", "y"), or_gate),
    "xor": _one_output(("x", "y"), xor_gate),
    "half-adder": _two_outputs(("x", "y"), half_adder),
    "full-adder": _two_outputs(("x", "y", "carry_in"), full_adder),
}
"""Each gate as a fresh circuit of NAND units, by name; the order is `digits gates`'s."""


def adder(bits: int) -> Circuit:
    """An n-bit ripple-carry adder of NAND units.

    Inputs a0..a{n−1}, b0..b{n−1}; outputs s0..s{n}, least significant first
    (s{n} is the carry out).  Feed it :func:`adder_inputs`, read it with
    :func:`decode_bits`.
    """
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)):
        raise CircuitError(f"the adder's width must be a whole number of bits, got {bits!r}")
    if not 1 <= bits <= MAX_ADDER_BITS:
        raise CircuitError(f"the adder's width must be 1 to {MAX_ADDER_BITS} bits, got {bits}")
    xs = [f"a{i}" for i in range(bits)]
    ys = [f"b{i}" for i in range(bits)]
    circuit = Circuit(xs + ys)
    for i, s in enumerate(ripple_carry_adder(circuit, xs, ys)):
        circuit.set_output(f"s{i}", s)
    return circuit


# -- numbers as bits ----------------------------------------------------------------

# Bits handled per int64 word when numbers are wider than a machine word.
_WORD = 62


def _whole_numbers(numbers: ArrayLike, what: str) -> NDArray:
    """``numbers`` as a 1-D array: int64 when they fit, else Python ints (dtype object).

    Python lists go through dtype object so that big ints are never turned into
    floats on the way.
    """
    a = numbers if isinstance(numbers, np.ndarray) else np.array(numbers, dtype=object)
    if a.ndim == 0:
        a = a.reshape(1)
    if a.ndim != 1:
        raise CircuitError(f"{what} must be one number or a 1-D list of numbers, got {a.shape}")
    if a.dtype.kind in "iu":
        a = a.astype(object) if a.dtype == np.uint64 else a.astype(np.int64)
    elif a.dtype != object:
        raise CircuitError(f"{what} must be whole numbers, got {a.tolist()[:5]}")
    if a.dtype == object:
        if not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in a):
            raise CircuitError(f"{what} must be whole numbers, got {a.tolist()[:5]}")
        a = np.array([int(v) for v in a], dtype=object)
        if all(-(2**63) <= v < 2**63 for v in a):
            a = a.astype(np.int64)
    return a


def encode_bits(numbers: ArrayLike, bits: int, what: str = "numbers") -> NDArray[np.uint8]:
    """(N, bits) 0/1 array of ``numbers`` (N,), least significant bit first.

    Accepts Python ints of any size.  Each number must satisfy 0 ≤ n < 2^bits;
    ``what`` names them in the error otherwise.
    """
    values = _whole_numbers(numbers, what)
    if values.size and values.min() < 0:
        raise CircuitError(f"{what} must be non-negative, got {values.min()}")
    too_wide = values[values >= 2**bits] if bits < 63 or values.dtype == object else values[:0]
    if too_wide.size:
        raise CircuitError(
            f"{what}: {too_wide[0]} does not fit in {bits} bits (the largest is {2**bits - 1})"
        )
    out = np.zeros((values.size, bits), dtype=np.uint8)
    mask = (1 << _WORD) - 1
    for start in range(0, bits, _WORD):
        width = min(_WORD, bits - start)
        if values.dtype == object:
            word = np.array([(int(v) >> start) & mask for v in values], dtype=np.int64)
        elif start < 63:  # shifting an int64 by 63 or more is undefined; those bits are 0
            word = (values >> start) & mask
        else:
            continue
        out[:, start : start + width] = (word[:, np.newaxis] >> np.arange(width)) & 1
    return out


def decode_bits(bit_rows: ArrayLike) -> NDArray:
    """The numbers whose bits, least significant first, are the rows of ``bit_rows``.

    (N, w) of 0s and 1s in, (N,) out: int64 when w ≤ 62, else Python ints (dtype
    object), so any width round-trips exactly.
    """
    b = np.asarray(bit_rows)
    if b.ndim != 2 or not np.all((b == 0) | (b == 1)):
        raise CircuitError(f"expected an (N, w) array of 0s and 1s, got shape {b.shape}")
    b = b.astype(np.int64)
    words = [
        b[:, start : start + _WORD] @ (np.int64(1) << np.arange(min(_WORD, b.shape[1] - start)))
        for start in range(0, b.shape[1], _WORD)
    ]
    if len(words) <= 1:
        return words[0] if words else np.zeros(b.shape[0], dtype=np.int64)
    out = np.zeros(b.shape[0], dtype=object)
    for k, word in enumerate(words):
        out += np.array([int(w) << (k * _WORD) for w in word], dtype=object)
    return out


def read_bits(outputs: ArrayLike) -> NDArray[np.uint8]:
    """Each output read as the nearer bit: 1 where it is above 1/2, else 0."""
    return (np.asarray(outputs) > 0.5).astype(np.uint8)


def adder_inputs(a: ArrayLike, b: ArrayLike, bits: int) -> NDArray[np.uint8]:
    """Inputs (N, 2·bits) of :func:`adder` for the pairs a (N,) + b (N,)."""
    x = encode_bits(a, bits, "a")
    y = encode_bits(b, bits, "b")
    if x.shape[0] != y.shape[0]:
        raise CircuitError(f"expected as many a as b, got {x.shape[0]} and {y.shape[0]}")
    return np.concatenate([x, y], axis=1)


# -- sigmoid neurons in the limit ---------------------------------------------------


def is_exact(circuit: Circuit, x: ArrayLike, c: float) -> bool:
    """Whether the sigmoid circuit scaled by ``c`` is exact on every input row of ``x``:
    every output within (strictly) 1/2 of the perceptron circuit's 0 or 1."""
    target = circuit.evaluate(x)
    return bool(np.all(np.abs(circuit.evaluate(x, c) - target) < 0.5))


def smallest_exact_scale(
    circuit: Circuit, x: ArrayLike, low: float = 1e-3, high: float = 1e3, rel_tol: float = 1e-6
) -> float:
    """The smallest scale c (to ``rel_tol``) at which the sigmoid circuit is exact on ``x``.

    Bisects between ``low`` (must be inexact) and ``high`` (must be exact), in
    log scale, and returns the upper end of the final bracket: a scale that was
    tested and is exact.  Bisection assumes that once exact, larger c stays exact;
    check that on a grid when it matters.
    """
    low = positive_number(low, "low")
    high = positive_number(high, "high")
    rel_tol = positive_number(rel_tol, "rel_tol")
    if not low < high:
        raise CircuitError(f"expected low < high, got low={low}, high={high}")
    if is_exact(circuit, x, low):
        raise CircuitError(f"already exact at c = low = {low:g}: lower it")
    if not is_exact(circuit, x, high):
        raise CircuitError(
            f"not exact even at c = high = {high:g} (margin {circuit.margin(x):g}; "
            "a unit with w·x + b = 0 outputs 1/2 for every c)"
        )
    while high / low > 1 + rel_tol:
        mid = float(np.sqrt(low * high))
        if is_exact(circuit, x, mid):
            high = mid
        else:
            low = mid
    return high
