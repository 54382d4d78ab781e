"""The Distiller's terms: one small record per term, and their weighted sum.

A `TermSlot` holds what the Distiller keeps for one term: the term (in the
`DistillationTerm` contract), its log name, its weight (a non-trainable
variable, so schedules change it without retracing), its connector (or
`None`) and its source: `None` when the term reads the teacher's outputs,
else the key of the teacher outputs it reads in what `teacher_forward`
returns (a method with several teachers returns one per key).
`evaluate_terms` computes every term on one teacher pass and one student
pass and returns the weighted sum and each term's value.
"""

import dataclasses

import keras
from keras import ops

from keras_kd import losses as kd_losses
from keras_kd import validation


@dataclasses.dataclass(frozen=True)
class TermSlot:
    term: kd_losses.DistillationTerm
    name: str
    weight: keras.Variable
    connector: keras.layers.Layer = None
    source: object = None


def normalize_terms(distillation_losses, *, owner):
    """A list of `keras.distillation.DistillationLoss` from what users pass.

    `None` gives Hinton's KD at T=4; names and dicts go through the
    registry; Keras's bare-KL `LogitsDistillation` is replaced by a fixed copy.
    """
    if distillation_losses is None:
        return [kd_losses.KD()]
    if not isinstance(distillation_losses, (list, tuple)):
        distillation_losses = [distillation_losses]
    if not distillation_losses:
        raise ValueError(
            f"{owner}: `distillation_losses` is empty. Pass at least one "
            f"term (e.g. keras_kd.losses.KD(temperature=4)), or None for "
            f"Hinton's KD at T=4."
        )
    terms = []
    for item in distillation_losses:
        if isinstance(item, (str, dict)):
            item = kd_losses.get(item)
        if not isinstance(item, keras.distillation.DistillationLoss):
            raise validation.ArgumentTypeError(
                f"{owner}: each distillation loss must be a "
                f"keras.distillation.DistillationLoss or a registered name. "
                f"Received: {item!r} (of type {type(item).__name__}). "
                f"Available names: {', '.join(kd_losses.available())}."
            )
        terms.append(kd_losses.fix_keras_kl(item))
    return terms


def normalize_weights(weights, count, *, owner):
    """One finite weight >= 0 per term (default 1.0 each)."""
    if weights is None:
        return [1.0] * count
    if not isinstance(weights, (list, tuple)):
        weights = [weights]
    if len(weights) != count:
        raise ValueError(
            f"{owner}: `distillation_loss_weights` needs one weight per "
            f"distillation loss. Received: {len(weights)} weights "
            f"({list(weights)}) for {count} losses."
        )
    return [validation.check_non_negative_number("distillation_loss_weights[i]", w, owner=owner) for w in weights]


def checked_terms(teacher, student, distillation_losses, distillation_loss_weights, *, none_means_no_term, owner):
    """`(losses, weights, terms)`: what users passed, normalized and checked against the models.

    `distillation_losses=None` is Hinton's KD, or no term at all when
    `none_means_no_term` (no teacher, or a method with losses of its own).
    """
    if distillation_losses is None and none_means_no_term:
        losses = []
    else:
        losses = normalize_terms(distillation_losses, owner=owner)
    weights = normalize_weights(distillation_loss_weights, len(losses), owner=owner)
    terms = [kd_losses.as_term(loss) for loss in losses]
    for term in terms:
        if teacher is None and term.requires_teacher:
            raise ValueError(
                f"{owner}: {term.name!r} reads a teacher's outputs, but teacher=None. "
                f"Pass a trained teacher, or use a teacher-free term such as "
                f"keras_kd.losses.TeacherFreeRegularization."
            )
        term.validate_model_compatibility(teacher, student)
    return losses, weights, terms


def unique_names(terms):
    """Log names: each term's name, suffixed `_2`, `_3`, ... when repeated."""
    names, seen = [], {}
    for term in terms:
        base = term.name or type(term).__name__.lower()
        seen[base] = seen.get(base, 0) + 1
        names.append(base if seen[base] == 1 else f"{base}_{seen[base]}")
    return names


def build_slots(terms, names, weights, sources, teacher_taps, student_tap):
    """One `TermSlot` per term, with the connector the term asks for (or `None`).

    `sources[i]` is term i's source; `teacher_taps[source]` the tap it reads.
    """
    slots, count = [], 0
    for term, name, weight, source in zip(terms, names, weights, sources):
        connector = None
        if not term.uses_final_outputs:
            connector = term.build_connector(
                teacher_taps[source].feature_shape(term.teacher_layer_name),
                student_tap.feature_shape(term.student_layer_name),
                name=f"connector_{count}_{name}",
            )
            count += connector is not None
        slots.append(TermSlot(term, name, weight, connector, source))
    return slots


def evaluate_terms(slots, teacher, student, *, y, sample_weight, training):
    """Every term on `teacher` and `student` (`taps.ModelOutputs`).

    `teacher` is the teacher's `ModelOutputs` (`None` without a teacher:
    terms then receive `None` as the teacher's outputs), or, for slots with
    a source, a dict of them keyed by source.

    Returns:
        `(weighted_sum, {name: value})`, float32 scalars.
    """
    values = {}
    weighted = None
    for slot in slots:
        outputs = teacher if slot.source is None else teacher[slot.source]
        teacher_value = None if outputs is None else outputs.select(slot.term.teacher_layer_name)
        student_value = student.select(slot.term.student_layer_name)
        if slot.connector is not None:
            student_value = slot.connector(student_value, training=training)
        value = ops.convert_to_tensor(
            slot.term.compute_loss(teacher_value, student_value, sample_weight=sample_weight, y_true=y)
        )
        if len(value.shape) != 0:
            raise ValueError(
                f"Distillation term {slot.name!r} must return a scalar from "
                f"compute_loss. Received: a tensor of shape {tuple(value.shape)}. "
                f"Reduce it (e.g. keras_kd.losses.base.weighted_mean)."
            )
        values[slot.name] = ops.cast(value, "float32")
        term_weighted = values[slot.name] * slot.weight
        weighted = term_weighted if weighted is None else weighted + term_weighted
    return (ops.zeros((), "float32") if weighted is None else weighted), values
