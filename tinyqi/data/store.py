"""Where datasets live and how a copy gets there (download or local import), always checked against SHA-256 lists.

Location: `--data-dir` / env TINYQI_DATA / default ~/.cache/tinyqi/data; dataset `name` lives in `<root>/<name>/`
(`<root>/<FOLDERS[name]>/` where listed), which a fetch creates only complete (it gathers the files in
`<root>/.<name>.partial/` first).
Checksum lists ship with the project in `datasets/<name>/SHA256SUMS` (`sha256sum -c` format).
"""

from __future__ import annotations

import os
import shutil
import urllib.error
import urllib.request
from pathlib import Path

from tinyqi.errors import TinyqiError
from tinyqi.files import sha256_file

REPO_DATASETS = Path(__file__).resolve().parents[2] / "datasets"
DEFAULT_ROOT = Path.home() / ".cache" / "tinyqi" / "data"
# Datasets whose folder under the data root is not their name: nstdb is only the noise records bw and ma.
FOLDERS = {"nstdb": "nstdb-noise"}


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


def dataset_dir(name: str, data_dir: str | Path | None = None) -> Path:
    return data_root(data_dir) / FOLDERS.get(name, name)


def is_complete(name: str, data_dir: str | Path | None = None) -> bool:
    folder = dataset_dir(name, data_dir)
    return all((folder / f).is_file() for f in checksums(name))


def dataset_present(name: str, data_dir: str | Path | None = None) -> bool:
    """Whether any file of the dataset is in its folder: an empty folder (made by hand, or by a failed fetch of an
    older tinyqi) is no data, and must not stand in the way of the bundled sample."""
    folder = dataset_dir(name, data_dir)
    return folder.is_dir() and any((folder / f).is_file() for f in checksums(name))


def fetch(name: str, base_url: str, *, from_dir: str | Path | None = None, data_dir=None, progress=None) -> Path:
    """Copy (from_dir) or download (base_url + file name) every listed file, verifying each SHA-256.

    Files gather in `<root>/.<name>.partial/`, which becomes `<root>/<name>/` only once every file is verified: a
    failed or interrupted fetch never leaves a `<name>/` folder that looks like data, and a retry keeps the files
    it already verified."""
    target = dataset_dir(name, data_dir)
    if target.exists() and not target.is_dir():
        raise TinyqiError(f"{target}: a file where the dataset folder goes; move it away and fetch again")
    staging = target.with_name(f".{name}.partial")
    _make_dir(staging)
    sums = checksums(name)
    for i, (fname, digest) in enumerate(sorted(sums.items())):
        if progress:
            progress(i, len(sums), fname)
        if _verified(target / fname, digest) or _verified(staging / fname, digest):
            continue
        _fetch_file(fname, digest, staging, name, base_url, from_dir)
    _install(staging, target)
    return target


def _fetch_file(fname: str, digest: str, staging: Path, name: str, base_url: str, from_dir) -> None:
    tmp = staging / (fname + ".part")
    if from_dir is not None:
        src = Path(from_dir) / fname
        if not src.is_file():
            raise TinyqiError(f"{src}: missing from the local copy; it must hold every file of "
                              f"datasets/{name}/SHA256SUMS")
        try:
            shutil.copyfile(src, tmp)
        except OSError as exc:
            raise TinyqiError(f"{src}: cannot copy it to {staging} ({exc.strerror}); check both folders") from None
    else:
        _download(base_url + fname, tmp)
    got = sha256_file(tmp)
    if got != digest:
        tmp.unlink()
        raise TinyqiError(f"{fname}: checksum mismatch (sha256 {got[:12]}…, expected {digest[:12]}…); "
                          "the file is corrupt or a different version: fetch it again")
    tmp.replace(staging / fname)


def _verified(path: Path, digest: str) -> bool:
    return path.is_file() and sha256_file(path) == digest


def _install(staging: Path, target: Path) -> None:
    """The verified files into place: the whole folder in one rename, or, into a folder that exists already (an
    earlier copy), file by file."""
    for stray in staging.glob("*.part"):  # left by an interrupted earlier attempt
        stray.unlink()
    if not target.exists():
        staging.rename(target)
        return
    for path in staging.iterdir():
        path.replace(target / path.name)
    staging.rmdir()


def _make_dir(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise TinyqiError(f"{path}: cannot create this folder ({exc.strerror}); choose another data root with "
                          "--data-dir or $TINYQI_DATA") from None


def _download(url: str, dest: Path) -> None:
    try:
        with urllib.request.urlopen(url, timeout=60) as r, open(dest, "wb") as f:
            shutil.copyfileobj(r, f)
    except (urllib.error.URLError, OSError) as exc:
        raise TinyqiError(f"{url}: download failed ({getattr(exc, 'reason', exc)}); check the network or use "
                          "`tinyqi data fetch ... --from DIR` with a local copy") from None
