"""Counted nouns in messages: "1 epoch", "2 epochs", never "1 epochs"."""

from __future__ import annotations


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """``count`` and the noun that agrees with it, the count with thousands commas.

    ``plural(1, "epoch")`` is ``"1 epoch"``, ``plural(3, "epoch")`` ``"3 epochs"``;
    ``plural_form`` is the whole plural where adding an s will not do:
    ``plural(2, "distorted copy", "distorted copies")``.
    """
    word = singular if count == 1 else (plural_form or singular + "s")
    return f"{count:,} {word}"
