"""Finding, downloading and checking dataset files.

Where a dataset's files are looked for, in order: the ``root`` argument, ``$MINIGEN_DATA``, the project's
``data/`` folder (beside the ``minigen`` package in a source checkout), and a user cache
(``$XDG_CACHE_HOME/minigen`` or ``~/.cache/minigen``). Each dataset lives in a sub-folder (``mnist/``,
``fashion-mnist/``, ``cifar10/``) of one of them.

Every file is checked against its published MD5 sum before use. Downloads try each mirror in turn, write to a
temporary file, check the sum, and only then rename it into place (atomic): an interrupted or corrupt download
never leaves a file that looks complete. A corrupt file in the download folder is removed, reported (a warning)
and downloaded again; one elsewhere (a shared, read-only folder) stops with an error that names it.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.request
import warnings
from pathlib import Path

PROJECT_DATA = Path(__file__).resolve().parents[2] / "data"


def search_roots(root=None) -> list[Path]:
    roots = []
    if root is not None:
        roots.append(Path(root))
    if os.environ.get("MINIGEN_DATA"):
        roots.append(Path(os.environ["MINIGEN_DATA"]))
    roots.append(PROJECT_DATA)
    roots.append(Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "minigen")
    return roots


def writable_root(root=None) -> Path:
    """Where new files go: ``root`` if given, else the project's data/ if writable, else the user cache."""
    for candidate in ([Path(root)] if root is not None else []) + search_roots()[-2:]:
        try:
            candidate.mkdir(parents=True, exist_ok=True)
            if os.access(candidate, os.W_OK):
                return candidate
        except OSError:
            continue
    raise RuntimeError("no writable folder for datasets; pass root= or set MINIGEN_DATA")


def md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class ChecksumError(RuntimeError):
    pass


def verified(path: Path, expected_md5: str) -> bool:
    """True if ``path`` exists with the right sum, False if it is absent; ChecksumError if it is corrupt."""
    if not path.exists():
        return False
    actual = md5(path)
    if actual == expected_md5:
        return True
    raise ChecksumError(f"{path} is corrupt or incomplete: MD5 {actual}, expected {expected_md5}; delete it "
                        "(or fix the folder it is in) and run again")


def download(url: str, target: Path, expected_md5: str, timeout: float = 30.0) -> None:
    """Download ``url`` to ``target`` atomically; raise ChecksumError (and keep nothing) on a bad sum."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as f, urllib.request.urlopen(url, timeout=timeout) as response:
            while block := response.read(1 << 20):
                f.write(block)
        actual = md5(Path(tmp))
        if actual != expected_md5:
            raise ChecksumError(f"download of {url} was corrupt or incomplete (MD5 {actual}, expected "
                                f"{expected_md5}); nothing was kept")
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def fetch(folder: str, files: dict[str, str], mirrors: list[str], root=None, download_ok: bool = True,
          name: str = "dataset") -> dict[str, Path]:
    """Paths of ``files`` ({filename: md5}) in ``folder``: found in a search root, or downloaded."""
    found = {}
    roots = search_roots(root)
    download_dir = writable_root(root) / folder if download_ok else None
    for filename, checksum in files.items():
        for r in roots:
            path = r / folder / filename
            try:
                if verified(path, checksum):
                    found[filename] = path
                    break
            except ChecksumError as e:
                if download_dir is None or path.parent != download_dir:
                    raise  # not ours to delete: say so and stop
                path.unlink()  # a corrupt earlier download: remove it, say so, fetch it again below
                warnings.warn(f"{e}; removed it and downloading it again", stacklevel=3)
    missing = [f for f in files if f not in found]
    if not missing:
        return found
    errors = []
    if download_ok:
        for filename in missing:
            target = download_dir / filename
            for mirror in mirrors:
                try:
                    download(mirror + filename, target, files[filename])
                    found[filename] = target
                    break
                except ChecksumError:
                    raise
                except Exception as e:  # offline, refused, timed out: try the next mirror
                    errors.append(f"{mirror}{filename}: {e}")
    missing = [f for f in files if f not in found]
    if missing:
        table = "\n".join(f"  {f}  (MD5 {files[f]})" for f in missing)
        where = "\n".join(f"  {r / folder}" for r in roots)
        tried = ("\nDownload attempts:\n  " + "\n  ".join(errors[-4:])) if errors else \
            "\n(downloading is switched off: download=False)"
        raise RuntimeError(f"{name}: missing files\n{table}\nPut them (gzip files, names unchanged) in one of:\n"
                           f"{where}\nor set MINIGEN_DATA to a folder holding {folder}/.{tried}")
    return found
