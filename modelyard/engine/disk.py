"""A full disk, for the app and the CLI (which reach storage only through the engine):
how to tell it (`is_disk_full`), how to say it (`disk_full_reason`), and how to write a
file so that a full disk cannot tear it (`replacing`, `write_text_atomic`). The policy
and the code are in `storage/files.py`."""

from modelyard.storage.files import (
    disk_full_reason,
    is_disk_full,
    replacing,
    write_text_atomic,
)

__all__ = ["disk_full_reason", "is_disk_full", "replacing", "write_text_atomic"]
