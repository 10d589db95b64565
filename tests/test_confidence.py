"""The confidence of an answer: the margin between the two strongest outputs."""

import numpy as np
import pytest

from neuraldigits.confidence import check_min_confidence, confidence, is_unsure


def test_confidence_is_the_top_activation_minus_the_runner_up():
    assert confidence([0.1, 0.9, 0.3]) == pytest.approx(0.6)
    assert isinstance(confidence([0.1, 0.9, 0.3]), float)
    rows = np.array([[0.1, 0.9, 0.3], [0.5, 0.5, 0.0], [0.2, 0.0, 0.0]])
    np.testing.assert_allclose(confidence(rows), [0.6, 0.0, 0.2])
    assert confidence([0.7]) == pytest.approx(0.7)  # one output: no runner-up


def test_min_confidence_is_a_number_from_0_to_1():
    assert check_min_confidence(0) == 0.0 and check_min_confidence(1) == 1.0
    for bad in (-0.01, 1.01, float("nan"), float("inf"), True, "0.5", None):
        with pytest.raises(ValueError, match="expected a number from 0 to 1"):
            check_min_confidence(bad)


def test_unsure_only_below_a_given_minimum():
    assert is_unsure(0.2, 0.3) and not is_unsure(0.3, 0.3) and not is_unsure(0.0, None)
