"""The library's own exceptions.

Every user-facing failure (a bad file, image, argument or request) raises a
subclass of :class:`NeuralDigitsError` with a message that names the culprit and
says what was expected.  The CLI prints that message as one line and exits
non-zero; it never shows a traceback for these.
"""


class NeuralDigitsError(Exception):
    """Base class for errors caused by the user's input, not by a bug."""


class DataError(NeuralDigitsError, ValueError):
    """A data file or directory is missing, malformed or inconsistent."""


class ModelFileError(NeuralDigitsError, ValueError):
    """A saved model file is missing, foreign, truncated or inconsistent."""


class ImageError(NeuralDigitsError, ValueError):
    """An image cannot be read, or holds no digit."""


class CircuitError(NeuralDigitsError, ValueError):
    """A perceptron, a circuit of perceptrons, or an input given to one is malformed."""


class SettingError(NeuralDigitsError, ValueError):
    """An environment variable of ours (e.g. NEURALDIGITS_THREADS) holds an unusable value."""


class TrainingError(NeuralDigitsError, ArithmeticError):
    """Training cannot go on: the weights overflowed (η far too large).

    ``history`` holds the epochs finished before it happened.
    """

    def __init__(self, message: str, history: object = None) -> None:
        super().__init__(message)
        self.history = history
