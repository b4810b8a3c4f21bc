"""The folders under MODELYARD_HOME (the truth) and the DuckDB catalog over them.

This is the only package that holds SQL. It imports neither `engine` nor `app`.
"""

from modelyard.storage.paths import Home

__all__ = ["Home"]
