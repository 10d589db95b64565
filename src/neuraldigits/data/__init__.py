"""MNIST and where it comes from.

* :mod:`.idx` — reading and writing IDX files without trusting them;
* :mod:`.mnist` — the four standard files and the book's 50k / 10k / 10k split
  (:func:`~.mnist.load_mnist`);
* :mod:`.sources` — the search order for a run's data: the user's path,
  ``$NEURALDIGITS_DATA``, the per-user cache, a download, the offline sample;
* :mod:`.download` — verified downloads from several mirrors;
* :mod:`.sample` — the offline sample shipped in the package (5,000 / 1,000 /
  1,000 digits of the official files, its test digits from MNIST's test file);
* :mod:`.provenance` — which images a set holds, so a score on a model's own
  training images is flagged;
* :mod:`.bookpickle` — the book's own ``mnist.pkl.gz``, read without unpickling code.

It may import the core (``network``, ``errors``, ``atomic``, ``locations``,
``geometry``, ``version``), never ``training``, ``images``, ``book``, ``cli`` or ``web``.
"""
