import numpy as np
import pytest

from neuraldigits.activations import sigmoid, sigmoid_prime


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_is_stable_at_extremes_even_when_numpy_raises(dtype):
    z = np.array([-1000.0, -100.0, -1.0, 0.0, 1.0, 100.0, 1000.0], dtype=dtype)
    with np.errstate(all="raise"):
        s = sigmoid(z)
        sp = sigmoid_prime(z)
    assert s.dtype == dtype
    assert 0 <= s[0] < (1e-34 if dtype == np.float32 else 1e-300)
    assert s[-1] == 1.0 and s[3] == 0.5
    assert np.all(np.isfinite(sp)) and np.all(sp >= 0)
    assert sp[3] == 0.25


def test_sigmoid_matches_the_textbook_formula_where_that_is_safe():
    z = np.linspace(-30, 30, 1001)
    np.testing.assert_allclose(sigmoid(z), 1 / (1 + np.exp(-z)), rtol=1e-14, atol=0)
    s = 1 / (1 + np.exp(-z))
    np.testing.assert_allclose(sigmoid_prime(z), s * (1 - s), rtol=1e-12, atol=1e-300)


def test_sigmoid_prime_is_the_derivative():
    z = np.linspace(-8, 8, 33)
    h = 1e-6
    numeric = (sigmoid(z + h) - sigmoid(z - h)) / (2 * h)
    np.testing.assert_allclose(sigmoid_prime(z), numeric, rtol=1e-6, atol=1e-12)


def test_sigmoid_keeps_shape_and_accepts_ints_and_scalars():
    assert sigmoid(0) == 0.5
    assert sigmoid(np.zeros((2, 3), dtype=int)).shape == (2, 3)
    assert np.isnan(sigmoid(np.nan))
