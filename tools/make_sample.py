"""Build the offline MNIST sample that ships inside the package, from the four official files.

    python tools/make_sample.py /path/to/mnist          # e.g. ../shared/data/mnist

writes ``src/neuraldigits/data/mnist_sample.npz`` and, beside it,
``mnist_sample_LICENSE.md`` (MNIST's licence, its authors, and where every digit
came from).  The run is deterministic: the same four official files and the
same seed give the same digits, and the same bytes (the archive's timestamps
are fixed).  Every source file must be the official one (its SHA-256 is checked
against :data:`neuraldigits.data.download.OFFICIAL`), so the sample's provenance
is exact.

Which digits, and why:

* training and validation digits come from MNIST's *training* file, disjoint;
  test digits come from MNIST's *test* file — so a model trained on full MNIST
  and scored offline on the sample is scored on digits it never saw;
* each split is drawn at random with a fixed seed, stratified by class: each
  digit is as frequent as in the file it is drawn from (largest remainders), so
  the sample's test accuracy estimates the full test set's without the extra
  variance of a plain random draw;
* 5,000 / 1,000 / 1,000 digits: the book's [784, 30, 10] network trains its 30
  epochs on them in a couple of seconds, 1,000 test digits give an accuracy to
  within about ±1 percentage point (one standard error at 90 %), and the file
  stays near 1 MB, so the wheel stays small.

This script is not part of the package (it is not in the wheel); the tests check
that the shipped file is what it says (tests/data/test_sample.py).
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import zipfile
from pathlib import Path

import numpy as np

from neuraldigits.data.download import OFFICIAL, sha256_of
from neuraldigits.data.idx import read_idx
from neuraldigits.data.mnist import find_files
from neuraldigits.data.sample import (
    FORMAT,
    FORMAT_VERSION,
    SAMPLE_PATH,
    fingerprint,
)

SEED = 16
SIZES = {"training": 5_000, "validation": 1_000, "test": 1_000}
# The archive's entries get this fixed time, so that a rebuild gives the same bytes.
ZIP_TIME = (1998, 11, 1, 0, 0, 0)  # MNIST's publication, roughly
LICENCE_PATH = SAMPLE_PATH.with_name("mnist_sample_LICENSE.md")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mnist", type=Path, help="directory holding the four official .gz files")
    parser.add_argument("--out", type=Path, default=SAMPLE_PATH, help="the .npz to write")
    args = parser.parse_args(argv)
    files, hashes = _official_files(args.mnist)
    pools = {
        "train": (read_idx(files["train_images"], 3), read_idx(files["train_labels"], 1)),
        "test": (read_idx(files["test_images"], 3), read_idx(files["test_labels"], 1)),
    }
    rng = np.random.default_rng(SEED)
    # Training and validation from one permutation of the training file, so they are disjoint.
    train_labels = pools["train"][1]
    chosen_train = _stratified(train_labels, SIZES["training"] + SIZES["validation"], rng)
    training, validation = _split_stratified(chosen_train, train_labels, SIZES["validation"], rng)
    test = _stratified(pools["test"][1], SIZES["test"], rng)
    picks = {"training": ("train", training), "validation": ("train", validation),
             "test": ("test", test)}  # fmt: skip
    arrays, provenance = {}, _provenance(hashes)
    for split, (pool, indices) in picks.items():
        images, labels = pools[pool]
        indices = np.sort(indices)
        x = images[indices].reshape(len(indices), -1)
        y = labels[indices]
        arrays[f"{split}_images"], arrays[f"{split}_labels"] = x, y
        arrays[f"{split}_indices"] = indices.astype(np.uint16)
        provenance["splits"][split] = {
            "file": OFFICIAL[f"{pool}_images"].name,
            "count": len(indices),
            "per_digit": np.bincount(y, minlength=10).tolist(),
            "fingerprint": fingerprint(x, y),
        }
    arrays["provenance"] = np.frombuffer(json.dumps(provenance).encode(), dtype=np.uint8)
    _write_npz(args.out, arrays)
    licence = args.out.with_name(LICENCE_PATH.name)
    licence.write_text(_licence_text(provenance, sha256_of(args.out)), encoding="utf-8")
    print(f"wrote {args.out} ({args.out.stat().st_size:,} bytes) and {licence}")
    return 0


def _official_files(directory: Path) -> tuple[dict[str, Path], dict[str, str]]:
    """The four files in ``directory``, each checked to be the official one."""
    found, missing = find_files(directory)
    if missing:
        sys.exit(f"{directory}: missing {', '.join(missing)}")
    hashes = {}
    for key, path in found.items():
        digest = sha256_of(path)
        if digest != OFFICIAL[key].sha256:
            sys.exit(f"{path}: SHA-256 {digest} is not the official {OFFICIAL[key].name}'s")
        hashes[OFFICIAL[key].name] = digest
    return found, hashes


def _quotas(labels: np.ndarray, total: int) -> np.ndarray:
    """How many of each digit a stratified draw of ``total`` takes (largest remainders)."""
    counts = np.bincount(labels, minlength=10)
    exact = counts * total / counts.sum()
    quotas = np.floor(exact).astype(int)
    remainder_order = np.argsort(-(exact - quotas), kind="stable")
    quotas[remainder_order[: total - quotas.sum()]] += 1
    return quotas


def _stratified(labels: np.ndarray, total: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of a random draw of ``total`` digits, each class as frequent as in ``labels``."""
    quotas = _quotas(labels, total)
    return np.concatenate(
        [rng.permutation(np.flatnonzero(labels == d))[: quotas[d]] for d in range(10)]
    )


def _split_stratified(indices, labels, second, rng) -> tuple[np.ndarray, np.ndarray]:
    """``indices`` cut in two disjoint stratified parts, the second of ``second`` digits."""
    part = _stratified(labels[indices], second, rng)
    keep = np.ones(len(indices), bool)
    keep[part] = False
    return indices[keep], indices[part]


def _provenance(hashes: dict[str, str]) -> dict:
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "made_by": "tools/make_sample.py",
        "seed": SEED,
        "sources": hashes,
        "licence": "CC BY-SA 3.0",
        "authors": "Yann LeCun, Corinna Cortes, Christopher J.C. Burges",
        "splits": {},
    }


def _write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """An .npz numpy can load (allow_pickle=False), byte-for-byte reproducible."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in sorted(arrays):
            data = io.BytesIO()
            np.lib.format.write_array(data, np.ascontiguousarray(arrays[name]),
                                      allow_pickle=False)  # fmt: skip
            info = zipfile.ZipInfo(f"{name}.npy", date_time=ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data.getvalue(), compresslevel=9)
    path.write_bytes(buffer.getvalue())


def _licence_text(provenance: dict, archive_sha256: str) -> str:
    rows = "\n".join(
        f"| {split} | {s['count']:,} | `{s['file']}` | {', '.join(map(str, s['per_digit']))} |"
        for split, s in provenance["splits"].items()
    )
    sources = "\n".join(f"    {digest}  {name}" for name, digest in provenance["sources"].items())
    return f"""# The offline MNIST sample: licence and provenance

`mnist_sample.npz` holds {sum(s["count"] for s in provenance["splits"].values()):,} digits
of the MNIST database of handwritten digits, unchanged (28×28 unsigned bytes, 0 = background).

## Licence and attribution

The MNIST database is by **Yann LeCun, Corinna Cortes and Christopher J.C. Burges**
(<http://yann.lecun.com/exdb/mnist/>). It is made available under the Creative Commons
Attribution-Share Alike 3.0 licence (CC BY-SA 3.0,
<https://creativecommons.org/licenses/by-sa/3.0/>). This sample is a subset of it and is
distributed under the same licence; the rest of neuraldigits is under its own (MIT) licence.

## Provenance

Made by `tools/make_sample.py` (seed {provenance["seed"]}) from the four official files,
whose SHA-256 it checked:

{sources}

| split | digits | drawn from | digits 0–9 |
| --- | --- | --- | --- |
{rows}

Training and validation digits are disjoint draws from MNIST's training file; test digits
come from MNIST's test file. Each split is a random draw stratified by class. The indices of
every digit in its source file are stored in the archive (`*_indices`), as is this record
(`provenance`, JSON).

SHA-256 of `mnist_sample.npz` as built: `{archive_sha256}`
"""


if __name__ == "__main__":
    sys.exit(main())
