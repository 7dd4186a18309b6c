"""``python -m dynalysis.cli ...``: the same commands as ``cli.py`` and the ``dynalysis`` script."""
import sys

from . import main

sys.exit(main())
