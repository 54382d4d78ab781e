"""The Distiller's argument checks and normalization, kept out of its train step.

Everything here runs once, in `Distiller.__init__`: it turns what users pass
into a uniform list of terms and weights, fixes Keras's bare-KL
`LogitsDistillation` on a copy, and checks teacher/student compatibility.
"""

import copy
import warnings

import keras

from keras_kd import _validation
from keras_kd import losses as kd_losses

_OWNER = "Distiller"
_warned_about_keras_kl = False


def _require_tensorflow():
    if keras.backend.backend() != "tensorflow":
        raise RuntimeError(
            f"keras_kd.Distiller's train_step needs the TensorFlow backend. "
            f"Received: KERAS_BACKEND={keras.backend.backend()!r}. Set "
            f"KERAS_BACKEND=tensorflow before importing keras (JAX and PyTorch "
            f"train steps are not implemented yet; the losses already use "
            f"keras.ops)."
        )


def _check_model(role, model):
    if not isinstance(model, keras.Model):
        raise TypeError(
            f"{_OWNER}: the {role} must be a keras.Model. Received: "
            f"{role}={model!r} (of type {type(model).__name__}). Wrap "
            f"other frameworks' models or plain functions in a Keras model, "
            f"e.g. keras.layers.TorchModuleWrapper or a functional model."
        )


def _final_activation_name(model):
    """The name of the activation the model's output goes through, if known.

    Looks at the layer that produces the (single) output: its `activation`
    attribute (Dense, Conv, Activation) or a `Softmax` layer.
    """
    outputs = getattr(model, "outputs", None)
    if not outputs or len(outputs) != 1:
        return None
    history = getattr(outputs[0], "_keras_history", None)
    if history is None:
        return None
    layer = history[0]
    if isinstance(layer, keras.layers.Softmax):
        return "softmax"
    activation = getattr(layer, "activation", None)
    return getattr(activation, "__name__", None)


def _term_name(term):
    name = getattr(term, "name", None)
    if isinstance(name, str) and name:
        return name
    return getattr(term, "registry_name", None) or type(term).__name__.lower()


def _uses_final_outputs(term):
    return (
        getattr(term, "teacher_layer_name", None) is None
        and getattr(term, "student_layer_name", None) is None
    )


def _requires_same_shape(term):
    # Relation terms compare structures within each model: widths may differ.
    return _uses_final_outputs(term) and getattr(term, "requires_same_output_shape", True)


def _declares_teacher_logits(term):
    if isinstance(term, keras.distillation.LogitsDistillation):
        return True  # it always treats the outputs as logits
    return bool(getattr(term, "teacher_from_logits", False)) and _uses_final_outputs(term)


def _declares_student_logits(term):
    if isinstance(term, keras.distillation.LogitsDistillation):
        return True
    return bool(getattr(term, "student_from_logits", False)) and _uses_final_outputs(term)


def _fix_keras_kl(term):
    """Returns `term`, or a copy whose bare KL function is `KLDivergence()`.

    `keras.distillation.LogitsDistillation(loss="kl_divergence")` (its
    default) resolves the name with `keras.losses.get`, which returns the
    bare function `kl_divergence`. Its `compute_loss` only applies softmax
    when the loss is a `KLDivergence` *instance*, so with the bare function it
    computes KL on clipped, temperature-scaled logits. See
    docs/upstream/keras-logits-distillation-kl.md. The user's object is left
    untouched; the Distiller holds the corrected copy.
    """
    global _warned_about_keras_kl
    if not isinstance(term, keras.distillation.LogitsDistillation):
        return term
    bare = keras.losses.kl_divergence
    if not any(fn is bare for fn in keras.tree.flatten(term.loss)):
        return term
    fixed = copy.copy(term)
    fixed.loss = keras.tree.map_structure(
        lambda fn: keras.losses.KLDivergence() if fn is bare else fn, term.loss
    )
    if not _warned_about_keras_kl:
        warnings.warn(
            "keras.distillation.LogitsDistillation(loss='kl_divergence') "
            "computes KL on temperature-scaled logits instead of "
            "probabilities (keras.losses.get returns the bare function, which "
            "skips its softmax branch). keras_kd.Distiller uses "
            "keras.losses.KLDivergence() instead, which gives Hinton's "
            "numbers. Pass loss=keras.losses.KLDivergence() yourself, or use "
            "keras_kd.losses.KD, to silence this warning.",
            stacklevel=4,
        )
        _warned_about_keras_kl = True
    return fixed


def _normalize_terms(distillation_losses):
    if distillation_losses is None:
        return [kd_losses.KD()]
    if not isinstance(distillation_losses, (list, tuple)):
        distillation_losses = [distillation_losses]
    if not distillation_losses:
        raise ValueError(
            f"{_OWNER}: `distillation_losses` is empty. Pass at least one "
            f"term (e.g. keras_kd.losses.KD(temperature=4)), or None for "
            f"Hinton's KD at T=4."
        )
    terms = []
    for item in distillation_losses:
        if isinstance(item, (str, dict)):
            item = kd_losses.get(item)
        if not isinstance(item, keras.distillation.DistillationLoss):
            raise TypeError(
                f"{_OWNER}: each distillation loss must be a "
                f"keras.distillation.DistillationLoss or a registered name. "
                f"Received: {item!r} (of type {type(item).__name__}). "
                f"Available names: {', '.join(kd_losses.available())}."
            )
        terms.append(_fix_keras_kl(item))
    return terms


def _normalize_weights(weights, count):
    if weights is None:
        return [1.0] * count
    if not isinstance(weights, (list, tuple)):
        weights = [weights]
    if len(weights) != count:
        raise ValueError(
            f"{_OWNER}: `distillation_loss_weights` needs one weight per "
            f"distillation loss. Received: {len(weights)} weights "
            f"({list(weights)}) for {count} losses."
        )
    return [
        _validation.check_non_negative_number(
            "distillation_loss_weights[i]", w, owner=_OWNER
        )
        for w in weights
    ]


def _unique_names(terms):
    names, seen = [], {}
    for term in terms:
        base = _term_name(term)
        seen[base] = seen.get(base, 0) + 1
        names.append(base if seen[base] == 1 else f"{base}_{seen[base]}")
    return names
