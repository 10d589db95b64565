"""The outside evaluation sets (tests/support/photos.py): deterministic, balanced, readable."""

from __future__ import annotations

import numpy as np
import pytest
from support import photos

from neuraldigits.errors import ImageError
from neuraldigits.images.preprocess import preprocess


def pixels(pictures) -> list[bytes]:
    return [np.asarray(p).tobytes() + repr((p.mode, p.size)).encode() for p in pictures]


@pytest.mark.parametrize("name", list(photos.SETS))
def test_a_set_is_the_same_for_the_same_seed_and_balanced(name):
    pictures, labels = photos.picture_set(name, 12, seed=3)
    again, labels_again = photos.picture_set(name, 12, seed=3)
    assert pixels(pictures) == pixels(again)
    np.testing.assert_array_equal(labels, labels_again)
    assert np.bincount(labels, minlength=10).tolist() == [2, 2] + [1] * 8
    # Picture i does not depend on how many were asked for, and the seed matters.
    fewer, _ = photos.picture_set(name, 5, seed=3)
    assert pixels(fewer) == pixels(pictures[:5])
    other, _ = photos.picture_set(name, 5, seed=4)
    assert pixels(other) != pixels(fewer)


def test_sets_differ_from_one_another():
    firsts = {name: pixels(photos.picture_set(name, 1)[0])[0] for name in photos.SETS}
    assert len(set(firsts.values())) == len(photos.SETS)


def test_letterforms_include_the_ones_mnist_writers_rarely_used():
    assert {"crossed", "serif"} <= set(photos.FORMS[7])
    assert {"flag and foot", "European"} <= set(photos.FORMS[1])
    assert "open" in photos.FORMS[4] and "flat-topped" in photos.FORMS[3]
    assert "looped" in photos.FORMS[2] and "hooked tail" in photos.FORMS[9]
    assert all(len(forms) >= 3 for forms in photos.FORMS.values())


def test_every_form_cycles_through_a_set():
    """Picture k of a digit uses its k-th form: a set of 10 × len(forms) shows each once."""
    rng = np.random.default_rng(0)
    hand = photos.Hand(height=100, pen=6, wobble=0)
    for digit, forms in photos.FORMS.items():
        drawn = [photos.write(photos._form(digit, k), hand, rng).shape for k in range(len(forms))]
        assert len(drawn) == len(forms)
        for k, strokes in enumerate(forms.values()):
            assert photos._form(digit, k) is strokes
            assert photos._form(digit, k + len(forms)) is strokes


@pytest.mark.parametrize("name", list(photos.SETS))
def test_the_preparation_finds_the_digit_in_nearly_every_picture(name):
    """Dark ink on light paper, like a real page.  Under uneven light and shadow the
    preparation refuses about 1 % as blank (benchmarks/real_pictures.py counts those as
    wrong), though a person reads them: so one miss in ten is allowed here."""
    found = 0
    for picture in photos.picture_set(name, 10, seed=5)[0]:
        try:
            prepared = preprocess(picture)
        except ImageError:
            continue
        assert prepared.inverted and prepared.pixels.max() == 1
        found += 1
    assert found >= 9
