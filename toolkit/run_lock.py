"""One run per folder at a time: an OS file lock (filelock) inside the folder, taken before the run writes
anything and released when it finishes, fails or its process ends. The lock itself cannot go stale (the OS drops
it with the process); the holder's note beside it (pid, host, start) names who has it, and a note left by a
process that died without releasing it is taken over and said so."""

from __future__ import annotations

import atexit
import json
import os
import socket
import time
from pathlib import Path

from filelock import FileLock, Timeout

from toolkit.errors import ToolkitError

LOCK = ".toolkit.lock"
HOLDER = ".toolkit.lock.json"

_held: dict[Path, FileLock] = {}


def holder_of(folder: Path) -> dict:
    try:
        return json.loads((Path(folder) / HOLDER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def lock(folder: Path, say=print) -> None:
    """Take the folder's lock for this process, or refuse at once naming the process that holds it."""
    folder = Path(folder).resolve()
    release(folder)  # this process's own earlier run into the folder ended without finishing (e.g. in a notebook)
    file_lock = FileLock(str(folder / LOCK), timeout=0)
    try:
        file_lock.acquire()
    except Timeout:
        holder = holder_of(folder)
        who = (f"process {holder.get('pid')} on {holder.get('host')} (started {holder.get('started')})"
               if holder else "another process")
        raise ToolkitError(f"{folder}: another run is writing there now: {who}. Wait for it to end, or give this "
                           f"run another training.output_dir.") from None
    left = holder_of(folder)
    if left and left.get("pid") != os.getpid():
        here = left.get("host") == socket.gethostname()
        state = "no longer running" if here and not alive(int(left.get("pid", 0))) else "which released the lock"
        say(f"{folder}: took over the lock left by process {left.get('pid')} on {left.get('host')} ({state}).")
    note = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    (folder / HOLDER).write_text(json.dumps(note) + "\n", encoding="utf-8")
    _held[folder] = file_lock


def release(folder: Path) -> None:
    folder = Path(folder).resolve()
    file_lock = _held.pop(folder, None)
    if file_lock is None:
        return
    if holder_of(folder).get("pid") == os.getpid():
        (folder / HOLDER).unlink(missing_ok=True)
    file_lock.release(force=True)


@atexit.register
def _release_all() -> None:
    for folder in list(_held):
        release(folder)
