"""Modelyard: a local AutoML workbench (data in, plan proposed, models trained, results
you can use). The packages: `app` (Streamlit entry, Workspace, CLI), `pages` (one module
per page), `engine` (all ML and data work), `storage` (the folders and the catalog)."""
