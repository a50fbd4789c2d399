"""Where datasets live and how a copy gets there (download or local import), always checked against SHA-256 lists.

Location: `--data-dir` / env TINYQI_DATA / default ~/.cache/tinyqi/data; dataset `name` lives in `<root>/<name>/`.
Checksum lists ship with the project in `datasets/<name>/SHA256SUMS` (`sha256sum -c` format).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import urllib.error
import urllib.request
from pathlib import Path

from tinyqi.errors import TinyqiError

REPO_DATASETS = Path(__file__).resolve().parents[2] / "datasets"
DEFAULT_ROOT = Path.home() / ".cache" / "tinyqi" / "data"


def data_root(data_dir: str | Path | None = None) -> Path:
    if data_dir:
        return Path(data_dir)
    return Path(os.environ["TINYQI_DATA"]) if os.environ.get("TINYQI_DATA") else DEFAULT_ROOT


def explicit_root(data_dir: str | Path | None) -> bool:
    """True when the user named a location (option or env): then missing data is an error, never a sample."""
    return bool(data_dir) or bool(os.environ.get("TINYQI_DATA"))


def checksums(name: str) -> dict[str, str]:
    """file name -> sha256 from datasets/<name>/SHA256SUMS."""
    path = REPO_DATASETS / name / "SHA256SUMS"
    sums = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            digest, fname = line.split(maxsplit=1)
            sums[fname.strip().lstrip("*")] = digest
    return sums


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def dataset_dir(name: str, data_dir: str | Path | None = None) -> Path:
    return data_root(data_dir) / name


def is_complete(name: str, data_dir: str | Path | None = None) -> bool:
    folder = dataset_dir(name, data_dir)
    return all((folder / f).is_file() for f in checksums(name))


def fetch(name: str, base_url: str, *, from_dir: str | Path | None = None, data_dir=None, progress=None) -> Path:
    """Copy (from_dir) or download (base_url + file name) every listed file, verifying each SHA-256."""
    target = dataset_dir(name, data_dir)
    target.mkdir(parents=True, exist_ok=True)
    sums = checksums(name)
    for i, (fname, digest) in enumerate(sorted(sums.items())):
        dest = target / fname
        if progress:
            progress(i, len(sums), fname)
        if dest.is_file() and sha256_file(dest) == digest:
            continue
        tmp = dest.with_suffix(dest.suffix + ".part")
        if from_dir is not None:
            src = Path(from_dir) / fname
            if not src.is_file():
                raise TinyqiError(f"{src}: missing from the local copy; it must hold every file of "
                                  f"datasets/{name}/SHA256SUMS")
            shutil.copyfile(src, tmp)
        else:
            _download(base_url + fname, tmp)
        got = sha256_file(tmp)
        if got != digest:
            tmp.unlink()
            raise TinyqiError(f"{fname}: checksum mismatch (sha256 {got[:12]}…, expected {digest[:12]}…); "
                              "the file is corrupt or a different version: fetch it again")
        tmp.replace(dest)
    return target


def _download(url: str, dest: Path) -> None:
    try:
        with urllib.request.urlopen(url, timeout=60) as r, open(dest, "wb") as f:
            shutil.copyfileobj(r, f)
    except (urllib.error.URLError, OSError) as exc:
        raise TinyqiError(f"{url}: download failed ({getattr(exc, 'reason', exc)}); check the network or use "
                          "`tinyqi data fetch ... --from DIR` with a local copy") from None
