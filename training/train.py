"""Entry point: `python -m training.train CONFIG.yaml [--set key=value ...]`.

Thin on purpose: it parses the command line and calls `keras_gen.trainer`,
exactly like `keras-gen train`.
"""

import sys

from keras_gen.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))
