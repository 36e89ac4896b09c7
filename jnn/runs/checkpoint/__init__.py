"""Checkpoints: a pickle-free format (`file_format`), atomic writes and retention
(`store`), strict restores. See those modules for the layout on disk."""

from jnn.runs.checkpoint.file_format import (
    ARRAYS,
    FORMAT,
    MANIFEST,
    VERSION,
    CorruptCheckpoint,
    restore,
    restore_metadata,
)
from jnn.runs.checkpoint.store import (
    all_checkpoints,
    at_step,
    clean_temporaries,
    latest,
    path_of,
    prune,
    save,
    step_of,
)

__all__ = [
    "ARRAYS",
    "FORMAT",
    "MANIFEST",
    "VERSION",
    "CorruptCheckpoint",
    "all_checkpoints",
    "at_step",
    "clean_temporaries",
    "latest",
    "path_of",
    "prune",
    "restore",
    "restore_metadata",
    "save",
    "step_of",
]
