"""Every --help is plain text: no Sphinx roles, reST literals, bold or links left in it."""

import re

import pytest
from support.cli import subcommand_parsers

from neuraldigits.cli.helptext import plain

MARKUP = {
    "a Sphinx role (:func:`...`)": re.compile(r":[a-z]+:`"),
    "a reST literal (``...``)": re.compile(r"``"),
    "reST bold (**...**)": re.compile(r"\*\*\S"),
    "reST emphasis (*...*)": re.compile(r"(?<![\w*])\*[^\s*]([^*\n]*[^\s*])?\*(?![\w*])"),
    "a reST link (`...`_)": re.compile(r"`_"),
    "a reST directive (.. name::)": re.compile(r"^\s*\.\. \w+::", re.MULTILINE),
}


HELPS = [pytest.param(parser.format_help(), id=parser.prog) for parser in subcommand_parsers()]


@pytest.mark.parametrize("text", HELPS)
def test_help_has_no_markup(text):
    found = {name: pattern.search(text) for name, pattern in MARKUP.items()}
    assert not any(found.values()), {name: m.group(0) for name, m in found.items() if m}


def test_every_pattern_catches_what_plain_removes():
    marked = (
        ":func:`~neuraldigits.book.bit_layer` and :meth:`Network.backprop` take ``[784, h, 10]``; "
        "**the same** *part* of `the book <http://neuralnetworksanddeeplearning.com>`_\n"
        ".. note::"
    )
    assert all(pattern.search(marked) for pattern in MARKUP.values())
    text = plain(marked)
    assert text == (
        "bit_layer() and Network.backprop() take [784, h, 10]; the same part of the book "
        "(http://neuralnetworksanddeeplearning.com)\n.. note:"
    )
    assert not any(p.search(text) for p in MARKUP.values())


def test_plain_leaves_text_that_only_looks_like_markup():
    text = "* a bullet\n* another, with a * b and 2*3 inside\nsee `digits train`"
    assert plain(text) == text
