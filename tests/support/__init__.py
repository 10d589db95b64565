"""Code the tests (and benchmarks/real_pictures.py) share that the library does not ship:
synthetic data sets and training helpers (:mod:`.training`), pictures of digits (:mod:`.photos`)."""
