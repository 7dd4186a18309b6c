"""The Lightning CLI for training: ``python cli.py fit|validate|test --config FILE.yaml``."""
from __future__ import annotations

from pytorch_lightning.cli import LightningCLI
from pytorch_lightning.utilities import rank_zero_info

from dynalysis.io.checkpoint import check_checkpoint_file, find_last_checkpoint

from .data import TaskDataModule
from .model import SequenceModel

__all__ = ["DynalysisCLI", "cli_main"]

#: checkpoint names Lightning itself resolves (``trainer.fit(ckpt_path="best")``, ...)
_SPECIAL_CKPT_PATHS = ("last", "best", "hpc", "registry")


class DynalysisCLI(LightningCLI):
    """LightningCLI with the data module's sizes linked into the model.

    ``fit --ckpt_path last`` resumes from the newest checkpoint anywhere below
    ``trainer.default_root_dir`` (`dynalysis.find_last_checkpoint`), or trains from scratch
    when there is none, so the same command both starts and resumes a run. Any other
    ``--ckpt_path`` is checked before Lightning reads it: a missing, empty or corrupt file (or
    one holding pickled code) is a one-line `dynalysis.CheckpointError`.
    """

    def add_arguments_to_parser(self, parser) -> None:
        for attr in ("input_size", "output_size", "target_mode", "loss"):
            parser.link_arguments(f"data.{attr}", f"model.init_args.{attr}", apply_on="instantiate")

    def parse_arguments(self, parser, args) -> None:
        """Parse, then check ``--ckpt_path`` before Lightning reads it (it loads the file at once)."""
        super().parse_arguments(parser, args)
        subcommand = self.config.get("subcommand")
        path = self.config[subcommand].get("ckpt_path") if subcommand else None
        if isinstance(path, str) and path not in _SPECIAL_CKPT_PATHS and not path.startswith("registry:"):
            check_checkpoint_file(path)

    def before_fit(self) -> None:
        config = self.config_init[self.subcommand]
        if config.get("ckpt_path") == "last":
            last = find_last_checkpoint(self.trainer.default_root_dir)
            config["ckpt_path"] = None if last is None else str(last)
            rank_zero_info(f"resuming from {last}" if last else "no checkpoint to resume from below "
                           f"{self.trainer.default_root_dir}; training from scratch")


CLI_KWARGS = dict(subclass_mode_model=True, subclass_mode_data=True, save_config_kwargs={"overwrite": True},
                  parser_kwargs={"prog": "cli.py", "description": "Train recurrent networks "
                                 "(Lightning CLI). Analysis: `python cli.py analyze --help`."})


def cli_main(args: list[str] | None = None, *, run: bool = True, cli_class: type = DynalysisCLI) -> DynalysisCLI:
    """Run the training CLI (``args`` like ``["fit", "--config", "configs/x.yaml"]``)."""
    return cli_class(SequenceModel, TaskDataModule, args=args, run=run, **CLI_KWARGS)
