"""A lock file so two runs never write one run directory at the same time.

`acquire` creates `<directory>/.jnn-lock` with `O_CREAT | O_EXCL` (atomic on
POSIX file systems, NFS included since v3) and writes the owner's pid, host
and start time into it. A lock whose process is gone (same host, pid not
alive) is *stale*: it is reported, and broken only when asked
(`break_stale=True`, the `--break-lock` flag), because a person should notice
that the previous run died. A lock held by a live process is never broken.
"""

import json
import os
import socket
import time
from pathlib import Path

from jnn import _checks

LOCK = ".jnn-lock"


def _owner() -> dict:
    return {"pid": os.getpid(), "host": socket.gethostname(), "time": time.time()}


def _read(path: Path) -> dict:
    try:
        owner = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # half-written or garbled: treat as an unknown owner
    return owner if isinstance(owner, dict) else {}


def _alive(owner: dict) -> bool | None:
    """True/False for a process on this host; None when it cannot be known."""
    pid = owner.get("pid")
    if owner.get("host") != socket.gethostname() or not isinstance(pid, int):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by another user
    return True


def _try_create(path: Path) -> bool:
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(_owner(), f)
        f.flush()
        os.fsync(f.fileno())
    return True


def acquire(directory: str | os.PathLike, *, break_stale: bool = False) -> Path:
    """Take the lock of `directory` (created if missing); return the lock path.

    Raises:
      ValueError: if a live process holds the lock, or a stale lock of a dead
        (or unknown) process exists and `break_stale` is False.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / LOCK
    if _try_create(path):
        return path
    owner = _read(path)
    alive = _alive(owner)
    who = f"pid {owner.get('pid', '?')} on host {owner.get('host', '?')}"
    if alive:
        hint = "wait for it to finish, stop it, or use another --workdir"
        expected = f"no other run writing '{directory}'"
        raise _checks.value_error("lock", expected, f"a live lock of {who}", hint)
    if not break_stale:
        state = "dead" if alive is False else "unknown (other host)"
        hint = f"if that run is gone, pass --break-lock (or delete '{path}')"
        expected = f"an unlocked run directory '{directory}'"
        raise _checks.value_error(
            "lock", expected, f"a stale lock of {who}, process {state}", hint
        )
    path.unlink(missing_ok=True)
    if not _try_create(path):  # another run broke it first and took it
        raise _checks.value_error(
            "lock", f"to break the stale lock '{path}'", "a new lock by another run"
        )
    return path


def release(path: str | os.PathLike) -> None:
    """Remove a lock taken by `acquire` in this process (others are kept)."""
    path = Path(path)
    if _read(path).get("pid") == os.getpid():
        path.unlink(missing_ok=True)
