"""How a trained ECG model holds up off the clean, well-placed test data, scored with its int8 model (generated C) on
the test split exactly as training scored it:

- fiducial shifts: every beat's fiducial moved by a fixed number of samples before the chain describes it;
- noise: the MIT-BIH Noise Stress Test Database's muscle-artifact (`ma`) and baseline-wander (`bw`) noise added to
  the raw samples of the test records (DS2) at a given SNR, scaled as PhysioNet's `nst` scales it
  (tinyqi.data.nstdb), so the device's whole chain (filters, QRS detector, features) sees it. Besides the
  classification figures, QRS detection Se / +P on the noisy records (as `tinyqi detect ecg` computes them).

The model is not retrained or re-selected: this only looks at the test split with the model as it is. A run root
or a compressed variant (RUN/variants/<name>/) can be scored. Results: robustness.json in the model directory."""

from __future__ import annotations

import json
from pathlib import Path

from tinyqi import modeldir
from tinyqi.data import mitdb, nstdb
from tinyqi.data.ecg import check_rr_features, load_ecg_dataset, load_records
from tinyqi.errors import TinyqiError
from tinyqi.evaluate import classification_metrics
from tinyqi.files import read_json
from tinyqi.manifest import MODEL, check_model_dir
from tinyqi.signal import ecg as chain
from tinyqi.signal.detection import detection_report

DEFAULT_SHIFTS_360HZ = (-6, -4, -2, 0, 2, 4, 6)
DEFAULT_SNRS_DB = (12.0, 6.0)
RESULT_FILE = "robustness.json"
SECTIONS = {"shifts": ("shift_unit", "shifts"), "noise": ("noise",)}  # keys of robustness.json per section


def ecg_model(model_dir: Path, what: str) -> tuple[str, dict]:
    """The sha256 of the model directory's int8 model (after its manifest check) and its dataset info; the
    directory is a trained run or a compressed variant of an ECG run."""
    model_dir = Path(model_dir)
    manifest = check_model_dir(model_dir)  # model, test set and metrics of one training or compression
    info = read_json(model_dir / "metrics.json", "train the run again")["dataset"]
    if info.get("name") != "mitdb":
        raise TinyqiError(f"{model_dir}: not an ECG run (dataset {info.get('name')}); {what} applies to ECG runs "
                          "only")
    check_rr_features(info, model_dir / "metrics.json")
    return manifest["files"][MODEL], info


def scores(model_dir: Path, ds) -> dict:
    """int8 figures of the model directory on a dataset's test split: labelled beats and the device view (EC57)."""
    pred, false_pred = modeldir.test_predictions(model_dir, ds)
    m = classification_metrics(ds.y_test, pred, ds.class_names)
    device = modeldir.device_metrics(ds, pred, false_pred)
    return {"accuracy": m["accuracy"], "macro_f1": m["macro_f1"],
            "device_macro_f1": device["macro_f1"], "device_macro_f1_nsv": device["macro_f1_nsv"],
            **{f"{c}_{k}": device["per_class"][c][k] for c in ("N", "S", "V") for k in ("se", "ppv")}}


def fiducial_shifts(run_dir: Path, shifts_360hz=DEFAULT_SHIFTS_360HZ, data_dir=None) -> dict:
    """int8 figures per fiducial shift (in 360 Hz samples: even numbers, the chain runs at 180 Hz)."""
    run_dir = Path(run_dir)
    model_sha256, info = ecg_model(run_dir, "fiducial shifts")
    if any(s % chain.DECIMATION for s in shifts_360hz):
        raise TinyqiError(f"--shifts {','.join(map(str, shifts_360hz))}: use even numbers of 360 Hz samples (the "
                          "chain's fiducial is a 180 Hz sample)")
    rows = {}
    records = scored_records(data_dir, info["sample"], info["split"])
    for s in shifts_360hz:
        ds = load_ecg_dataset(data_dir, records=records, sample=info["sample"], split=info["split"],
                              beats=info.get("beats", "detected"), shift=s // chain.DECIMATION)
        rows[str(s)] = scores(run_dir, ds)
    return {"model_sha256": model_sha256, "sample": info["sample"], "beats": info.get("beats", "detected"),
            "shift_unit": "samples at 360 Hz (every fiducial moved by this much before its beat is described)",
            "shifts": rows}


def scored_records(data_dir, sample: bool, split: str) -> tuple[dict, str]:
    """The records whose beats are scored, read once: DS2 alone for the inter-patient split (reading and describing
    DS1 for each condition would only build a training side nobody uses), every record for the intra-patient one."""
    names = mitdb.DS2 if split == "inter-patient" else None
    records, source = load_records(data_dir, sample=sample, names=names)
    if names:  # the bundled sample comes whole
        records = {n: records[n] for n in names if n in records}
    return records, source


def snr_key(snr: float) -> str:
    return f"{snr:g}"


def noise_stress(run_dir: Path, noises=tuple(nstdb.NOISES), snrs=DEFAULT_SNRS_DB, data_dir=None,
                 progress=None) -> dict:
    """int8 and QRS detection figures on the test records (DS2) with each noise at each SNR, and clean.
    `progress(note)` is called after each condition."""
    run_dir = Path(run_dir)
    model_sha256, info = ecg_model(run_dir, "noise robustness")
    unknown = [n for n in noises if n not in nstdb.NOISES]
    if unknown:
        raise TinyqiError(f"--noise {unknown[0]}: unknown noise; use {' and/or '.join(nstdb.NOISES)} (MIT-BIH Noise "
                          "Stress Test Database records)")
    if info["split"] != "inter-patient":
        raise TinyqiError(f"{run_dir}: trained with split {info['split']}; noise robustness is measured on the "
                          "inter-patient test records (DS2): use a run trained with the default split")
    folder = nstdb.noise_folder(data_dir)
    noise = {n: nstdb.read_noise(folder, n) for n in noises}
    noise_rms = {n: nstdb.noise_amplitude(x) for n, x in noise.items()}
    records, where = scored_records(data_dir, info["sample"], info["split"])
    test_names = list(records)
    beats = info.get("beats", "detected")

    def condition(recs: dict, source: str) -> dict:
        ds = load_ecg_dataset(data_dir, records=(recs, source), sample=info["sample"], split=info["split"],
                              beats=beats)
        det = detection_report(recs)["totals"]["DS2"]
        row = {f"detection_{k}": det[k] for k in ("se", "ppv", "tp", "fn", "fp")}
        row.update(scores(run_dir, ds))
        if progress:
            progress(source)
        return row

    clean = condition(records, where)
    noisy = {}
    for n in noises:
        noisy[n] = {}
        for snr in snrs:
            added = {name: nstdb.add_noise(records[name], noise[n], snr, noise_rms[n]) for name in test_names}
            recs = {name: rec for name, (rec, _) in added.items()}
            row = condition(recs, f"{where}; DS2 with nstdb {n} at {snr_key(snr)} dB SNR")
            row["clipped_samples"] = sum(done["clipped_samples"] for _, done in added.values())
            row["samples"] = sum(len(rec.adc) for rec, _ in added.values())
            row["per_record"] = {name: done for name, (_, done) in added.items()}
            noisy[n][snr_key(snr)] = row
    return {
        "model_sha256": model_sha256, "sample": info["sample"], "beats": beats,
        "noise": {
            "method": ("MIT-BIH Noise Stress Test Database noise (signal noise1) added to the raw lead-MLII ADC "
                       "samples of every test record (DS2) over the whole record, from a fixed per-record offset into "
                       "the 30-minute noise record (wrapping around), rounded and clipped to the 11-bit ADC range; the "
                       "device chain then runs on the noisy samples (tinyqi.data.nstdb)"),
            "snr_definition": ("nst (WFDB): SNR = 10 log10(S / N), S = (peak-to-peak QRS amplitude)^2 / 8 from the "
                               "trimmed mean of the first 300 normal QRS complexes of the clean record (50 ms either "
                               "side of each annotation), N = (trimmed mean RMS of the first 300 one-second chunks of "
                               "the noise record)^2 times the gain squared"),
            "noise_source": str(folder),
            "noise_rms_counts": {n: round(v, 3) for n, v in noise_rms.items()},
            "records": test_names,
            "snr_db": [snr_key(s) for s in snrs],
            "clean": clean,
            "noisy": noisy,
        },
    }


def merged(path: Path, result: dict) -> dict:
    """`result` plus the sections of an earlier robustness.json at `path` that `result` does not recompute, kept only
    when that file scored the same int8 model (its model_sha256): a shift run and a noise run end up in one file."""
    try:
        earlier = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return result
    if not isinstance(earlier, dict) or earlier.get("model_sha256") != result["model_sha256"]:
        return result
    out = dict(result)
    for keys in SECTIONS.values():
        if not any(k in result for k in keys) and all(k in earlier for k in keys):
            out.update({k: earlier[k] for k in keys})
    return out
