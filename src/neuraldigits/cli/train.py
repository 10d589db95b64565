"""`digits train`: the book's SGD run on MNIST, printed the book's way."""

from __future__ import annotations

import argparse
import sys

import numpy as np

from ..costs import COSTS
from ..errors import NeuralDigitsError
from ..extras import install_hint
from ..geometry import PIXELS, SIDE
from ..locations import default_model_path
from ..modelfile import save
from ..network import INITS, EpochResult, Network
from ..recipes import RECIPES, Recipe, fit
from ..wording import plural
from .checkpointing import RunCheckpoint, add_resume_argument, exit_status, sigterm_as_interrupt
from .common import (
    add_data_argument,
    fraction,
    layer_sizes,
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
)
from .console import add_json_argument
from .data import load_for_command
from .progress import epoch_bar
from .trained import destination, document, outcome_line

HELP = "train a network with stochastic gradient descent (the book's recipe by default)"
DESCRIPTION = (
    HELP + ".\n\nPrints one line per epoch, 'Epoch N: correct / total' on the test set as in "
    "the book,\nthen the validation accuracy, test cost and seconds. Saves the model with the "
    "best\nvalidation accuracy; Ctrl-C (or SIGTERM) stops and saves the best model so far.\n"
    "A checkpoint written after every epoch lets --resume carry on a run that was killed."
)

# Ends every score line of a run on the offline sample (its 1,000 test digits, not MNIST's 10,000).
SAMPLE_TAG = " [offline sample]"
# Test accuracy below this after an epoch means the net is guessing.
CHANCE_MARGIN = 0.05


class Given(argparse.Action):
    """Store an option's value and remember that it was given on the command line.

    ``--recipe`` yields to exactly these options; comparing a value with the parser's
    default cannot tell ``--epochs 30`` from no ``--epochs`` at all.
    """

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        setattr(namespace, self.dest, values)
        namespace.given = getattr(namespace, "given", frozenset()) | {self.dest}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.set_defaults(given=frozenset())
    parser.add_argument(
        "--recipe",
        choices=list(RECIPES),
        default="book",
        help="a whole set of training settings: chapter 1's (book), or the shipped reader's "
        "(reader: [784, 800, 10], chapter 3's methods, fresh distortions every epoch); "
        "options below that you also give override it",
    )
    parser.add_argument(
        "--sizes",
        action=Given,
        type=layer_sizes,
        default=f"{PIXELS},30,10",
        metavar="N,N,...",
        help="neurons per layer, input first",
    )
    parser.add_argument(
        "--epochs", action=Given, type=positive_int, default=30, help="passes over the data"
    )
    parser.add_argument(
        "--mini-batch-size",
        action=Given,
        type=positive_int,
        default=10,
        metavar="M",
        help="examples per gradient step",
    )
    parser.add_argument(
        "--eta", action=Given, type=positive_float, default=3.0, help="learning rate η"
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=None,
        help="random seed for weights and shuffling (default: a fresh one, "
        "printed so the run can be repeated)",
    )
    parser.add_argument(
        "--cost",
        action=Given,
        choices=list(COSTS),
        default="quadratic",
        help="the cost SGD minimises: chapter 1's quadratic, or chapter 3's cross-entropy",
    )
    parser.add_argument(
        "--init",
        action=Given,
        choices=list(INITS),
        default="large",
        help="how weights start: chapter 1's N(0, 1) (large), or chapter 3's N(0, 1/n_in) (scaled)",
    )
    parser.add_argument(
        "--lmbda",
        action=Given,
        type=non_negative_float,
        default=0.0,
        metavar="λ",
        help="L2 regularisation: each step shrinks the weights by ηλ/n (chapter 3; 0 = off)",
    )
    parser.add_argument(
        "--momentum",
        action=Given,
        type=fraction,
        default=0.0,
        metavar="μ",
        help="momentum coefficient μ in [0, 1) (chapter 3; 0 = plain SGD)",
    )
    parser.add_argument(
        "--early-stop",
        action=Given,
        type=positive_int,
        default=None,
        metavar="N",
        help="stop after N epochs without a better validation accuracy (default: off)",
    )
    parser.add_argument(
        "--eta-schedule",
        action=Given,
        type=positive_int,
        default=None,
        metavar="N",
        help="halve η after each N epochs without a better validation accuracy, and stop at "
        "η/128, as chapter 3 suggests (default: off)",
    )
    parser.add_argument(
        "--augment",
        type=non_negative_int,
        nargs="?",
        const=1,
        default=0,
        metavar="COPIES",
        help="also train on COPIES randomly distorted copies of each training image (shifted, "
        "rotated, scaled, elastically warped, thicker or thinner strokes), so the model reads "
        "real pictures better; --augment alone adds one copy",
    )
    add_data_argument(parser)
    parser.add_argument(
        "--out",
        default=None,
        metavar="PATH",
        help=f"where to save the trained model (default: {default_model_path()}, which the other "
        "commands use; a better model already there is kept and this one saved beside it)",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="without --out, replace the default model even when it scored better",
    )
    add_json_argument(parser)
    add_resume_argument(parser)


def run(args: argparse.Namespace) -> int:
    console = args.console
    checkpoint = RunCheckpoint(args.out, args.resume)  # with --resume, read (or refused) first
    data = load_for_command(args.data, console=console)
    training, validation, test = data.training, data.validation, data.test
    print(f"Data: {data.source}", flush=True)
    n_pixels, n_classes = training[0].shape[1], 10
    if args.sizes[0] != n_pixels or args.sizes[-1] != n_classes:
        raise NeuralDigitsError(
            f"--sizes {','.join(map(str, args.sizes))}: the input layer must have {n_pixels} "
            f"neurons (one per pixel) and the output layer {n_classes} (one per digit)"
        )
    seed = checkpoint.seed(args.seed)
    recipe = _recipe(args)
    if args.augment and recipe.distort:
        raise NeuralDigitsError(
            f"--augment: the {args.recipe} recipe already trains on fresh distortions every epoch"
        )
    if args.augment:
        training = _augment(training, args.augment, seed)
    net = Network(args.sizes, seed=seed, cost=args.cost, init=args.init)
    print(
        f"Training {args.sizes} on {len(training[1]):,} images: {_epochs(args.epochs)}, "
        f"mini-batch size {args.mini_batch_size}, eta {args.eta}, seed {seed}"
        + "".join(f", {part}" for part in _chapter_3_settings(args))
        + (", fresh distortions every epoch" if recipe.distort else "")
        + ("" if args.recipe == "book" else f" (recipe {args.recipe})"),
        flush=True,
    )
    console.detail(_trainer(training[0], net))
    # Scores on the sample are not scores on MNIST's 10,000 test digits: every line says so.
    tracker = _Tracker(net, tag=SAMPLE_TAG if data.is_sample else "")
    settings = {
        "epochs": args.epochs,
        "mini_batch_size": args.mini_batch_size,
        "eta": args.eta,
        "seed": seed,
        "augment": args.augment,
        "training_examples": len(training[1]),
        "data": data.source,
        # Which images it trained on, so evaluate/plot can warn when scored on them.
        "images": data.origins.get("training"),
        "sample": data.is_sample,
        "cost": args.cost,
        "init": args.init,
        "lmbda": args.lmbda,
        "momentum": args.momentum,
        "early_stop": args.early_stop,
        "eta_schedule": args.eta_schedule,
        "recipe": args.recipe,
        "distort": recipe.distort,
    }
    state = checkpoint.begin(net, tracker, settings, (training, validation, test))
    bar = epoch_bar(len(training[1]))
    try:
        with sigterm_as_interrupt():  # a plain `kill` stops the run as Ctrl-C does
            history = fit(
                net, recipe, training, validation, seed, test=test,
                callback=tracker.after_epoch, on_batch=bar.update if bar else None,
                state=state, on_epoch_end=checkpoint.after_epoch,
            )  # fmt: skip
    except KeyboardInterrupt as stop:
        if bar:
            bar.close()  # before the lines below, which would otherwise print under it
        if tracker.best is None:
            print("Interrupted before the first epoch ended; nothing saved.", file=sys.stderr)
            return exit_status(stop)
        where = destination(args.out, args.force, tracker.best_accuracy())
        path = tracker.save(where.path, settings, interrupted=True)
        print(
            f"Interrupted after {plural(len(tracker.history), 'epoch')}; saved the best model "
            f"so far (epoch {tracker.best_epoch}) to {path}",
            file=sys.stderr,
        )
        checkpoint.tell_how_to_resume()
        _report(console, tracker, where, settings, data.is_sample, interrupted=True)
        return exit_status(stop)
    finally:
        if bar:
            bar.close()  # also when training fails (a diverged run), so the error line stands alone
    if history.stopped:
        settings["stopped"] = history.stopped
        print(f"Stopped after epoch {history[-1].epoch}: {history.stopped}")
    best_test = max(tracker.history, key=lambda r: r.test.correct)
    console.result(
        f"Best test accuracy: {best_test.test.correct} / {best_test.test.total} "
        f"({100 * best_test.test.accuracy:.2f} %) at epoch {best_test.epoch}{tracker.tag}; "
        f"total training time {sum(r.seconds for r in tracker.history):.1f} s"
    )
    where = destination(args.out, args.force, tracker.best_accuracy())
    path = tracker.save(where.path, settings, interrupted=False)
    checkpoint.finish(path)
    console.result(
        f"Saved the model of epoch {tracker.best_epoch} (best validation accuracy "
        f"{100 * tracker.best_accuracy():.2f} %) to {path}"
    )
    _report(console, tracker, where, settings, data.is_sample, interrupted=False)
    return 0


def _report(console, tracker, where, settings, is_sample: bool, interrupted: bool) -> None:
    """The last word: what became of the default model, and the --json document."""
    outcome = outcome_line(where, tracker.best_accuracy())
    if outcome:
        console.result(outcome)
    if console.json_mode:
        sizes = tracker.net.sizes
        doc = document(tracker.history, tracker.best_epoch, where, settings, sizes, is_sample,
                       interrupted)  # fmt: skip
        console.json(doc)


class _Tracker:
    """Prints each epoch and keeps a copy of the best network so far (by validation)."""

    def __init__(self, net: Network, tag: str = "") -> None:
        self.net = net
        self.tag = tag
        self.history: list[EpochResult] = []
        self.best: Network | None = None
        self.best_epoch = -1
        self.warned = False

    def after_epoch(self, r: EpochResult) -> None:
        if self.history and r.eta != self.history[-1].eta:
            print(f"(η lowered to {r.eta:g}: no better validation accuracy for a while)")
        self.history.append(r)
        t, v = r.test, r.validation
        print(
            f"Epoch {r.epoch}: {t.correct} / {t.total}  ({100 * t.accuracy:.2f} %, "
            f"validation {100 * v.accuracy:.2f} %, cost {t.cost:.4f}, {r.seconds:.2f} s)"
            f"{self.tag}",
            flush=True,
        )
        if self.best is None or v.correct > self.history[self.best_epoch].validation.correct:
            self.best, self.best_epoch = self.net.copy(), r.epoch
        chance = 1 / self.net.sizes[-1]
        if t.accuracy < chance + CHANCE_MARGIN and not self.warned:
            self.warned = True
            print(
                f"warning: accuracy {100 * t.accuracy:.2f} % is at chance level: the network "
                "is guessing. The learning rate --eta may be far too large or too small "
                "(the book uses 3.0), or the inputs are not scaled to [0, 1].",
                file=sys.stderr,
                flush=True,
            )

    def best_accuracy(self) -> float:
        """The validation accuracy of the best epoch so far (the one saved)."""
        return next(r for r in self.history if r.epoch == self.best_epoch).validation.accuracy

    def save(self, out, settings: dict, interrupted: bool):
        return save(
            self.best,
            out,
            training=settings,
            history=self.history,
            best_epoch=self.best_epoch,
            interrupted=interrupted,
        )


# The options a recipe sets, as Recipe's fields (--sizes is Recipe.hidden).
_RECIPE_OPTIONS = ("epochs", "mini_batch_size", "eta", "cost", "init", "lmbda", "momentum",
                   "early_stop", "eta_schedule")  # fmt: skip


def _recipe(args: argparse.Namespace) -> Recipe:
    """The run's recipe: ``--recipe``'s settings, overridden by any option given as well.

    An option not given on the command line takes the recipe's value (the parser's
    defaults are chapter 1's recipe); ``args`` is updated to match, so the rest reads
    one place.
    """
    chosen, given = RECIPES[args.recipe], args.given
    if "sizes" not in given:
        args.sizes = [args.sizes[0], *chosen.hidden, args.sizes[-1]]
    for option in _RECIPE_OPTIONS:
        if option not in given:
            setattr(args, option, getattr(chosen, option))
    return Recipe(
        hidden=tuple(args.sizes[1:-1]), distort=chosen.distort,
        **{option: getattr(args, option) for option in _RECIPE_OPTIONS},
    )  # fmt: skip


def _chapter_3_settings(args: argparse.Namespace) -> list[str]:
    """The settings that differ from chapter 1's recipe, for the run's first line."""
    parts = []
    if args.cost != "quadratic":
        parts.append(f"{args.cost} cost")
    if args.init != "large":
        parts.append(f"{args.init} init")
    if args.lmbda:
        parts.append(f"lmbda {args.lmbda}")
    if args.momentum:
        parts.append(f"momentum {args.momentum}")
    if args.early_stop:
        parts.append(f"early stop after {_epochs(args.early_stop)} without improvement")
    if args.eta_schedule:
        parts.append(f"eta halved after {_epochs(args.eta_schedule)} without improvement")
    return parts


def _trainer(images, net: Network) -> str:
    """Which compiled trainer runs (for -v): the C kernel, numba or numpy."""
    from ..training import ckernel
    from ..training.trainer import backend_for

    backend = backend_for(images, net.dtype)
    if backend != "c":
        return f"trainer: {backend}"
    threads = ckernel.default_threads(net.sizes[1])
    return f"trainer: the C kernel ({ckernel.variant()} build, {plural(threads, 'thread')})"


def _epochs(count: int) -> str:
    return plural(count, "epoch")


def _augment(training, copies: int, seed: int):
    """The training set plus ``copies`` distorted copies (:mod:`neuraldigits.images.augment`)."""
    if training[0].shape[1] != PIXELS:
        raise NeuralDigitsError(
            f"--augment distorts {SIDE}×{SIDE} images, but these have {training[0].shape[1]} pixels"
        )
    try:
        from ..images.augment import augmented
    except ImportError as e:
        raise NeuralDigitsError(
            f"--augment needs SciPy ({e}), the images extra: {install_hint('images')}"
        ) from None
    print(
        f"Adding {plural(copies, 'distorted copy', 'distorted copies')} of each training image...",
        flush=True,
    )
    # Its own stream, derived from the seed, so the weights do not depend on --augment.
    return augmented(training, copies, np.random.default_rng([seed, 1]))
