"""The ECG task's dataset: MIT-BIH beats in the inter-patient split (default) or an explicit intra-patient one.

Sources: the full database in `<data root>/mitdb/` (see store.py), or the small bundled sample
`datasets/mitdb/sample.npz` (real MIT-BIH excerpts, made by scripts/make-mitdb-sample) when asked for.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tinyqi.data import mitdb, store
from tinyqi.data.dataset import Dataset
from tinyqi.errors import TinyqiError

SAMPLE_FILE = store.REPO_DATASETS / "mitdb" / "sample.npz"
# Validation comes from DS1 only (whole records), so DS2 never influences training or model selection.
VALIDATION_RECORDS = ["118", "223"]
SPLITS = ("inter-patient", "intra-patient")
PHYSIONET_URL = "https://physionet.org/files/mitdb/1.0.0/"


def load_ecg_dataset(data_dir=None, *, sample: bool = False, split: str = "inter-patient") -> Dataset:
    if split not in SPLITS:
        raise TinyqiError(f"split '{split}' is unknown; use one of {', '.join(SPLITS)}")
    if sample:
        records = _sample_records()
        where = f"bundled sample {SAMPLE_FILE.name}"
    else:
        folder = store.dataset_dir("mitdb", data_dir)
        if not folder.is_dir():
            raise TinyqiError(f"{folder}: no MIT-BIH copy there; run `tinyqi data fetch mitdb` (or --from DIR), "
                              "or pass --data-dir / set TINYQI_DATA")
        names = mitdb.DS1 + mitdb.DS2
        records = {n: mitdb.read_wfdb_record(folder, n) for n in names}
        where = str(folder)
    beats = {name: mitdb.extract_beats(rec) for name, rec in records.items()}
    if split == "inter-patient":
        train_names = [n for n in mitdb.DS1 if n in beats and n not in VALIDATION_RECORDS]
        val_names = [n for n in VALIDATION_RECORDS if n in beats]
        test_names = [n for n in mitdb.DS2 if n in beats]
        train, val, test = (mitdb.concat_beats([beats[n] for n in names])
                            for names in (train_names, val_names, test_names))
        notes = ("de Chazal 2004 inter-patient: train DS1 (less validation records "
                 f"{', '.join(val_names)}), test DS2; paced records excluded")
    else:
        train, val, test = _intra_patient(mitdb.concat_beats(list(beats.values())))
        notes = "intra-patient (beats of every record on both sides; optimistic, not comparable to inter-patient)"
    info = {
        "name": "mitdb",
        "split": split,
        "sample": sample,
        "source": where,
        "train_beats": int(len(train.label)),
        "val_beats": int(len(val.label)),
        "test_beats": int(len(test.label)),
        "train_records": sorted(set(train.record.tolist())),
        "test_records": sorted(set(test.record.tolist())),
        "notes": notes,
    }
    return Dataset(mitdb.CLASSES, [train.waveform, train.rr], train.label, [val.waveform, val.rr], val.label,
                   [test.waveform, test.rr], test.label, info)


def _intra_patient(all_beats: mitdb.Beats, seed: int = 0):
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(all_beats.label))
    n_test, n_val = len(order) // 2, len(order) // 10
    parts = (order[n_test + n_val :], order[n_test : n_test + n_val], order[:n_test])
    return [mitdb.Beats(all_beats.waveform[p], all_beats.rr[p], all_beats.label[p], all_beats.record[p])
            for p in parts]


def _sample_records() -> dict[str, mitdb.Record]:
    try:
        z = np.load(SAMPLE_FILE)
    except OSError:
        raise TinyqiError(f"{SAMPLE_FILE}: the bundled sample is missing; restore it from the repository") from None
    names = [str(n) for n in z["records"]]
    return {n: mitdb.Record(n, z[f"{n}.adc"].astype(np.float64) / float(z["gain"]),
                            z[f"{n}.ann_sample"], z[f"{n}.ann_symbol"].astype(str)) for n in names}


def fetch_mitdb(from_dir=None, data_dir=None, progress=None) -> Path:
    return store.fetch("mitdb", PHYSIONET_URL, from_dir=from_dir, data_dir=data_dir, progress=progress)
