"""When to answer "unsure": how a minimum confidence trades answers for accuracy.

``digits predict --min-confidence P`` (and the API's ``min_confidence``) answers
"unsure" when the network's confidence is below P (neuraldigits.confidence: the
strongest output activation minus the runner-up's).  This script measures, on the
outside sets of benchmarks/real_pictures.py (pen-drawn digits, never from MNIST) and
on MNIST's validation set — never its test set:

1. why that definition: how well each candidate score separates right answers from
   wrong ones (AUROC: the chance that a random right answer scores higher than a
   random wrong one; 0.5 is no better than a coin, 1 is perfect), for the top
   activation alone, its share of the ten (a_top / Σa) and the margin (a_top − a_second)
   (here also on real_pictures.py's older standard-form drawings);
2. the accuracy-versus-coverage curve: for each P, the share of pictures that get an
   answer (coverage) and how many of those answers are right (accuracy), per set and
   per model, so that a user can choose P.

A picture the preparation refuses ("no ink found") gets no answer at any P: it counts
against coverage, not accuracy.  Uses the same models as real_pictures.py (the book's
default and --augment, trained unless found in --workdir) and any --model NAME=PATH.

    NEURALDIGITS_DATA=/path/to/mnist python benchmarks/confidence.py
        [--pictures 500] [--epochs 30] [--seed 1] [--workdir DIR] [--model NAME=PATH ...]

Prints Markdown tables.  Takes a minute or two once the models exist.
"""

from __future__ import annotations

import numpy as np
from real_pictures import arguments, models_from, outside_sets
from scipy.stats import rankdata

from neuraldigits.confidence import confidence
from neuraldigits.data.mnist import load_mnist
from neuraldigits.modelfile import load

LEVELS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


def scores(outputs: np.ndarray) -> dict[str, np.ndarray]:
    """The candidate confidence scores of each row of ``outputs`` (N, 10)."""
    top = outputs.max(axis=1)
    return {
        "top activation a_top": top,
        "share a_top / Σa": top / outputs.sum(axis=1),
        "margin a_top − a_second (chosen)": confidence(outputs),
    }


def auroc(score: np.ndarray, right: np.ndarray) -> float:
    """P(a random right answer scores above a random wrong one), ties counting half."""
    ranks = rankdata(score)
    n_right, n_wrong = int(right.sum()), int((~right).sum())
    if not n_right or not n_wrong:
        return float("nan")
    return float((ranks[right].sum() - n_right * (n_right + 1) / 2) / (n_right * n_wrong))


def main() -> None:
    parser = arguments(__doc__.split("\n")[0], photographs=False)
    args = parser.parse_args()
    models = {name: load(path) for name, path in models_from(args).items()}
    _, validation, _ = load_mnist()
    sets = {"MNIST validation": (validation[0], validation[1], np.ones(len(validation[1]), bool))}
    every = outside_sets(args.pictures, args.seed)
    outside = {n: s for n, s in every.items() if n != "drawings"}  # the five new sets
    for name, s in outside.items():
        sets[f"`{name}`"] = (s.inputs, s.labels, s.read)
    sets["outside, together"] = tuple(
        np.concatenate([getattr(s, field) for s in outside.values()])
        for field in ("inputs", "labels", "read")
    )
    # The older standard-form drawings: in the first table only, to show where the top
    # activation alone fails.
    d = every["drawings"]
    drawings = {"`drawings` (standard forms)": (d.inputs, d.labels, d.read)}

    print(f"\nseed {args.seed}; {args.pictures} pictures per outside set\n")
    print("Separating right answers from wrong ones (AUROC; higher is better):\n")
    names = list(scores(np.ones((1, 10))))
    print("| model | pictures | " + " | ".join(names) + " |")
    print("|---|---|" + "---|" * len(names))
    curves = {}
    for model, net in models.items():
        for title, (inputs, labels, read) in {**sets, **drawings}.items():
            outputs = net.feedforward(inputs)  # (N, 10)
            right = (outputs.argmax(axis=1) == labels) & read
            curves[model, title] = (confidence(outputs), right, read)
            cells = [auroc(s[read], right[read]) for s in scores(outputs).values()]
            best = max(cells)
            shown = [f"**{c:.3f}**" if c == best else f"{c:.3f}" for c in cells]
            print(f"| `{model}` | {title} | " + " | ".join(shown) + " |")

    for model in models:
        print(f"\n`{model}`: coverage (share answered) / accuracy of the answers, by P:\n")
        print("| P | " + " | ".join(sets) + " |")
        print("|---|" + "---|" * len(sets))
        for level in LEVELS:
            cells = []
            for title in sets:
                sure, right, read = curves[model, title]
                answered = read & (sure >= level)
                accuracy = right[answered].mean() if answered.any() else float("nan")
                cells.append(f"{100 * answered.mean():.0f} / {100 * accuracy:.1f}")
            label = f"{level:.1f}" + (" (off)" if level == 0 else "")
            print(f"| {label} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
