"""The shape of MNIST's images, which every layer that handles pictures shares.

An MNIST image is SIDE × SIDE = 28 × 28 grey pixels, flattened row by row into
the PIXELS = 784 inputs of a digit network.
"""

SIDE = 28
PIXELS = SIDE * SIDE
