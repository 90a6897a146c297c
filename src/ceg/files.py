"""Writing files so that a reader never sees half of one.

Every file ``ceg`` writes (fits, tables, draws, reports, SBC records) goes
through :func:`write_atomic`: the content goes to a temporary file in the
destination's folder, which then replaces the destination
(:func:`os.replace` is atomic within one file system). On any error the
destination is left as it was and the temporary file is removed.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def write_atomic(path: Path | str, write: Callable[[Path], object]) -> Path:
    """Call ``write(tmp)`` on a temporary file next to ``path``, then rename it to ``path``.

    Parameters
    ----------
    path
        Destination; its folder is created if missing (a long fit must never be lost
        at the end because ``--save-fit out/new/fit.nc`` named a folder not made yet).
    write
        Writes the complete content to the path it is given.

    Returns
    -------
    pathlib.Path
        ``path``, now holding the complete new content, with the permissions
        a new file gets under the process's umask (not the temporary file's
        private 0600).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return path


def write_text_atomic(path: Path | str, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; see :func:`write_atomic`."""
    return write_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


__all__ = ["write_atomic", "write_text_atomic"]
