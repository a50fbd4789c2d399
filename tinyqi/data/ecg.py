"""The ECG task's dataset: MIT-BIH beats as the device's chain finds and describes them, in the inter-patient
split (default) or an explicit intra-patient one.

Sources: the full database in `<data root>/mitdb/` (see store.py), or the small bundled sample
`datasets/mitdb/sample.npz` (real MIT-BIH excerpts, made by scripts/make-mitdb-sample) when asked for.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tinyqi.data import augment, mitdb, store
from tinyqi.data.dataset import Dataset
from tinyqi.errors import TinyqiError
from tinyqi.signal import ecg as chain
from tinyqi.signal.match import se_ppv

SAMPLE_FILE = store.REPO_DATASETS / "mitdb" / "sample.npz"
# Validation comes from DS1 only (whole records), so DS2 never influences training or model selection.
VALIDATION_RECORDS = ["118", "223"]
SPLITS = ("inter-patient", "intra-patient")
CHAIN_NOTE = ("device chain on raw samples (tinyqi.signal.ecg): causal integer filters, QRS detector, beats "
              "matched to the annotations within 150 ms for labels only")
ANNOTATED_NOTE = ("COMPARISON ONLY: the device chain's features at the annotated R-peak positions, not at the "
                  "detector's; not what a device computes")
DECISION_NOTE = (f"N and V scores 1/{1 << chain.VOTE_SHIFT} the beat's own and the rest the running mean of the "
                 f"patient's earlier beats of the same shape ({chain.CLUSTERS} clusters), then the largest score, "
                 f"except no S while the irregular fraction is at least {chain.NO_S_IRREGULAR}/128 "
                 "(tinyqi.signal.ecg.decide, C tq_ecg_decide)")
PHYSIONET_URL = "https://physionet.org/files/mitdb/1.0.0/"


def load_ecg_dataset(data_dir=None, *, sample: bool = False, split: str = "inter-patient",
                     beats: str = "detected", shift: int = 0, records=None) -> Dataset:
    """Model inputs as the device's chain computes them; `beats="annotated"` is the labelled comparison on the
    reference beat positions (mitdb.py). `shift` moves every fiducial (the robustness check). `records`: the
    (records, source) of load_records, read once by a caller that builds several datasets from them."""
    if split not in SPLITS:
        raise TinyqiError(f"split '{split}' is unknown; use one of {', '.join(SPLITS)}")
    records, where = records or load_records(data_dir, sample=sample)
    per_record = {name: mitdb.extract_beats(rec, beats, shift) for name, rec in records.items()}
    if split == "inter-patient":
        train_names = [n for n in mitdb.DS1 if n in per_record and n not in VALIDATION_RECORDS]
        val_names = [n for n in VALIDATION_RECORDS if n in per_record]
        test_names = [n for n in mitdb.DS2 if n in per_record]
        noisy = augment.noisy_beats({n: records[n] for n in train_names}, beats, shift)
        train, val, test = (mitdb.concat_beats([per_record[n] for n in names])
                            for names in (train_names, val_names, test_names))
        train = mitdb.concat_beats([train, *noisy.values()])
        notes = ("de Chazal 2004 inter-patient: train DS1 (less validation records "
                 f"{', '.join(val_names)}), test DS2; paced records excluded; training noise: {augment.NOTE}")
    else:
        noisy = {}
        train, val, test = _intra_patient(mitdb.concat_beats(list(per_record.values())))
        notes = "intra-patient (beats of every record on both sides; optimistic, not comparable to inter-patient)"
    train, val = (mitdb.select(part, part.label >= 0) for part in (train, val))  # false detections have no label
    test_matched = test.label >= 0
    info = {
        "name": "mitdb",
        "split": split,
        "sample": sample,
        "source": where,
        "beats": beats,
        "fiducial_shift": shift,
        "chain": CHAIN_NOTE if beats == "detected" else ANNOTATED_NOTE,
        "decision": DECISION_NOTE,
        "rr_features": list(chain.RR_FEATURES),  # what the model's x1 means: check_rr_features
        "train_beats": int(len(train.label)),
        "train_noisy_beats": int(sum(len(b.label) for b in noisy.values())),  # of train_beats (tinyqi.data.augment)
        "val_beats": int(len(val.label)),
        "test_beats": int(np.count_nonzero(test_matched)),
        "test_false_detections": int(np.count_nonzero(~test_matched)),
        "test_missed_beats": dict(zip(mitdb.CLASSES, test.missed.tolist())),
        "test_detection": se_ppv(test.detection),
        "train_records": sorted(set(train.record.tolist())),
        "test_records": sorted(set(test.record.tolist())),
        "notes": notes,
    }
    false = mitdb.select(test, ~test_matched)
    scoring = {"false_inputs": model_inputs(false), "missed": test.missed,
               "record": test.record[test_matched], "false_record": false.record,
               "order": device_order(mitdb.select(test, test_matched), false)}
    test = mitdb.select(test, test_matched)
    return Dataset(mitdb.CLASSES, model_inputs(train), train.label, model_inputs(val), val.label,
                   model_inputs(test), test.label, info, scoring, chain.INPUT_SCALE, decide, val.record, test.record)


def device_order(matched: mitdb.Beats, false: mitdb.Beats) -> np.ndarray:
    """The order of the rows of matched then false beats in which the device met them: by recording, then time."""
    return np.lexsort((np.concatenate([matched.sample, false.sample]),
                       np.concatenate([matched.record, false.record])))


def decide(scores: np.ndarray, xs: list[np.ndarray], groups: np.ndarray | None = None) -> np.ndarray:
    """The device's decision (tinyqi.signal.ecg.decide) per recording: `groups` names each row's recording (None:
    one recording), rows in the order the chain described them. The inputs' chain ints are exact multiples of the
    input scale (model_inputs); a float model's probabilities are put on the int8 softmax grid (1/256) first."""
    scores = np.asarray(scores)
    if len(scores) == 0:
        return np.zeros(0, np.int64)
    if scores.dtype.kind == "f":
        scores = np.clip(np.rint(scores * 256) - chain.SCORE_OFFSET, -128, 127).astype(np.int64)
    waves, rr = (np.rint(x / chain.INPUT_SCALE).astype(np.int64) for x in xs)
    waves = waves.reshape(len(waves), -1)
    groups = np.zeros(len(scores), np.int64) if groups is None else np.asarray(groups)
    out = np.zeros(len(scores), np.int64)
    for group in dict.fromkeys(groups.tolist()):
        rows = np.flatnonzero(groups == group)
        out[rows] = chain.decide(scores[rows], rr[rows], waves[rows])
    return out


def model_inputs(beats: mitdb.Beats) -> list[np.ndarray]:
    """The chain's int8 values as the float model sees them: exact multiples of the input scale (1/32), so the
    int8 model's input quantisation (scale 1/32, zero point 0) gives back the chain's ints."""
    return [beats.x0.astype(np.float32) * chain.INPUT_SCALE, beats.x1.astype(np.float32) * chain.INPUT_SCALE]


def load_records(data_dir=None, *, sample: bool = False, names=None,
                 any_lead: bool = False) -> tuple[dict[str, mitdb.Record], str]:
    """The records `names` (default: DS1 + DS2) of the database, or every record of the bundled sample.
    `any_lead`: see mitdb.read_wfdb_record."""
    if sample:
        return _sample_records(), f"bundled sample {SAMPLE_FILE.name}"
    folder = store.dataset_dir("mitdb", data_dir)
    if not folder.is_dir():
        raise TinyqiError(f"{folder}: no MIT-BIH copy there; run `tinyqi data fetch mitdb` (or --from DIR), "
                          "or pass --data-dir / set TINYQI_DATA")
    return {n: mitdb.read_wfdb_record(folder, n, any_lead) for n in names or mitdb.DS1 + mitdb.DS2}, str(folder)


def _intra_patient(all_beats: mitdb.Beats, seed: int = 0):
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(all_beats.label))
    n_test, n_val = len(order) // 2, len(order) // 10
    # each part back in time order: the decision follows each recording's beats in the order they came
    parts = [np.sort(p) for p in (order[n_test + n_val :], order[n_test : n_test + n_val], order[:n_test])]
    return [mitdb.select(all_beats, p) for p in parts]


def _sample_records() -> dict[str, mitdb.Record]:
    try:
        z = np.load(SAMPLE_FILE)
    except OSError:
        raise TinyqiError(f"{SAMPLE_FILE}: the bundled sample is missing; restore it from the repository") from None
    names = [str(n) for n in z["records"]]
    return {n: mitdb.Record(n, z[f"{n}.adc"].astype(np.int16), z[f"{n}.ann_sample"], z[f"{n}.ann_symbol"].astype(str))
            for n in names}


def fetch_mitdb(from_dir=None, data_dir=None, progress=None) -> Path:
    return store.fetch("mitdb", PHYSIONET_URL, from_dir=from_dir, data_dir=data_dir, progress=progress)


def check_rr_features(info: dict, where: Path) -> None:
    """A run (or variant) whose model was trained on other RR features than the chain computes now cannot be paired
    with this chain: its x1 would mean something else, silently. Runs made before the record (until the eighth
    version, 2026-12-07) measured against the long-term RR."""
    recorded = info.get("rr_features")
    if recorded != chain.RR_FEATURES:
        trained = (", ".join(recorded) if isinstance(recorded, list)
                   else "of the chain before 2026-12-07 (over the long-term RR)")
        raise TinyqiError(f"{where}: its model was trained on the RR features {trained}, this chain computes "
                          f"{', '.join(chain.RR_FEATURES)}: train the run again (`tinyqi train ecg`)")
