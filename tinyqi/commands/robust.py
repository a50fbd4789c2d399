"""`tinyqi robust RUN_DIR`: the run's int8 model with every fiducial point moved, and/or with muscle-artifact and
baseline-wander noise added to the test records at given SNRs (robustness.json)."""

from __future__ import annotations

import math
from pathlib import Path

import click

from tinyqi.commands.params import DATA_DIR
from tinyqi.errors import TinyqiError

NOISE_NAMES = ("ma", "bw")  # tinyqi.data.nstdb.NOISES (not imported here: `tinyqi --help` stays light)


def _items(value: str) -> list[str]:
    return [v.strip() for v in value.split(",")]


def _shifts(ctx, param, value: str | None) -> tuple[int, ...] | None:
    if value is None:
        return None
    try:
        return tuple(int(v) for v in _items(value))
    except ValueError:
        raise TinyqiError(f"--shifts {value}: not a comma-separated list of integers; e.g. -6,-4,-2,0,2,4,6") from None


def _noise(ctx, param, value: str | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    names = _items(value)
    for name in names:
        if name not in NOISE_NAMES:
            raise TinyqiError(f"--noise {value}: unknown noise '{name}'; use ma (muscle artifact) and/or bw (baseline "
                              "wander), comma-separated")
    return tuple(dict.fromkeys(names))


def _snr(ctx, param, value: str | None) -> tuple[float, ...] | None:
    if value is None:
        return None
    snrs = []
    for item in _items(value):
        try:
            snr = float(item)
        except ValueError:
            snr = math.nan
        if not math.isfinite(snr):
            raise TinyqiError(f"--snr {value}: '{item}' is not a number; give SNRs in dB, comma-separated, e.g. 12,6")
        snrs.append(snr)
    return tuple(dict.fromkeys(snrs))


@click.command("robust")
@click.argument("run_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--shifts", default=None, callback=_shifts,
              help="Fiducial shifts in 360 Hz samples (even numbers). Default -6,-4,-2,0,2,4,6 when --noise is not "
                   "given.")
@click.option("--noise", default=None, callback=_noise,
              help="Noise of the MIT-BIH Noise Stress Test Database to add to the test records: ma, bw or ma,bw "
                   "(needs `tinyqi data fetch nstdb`).")
@click.option("--snr", default=None, callback=_snr,
              help="Signal-to-noise ratios in dB for --noise (nst's definition), comma-separated [default: 12,6].")
@click.option("--data-dir", type=DATA_DIR, default=None,
              help="Data root holding mitdb/ and nstdb-noise/ (default: $TINYQI_DATA or ~/.cache/tinyqi/data).")
def command(run_dir, shifts, noise, snr, data_dir):
    """Score RUN_DIR's int8 model (a run, or a variant RUN_DIR/variants/<name>) with every beat's fiducial point
    moved by each shift, and/or with noise added to the test records' raw samples at each SNR. Without --noise and
    --shifts: the default shifts. Results are added to RUN_DIR/robustness.json."""
    from tinyqi import robustness
    from tinyqi.files import write_json
    from tinyqi.ui import Ui

    if snr is not None and noise is None:
        raise TinyqiError(f"--snr {','.join(map(robustness.snr_key, snr))}: needs --noise (ma, bw or ma,bw)")
    if shifts is None and noise is None:
        shifts = robustness.DEFAULT_SHIFTS_360HZ
    snr = snr or robustness.DEFAULT_SNRS_DB
    if noise is not None:  # refuse a wrong run or missing noise records before any scoring
        from tinyqi.data.nstdb import noise_folder

        robustness.ecg_model(run_dir, "noise robustness")
        noise_folder(data_dir)
    ui = Ui()
    result = {}
    if shifts is not None:
        with ui.stage(f"scoring {len(shifts)} fiducial shifts on the test split"):
            result.update(robustness.fiducial_shifts(run_dir, shifts, data_dir))
        _shift_table(ui, result)
    if noise is not None:
        total = 1 + len(noise) * len(snr)
        with ui.stage(f"scoring clean and {len(noise) * len(snr)} noisy versions of the test records",
                      total=total) as advance:
            result.update(robustness.noise_stress(run_dir, noise, snr, data_dir,
                                                  progress=lambda note: advance(note.rsplit("; ", 1)[-1])))
        _noise_table(ui, result)
    path = Path(run_dir) / robustness.RESULT_FILE
    write_json(path, robustness.merged(path, result))
    ui.out.print(f"written: {path}")


def _shift_table(ui, result: dict) -> None:
    rows = [[s, f"{r['accuracy']:.4f}", f"{r['macro_f1']:.4f}", f"{r['device_macro_f1']:.4f}", f"{r['S_se']:.3f}",
             f"{r['S_ppv']:.3f}", f"{r['V_se']:.3f}", f"{r['V_ppv']:.3f}"] for s, r in result["shifts"].items()]
    ui.table("int8 with the fiducial moved (360 Hz samples)", ["shift", "accuracy", "macro-F1", "device macro-F1",
             "S Se", "S +P", "V Se", "V +P"], rows)


def _noise_table(ui, result: dict) -> None:
    """Two tables (one would not fit 80 columns): detection and macro-F1, then N/S/V Se and +P."""
    section = result["noise"]
    conditions = [("clean", "-", section["clean"])]
    conditions += [(n, snr, r) for n, by_snr in section["noisy"].items() for snr, r in by_snr.items()]
    sample = " — BUNDLED SAMPLE" if result["sample"] else ""

    def fmt(value, digits: int = 4) -> str:
        return "-" if value is None else f"{value:.{digits}f}"

    def clipped(r: dict) -> str:
        return f"{100 * r['clipped_samples'] / r['samples']:.2f} %" if r.get("samples") else "-"

    ui.table(f"DS2 + noise: QRS detection, int8 device macro-F1{sample}",
             ["noise", "SNR dB", "QRS Se", "QRS +P", "device macro-F1", "macro-F1 N/S/V", "ADC clipped"],
             [[n, snr, fmt(r["detection_se"]), fmt(r["detection_ppv"]), fmt(r["device_macro_f1"]),
               fmt(r["device_macro_f1_nsv"]), clipped(r)] for n, snr, r in conditions])
    ui.table(f"DS2 + noise: int8 device Se, +P{sample}",
             ["noise", "SNR dB", "N Se", "N +P", "S Se", "S +P", "V Se", "V +P"],
             [[n, snr, *(fmt(r[f"{c}_{k}"], 3) for c in ("N", "S", "V") for k in ("se", "ppv"))]
              for n, snr, r in conditions])
