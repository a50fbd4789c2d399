"""The dense baseline for vibration windows: a strided 1-D CNN on the raw int8-ready accelerometer window.

A wide strided first layer acts as a learned filter bank (bearing faults show up as resonances excited by
periodic impacts), pooling keeps the cost low, global average pooling makes the features shift-invariant.
"""

from __future__ import annotations


def build_vibration_cnn(input_shapes, n_classes: int, filters=(8, 16, 24)):
    import keras
    from keras import layers

    window = keras.Input(shape=input_shapes[0], name="in0_window")
    x = layers.Conv1D(filters[0], 32, strides=8, activation="relu", name="conv1")(window)
    x = layers.MaxPooling1D(2, name="pool1")(x)
    x = layers.Conv1D(filters[1], 8, strides=2, activation="relu", name="conv2")(x)
    x = layers.MaxPooling1D(2, name="pool2")(x)
    x = layers.Conv1D(filters[2], 3, activation="relu", name="conv3")(x)
    x = layers.GlobalAveragePooling1D(name="gap")(x)
    out = layers.Dense(n_classes, activation="softmax", name="classifier")(x)
    return keras.Model(window, out, name="vibration_cnn")
