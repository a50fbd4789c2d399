"""`tinyqi verify RUN_DIR`: host-compiled C (ASan + UBSan) vs TFLM on the whole test set, for every model."""

from __future__ import annotations

import sys
from pathlib import Path

import click


@click.command("verify")
@click.argument("run_dir", type=click.Path(file_okay=False, path_type=Path))
def command(run_dir):
    """Check the generated C of RUN_DIR and its variants against TFLM; writes RUN_DIR/verify.json."""
    from tinyqi.ui import Ui
    from tinyqi.verify import passed, verify_run

    ui = Ui()
    with ui.stage("host C vs TFLM (dense and CSR, ASan + UBSan)"):
        summary = verify_run(run_dir)
    rows = [[m["model"], m["vectors"], m["dense_mismatches"],
             "-" if m["csr_mismatches"] is None else m["csr_mismatches"], m["sanitizers"]["findings"],
             m["dense_arena_bytes"]] for m in summary["models"]]
    ui.table(f"{run_dir}: mismatching vectors vs TFLM", ["model", "vectors", "dense", "csr", "sanitizer findings",
                                                          "arena bytes"], rows)
    f = summary["float"]
    if f is not None:
        ui.out.print(f"float32 model: max |C - TFLM| = {f['max_abs_diff']} (tolerance {f.get('tolerance')}), "
                     f"argmax agreement {f['argmax_agreement']}")
    ui.out.print(f"wrote {Path(run_dir) / 'verify.json'}")
    if not passed(summary):
        ui.warn("the generated C does not match TFLM (or a sanitizer fired); see verify.json")
        sys.exit(1)
