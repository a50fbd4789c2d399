"""The dense baseline for ECG beats: a small 1-D CNN on the waveform, joined with the RR context (one hidden ReLU
layer on the RR ratios).

Inputs are named in0_/in1_ so tinyqi can match Keras inputs to .tflite inputs (convert.keras_input_positions).
Every layer lowers to TFLM builtin int8 ops: Conv1D -> RESHAPE + CONV_2D, MaxPooling1D -> MAX_POOL_2D,
GlobalAveragePooling1D -> MEAN, Dense -> FULLY_CONNECTED, Add(+ReLU) -> ADD with fused ReLU, SOFTMAX.
The RR branch joins by ADD (not CONCATENATION) so no requantising concat is needed.
"""

from __future__ import annotations


def conv_front_end(beat, filters=(8, 16, 24)):
    """Conv feature extractor shared by the baseline and the QINN hybrids: returns the pooled feature vector."""
    import keras
    from keras import layers

    x = layers.Conv1D(filters[0], 7, strides=2, activation="relu", name="conv1")(beat)
    x = layers.MaxPooling1D(2, name="pool1")(x)
    x = layers.Conv1D(filters[1], 5, activation="relu", name="conv2")(x)
    x = layers.MaxPooling1D(2, name="pool2")(x)
    x = layers.Conv1D(filters[2], 3, activation="relu", name="conv3")(x)
    return layers.GlobalAveragePooling1D(name="gap")(x)


def rr_projection(rr, hidden: int):
    """The RR ratios projected to the join width. They need a threshold-like response (premature or not), which a
    linear projection cannot give: one small ReLU layer first. Chosen on DS1 validation over seeds 0-2 (macro-F1
    0.462 vs 0.434 without it; docs/signal.md)."""
    from keras import layers

    rr_hidden = layers.Dense(8, activation="relu", name="fc_rr_hidden")(rr)
    return layers.Dense(hidden, use_bias=False, name="fc_rr")(rr_hidden)


def build_ecg_cnn(input_shapes, n_classes: int, hidden: int = 24, filters=(8, 16, 24)):
    import keras
    from keras import layers

    beat = keras.Input(shape=input_shapes[0], name="in0_beat")
    rr = keras.Input(shape=input_shapes[1], name="in1_rr")
    features = conv_front_end(beat, tuple(filters))
    h = layers.Add(name="join")([layers.Dense(hidden, name="fc_wave")(features), rr_projection(rr, hidden)])
    h = layers.Activation("relu", name="join_relu")(h)
    out = layers.Dense(n_classes, activation="softmax", name="classifier")(h)
    return keras.Model([beat, rr], out, name="ecg_cnn")
