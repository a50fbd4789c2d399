"""`tinyqi data fetch <dataset>`: download (or import --from a local copy) a dataset, verifying SHA-256."""

from __future__ import annotations

import click

from tinyqi.commands.params import DATA_DIR, SOURCE_DIR

FETCHERS = {"mitdb": ("tinyqi.data.ecg", "fetch_mitdb"), "cwru": ("tinyqi.data.cwru", "fetch_cwru"),
            "nstdb": ("tinyqi.data.nstdb", "fetch_nstdb")}


@click.group("data")
def command():
    """Get and check datasets."""


@command.command("fetch")
@click.argument("dataset")
@click.option("--from", "from_dir", type=SOURCE_DIR, default=None,
              help="Import from a local copy instead of downloading (same checksum verification).")
@click.option("--data-dir", type=DATA_DIR, default=None,
              help="Data root (default: $TINYQI_DATA or ~/.cache/tinyqi/data).")
def fetch(dataset, from_dir, data_dir):
    """Fetch DATASET (mitdb, cwru, nstdb: the noise records bw and ma) into the data root and verify every file's
    SHA-256."""
    import importlib

    from tinyqi.errors import TinyqiError
    from tinyqi.ui import Ui

    if dataset not in FETCHERS:
        raise TinyqiError(f"unknown dataset '{dataset}'; choose one of: {', '.join(sorted(FETCHERS))}")
    module, name = FETCHERS[dataset]
    ui = Ui()
    with ui.stage(f"fetching {dataset}" + (f" from {from_dir}" if from_dir else "")) as advance:
        folder = getattr(importlib.import_module(module), name)(
            from_dir=from_dir, data_dir=data_dir, progress=lambda i, n, f: advance(f"{i + 1}/{n} {f}"))
    ui.out.print(f"{dataset}: verified, in {folder}")
