"""Quantum-inspired (QINN) building blocks in Keras 3, each lowering to TFLite int8 builtin ops that TFLM runs.

- `Interference`: y = tanh(x + phi_c), a learnable phase phi per channel, initialised spread over
  [-PHASE_SPREAD, PHASE_SPREAD] so channels start in different regimes of the tanh (near-linear, saturating on one
  side or the other), the way detuned phases make interference patterns differ. After a Dense, or after an Add of a
  Dense and other terms (the ECG head's join), tinyqi.convert moves the phase into that Dense's bias, so on the
  device it costs one TANH (elsewhere it lowers to ADD + TANH).
  With phi = 0 it is a plain tanh: the ablation measures what the learned phases buy.
- "Entangled" blocks: every output channel is a mixture of ONE shared low-rank hidden state (basis), so r basis
  states serve all outputs: `entangled_dense` = Dense(r, no bias) -> Dense(units); `entangled_conv1d` =
  Conv1D(r, k, no bias) -> Conv1D(filters, 1). They lower to two FULLY_CONNECTED / CONV_2D ops with
  r * (inputs + outputs) weights instead of inputs * outputs.
- `build_ecg_qinn`: the baseline's classical conv front end (tinyqi.models.ecg) with a QINN dense head; the
  `conv_ranks` option makes the front end's later convs entangled too (used by the combined variant).
Inputs are named in0_/in1_ like the baseline, so convert.keras_input_positions can match them.
"""

from __future__ import annotations

import math

import keras
from keras import layers, ops

PHASE_SPREAD = math.pi / 4


@keras.saving.register_keras_serializable(package="tinyqi")
class Interference(layers.Layer):
    """tanh(x + phase), one learnable phase per channel (last axis)."""

    def __init__(self, spread: float = PHASE_SPREAD, **kwargs):
        super().__init__(**kwargs)
        self.spread = float(spread)

    def build(self, input_shape):
        channels = int(input_shape[-1])
        # Deterministic, evenly spaced phases: the seed-independent "detuning" of the channels.
        init = keras.initializers.Constant([self.spread * (2 * c / max(channels - 1, 1) - 1) for c in range(channels)])
        self.phase = self.add_weight(name="phase", shape=(channels,), initializer=init, trainable=True)

    def call(self, x):
        return ops.tanh(x + self.phase)

    def get_config(self):
        return {**super().get_config(), "spread": self.spread}


def entangled_dense(x, units: int, rank: int, name: str, activation=None):
    """`units` outputs mixed from one shared `rank`-dimensional basis state of the input."""
    basis = layers.Dense(rank, use_bias=False, name=f"{name}_basis")(x)
    return layers.Dense(units, activation=activation, name=f"{name}_mix")(basis)


def entangled_conv1d(x, filters: int, kernel_size: int, rank: int, name: str, activation=None):
    """A Conv1D whose `filters` output channels are mixed (1x1) from `rank` shared basis channels."""
    basis = layers.Conv1D(rank, kernel_size, use_bias=False, name=f"{name}_basis")(x)
    return layers.Conv1D(filters, 1, activation=activation, name=f"{name}_mix")(basis)


def qinn_front_end(beat, filters=(8, 16, 24), conv_ranks=(6, 8)):
    """The baseline's conv front end (same shapes) with conv2 and conv3 entangled at ranks `conv_ranks`."""
    x = layers.Conv1D(filters[0], 7, strides=2, activation="relu", name="conv1")(beat)
    x = layers.MaxPooling1D(2, name="pool1")(x)
    x = entangled_conv1d(x, filters[1], 5, conv_ranks[0], "conv2", activation="relu")
    x = layers.MaxPooling1D(2, name="pool2")(x)
    x = entangled_conv1d(x, filters[2], 3, conv_ranks[1], "conv3", activation="relu")
    return layers.GlobalAveragePooling1D(name="gap")(x)


def build_ecg_qinn(input_shapes, n_classes: int, hidden: int = 24, rank: int = 6, conv_ranks=None,
                   filters=(8, 16, 24)):
    """Hybrid ECG model: classical conv front end + QINN head (entangled wave projection joined with the RR
    features, interference activation, softmax classifier)."""
    from tinyqi.models.ecg import conv_front_end, rr_projection

    beat = keras.Input(shape=input_shapes[0], name="in0_beat")
    rr = keras.Input(shape=input_shapes[1], name="in1_rr")
    filters = tuple(filters)
    features = conv_front_end(beat, filters) if conv_ranks is None else qinn_front_end(beat, filters, conv_ranks)
    wave = entangled_dense(features, hidden, rank, "fc_wave")
    h = layers.Add(name="join")([wave, rr_projection(rr, hidden)])
    h = Interference(name="interference")(h)
    out = layers.Dense(n_classes, activation="softmax", name="classifier")(h)
    return keras.Model([beat, rr], out, name="ecg_qinn")
