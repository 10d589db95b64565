"""Chapter 1's questions as runnable experiments, one module per question.

* :mod:`.output_encoding` — why 10 output neurons rather than a 4-bit code?
* :mod:`.gd_vs_sgd` — full-batch gradient descent against mini-batch SGD.

Each module's ``run(...)`` returns a result object; only the CLI prints.
"""

from . import gd_vs_sgd, output_encoding

# Explicit registry: name on the command line → module.
EXPERIMENTS = {
    "output-encoding": output_encoding,
    "gd-vs-sgd": gd_vs_sgd,
}
