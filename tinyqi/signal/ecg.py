"""The ECG device chain, integer reference: raw ADC samples in, one int8 model input pair per detected beat out.

Everything is causal and integer; shifts of negative numbers are arithmetic (floor), as GCC does on Arm. The C
twin (firmware/lib/tinyqi/src/tq_ecg_*.c, state struct in tq_ecg.h) runs the same stages one sample at a time;
here the linear filters are computed vectorised (a moving sum is the same integer whichever way it is summed) and
the detector and beat stages sample by sample / beat by beat, exactly as the C does. Spec: docs/signal.md.

Stages (input: int16 samples at 360 Hz, ADC counts minus the ADC zero, 200 counts/mV as MIT-BIH; INVALID marks a
missing sample and holds the last valid one):
  1. low-pass: box 6 then box 8 at 360 Hz (nulls at 60/120/180 Hz and 45/90/135 Hz), gain 48, shifted by 4
     (gain 3), decimated to 180 Hz by keeping the odd input samples          -> y[k], int16 (saturated)
  2. high-pass: y delayed by 127 minus the baseline box128(box128(y)) >> 14  -> b[k], int16 (saturated)
     (linear phase: 0.45 Hz corner, group delay of stages 1+2: CHAIN_DELAY = 259 input samples, 0.72 s)
  3. QRS energy: d = b[k] - b[k-4] clipped to +-4095, e = d * d, mwi = box27(e) (150 ms)
  4. detector (Pan-Tompkins / Hamilton family): peaks of mwi (a rise, then a fall below half or 95 ms without a
     new maximum), signal and noise peak levels, threshold npk + 3/8 (spk - npk), 200 ms refractory, search-back
     at 1.66 RR for the largest noise peak above half the threshold, halved signal level after 3 s without a beat
  5. fiducial: the largest |b| within the 33 samples ending at the mwi peak
  6. beats: beat i is described once beat i+1 is detected and its window is complete (one beat of look-ahead):
     window b[f-45 .. f+82] minus its mean, moved by up to +-16 samples to where it best matches the running
     template (EMA 1/16 of earlier windows that were not premature), its difference from that template, RR
     features relative to the patient's own rhythm, all saturated to int8.
Model inputs: x0 = (128, 1) int8 beat - template (the patient's own running template) in 1/32-unit steps of
(b / 16); x1 = 6 int8 RR features, five ratios in Q5 and the irregular fraction in Q7 (it tells atrial
fibrillation from premature beats). Why the beat only relative to the template: a model that also sees the
absolute waveform learns the training patients' QRS shapes and calls a new patient's bundle-branch-block beats V
(DS1 patient-grouped 4-fold CV, 3 seeds: N/S/V macro-F1 0.654 vs 0.600, SVEB F1 0.363 vs 0.180; docs/signal.md). The model is converted with input scale 1/32 and zero point 0 for both, so these ints ARE its int8 inputs.
After the model, decide() gives each beat its class (tq_ecg_decide): N and V scores mixed with those of the
patient's earlier beats of the same shape, no S in an irregular rhythm.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

FS_IN = 360
DECIMATION = 2
FS = FS_IN // DECIMATION  # the chain's rate from stage 1 on
COUNTS_PER_MV = 200  # the ADC scale the chain is tuned for (MIT-BIH); other front ends scale to it first
INVALID = -32768  # a missing / invalid ADC sample (WFDB's invalid value, lead off)

LP_BOX = (6, 8)
LP_SHIFT = 4
HP_BOX = 128
HP_SHIFT = 14  # log2(HP_BOX * HP_BOX): the two boxes' gain
HP_DELAY = HP_BOX - 1
CHAIN_DELAY = 2 * HP_DELAY + (sum(LP_BOX) - 2) // 2 - 1  # input samples from an event to its b index * 2
SLOPE_LAG = 4
SLOPE_CLIP = 4095
MWI_BOX = 27

WARMUP = 2 * HP_BOX  # b samples before the baseline estimate has seen real data: not used for detection
LEARN = 2 * FS  # then 2 s of learning the signal and noise levels
DETECT_START = WARMUP + LEARN
PEAK_TIMEOUT = 17  # 95 ms without a new maximum ends a peak
THRESHOLD_SHIFTS = (2, 3)  # threshold npk + (spk - npk) * (1/4 + 1/8): see thresholds()
REFRACTORY = 36  # 200 ms
RR_INIT = FS  # 1 s until real RR intervals are known
RR_MAX = 2 * FS  # longer intervals (pauses, missed beats) do not enter the detector's RR average
RR_SLOTS = 8
DECAY_AFTER = 3 * FS  # halve the signal level after 3 s without a beat (after an artefact raised it)
FIDUCIAL_SEARCH = 32
T_WAVE_WINDOW = 65  # 360 ms: a peak this soon after a QRS with less than half its steepest slope is a T wave

BEFORE, AFTER = 45, 83  # window b[f - BEFORE .. f + AFTER - 1]: 0.25 s + 0.46 s = 128 samples
WINDOW = BEFORE + AFTER
WINDOW_SHIFT = 7  # log2(WINDOW): the window mean
RING = 1024  # b samples the device keeps (5.7 s): a beat whose window has left it is dropped
TEMPLATE_SHIFT = 4  # template EMA weight 1/16, template kept with 4 extra bits
TEMPLATE_GATE = (7, 8)  # only a beat whose pre-RR is at least 7/8 of the local RR updates the template
ALIGN = 16  # the window moves up to +-16 b samples (89 ms) from the fiducial to where it best matches the template
WAVE_SHIFT = 4  # b / 16 per int8 step: +-128 steps = +-3.4 mV at 200 counts/mV
WAVE_CHANNELS = ["beat_minus_template"]
LOCAL_RR = 8  # RR intervals in the local rhythm (mean)
SINUS_ON_TIME = ((7, 8), (5, 4))  # an RR interval within 7/8 .. 5/4 of the sinus RR is on time (see sinus_update)
SINUS_SHIFT = 2  # the sinus RR: EMA 1/4 of the intervals on time, kept with 4 extra bits,
SINUS_DRIFT_SHIFT = 7  # and 1/128 of the others, so that a lasting change of rate is still followed
RATIO_ONE = 32  # Q5
RR_LIMIT = (1 << 26) - 1  # RR intervals enter the features clamped (4 days): their Q4 values then fit in int32
IRREGULAR_JUMP = 16  # successive pre-RR intervals differing by more than local RR / 16 are an irregular pair
IRREGULAR_SHIFT = 5  # the irregular fraction: EMA 1/32 of irregular pairs, kept in Q12
RR_FEATURES = ["pre_over_local", "post_over_local", "pre_over_sinus", "post_over_sinus", "local_over_sinus",
               "irregular_fraction"]
INPUT_SCALE = 1.0 / RATIO_ONE  # the model's input scale for both inputs (zero point 0)
IRREGULAR_FEATURE = RR_FEATURES.index("irregular_fraction")
CLASS_S = 1  # the model's output order is the AAMI classes N, S, V, F, Q (tinyqi.data.mitdb.CLASSES)
NO_S_IRREGULAR = 80  # the decision: no S while the irregular fraction (Q7) is at least 80/128 (see decide())
CLASS_N, CLASS_V = 0, 2
VOTED_CLASSES = (CLASS_N, CLASS_V)  # the classes a beat's shape tells (S is told by its timing): see decide()
CLUSTERS = 4  # shape clusters per patient, the least recently joined one replaced by a new shape
CLUSTER_SHIFT = 4  # centroid and vote EMA 1/16, both kept with 4 extra bits
CLUSTER_LIMIT = 6 * WINDOW * len(WAVE_CHANNELS)  # a beat joins its nearest cluster within sum |x0 - centroid| <= this
VOTE_SHIFT = 2  # a voted class's score: 1/4 the beat's own, 3/4 its cluster's running mean
SCORE_OFFSET = 128  # int8 scores + 128: the softmax's 0..255


def box(x: np.ndarray, length: int) -> np.ndarray:
    """Moving sum of the last `length` samples (zeros before the start), int64."""
    c = np.cumsum(np.concatenate([np.zeros(length, np.int64), x.astype(np.int64)]))
    return c[length:] - c[:-length]


def delayed(x: np.ndarray, lag: int) -> np.ndarray:
    """x[k - lag] (zeros before the start), as long as x: all zeros when x is shorter than the lag."""
    return np.concatenate([np.zeros(lag, x.dtype), x])[: len(x)] if lag else x


def sat(x, lo: int, hi: int):
    return np.clip(x, lo, hi)


def hold_invalid(x: np.ndarray) -> np.ndarray:
    """Each INVALID sample replaced by the last valid one (0 before the first): a gap is a flat line."""
    x = np.asarray(x, dtype=np.int64)
    valid = x != INVALID
    last = np.maximum.accumulate(np.where(valid, np.arange(len(x)), -1))
    return np.where(last >= 0, x[np.maximum(last, 0)], 0)


def lowpass_decimate(x: np.ndarray) -> np.ndarray:
    """Stage 1: int16 360 Hz samples -> y at 180 Hz (the odd input samples of the low-passed signal)."""
    s = hold_invalid(x)
    for length in LP_BOX:
        s = box(s, length)
    return sat((s[1::DECIMATION] + (1 << (LP_SHIFT - 1))) >> LP_SHIFT, -32768, 32767)


def highpass(y: np.ndarray) -> np.ndarray:
    """Stage 2: baseline removal, linear phase."""
    baseline = (box(box(y, HP_BOX), HP_BOX) + (1 << (HP_SHIFT - 1))) >> HP_SHIFT
    return sat(delayed(y, HP_DELAY) - baseline, -32768, 32767)


def slope(b: np.ndarray) -> np.ndarray:
    """Stage 3a: the QRS-emphasising slope (a 22 ms difference: its gain peaks at 22 Hz, nulls at 0 and 45 Hz)."""
    return sat(b - delayed(b, SLOPE_LAG), -SLOPE_CLIP, SLOPE_CLIP)


def qrs_energy(d: np.ndarray) -> np.ndarray:
    """Stage 3b: moving integral of the squared slope."""
    return box(d * d, MWI_BOX)


def thresholds(spk: int, npk: int) -> tuple[int, int]:
    """The detection threshold npk + 3/8 (spk - npk) and the search-back threshold, half of it. Pan & Tompkins
    use 1/4; 3/8 was chosen on DS1 (docs/signal.md, "Detector threshold"): under muscle noise it makes fewer false
    detections and the model's inputs stay closer to the clean ones."""
    gap = spk - npk
    thr1 = npk + (gap >> THRESHOLD_SHIFTS[0]) + (gap >> THRESHOLD_SHIFTS[1])
    return thr1, thr1 >> 1


@dataclass
class Detections:
    peak: np.ndarray  # mwi peak index of each QRS (b samples)
    at: np.ndarray  # b index at which it was declared (its detection time)
    searchback: np.ndarray  # bool: found by search-back


def detect(mwi: np.ndarray, d: np.ndarray) -> Detections:
    """Stage 4, sample by sample as the device runs it (tq_ecg_detect.c)."""
    v_all = mwi.tolist()
    steep = peak_slopes(d).tolist()
    last_steep = 0
    spk = npk = thr1 = thr2 = 0
    peak_val = peak_k = 0
    last_qrs = -1
    last_event = DETECT_START
    ring = [RR_INIT] * RR_SLOTS
    rr_sum, rr_pos = RR_INIT * RR_SLOTS, 0
    rr_missed = (RR_INIT * 53) >> 5
    sb_val = sb_k = 0
    learn_max = learn_sum = 0
    peaks, ats, sbs = [], [], []

    def declare(pk: int, pv: int, now: int, searchback: bool):
        nonlocal spk, last_qrs, last_event, sb_val, rr_sum, rr_pos, rr_missed, last_steep
        last_steep = steep[pk]
        spk += (pv - spk) >> (2 if searchback else 3)
        if last_qrs >= 0 and pk - last_qrs <= RR_MAX:
            rr_sum += pk - last_qrs - ring[rr_pos]
            ring[rr_pos] = pk - last_qrs
            rr_pos = (rr_pos + 1) % RR_SLOTS
            rr_missed = ((rr_sum >> 3) * 53) >> 5  # 1.66 RR
        last_qrs, last_event, sb_val = pk, now, 0
        peaks.append(pk)
        ats.append(now)
        sbs.append(searchback)

    for k in range(WARMUP, len(v_all)):
        v = v_all[k]
        if k < DETECT_START:
            learn_max = max(learn_max, v)
            learn_sum += v
            if k == DETECT_START - 1:
                spk, npk = learn_max >> 1, learn_sum >> 9
                thr1, thr2 = thresholds(spk, npk)
            continue
        if v > peak_val:
            peak_val, peak_k = v, k
        elif v < (peak_val >> 1) or k - peak_k > PEAK_TIMEOUT:
            pv, pk = peak_val, peak_k
            peak_val = 0
            if pv > 0 and (last_qrs < 0 or pk - last_qrs >= REFRACTORY):
                if pv > thr1 and not (last_qrs >= 0 and pk - last_qrs < T_WAVE_WINDOW
                                      and steep[pk] < (last_steep >> 1)):
                    declare(pk, pv, k, False)
                else:
                    npk += (pv - npk) >> 3
                    if pv > sb_val:
                        sb_val, sb_k = pv, pk
                thr1, thr2 = thresholds(spk, npk)
        if last_qrs >= 0 and sb_val > thr2 and k - last_qrs > rr_missed:
            declare(sb_k, sb_val, k, True)
            thr1, thr2 = thresholds(spk, npk)
        if k - last_event > DECAY_AFTER:
            spk >>= 1
            last_event = k
            thr1, thr2 = thresholds(spk, npk)
    return Detections(np.array(peaks, np.int64), np.array(ats, np.int64), np.array(sbs, bool))


def peak_slopes(d: np.ndarray) -> np.ndarray:
    """For each sample k: the largest |d| over the mwi box ending at k (the steepest slope of that peak)."""
    a = np.abs(d)
    if len(a) == 0:  # an input of fewer than 2 samples: no chain sample
        return a
    windows = np.lib.stride_tricks.sliding_window_view(np.concatenate([np.zeros(MWI_BOX - 1, a.dtype), a]), MWI_BOX)
    return windows.max(axis=1)


def fiducials(b: np.ndarray, peaks: np.ndarray) -> np.ndarray:
    """Stage 5: the first largest |b| within [peak - FIDUCIAL_SEARCH, peak]."""
    if len(peaks) == 0:
        return peaks.copy()
    offsets = np.arange(-FIDUCIAL_SEARCH, 1)
    region = np.abs(b[peaks[:, None] + offsets[None, :]])
    return peaks + offsets[np.argmax(region, axis=1)]


def irregular_update(irregular_q12: int, rr_hist: list[int], local: int) -> int:
    """The irregular fraction after one more pre-RR interval: an EMA (1/32, Q12) of whether it differs from the
    previous one by more than local / 16. Atrial fibrillation is irregularly irregular: nearly every successive
    pair differs (fraction ~0.85 in DS1's records 201 and 203), so its N beats, premature-looking one by one, read
    as AF; a sinus rhythm with premature beats keeps most pairs equal (fraction ~0.1-0.5 in DS1's S-rich records).
    The mean |jump| it replaced also grows with a few large jumps (pauses): docs/signal.md, "Input choice"."""
    if len(rr_hist) < 2:
        return irregular_q12
    irregular = abs(rr_hist[-1] - rr_hist[-2]) * IRREGULAR_JUMP > local
    return irregular_q12 + (((int(irregular) << 12) - irregular_q12) >> IRREGULAR_SHIFT)


def sinus_update(sinus_q4: int, pre: int) -> int:
    """The sinus RR (Q4; -1 before the first interval) after one more pre-RR interval: an EMA 1/4 of the intervals
    that come on time (7/8 .. 5/4 of it), 1/128 of the others. It is what the RR features measure prematurity
    against. The mean of the last 8 intervals follows a run of premature beats (a supraventricular tachycardia, a
    junctional rhythm) within a few beats, so the run's later beats look on time against it; an EMA 1/128 of every
    interval (the reference before) is not moved much by a run, but lags the sinus rate for minutes and is pulled
    down by frequent ectopic beats. The sinus RR follows the sinus rate within beats and ectopic intervals barely
    move it, while a lasting change of rate is still followed, at 1/128 until it is on time again. Chosen on DS1
    cross-validation: docs/signal.md, "The sinus RR"."""
    pre_q4 = pre << 4
    if sinus_q4 < 0:
        return pre_q4
    (early_num, early_den), (late_num, late_den) = SINUS_ON_TIME
    on_time = pre_q4 * early_den >= sinus_q4 * early_num and pre_q4 * late_den <= sinus_q4 * late_num
    return sinus_q4 + ((pre_q4 - sinus_q4) >> (SINUS_SHIFT if on_time else SINUS_DRIFT_SHIFT))


@dataclass
class ShapeClusters:
    """The decision's state for one patient (tq_ecg_votes_t): up to CLUSTERS centroids of x0 (4 extra bits), each
    cluster's running mean of the voted classes' scores (offset scores, 4 extra bits), and when it was last joined
    (0: unused)."""

    centroid: np.ndarray = field(default_factory=lambda: np.zeros((CLUSTERS, WINDOW * len(WAVE_CHANNELS)), np.int64))
    vote: np.ndarray = field(default_factory=lambda: np.zeros((CLUSTERS, len(VOTED_CLASSES)), np.int64))
    last: np.ndarray = field(default_factory=lambda: np.zeros(CLUSTERS, np.int64))
    beats: int = 0

    def mixed(self, wave: np.ndarray, offset_scores: np.ndarray) -> np.ndarray:
        """The beat's scores with 4 extra bits, N and V mixed with its cluster's (step a of decide())."""
        self.beats += 1
        out = offset_scores << CLUSTER_SHIFT
        q = wave.astype(np.int64).ravel() << CLUSTER_SHIFT
        voted = list(VOTED_CLASSES)
        used = np.flatnonzero(self.last)
        sad = np.abs(self.centroid[used] - q).sum(axis=1)
        if len(used) and sad.min() <= CLUSTER_LIMIT << CLUSTER_SHIFT:
            k = int(used[np.argmin(sad)])
            out[voted] = (out[voted] + ((1 << VOTE_SHIFT) - 1) * self.vote[k]) >> VOTE_SHIFT
            self.centroid[k] += (q - self.centroid[k]) >> CLUSTER_SHIFT
            self.vote[k] += ((offset_scores[voted] << CLUSTER_SHIFT) - self.vote[k]) >> CLUSTER_SHIFT
        else:
            k = int(np.argmin(self.last))  # the first unused slot, else the least recently joined cluster
            self.centroid[k] = q
            self.vote[k] = offset_scores[voted] << CLUSTER_SHIFT
        self.last[k] = self.beats
        return out


def decide(scores: np.ndarray, rr: np.ndarray, waves: np.ndarray) -> np.ndarray:
    """The device's class per beat of one recording, in the order the chain described them (tq_ecg_decide), from
    the model's int8 scores (beats, classes), the beats' RR features and their x0:
    a. the beat joins the nearest of the patient's shape clusters (sum |x0 - centroid| at most CLUSTER_LIMIT), or
       starts one; in a cluster it had joined before, its N and V scores become 1/4 its own and 3/4 the cluster's
       running mean (EMA 1/16): a shape the patient's earlier beats showed as N (or V) is N (or V) again, while S,
       told by timing, keeps the beat's own score;
    b. the largest score wins (ties to the first class), except that S is not a candidate while the rhythm is
       irregular (the irregular fraction, rr's Q7 feature, at least NO_S_IRREGULAR / 128): in atrial
       fibrillation every beat comes at an unexpected time and AAMI labels them N.
    Both chosen on DS1 cross-validation only: docs/signal.md, "The decision" and "The shape-cluster vote"."""
    offset = np.asarray(scores, np.int64) + SCORE_OFFSET
    clusters = ShapeClusters()
    mixed = np.array([clusters.mixed(w, s) for w, s in zip(np.asarray(waves), offset)], np.int64)
    mixed = mixed.reshape(offset.shape)
    mixed[np.asarray(rr)[:, IRREGULAR_FEATURE] >= NO_S_IRREGULAR, CLASS_S] = -1
    return np.argmax(mixed, axis=1)


def centred_window(b: np.ndarray, f: int) -> np.ndarray:
    """The window b[f - BEFORE .. f + AFTER - 1] minus its rounded mean, with TEMPLATE_SHIFT extra bits."""
    w = b[f - BEFORE : f + AFTER].astype(np.int64)
    return (w - ((w.sum() + (WINDOW >> 1)) >> WINDOW_SHIFT)) << TEMPLATE_SHIFT


def aligned_fiducial(b: np.ndarray, f: int, template: np.ndarray) -> int:
    """The window start within +-ALIGN of the fiducial whose centred window is closest to the template (least sum
    of absolute differences; a tie goes to the smaller shift, then the earlier one). The fiducial (largest |b|)
    jumps between the R and R' peaks of a bundle-branch-block beat, or to a large S wave: unaligned, such a
    patient's N beats differed from the template as much as V beats do (DS1 record 118's N beats: median mean |x0|
    2.9 steps, 10 % above 8.0; aligned: 1.1 and 2.0). DS1 cross-validation: docs/signal.md, "Input choice"."""
    best_cost, best_shift = -1, 0
    for shift in range(-ALIGN, ALIGN + 1):
        cost = int(np.abs(centred_window(b, f + shift) - template).sum())
        if best_cost < 0 or cost < best_cost or (cost == best_cost and abs(shift) < abs(best_shift)):
            best_cost, best_shift = cost, shift
    return f + best_shift


def updates_template(pre: int, local: int) -> bool:
    """Whether a beat moves the running template: only when it is not premature (pre-RR >= 7/8 of the local RR).
    Ectopic beats are mostly premature: a template every beat moved was half V in ventricular bigeminy, so the
    patient's N beats differed from it as much as the V beats did (DS1 cross-validation, docs/signal.md)."""
    return pre * TEMPLATE_GATE[1] >= local * TEMPLATE_GATE[0]


def fraction_q7(value_q12: int) -> int:
    """A Q12 fraction in [0, 1] as int8 Q7, rounded, saturated at 127."""
    return min((value_q12 + 16) >> 5, 127)


def ratio_q5(num, den):
    """round(32 * num / den), num >= 0, den > 0, saturated to int8: integer division as the C does it."""
    return min((num * 2 * RATIO_ONE + den) // (2 * den), 127)


@dataclass
class ChainBeats:
    fiducial: np.ndarray  # b index of every detected beat
    sample: np.ndarray  # its input sample index (fiducial * 2 - CHAIN_DELAY)
    detected_at: np.ndarray  # b index at which it was detected
    described: np.ndarray  # bool: got model inputs (not the first or last beat, window still in the ring)
    x0: np.ndarray  # (described, WINDOW, len(WAVE_CHANNELS)) int8
    x1: np.ndarray  # (described, 5) int8


def describe(b: np.ndarray, fid: np.ndarray, detected_at: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stage 6, beat by beat in order (tq_ecg_beat.c): which beats get model inputs, and the inputs."""
    n = len(fid)
    described = np.zeros(n, bool)
    x0, x1 = [], []
    rr_hist: list[int] = []
    sinus_q4 = -1
    irregular_q12 = 0
    template = None
    for i in range(1, n - 1):
        pre, post = min(int(fid[i] - fid[i - 1]), RR_LIMIT), min(int(fid[i + 1] - fid[i]), RR_LIMIT)
        rr_hist = (rr_hist + [pre])[-LOCAL_RR:]
        local = sum(rr_hist) // len(rr_hist)
        irregular_q12 = irregular_update(irregular_q12, rr_hist, local)
        sinus_q4 = sinus_update(sinus_q4, pre)
        ready = max(int(detected_at[i + 1]), int(fid[i]) + AFTER - 1 + ALIGN)
        if ready >= len(b):
            break  # the record ends before this window is complete (ready never decreases: nor any later one)
        if ready - (int(fid[i]) - BEFORE - ALIGN) >= RING:
            continue  # a long pause: this beat's window was overwritten before it could be described
        if template is None:
            template = centred_window(b, int(fid[i]))
        diff = centred_window(b, aligned_fiducial(b, int(fid[i]), template)) - template
        if updates_template(pre, local):
            template = template + (diff >> TEMPLATE_SHIFT)
        half = 1 << (WAVE_SHIFT + TEMPLATE_SHIFT - 1)
        x0.append(sat((diff + half) >> (WAVE_SHIFT + TEMPLATE_SHIFT), -128, 127))
        x1.append([ratio_q5(pre, local), ratio_q5(post, local), ratio_q5(pre << 4, sinus_q4),
                   ratio_q5(post << 4, sinus_q4), ratio_q5(local << 4, sinus_q4), fraction_q7(irregular_q12)])
        described[i] = True
    x0a = np.asarray(x0, np.int8).reshape(-1, WINDOW, len(WAVE_CHANNELS))
    x1a = np.asarray(x1, np.int8).reshape(-1, len(RR_FEATURES))
    return described, x0a, x1a


def filtered(adc: np.ndarray) -> np.ndarray:
    """Stages 1-2: the chain signal b of one recording of int16 samples at FS_IN."""
    return highpass(lowpass_decimate(np.asarray(adc)))


def detected_beats(b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Stages 3-5 on the chain signal: each detected beat's fiducial and the b index it was detected at."""
    d = slope(b)
    det = detect(qrs_energy(d), d)
    return fiducials(b, det.peak), det.at


def run_chain(adc: np.ndarray) -> ChainBeats:
    """The whole chain over one recording of int16 samples at FS_IN."""
    b = filtered(adc)
    fid, at = detected_beats(b)
    described, x0, x1 = describe(b, fid, at)
    return ChainBeats(fid, fid * DECIMATION - CHAIN_DELAY, at, described, x0, x1)


def scored_range(n_samples: int) -> tuple[int, int]:
    """Input samples where the chain can detect beats: from the end of warm-up and learning to the last sample
    whose b value exists (the chain's delay before the end of the record)."""
    return DETECT_START * DECIMATION - CHAIN_DELAY, (n_samples // DECIMATION - 1) * DECIMATION - CHAIN_DELAY
