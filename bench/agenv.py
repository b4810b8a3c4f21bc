"""AutoGluon's own virtual environment for the side-by-side bench, under bench/.work/.

    python -m bench.agenv            # make it (once; a few minutes) and say what it holds
    python -m bench.agenv --check    # only say what it holds

AutoGluon 1.6 pins pandas below 2.4 while Modelyard runs on pandas 3, so it never goes
into Modelyard's environment: the bench runs `bench/ag_runner.py` with this
environment's Python in a subprocess. The `fastai` extra brings torch (below 2.14), which
medium quality's two neural nets (NN_TORCH and FASTAI) need: without torch AutoGluon
skips them and would be measured without half its model zoo. Where pip finds a CPU-only
torch wheel (a local wheel folder) it takes that; on PyPI alone it takes the CUDA build
(about 5 GB).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent / ".work" / "ag-venv"
PYTHON = ROOT / "bin" / "python"
REQUIREMENT = "autogluon.tabular[lightgbm,catboost,xgboost,fastai]==1.6.3"
_PROBE = (
    "import json, importlib.metadata as m\n"
    "out = {}\n"
    "for name in ('autogluon.tabular', 'pandas', 'numpy', 'torch', 'fastai', 'lightgbm',"
    " 'catboost', 'xgboost-cpu', 'xgboost'):\n"
    "    try: out[name] = m.version(name)\n"
    "    except m.PackageNotFoundError: pass\n"
    "print(json.dumps(out))\n"
)


def versions() -> dict[str, str]:
    """The versions of AutoGluon and the libraries its models need, in its environment."""
    if not PYTHON.exists():
        raise SystemExit(f"No AutoGluon environment at {ROOT}: make it with "
                         "`python -m bench.agenv` (or `make bench-autogluon-env`).")
    proc = subprocess.run([str(PYTHON), "-c", _PROBE], capture_output=True, text=True,
                          check=True)
    return json.loads(proc.stdout)


def create() -> None:
    """Make the environment (if missing) and install AutoGluon into it."""
    if not PYTHON.exists():
        print(f"Creating {ROOT} ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(ROOT)], check=True)
    print(f"Installing {REQUIREMENT} (first time: a few minutes) ...", flush=True)
    subprocess.run([str(PYTHON), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                    REQUIREMENT], check=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--check", action="store_true", help="only print what is installed")
    args = parser.parse_args()
    if not args.check:
        create()
    print(json.dumps(versions()))


if __name__ == "__main__":
    main()
