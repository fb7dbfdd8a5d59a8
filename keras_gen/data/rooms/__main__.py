"""``python -m keras_gen.data.rooms --benchmark``: time the renderer per size."""

import sys

from keras_gen.data.rooms.render import _benchmark

if __name__ == "__main__":
    if "--benchmark" in sys.argv:
        _benchmark()
