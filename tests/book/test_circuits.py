"""Circuits of NAND perceptrons, checked exhaustively against Python's operators."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from neuraldigits.book.circuits import (
    GATES,
    MAX_ADDER_BITS,
    Circuit,
    adder,
    adder_inputs,
    and_gate,
    decode_bits,
    encode_bits,
    full_adder,
    is_exact,
    not_gate,
    or_gate,
    read_bits,
    ripple_carry_adder,
    smallest_exact_scale,
    xor_gate,
)
from neuraldigits.book.perceptron import NAND, Perceptron
from neuraldigits.cli import main
from neuraldigits.errors import CircuitError

# The smallest scale c, to 6 digits, at which the sigmoid 16-bit adder is exact on
# SIXTEEN_BIT_PAIRS (found with smallest_exact_scale; reported in the README).
C16 = 2.25434

# What each gate computes, by Python's operators; its size and depth in NAND units.
EXPECTED = {
    "nand": (lambda x, y: [1 - (x & y)], 1, 1),
    "not": (lambda x: [1 - x], 1, 1),
    "and": (lambda x, y: [x & y], 2, 2),
    "or": (lambda x, y: [x | y], 3, 2),
    "xor": (lambda x, y: [x ^ y], 4, 3),
    "half-adder": (lambda x, y: [(x + y) & 1, (x + y) >> 1], 5, 3),
    "full-adder": (lambda x, y, c: [(x + y + c) & 1, (x + y + c) >> 1], 9, 6),
}


def all_pairs(bits: int) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.meshgrid(np.arange(2**bits), np.arange(2**bits), indexing="ij")
    return a.ravel(), b.ravel()


def add_with_circuit(circuit: Circuit, a, b, bits: int, c: float | None = None) -> np.ndarray:
    return decode_bits(read_bits(circuit.evaluate(adder_inputs(a, b, bits), c)))


def sixteen_bit_pairs() -> tuple[np.ndarray, np.ndarray]:
    """The pairs the sigmoid threshold C16 was found on.

    Every pair whose sum is 2^16 or 2^16 + 1 (a carry rippling from a low bit
    through the top: the hardest case a hill-climbing search found), every pair
    of some edge values, and 20,000 random pairs.
    """
    top = 2**16
    b0 = np.arange(1, top)
    b1 = np.arange(2, top)
    edges = sorted(
        {0, 1, 2, 0x5555, 0xAAAA, 0x7FFF, 0x8000, top - 2, top - 1}
        | {2**k for k in range(16)}
        | {2**k - 1 for k in range(17)}
    )
    ea, eb = (x.ravel() for x in np.meshgrid(edges, edges))
    rng = np.random.default_rng(16)
    ra, rb = rng.integers(0, top, 20_000), rng.integers(0, top, 20_000)
    return (
        np.concatenate([top - b0, top + 1 - b1, ea, ra]),
        np.concatenate([b0, b1, eb, rb]),
    )


# -- gates ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(GATES))
def test_every_gate_on_every_input_matches_python(name):
    reference, size, depth = EXPECTED[name]
    circuit = GATES[name]()
    assert circuit.is_nand_only
    assert (circuit.size, circuit.depth) == (size, depth)
    x, y = circuit.truth_table()
    assert x.shape == (2 ** len(circuit.inputs), len(circuit.inputs))
    assert len({tuple(row) for row in x}) == len(x)  # every input, once
    for xi, yi in zip(x, y):
        assert list(yi) == reference(*map(int, xi)), (name, xi)


def test_gates_registry_builds_fresh_circuits():
    assert GATES["xor"]() is not GATES["xor"]()
    assert set(GATES) == set(EXPECTED)


def test_gate_builders_compose_inside_one_circuit():
    """(x AND y) OR (NOT z) XOR x: the builders return signals that feed other builders."""
    circuit = Circuit(["x", "y", "z"])
    out = xor_gate(
        circuit, or_gate(circuit, and_gate(circuit, "x", "y"), not_gate(circuit, "z")), "x"
    )
    circuit.set_output("f", out)
    assert circuit.is_nand_only and circuit.size == 2 + 1 + 3 + 4
    x, y = circuit.truth_table()
    for (a, b, c), (f,) in zip(x.tolist(), y.tolist()):
        assert f == ((a & b) | (1 - c)) ^ a


def test_user_built_majority_circuit():
    """Majority of three, (x∧y) ∨ (x∧z) ∨ (y∧z), from 2-input NANDs a user wires up."""
    circuit = Circuit(["x", "y", "z"])
    xy, xz, yz = (circuit.nand(p, q) for p, q in [("x", "y"), ("x", "z"), ("y", "z")])
    neither = and_gate(circuit, xy, xz)  # ¬(x∧y) ∧ ¬(x∧z)
    maj = circuit.nand(neither, yz, name="majority")  # ¬(neither ∧ ¬(y∧z))
    circuit.set_output("m", maj)
    assert circuit.depth_of("majority") == circuit.depth == 4
    x, y = circuit.truth_table()
    np.testing.assert_array_equal(y[:, 0], (x.sum(axis=1) >= 2).astype(int))


# -- adders ----------------------------------------------------------------------------------


def test_full_adder_matches_arithmetic_and_shares_nands():
    circuit = Circuit(["x", "y", "c"])
    s, carry = full_adder(circuit, "x", "y", "c")
    circuit.set_output("s", s)
    circuit.set_output("carry", carry)
    x, y = circuit.truth_table()
    total = x.sum(axis=1)
    np.testing.assert_array_equal(y[:, 0] + 2 * y[:, 1], total)
    assert circuit.size == 9


@pytest.mark.parametrize("bits", range(1, 9))
def test_every_pair_of_n_bit_numbers_adds_correctly(bits):
    circuit = adder(bits)
    assert circuit.is_nand_only
    assert circuit.size == 5 + 9 * (bits - 1)
    assert circuit.depth == (3 if bits == 1 else 2 * bits + 2)
    assert circuit.inputs == tuple(f"a{i}" for i in range(bits)) + tuple(
        f"b{i}" for i in range(bits)
    )
    assert circuit.outputs == tuple(f"s{i}" for i in range(bits + 1))
    a, b = all_pairs(bits)
    out = circuit.evaluate(adder_inputs(a, b, bits))
    assert set(np.unique(out)) <= {0.0, 1.0}
    np.testing.assert_array_equal(decode_bits(out.astype(np.uint8)), a + b)


@pytest.mark.parametrize("bits", [16, 32, 62])
def test_wide_adders_on_a_random_sample(bits):
    rng = np.random.default_rng(bits)
    a = rng.integers(0, 2**bits, 20_000, dtype=np.int64)
    b = rng.integers(0, 2**bits, 20_000, dtype=np.int64)
    top = 2**bits - 1
    a = np.concatenate([a, [0, top, top, 1, top]])
    b = np.concatenate([b, [0, top, 1, top, 0]])
    np.testing.assert_array_equal(add_with_circuit(adder(bits), a, b, bits), a + b)


@pytest.mark.parametrize("bits", [64, 100, 256])
def test_adders_wider_than_a_machine_word(bits):
    rng = np.random.default_rng(bits)
    a = [int.from_bytes(rng.bytes(bits // 8 + 1), "little") % 2**bits for _ in range(2000)]
    b = [int.from_bytes(rng.bytes(bits // 8 + 1), "little") % 2**bits for _ in range(2000)]
    a += [2**bits - 1, 2**bits - 1, 0]
    b += [2**bits - 1, 1, 0]
    sums = add_with_circuit(adder(bits), a, b, bits)
    assert list(sums) == [x + y for x, y in zip(a, b)]


def test_ripple_carry_adder_needs_equal_widths():
    circuit = Circuit(["a0", "a1", "b0"])
    with pytest.raises(CircuitError, match="same positive number of bits"):
        ripple_carry_adder(circuit, ["a0", "a1"], ["b0"])
    with pytest.raises(CircuitError, match="same positive number of bits"):
        ripple_carry_adder(circuit, [], [])


@pytest.mark.parametrize("bits", [0, -1, MAX_ADDER_BITS + 1, 2.0, True, "8"])
def test_adder_width_is_checked(bits):
    with pytest.raises(CircuitError, match="adder's width"):
        adder(bits)


# -- bits <-> numbers --------------------------------------------------------------------------


def test_encode_decode_round_trip_any_width():
    np.testing.assert_array_equal(encode_bits([6], 4), [[0, 1, 1, 0]])  # least significant first
    big = [0, 1, 2**63, 2**64 - 1, 3**200]
    rows = encode_bits(big, 320)
    assert rows.shape == (5, 320) and rows.dtype == np.uint8
    assert list(decode_bits(rows)) == big
    small = np.arange(1000)
    assert decode_bits(encode_bits(small, 10)).dtype == np.int64
    np.testing.assert_array_equal(decode_bits(encode_bits(small, 10)), small)
    np.testing.assert_array_equal(
        encode_bits(np.array([5], dtype=np.uint64), 70)[0, :4], [1, 0, 1, 0]
    )
    assert encode_bits(7, 3).shape == (1, 3)
    assert decode_bits(np.zeros((3, 0))).tolist() == [0, 0, 0]


@pytest.mark.parametrize(
    "numbers, bits, message",
    [
        ([-1], 8, "non-negative"),
        ([256], 8, "256 does not fit in 8 bits"),
        ([2**70], 64, "does not fit in 64 bits"),
        ([1.5], 8, "whole numbers"),
        (["7"], 8, "whole numbers"),
        ([[1, 2]], 8, "1-D"),
    ],
)
def test_bad_numbers_are_refused(numbers, bits, message):
    with pytest.raises(CircuitError, match=message):
        encode_bits(numbers, bits)


def test_decode_wants_bits():
    with pytest.raises(CircuitError, match="0s and 1s"):
        decode_bits([[0, 2]])
    with pytest.raises(CircuitError, match="0s and 1s"):
        decode_bits([0, 1])


def test_adder_inputs_need_matching_lengths():
    with pytest.raises(CircuitError, match="as many a as b"):
        adder_inputs([1, 2], [3], 4)
    with pytest.raises(CircuitError, match="^a: 16 does not fit"):
        adder_inputs([16], [3], 4)


# -- the circuit machinery ----------------------------------------------------------------------


def naive_evaluate(circuit: Circuit, x: np.ndarray, c: float | None = None) -> np.ndarray:
    """Unit by unit in the order added, one input row at a time: the definition."""
    rows = []
    for row in x:
        value = dict(zip(circuit.inputs, row))
        for unit in circuit.units:
            inputs = [value[s] for s in unit.sources]
            value[unit.name] = (
                unit.perceptron(inputs) if c is None else unit.perceptron.sigmoid(inputs, c)
            )
        rows.append([value[circuit._outputs[name]] for name in circuit.outputs])
    return np.array(rows, dtype=float)


def random_circuit(rng: np.random.Generator, n_inputs: int, n_units: int) -> Circuit:
    circuit = Circuit([f"x{i}" for i in range(n_inputs)])
    signals = list(circuit.inputs)
    for _ in range(n_units):
        k = int(rng.integers(1, 4))
        sources = list(rng.choice(signals, size=k))
        unit = Perceptron(rng.normal(size=k), rng.normal())
        signals.append(circuit.add_unit(unit, sources))
    for i, s in enumerate(rng.choice(signals[n_inputs:], size=4, replace=False)):
        circuit.set_output(f"y{i}", s)
    return circuit


@pytest.mark.parametrize("seed", range(5))
def test_layer_by_layer_equals_unit_by_unit(seed):
    rng = np.random.default_rng(seed)
    circuit = random_circuit(rng, 4, 30)
    assert not circuit.is_nand_only
    x = rng.normal(size=(50, 4))
    np.testing.assert_array_equal(circuit.evaluate(x), naive_evaluate(circuit, x))
    np.testing.assert_allclose(circuit.evaluate(x, 1.7), naive_evaluate(circuit, x, 1.7))


def test_depth_is_the_longest_path():
    circuit = Circuit(["x", "y"])
    n1 = circuit.nand("x", "y")
    n2 = circuit.nand(n1, "y")
    n3 = circuit.nand("x", "x")  # shallow unit added late
    circuit.set_output("o", circuit.nand(n2, n3))
    assert [circuit.depth_of(s) for s in ("x", n1, n2, n3)] == [0, 1, 2, 1]
    assert circuit.depth == 3 and circuit.size == 4
    assert Circuit(["x"]).depth == 0


def test_single_input_and_batch_shapes():
    circuit = GATES["half-adder"]()
    assert circuit.evaluate([1, 1]).shape == (2,)
    np.testing.assert_array_equal(circuit.evaluate([1, 1]), [0, 1])
    assert circuit.evaluate(np.ones((3, 2))).shape == (3, 2)
    assert circuit.evaluate(np.ones((0, 2))).shape == (0, 2)


def test_auto_names_avoid_user_names():
    circuit = Circuit(["x"])
    circuit.nand("x", "x", name="u2")
    assert circuit.nand("x", "x") == "u3"
    assert [u.name for u in circuit.units] == ["u2", "u3"]


def test_adding_units_after_evaluating_recompiles():
    circuit = Circuit(["x"])
    circuit.set_output("not", not_gate(circuit, "x"))
    np.testing.assert_array_equal(circuit.evaluate([[0], [1]]), [[1], [0]])
    circuit.set_output("not not", not_gate(circuit, circuit.units[0].name))
    np.testing.assert_array_equal(circuit.evaluate([[0], [1]]), [[1, 0], [0, 1]])


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda c: c.nand("x", "nope"), "unknown signal 'nope'"),
        (lambda c: c.nand("x", "y", name="x"), "already has a signal named 'x'"),
        (lambda c: c.nand("x", "y", name=""), "non-empty strings"),
        (lambda c: c.add_unit(NAND, ["x"]), "takes 2 inputs but was given 1"),
        (lambda c: c.add_unit("NAND", ["x", "y"]), "must be a Perceptron"),
        (lambda c: c.set_output("o", "nope"), "unknown signal"),
        (lambda c: c.set_output("", "x"), "non-empty strings"),
        (lambda c: (c.set_output("o", "x"), c.set_output("o", "y")), "already has an output"),
        (lambda c: c.evaluate([0, 1]), "no outputs"),
        (lambda c: c.depth_of("nope"), "unknown signal"),
    ],
)
def test_bad_circuit_building_is_refused(build, message):
    with pytest.raises(CircuitError, match=message):
        build(Circuit(["x", "y"]))


def test_bad_circuit_inputs_are_refused():
    with pytest.raises(CircuitError, match="list of names"):
        Circuit("xy")
    with pytest.raises(CircuitError, match="already has a signal named 'x'"):
        Circuit(["x", "x"])
    circuit = GATES["and"]()
    for bad, message in [
        ([0, 1, 1], r"2 inputs \['x', 'y'\]: expected shape \(2,\) or \(N, 2\)"),
        ([[0, 1, 1]], "expected shape"),
        ([[[0, 1]]], "expected shape"),
        ([0, np.nan], "finite"),
        (["a", "b"], "numbers"),
    ]:
        with pytest.raises(CircuitError, match=message):
            circuit.evaluate(bad)
    for c in (0, -2, np.inf, np.nan, "3"):
        with pytest.raises(CircuitError, match="sigmoid scale c"):
            circuit.evaluate([0, 1], c)
    with pytest.raises(CircuitError, match="20 inputs at most"):
        Circuit([f"x{i}" for i in range(21)]).truth_table()


# -- sigmoid neurons: the c → ∞ bridge --------------------------------------------------------


def test_nand_circuits_have_margin_one():
    """Every NAND unit sees w·x + b ∈ {3, 1, −1} on 0/1 inputs: never 0."""
    circuit = adder(6)
    x = adder_inputs(*all_pairs(6), 6)
    z = circuit.weighted_inputs(x)
    assert z.shape == (len(x), circuit.size)
    assert set(np.unique(z)) <= {3.0, 1.0, -1.0}
    assert circuit.margin(x) == 1.0
    assert circuit.weighted_inputs(x[0]).shape == (circuit.size,)


def test_sigmoid_adder_tends_to_the_perceptron_adder():
    circuit = adder(8)
    x = adder_inputs(*all_pairs(8), 8)
    target = circuit.evaluate(x)
    gaps = [np.max(np.abs(circuit.evaluate(x, c) - target)) for c in (2, 3, 5, 10, 20, 40)]
    assert all(a > b for a, b in itertools.pairwise(gaps))
    assert gaps[0] > 0.5 and gaps[-1] < 1e-12  # wrong at c = 2, within 1e-12 at c = 40


def test_sixteen_bit_sigmoid_adder_is_exact_from_c16_and_not_below():
    circuit = adder(16)
    a, b = sixteen_bit_pairs()
    x = adder_inputs(a, b, 16)
    assert len(x) > 150_000
    target = circuit.evaluate(x)
    np.testing.assert_array_equal(decode_bits(read_bits(target)), a + b)
    assert np.all(np.abs(circuit.evaluate(x, C16) - target) < 0.5)  # exact on every pair
    hard = x[: 2**16 - 1]  # a + b = 2^16
    assert not is_exact(circuit, hard, C16 * (1 - 5e-6))
    # Exact all the way up (the bisection's assumption), on a sample of the hardest family.
    assert all(is_exact(circuit, hard[::16], c) for c in (2.26, 2.5, 3.0, 10.0, 1e300))


def test_smallest_exact_scale_brackets_the_threshold():
    circuit = adder(3)
    x = adder_inputs(*all_pairs(3), 3)
    c = smallest_exact_scale(circuit, x, rel_tol=1e-9)
    assert is_exact(circuit, x, c)
    assert not is_exact(circuit, x, c / (1 + 2e-9))
    assert 1.0 < c < 3.0


def test_a_unit_on_its_threshold_is_stuck_at_one_half_for_every_c():
    """The limit argument needs w·x + b ≠ 0.  A unit x + y − 1 sits on 0 at 01 and 10:
    the perceptron outputs 0 there, the sigmoid neuron 1/2 for every c, and the doubt
    reaches a NAND downstream that reads it with a 1 (w·x + b = −1 − 2 + 3 = 0)."""
    circuit = Circuit(["x", "y"])
    edge = circuit.add_unit(Perceptron([1, 1], -1), ["x", "y"], name="edge")
    circuit.set_output("edge", edge)
    circuit.set_output("after", circuit.nand(edge, "x"))
    x = np.array([[0, 1], [1, 0]])
    np.testing.assert_array_equal(circuit.evaluate(x), [[0, 1], [0, 1]])
    assert circuit.margin(x) == 0.0
    for c in (1e-2, 1, 10, 1e4, 1e8, 1e300):
        out = circuit.evaluate(x, c)
        assert out[0, 0] == out[1, 0] == 0.5  # stuck at every c
        assert out[1, 1] == 0.5  # NAND(1/2, 1): w·x + b = 0 again
        assert out[0, 1] > 0.5  # NAND(1/2, 0) = σ(2c): fine
    with pytest.raises(CircuitError, match="margin 0"):
        smallest_exact_scale(circuit, x)


def test_smallest_exact_scale_checks_its_bracket():
    circuit = adder(2)
    x = adder_inputs(*all_pairs(2), 2)
    with pytest.raises(CircuitError, match="already exact"):
        smallest_exact_scale(circuit, x, low=5.0, high=10.0)
    with pytest.raises(CircuitError, match="not exact even"):
        smallest_exact_scale(circuit, x, low=0.1, high=0.2)
    with pytest.raises(CircuitError, match="low < high"):
        smallest_exact_scale(circuit, x, low=3.0, high=2.0)


# -- the CLI --------------------------------------------------------------------------------


def test_digits_add_the_issue_example(capsys):
    assert main(["add", "1234", "4321", "--bits", "16"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "1234 + 4321 = 5555"
    assert "16-bit ripple-carry adder of 140 NAND perceptrons in 34 layers" in lines[1]


def test_digits_add_default_width_and_big_numbers(capsys):
    a, b = 3**500, 7**300
    assert main(["add", str(a), str(b)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == f"{a} + {b} = {a + b}"
    assert f"{b.bit_length()}-bit" in out  # just wide enough for the wider number
    assert main(["add", "0", "0"]) == 0
    assert "0 + 0 = 0" in capsys.readouterr().out


def test_digits_add_sigmoid_exact_and_not(capsys):
    assert main(["add", "65534", "2", "--bits", "16", "--sigmoid", str(C16)]) == 0
    out = capsys.readouterr().out
    assert "scaled by 2.25434: 65536, exact" in out
    assert main(["add", "65534", "2", "--bits", "16", "--sigmoid", "2.254"]) == 0
    out = capsys.readouterr().out
    assert "65534 + 2 = 65536" in out  # the perceptron circuit is still right
    assert "scaled by 2.254: 98304, " in out and "NOT exact: 1 of 17 output bits is" in out


@pytest.mark.parametrize(
    "argv, code, message",
    [
        (["add", "-3", "4"], 2, "argument A: expected a non-negative whole number, got -3"),
        (["add", "3", "x"], 2, "argument B: expected a whole number, got 'x'"),
        (["add", "3", "4", "--bits", "0"], 2, "argument --bits: expected 1 to 1024 bits"),
        (["add", "3", "4", "--sigmoid", "-1"], 2, "argument --sigmoid"),
        (["add", "300", "1", "--bits", "8"], 1, "A = 300 needs 9 bits, too wide for --bits 8"),
        (["add", "1", "256", "--bits", "8"], 1, "B = 256 needs 9 bits"),
        (["add", str(2**1024), "1"], 1, "need 1025 bits; the widest adder is 1024 bits"),
        (["gates", "nor"], 2, "unknown gate 'nor'; known: nand, not"),
        (["gates", "--sigmoid", "0"], 2, "argument --sigmoid"),
    ],
)
def test_digits_bad_arguments_get_one_clear_error(capsys, argv, code, message):
    if code == 2:
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        assert exit_info.value.code == 2
    else:
        assert main(argv) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith(f"digits {argv[0]}: error: ")


def test_digits_gates_prints_every_truth_table_right(capsys):
    assert main(["gates"]) == 0
    blocks = capsys.readouterr().out.strip().split("\n\n")
    assert len(blocks) == len(GATES)
    for block, name in zip(blocks, GATES):
        reference, size, depth = EXPECTED[name]
        title, header, *rows = block.splitlines()
        assert f"{size} NAND perceptron" in title and f"{depth} layer" in title
        n_in = header.split().index("|")
        assert len(rows) == 2**n_in
        seen = set()
        for row in rows:
            cells = row.split()
            bits = tuple(map(int, cells[:n_in]))
            assert list(map(int, cells[n_in + 1 :])) == reference(*bits)
            seen.add(bits)
        assert seen == set(itertools.product([0, 1], repeat=n_in))


def test_digits_gates_with_sigmoid(capsys):
    assert main(["gates", "XOR", "nand", "--sigmoid", "0.5"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("XOR: 4 NAND perceptrons, 3 layers")
    assert "NAND: 1 NAND perceptron, 1 layer" in out
    assert "σ out" in out and "sigmoid × 0.5: NOT exact" in out  # XOR at c = 0.5
    assert "0.8176" in out  # NAND(0, 0) = σ(0.5 · 3)
    assert main(["gates", "nand", "--sigmoid", "0.5"]) == 0
    assert "sigmoid × 0.5: exact" in capsys.readouterr().out  # one unit: any c > 0 will do


@pytest.mark.parametrize("command", ["gates", "add"])
def test_help_explains_every_option(capsys, command):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "NAND" in out and "--sigmoid C" in out and "default:" in out
