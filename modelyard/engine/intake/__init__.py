"""Intake: files in, Parquet + Profile out, under the dataset's folder."""

from modelyard.engine.intake.ingest import ingest

__all__ = ["ingest"]
