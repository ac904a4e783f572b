"""Atomic file writes: temp file in the same directory, fsync, owner and
mode, rename over the target, fsync of the directory. A reader (nginx,
a rerun after power loss) sees the old file or the new one, never a part."""
from __future__ import annotations

import grp
import os
import pwd
import tempfile
from collections.abc import Callable
from pathlib import Path

from .errors import OpteeTlsError


def _no_checkpoint(name: str) -> None:
    pass


# Set by provision.py: lets the crash tests stop between temp and rename.
checkpoint: Callable[[str], None] = _no_checkpoint


class FileError(OpteeTlsError):
    pass


def resolve_uid(owner: int | str | None) -> int:
    if owner is None:
        return -1
    if isinstance(owner, int):
        return owner
    try:
        return pwd.getpwnam(owner).pw_uid
    except KeyError as e:
        raise FileError(f"no user named {owner!r}") from e


def resolve_gid(group: int | str | None) -> int:
    if group is None:
        return -1
    if isinstance(group, int):
        return group
    try:
        return grp.getgrnam(group).gr_gid
    except KeyError as e:
        raise FileError(f"no group named {group!r}") from e


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def stage(path: Path, data: bytes, mode: int = 0o644, owner: int | str | None = None,
          group: int | str | None = None) -> Path:
    """Write data to a synced temp file beside path; return the temp path."""
    path = Path(path)
    uid, gid = resolve_uid(owner), resolve_gid(group)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as e:
        raise FileError(f"cannot write {path}: {e.strerror}") from e
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), mode)
            if uid != -1 or gid != -1:
                os.fchown(f.fileno(), uid, gid)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except OSError as e:
        os.unlink(tmp)
        raise FileError(f"cannot write {path}: {e.strerror}") from e
    return Path(tmp)


def commit(tmp: Path, path: Path) -> None:
    os.replace(tmp, path)
    fsync_dir(Path(path).parent)


def write_atomic(path: str | os.PathLike[str], data: bytes, mode: int = 0o644,
                 owner: int | str | None = None, group: int | str | None = None) -> None:
    p = Path(path)
    tmp = stage(p, data, mode, owner, group)
    checkpoint(f"staged {p.name}")
    commit(tmp, p)


def cleanup_temps(directory: Path, name: str = "") -> None:
    """Remove temp files a crash left behind (ours are '.NAME.*.tmp';
    name "" matches every one of ours)."""
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for n in names:
        if n.startswith("." + (name + "." if name else "")) and n.endswith(".tmp"):
            try:
                os.unlink(directory / n)
            except OSError:
                pass
