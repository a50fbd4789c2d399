"""`tinyqi detect ecg`: QRS detection Se / +P of the device's own chain on MIT-BIH, per record and in total."""

from __future__ import annotations

import click

from tinyqi.commands.params import DATA_DIR, OUT_FILE


@click.command("detect")
@click.argument("task", type=click.Choice(["ecg"]))
@click.option("--data-dir", type=DATA_DIR, default=None,
              help="Data root holding mitdb/ (default: $TINYQI_DATA or "
              "~/.cache/tinyqi/data).")
@click.option("--sample", is_flag=True, help="The bundled sample's excerpts instead of the full database.")
@click.option("--out", type=OUT_FILE, default=None,
              help="Also write the figures as JSON here.")
def command(task, data_dir, sample, out):
    """Detection figures of the chain on all 48 records (the 12 sample excerpts with --sample). Lead MLII; records
    102 and 104 have none and use their first lead (V5), as detector papers do."""
    from tinyqi.data import mitdb
    from tinyqi.data.ecg import load_records
    from tinyqi.files import write_json
    from tinyqi.signal.detection import detection_report
    from tinyqi.ui import Ui

    ui = Ui()
    with ui.stage("running the device chain over every record"):
        records, where = load_records(data_dir, sample=sample, names=mitdb.ALL_RECORDS,
                                      any_lead=True)
        report = detection_report(records)
    report["source"] = where
    rows = [[g, t["records"], t["tp"], t["fn"], t["fp"], f"{t['se']:.4f}", f"{t['ppv']:.4f}"]
            for g, t in report["totals"].items()]
    ui.table(f"QRS detection ({where})", ["records", "n", "found", "missed", "false", "Se", "+P"], rows)
    if out:
        write_json(out, report)
        ui.out.print(f"written: {out}")
