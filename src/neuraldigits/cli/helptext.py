"""Docstrings as help text: the Sphinx and reST markup taken out.

A subcommand whose ``--help`` reuses a module's docstring (``digits experiment
output-encoding``) would otherwise print ``:func:`bit_layer```, ````[784, h,
10]```` and ``**bold**`` to a terminal.  :func:`plain` turns them into what a
reader of the rendered docs would see: ``bit_layer()``, ``[784, h, 10]``, bold.
"""

from __future__ import annotations

import inspect
import re

# :role:`target`, :role:`~a.b.c` (shown as c), :role:`title <target>` (shown as title).
_ROLE = re.compile(r":(?:[a-z]+:)+`(~?)([^`<]*?)\s*(?:<[^`>]*>)?`")
_LITERAL = re.compile(r"``(.+?)``", re.DOTALL)
_STRONG = re.compile(r"\*\*(.+?)\*\*", re.DOTALL)
# *emphasis*, but not a bullet ("* item") or a product (a * b): the stars hug a word.
_EMPHASIS = re.compile(r"(?<![\w*])\*(?=[^\s*])([^*\n]*?[^\s*])\*(?![\w*])")
# `text <https://...>`_  →  text (https://...)
_LINK = re.compile(r"`([^`<]+?)\s*<([^`>]+)>`__?")
_CALLABLE_ROLES = re.compile(r":(?:py:)?(?:func|meth):`")


def plain(text: str | None) -> str:
    """``text`` (a docstring) with its reST/Sphinx markup rendered as plain text."""
    text = inspect.cleandoc(text or "")
    text = _LINK.sub(r"\1 (\2)", text)
    text = _ROLE.sub(_role, text)
    text = _LITERAL.sub(r"\1", text)
    text = _STRONG.sub(r"\1", text)
    text = _EMPHASIS.sub(r"\1", text)
    # A paragraph ending "::" introduces a literal block: one colon in plain text.
    return re.sub(r"(\S)::$", r"\1:", text, flags=re.MULTILINE)


def _role(match: re.Match[str]) -> str:
    tilde, target = match.group(1), match.group(2).strip()
    shown = target.rsplit(".", 1)[-1] if tilde else target.lstrip(".")
    # Sphinx shows functions and methods with their parentheses.
    return shown + "()" if _CALLABLE_ROLES.match(match.group(0)) else shown
