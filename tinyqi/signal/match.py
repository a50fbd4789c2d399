"""Beat-by-beat comparison of detected beats with reference annotations (ANSI/AAMI EC57 conventions).

A detection matches a reference beat within 150 ms; each reference beat and each detection is matched at most
once, closest pairs first. Unmatched reference beats are false negatives of their class, unmatched detections
false positives. Only reference beats inside the scored range count (the chain's warm-up and its delay at the end
of a record cannot hold detections; tinyqi.signal.ecg.scored_range)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

TOLERANCE_S = 0.150


@dataclass
class Match:
    ref_of_det: np.ndarray  # per detection: index of its reference beat, -1 when unmatched
    det_of_ref: np.ndarray  # per reference beat: index of its detection, -1 when missed
    scored_ref: np.ndarray  # bool per reference beat: inside the scored range
    scored_det: np.ndarray  # bool per detection: inside the scored range


def match_beats(det: np.ndarray, ref: np.ndarray, fs: int, scored: tuple[int, int]) -> Match:
    """Greedy one-to-one matching by distance (ties: earlier reference first); both arrays sorted sample indices."""
    tol = int(round(TOLERANCE_S * fs))
    pairs = []
    for j, r in enumerate(ref):
        lo, hi = np.searchsorted(det, r - tol), np.searchsorted(det, r + tol, side="right")
        pairs.extend((abs(int(det[i]) - int(r)), j, i) for i in range(lo, hi))
    ref_of_det = np.full(len(det), -1)
    det_of_ref = np.full(len(ref), -1)
    for _, j, i in sorted(pairs):
        if ref_of_det[i] < 0 and det_of_ref[j] < 0:
            ref_of_det[i], det_of_ref[j] = j, i
    lo, hi = scored
    return Match(ref_of_det, det_of_ref, (ref >= lo) & (ref <= hi), (det >= lo) & (det <= hi))


def detection_counts(m: Match) -> dict:
    """TP, FN, FP of QRS detection inside the scored range."""
    tp = int(np.count_nonzero(m.scored_ref & (m.det_of_ref >= 0)))
    fn = int(np.count_nonzero(m.scored_ref & (m.det_of_ref < 0)))
    fp = int(np.count_nonzero(m.scored_det & (m.ref_of_det < 0)))
    return {"tp": tp, "fn": fn, "fp": fp}


def se_ppv(counts: dict) -> dict:
    tp, fn, fp = counts["tp"], counts["fn"], counts["fp"]
    return {"se": tp / (tp + fn) if tp + fn else None, "ppv": tp / (tp + fp) if tp + fp else None, **counts}
