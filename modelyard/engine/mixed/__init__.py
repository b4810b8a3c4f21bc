"""Tables whose rows point at images: image networks' predictions joined with the
table's columns and fed to the table families (`run.py` says how)."""
