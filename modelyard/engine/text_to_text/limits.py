"""What a text-to-text model cannot do yet, said once for the CLI and the Model page.

The report's charts and the export's bundle formats are built for models that answer
with a class or a number from columns; a text-to-text model answers with written text
and keeps its own network files. Until they learn that, both say so and name the way
that works, instead of failing half-way with a conversion error.
"""

from __future__ import annotations

from modelyard.engine.errors import BadInputError


def no_report(run: str) -> BadInputError:
    """Why run `run` (a text-to-text model) has no written report, and what to use."""
    return BadInputError(
        "A written report is not made for text-to-text models yet: its charts are for "
        "models that answer with a class or a number.",
        "The Model page lists the held-out inputs with the output wanted next to the "
        f"model's; `modelyard show {run}` gives the scores.")


def no_export(run: str, model_dir: str) -> BadInputError:
    """Why run `run` (a text-to-text model) cannot be exported, and what to use."""
    return BadInputError(
        "Exporting a text-to-text model (zip, ONNX or MLflow) is not supported yet.",
        f"Its sealed Model bundle is the folder {model_dir}: copy that folder, and write "
        f"outputs for new inputs with `modelyard predict {run} inputs.csv` (or give the "
        "copied folder instead of the run).")
