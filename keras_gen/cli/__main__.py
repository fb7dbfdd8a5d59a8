"""`python -m keras_gen.cli ...`, the same as `keras-gen ...`."""

import sys

from keras_gen.cli import main

sys.exit(main())
