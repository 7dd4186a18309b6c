"""``python -m dynalysis.cli ...``: the same commands as ``cli.py`` (used by `cli.py sweep`)."""
import sys

from . import main

sys.exit(main())
