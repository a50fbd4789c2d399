"""An average of a few small models (issue 12's "an average of a few small int8 models"): K members of the same
architecture, each trained on its own as a single model with its own seed, joined in ONE graph whose output is the
mean of the members' softmax outputs. One graph, so the int8 converter, the generated C and the firmware treat it
like any model: it lowers to the members' ops, then ADD and MUL (the mean) on the class probabilities.

Averaging is what makes the result less dependent on the seed: on DS1 cross-validation three seeds' models averaged
varied half as much as single models (docs/signal.md, "Input choice").
"""

from __future__ import annotations

from tinyqi.errors import TinyqiError


def check_members(members: int) -> None:
    if members < 1:
        raise TinyqiError(f"members {members}: must be at least 1 (1 = a single model, 3 = the average of three)")


def member_seeds(seed: int, members: int) -> list[int]:
    """Ensemble `seed` uses member seeds seed*K .. seed*K + K-1: disjoint sets for different ensemble seeds, and the
    single model's own seed when K = 1."""
    return [seed * members + i for i in range(members)]


def assemble(members: list, name: str):
    """One Keras model: the members' layers (renamed m<i>_<layer>) on shared inputs, then the mean of their
    outputs. The members' trained weights are copied, so it predicts the mean of what they predict."""
    import keras
    from keras import layers

    first = members[0]
    inputs = [keras.Input(shape=t.shape[1:], name=t.name.split(":")[0]) for t in first.inputs]
    outputs = []
    for i, member in enumerate(members):
        prefix = f"m{i}_"

        def renamed(layer, prefix=prefix):
            return layer.__class__.from_config({**layer.get_config(), "name": prefix + layer.name})

        clone = keras.models.clone_model(member, input_tensors=inputs, clone_function=renamed)
        clone.set_weights(member.get_weights())
        outputs.append(clone.outputs[0])
    mean = layers.Average(name="member_mean")(outputs)
    return keras.Model(inputs, mean, name=name)
