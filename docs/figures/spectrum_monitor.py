"""The figure `lightning_modules.SpectrumMonitor` writes at the end of fit.

`configs/flossing_delayed_recall.yaml` (an Elman tanh network, g = 0.6, trained on delayed
recall at delay 16 with gradient flossing of 4 exponents) for 10 epochs, the spectrum
monitored every epoch; copies the run's spectrum.png here.
`python docs/figures/spectrum_monitor.py` writes docs/figures/spectrum_monitor.png (~3 min).
"""
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

with tempfile.TemporaryDirectory() as tmp:
    subprocess.run([sys.executable, str(ROOT / "cli.py"), "fit", "--config",
                    str(ROOT / "configs" / "flossing_delayed_recall.yaml"), "--trainer.max_epochs", "10",
                    "--trainer.default_root_dir", tmp, "--trainer.enable_progress_bar", "false"],
                   check=True, cwd=ROOT)
    shutil.copy(Path(tmp) / "spectrum.png", Path(__file__).with_suffix(".png"))
