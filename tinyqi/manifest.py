"""manifest.json: which files a stage wrote into a model directory, so every consumer can check they belong together.

`tinyqi train` (the run root) and `tinyqi compress` (a variant) write their whole output aside and swap it in
(tinyqi.files.staged_dir); the last file written before the swap is manifest.json:

    {"format": "tinyqi-manifest/1", "stage": "train" | "compress", "tinyqi": "<version>",
     "files": {"golden.npz": "<sha256>", "metrics.json": "<sha256>", "model_int8.tflite": "<sha256>", ...},
     "base": {"model_int8.tflite": "<sha256>"}}          (compress only: the run model the variant was made from)

`check_model_dir` is the one check every consumer (codegen, verify, build, flash, emulate, bench, compress,
robust, lolo) runs before it uses a model directory: every listed file present with its sha256, no stage file
that is not listed (a csr.json or golden.npz dropped in later), and a variant's base still the model of the run it
sits in. A directory without manifest.json (an older tinyqi, or one put together by hand) is refused too: nothing
shows its files belong together. Files added later by other commands (verify.json, monitor.json, firmware/, ...)
are not stage files and are ignored.
"""

from __future__ import annotations

from pathlib import Path

from tinyqi.errors import TinyqiError
from tinyqi.files import is_hidden, read_json, sha256_file, write_json

MANIFEST = "manifest.json"
FORMAT = "tinyqi-manifest/1"
MODEL = "model_int8.tflite"
# Files only train and compress write: never accepted in a model directory unless its manifest lists them.
STAGE_FILES = (MODEL, "model_float.tflite", "model.keras", "golden.npz", "testset.npz", "csr.json", "csr.npz",
               "metrics.json")
RERUN = {"train": "re-run `tinyqi train`", "compress": "re-run `tinyqi compress`"}
EITHER = "re-run `tinyqi train` (`tinyqi compress` for a variant)"


def write_manifest(model_dir: str | Path, stage: str, base_sha256: str | None = None) -> Path:
    """manifest.json of every regular file now in `model_dir` (the stage's whole output: call it last). Tests seal
    hand-made model directories with it too."""
    from tinyqi import __version__

    if stage not in RERUN:
        raise ValueError(f"stage {stage!r}: one of {', '.join(RERUN)}")
    model_dir = Path(model_dir)
    files = {p.name: sha256_file(p) for p in sorted(model_dir.iterdir())
             if p.is_file() and p.name != MANIFEST and not is_hidden(p)}
    manifest = {"format": FORMAT, "stage": stage, "tinyqi": __version__, "files": files}
    if base_sha256 is not None:
        manifest["base"] = {MODEL: base_sha256}
    return write_json(model_dir / MANIFEST, manifest)


def check_model_dir(model_dir: str | Path, stage: str | None = None) -> dict:
    """The manifest of `model_dir` after checking every file it lists (and none it does not) is the one its stage
    wrote; `stage` ("train" for a run root) when only that stage's output will do. One-line TinyqiError otherwise."""
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise TinyqiError(f"{model_dir}: no such directory; {EITHER} to create it")
    path = model_dir / MANIFEST
    if not path.is_file():
        if not (model_dir / MODEL).is_file():
            raise TinyqiError(f"{model_dir}: no {MODEL}; not a model directory ({EITHER} writes one, see "
                              "docs/architecture.md)")
        raise TinyqiError(f"{path}: missing, so nothing shows that the files of {model_dir} belong together "
                          f"(written by an older tinyqi, or by hand); {EITHER}")
    manifest = read_json(path, EITHER)
    files, kind = manifest.get("files"), manifest.get("stage")
    if manifest.get("format") != FORMAT or kind not in RERUN or not isinstance(files, dict) or not all(
            isinstance(name, str) and isinstance(digest, str) for name, digest in files.items()):
        raise TinyqiError(f"{path}: not a {FORMAT} manifest (format, stage and files); {EITHER}")
    todo = RERUN[kind]
    if kind == "compress" and model_dir.parent.name == "variants":
        todo = f"re-run `tinyqi compress {model_dir.parent.parent}`"
    if stage is not None and kind != stage:
        raise TinyqiError(f"{model_dir}: written by `tinyqi {kind}`, not by `tinyqi {stage}`; give the "
                          f"{'run directory' if stage == 'train' else 'variant directory'} instead")
    if MODEL not in files:
        raise TinyqiError(f"{path}: lists no {MODEL}; {todo}")
    anchor = model_dir / MODEL
    for name in sorted(files, key=lambda n: (n != MODEL, n)):  # the model first: its own message
        file = model_dir / name
        if Path(name).name != name or is_hidden(name):
            raise TinyqiError(f"{path}: lists '{name}', not a file of this directory; {todo}")
        if not file.is_file():
            raise TinyqiError(f"{file}: missing, but `tinyqi {kind}` wrote it with {anchor} (manifest.json); "
                              f"{todo}")
        try:
            actual = sha256_file(file)
        except OSError as exc:
            raise TinyqiError(f"{file}: unreadable ({exc.strerror or exc}); {todo}") from None
        if actual != files[name]:
            with_what = f"the rest of {model_dir}" if name == MODEL else str(anchor)
            raise TinyqiError(f"{file}: does not belong with {with_what} (sha256 {actual[:12]}…; manifest.json "
                              f"lists {files[name][:12]}…, what `tinyqi {kind}` wrote); {todo}")
    for name in STAGE_FILES:
        if name not in files and (model_dir / name).exists():
            raise TinyqiError(f"{model_dir / name}: not written with {anchor} (manifest.json does not list it); "
                              f"delete it or {todo}")
    _check_base(model_dir, manifest)
    return manifest


def _check_base(model_dir: Path, manifest: dict) -> None:
    """A variant in RUN/variants/<name>/ must have been made from RUN's current model."""
    base = (manifest.get("base") or {}).get(MODEL)
    run = model_dir.parent.parent
    if base is None or model_dir.parent.name != "variants" or not (run / MODEL).is_file():
        return
    current = sha256_file(run / MODEL)
    if current != base:
        raise TinyqiError(f"{model_dir}: compressed from another model than {run / MODEL} (base sha256 {base[:12]}…, "
                          f"the run's is {current[:12]}…); re-run `tinyqi compress {run}`")


def is_model_dir_output(path: Path) -> bool:
    """A directory train or compress may replace as a whole: one holding a manifest or any stage file (also a
    broken or older one); anything else is the user's and never swapped away."""
    return any((path / name).exists() for name in (MANIFEST, *STAGE_FILES))
