"""``python -m lightning_modules fit|validate|test|predict|sweep|demo ...``: the training
commands, as `cli.py` runs them (and as `cli.py sweep` prints them for each run)."""
import sys

from .commands import main

sys.exit(main())
