#!/usr/bin/env python
"""dynalysis command line: `python cli.py fit|validate|test|predict|sweep|demo ...` (training:
lightning_modules) and `python cli.py analyze|plot ...` (analysis: dynalysis, no Lightning).
See `python cli.py --help`."""
import sys

TRAINING = ("fit", "validate", "test", "predict", "sweep", "demo")


def main() -> int:
    command = next((a for a in sys.argv[1:] if not a.startswith("-")), None)
    if command in TRAINING:
        from lightning_modules.commands import main as training_main

        return training_main()
    from dynalysis.cli import main as analysis_main  # analyze, plot, --help

    return analysis_main()


if __name__ == "__main__":
    sys.exit(main())
