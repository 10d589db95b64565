"""Chapter 1 checked: the book's ideas and numbers, beyond training a network.

* :mod:`.perceptron`, :mod:`.circuits` — perceptrons, NAND universality, adders;
* :mod:`.baselines` — random guessing, average darkness, the SVM;
* :mod:`.experiments` — the chapter's questions (output encoding, GD against SGD);
* :mod:`.reproduce` — every figure of the chapter, ours beside the book's;
* :mod:`.plots` — pictures of a network and of the experiments;
* :mod:`.sweep` — many seeded runs, serially, in local processes or on a Dask cluster.

It may import the core, ``data``, ``training`` and ``images``, never ``cli`` or ``web``.
"""
