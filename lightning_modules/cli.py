"""The Lightning CLI for training: ``python cli.py fit|validate|test --config FILE.yaml``."""
from __future__ import annotations

from pytorch_lightning.cli import LightningCLI

from .data import TaskDataModule
from .model import SequenceModel

__all__ = ["DynalysisCLI", "cli_main"]


class DynalysisCLI(LightningCLI):
    """LightningCLI with the data module's sizes linked into the model."""

    def add_arguments_to_parser(self, parser) -> None:
        for attr in ("input_size", "output_size", "target_mode", "loss"):
            parser.link_arguments(f"data.{attr}", f"model.init_args.{attr}", apply_on="instantiate")


def cli_main(args: list[str] | None = None, *, run: bool = True) -> DynalysisCLI:
    """Run the training CLI (``args`` like ``["fit", "--config", "configs/x.yaml"]``)."""
    return DynalysisCLI(SequenceModel, TaskDataModule, subclass_mode_model=True,
                        subclass_mode_data=True, args=args, run=run,
                        save_config_kwargs={"overwrite": True},
                        parser_kwargs={"prog": "cli.py", "description": "Train recurrent networks "
                                       "(Lightning CLI). Analysis: `python cli.py analyze --help`."})
