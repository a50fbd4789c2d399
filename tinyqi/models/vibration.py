"""Vibration-window models: a strided 1-D CNN front end on the raw int8-ready accelerometer window, with either a
plain softmax classifier (the dense baseline) or a QINN head (the default model of `tinyqi train vibration`).

A wide strided first layer acts as a learned filter bank (bearing faults show up as resonances excited by
periodic impacts), pooling keeps the cost low, global average pooling makes the features shift-invariant.

The QINN head (tinyqi.models.qinn) closed the float -> int8 gap of the baseline (CWRU load3, 10 classes, seed 0:
baseline float 0.976, int8 0.950, of which input quantisation cost 0.001; QINN float 0.988, int8 0.989 on the same
data; docs/vibration.md): an entangled projection of the pooled features followed by the interference activation
tanh(x + phase), which bounds the classifier's input to [-1, 1], a range int8 covers evenly.
Input named in0_ like every tinyqi model (convert.keras_input_positions).
"""

from __future__ import annotations


def vibration_front_end(window, filters=(8, 16, 24)):
    """Conv feature extractor shared by the baseline and the QINN model: returns the pooled feature vector."""
    from keras import layers

    x = layers.Conv1D(filters[0], 32, strides=8, activation="relu", name="conv1")(window)
    x = layers.MaxPooling1D(2, name="pool1")(x)
    x = layers.Conv1D(filters[1], 8, strides=2, activation="relu", name="conv2")(x)
    x = layers.MaxPooling1D(2, name="pool2")(x)
    x = layers.Conv1D(filters[2], 3, activation="relu", name="conv3")(x)
    return layers.GlobalAveragePooling1D(name="gap")(x)


def build_vibration_cnn(input_shapes, n_classes: int, filters=(8, 16, 24)):
    import keras
    from keras import layers

    window = keras.Input(shape=input_shapes[0], name="in0_window")
    out = layers.Dense(n_classes, activation="softmax", name="classifier")(vibration_front_end(window, filters))
    return keras.Model(window, out, name="vibration_cnn")


def build_vibration_qinn(input_shapes, n_classes: int, hidden: int = 24, rank: int = 6, filters=(8, 16, 24)):
    """Hybrid vibration model: the classical conv front end + QINN head (entangled projection of the pooled
    features, interference activation, softmax classifier)."""
    import keras
    from keras import layers

    from tinyqi.models.qinn import Interference, entangled_dense

    window = keras.Input(shape=input_shapes[0], name="in0_window")
    h = entangled_dense(vibration_front_end(window, tuple(filters)), hidden, rank, "fc")
    h = Interference(name="interference")(h)
    out = layers.Dense(n_classes, activation="softmax", name="classifier")(h)
    return keras.Model(window, out, name="vibration_qinn")
