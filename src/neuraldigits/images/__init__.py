"""Pictures in, distortions out.

* :mod:`.preprocess` — any picture of a digit (PNG, JPEG, transparent, any size)
  into the 28×28 input, prepared the way MNIST's digits were;
* :mod:`.showinput` — a picture of what the network sees beside the original;
* :mod:`.augment` — distorted copies of training images (``digits train --augment``);
* :mod:`.stream` — fresh distortions of the training set every epoch, made in a
  background process (the reader's recipe).

It may import the core only, never ``data``, ``training``, ``book``, ``cli`` or ``web``.
"""
