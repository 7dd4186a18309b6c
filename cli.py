#!/usr/bin/env python
"""dynalysis command line: `python cli.py fit|validate|test ...` (training, Lightning CLI) and
`python cli.py analyze|plot|demo ...` (analysis, no Lightning import). See `--help`."""
import sys

from dynalysis.cli import main

if __name__ == "__main__":
    sys.exit(main())
