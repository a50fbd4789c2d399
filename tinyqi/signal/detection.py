"""QRS detection figures of the device chain on MIT-BIH records (EC57 beat by beat, tinyqi.signal.match)."""

from __future__ import annotations

import numpy as np

from tinyqi.data import mitdb
from tinyqi.signal import ecg, match


def record_counts(record: mitdb.Record) -> dict:
    """TP / FN / FP of the chain's detections against the record's reference beats, in the scored range."""
    beats = ecg.run_chain(record.adc)
    ref, _ = record.reference_beats()
    m = match.match_beats(beats.sample, ref, ecg.FS_IN, ecg.scored_range(len(record.adc)))
    return match.detection_counts(m)


def detection_report(records: dict[str, mitdb.Record]) -> dict:
    """Per record and in total, and for DS1 / DS2 / the paced records where they are among `records`."""
    per_record = {name: record_counts(rec) for name, rec in sorted(records.items())}
    groups = {"all": list(per_record), "DS1": mitdb.DS1, "DS2": mitdb.DS2, "paced": mitdb.PACED}
    totals = {}
    for group, names in groups.items():
        present = [n for n in names if n in per_record]
        if present:
            summed = {k: int(np.sum([per_record[n][k] for n in present])) for k in ("tp", "fn", "fp")}
            totals[group] = {"records": len(present), **match.se_ppv(summed)}
    return {"per_record": {n: match.se_ppv(c) for n, c in per_record.items()}, "totals": totals,
            "scoring": match.__doc__.split("\n\n")[0].replace("\n", " ")}
