"""The TensorFlow half of the Distiller's train step.

`minimize` runs the teacher outside a `tf.GradientTape` (so the tape records
none of its operations), the method's hook under it, checks that the
loss and every measurement are finite, and applies each optimizer group's
gradients. Reduction under `tf.distribute`: the hook returns losses at
their true (per-replica mean) value; each is divided here by the number of
replicas before the gradient, so that the gradients summed across replicas
are those of the global batch, exactly as Keras's own train step does
(Keras's compiled losses divide inside `Loss.__call__`; the Distiller
multiplies that back when it reads the student loss, see
`Distiller.student_loss`). Logged values are never divided, so N replicas
log the single-device numbers.
"""

import contextlib
import re

import tensorflow as tf

_MARKER = "@@keras_kd@@"
_SETUP_MARKER = "@@keras_kd_setup@@"  # a step stopped by a setup mistake (e.g. a missing callback)


class NonFiniteLossError(FloatingPointError):
    """Training stopped: the loss or a term went NaN or infinite at a step."""


def num_replicas_in_sync():
    """The number of replicas of the current `tf.distribute` strategy (1 without)."""
    return tf.distribute.get_strategy().num_replicas_in_sync


def minimize(distiller, batch):
    """One step of gradient descent on the hook's losses. Returns the `StepResult`."""
    groups = distiller.optimizer_groups()
    _check_groups(groups, distiller.name)
    replicas = num_replicas_in_sync()
    teacher = distiller.teacher_forward(batch)  # outside the tape: nothing recorded
    with tf.GradientTape(persistent=len(groups) > 1) as tape:
        result = distiller.compute_distillation(batch, teacher, training=True)
        losses = {"loss": result.loss, **result.group_losses}
        scaled = {}
        for group in groups:
            if group.loss_name not in losses:
                raise ValueError(
                    f"{distiller.name}: an optimizer group minimizes "
                    f"{group.loss_name!r}, which the hook did not return. Received: "
                    f"losses {sorted(losses)}. Return it in StepResult.group_losses."
                )
            scaled[group.loss_name] = group.optimizer.scale_loss(losses[group.loss_name] / replicas)
    # XLA has no assertions; elsewhere no update runs before the check passes.
    checks = [] if distiller.jit_compile else [_check_finite(distiller, result, losses)]
    with tf.control_dependencies(checks):
        for group in groups:
            gradients = tape.gradient(scaled[group.loss_name], group.variables)
            group.optimizer.apply_gradients(zip(gradients, group.variables))
    return result


def _check_groups(groups, owner):
    seen = {}
    for group in groups:
        if group.shared:
            continue
        for variable in group.variables:
            if id(variable) in seen and seen[id(variable)] != group.loss_name:
                raise ValueError(
                    f"{owner}: variable {variable.path!r} is in two optimizer "
                    f"groups ({seen[id(variable)]!r} and {group.loss_name!r}). "
                    f"Each variable must be updated by one optimizer."
                )
            seen[id(variable)] = group.loss_name


def _check_finite(distiller, result, losses):
    """Stops the step (before any update) when a logged value is NaN or Inf."""
    names = list(result.measurements) + list(losses)
    values = tf.stack([tf.cast(tf.reshape(v, []), tf.float32) for v in list(result.measurements.values()) + list(losses.values())])
    finite = tf.math.is_finite(values)
    hints = distiller.nonfinite_hints()
    step = distiller.optimizer.iterations

    def fail():
        first = tf.argmin(tf.cast(finite, tf.int32))
        explanations = tf.constant([f"`{name}` went non-finite first. {hints.get(name, '')}".strip() for name in names])
        message = tf.strings.join([
            _MARKER, f"{distiller.name}: the loss became NaN or infinite at training step ",
            tf.strings.as_string(step + 1), " (optimizer iteration ", tf.strings.as_string(step), "); ",
            tf.gather(explanations, first), " Values at that step: ",
            tf.strings.reduce_join(
                tf.strings.join([tf.constant(names), tf.strings.as_string(values)], separator="="), separator=", "
            ),
            ". The weights are those before this step. Lower the learning rate or a term's "
            "weight, check the inputs and labels for NaN, or clip gradients "
            "(optimizer clipnorm=1.0).", _MARKER,
        ])  # fmt: skip
        with tf.control_dependencies([tf.debugging.Assert(tf.constant(False), [message])]):
            return tf.constant(False)

    return tf.cond(tf.reduce_all(finite), lambda: tf.constant(True), fail)


@contextlib.contextmanager
def translate_errors():
    """Re-raises the step's non-finite assertion as a `NonFiniteLossError`, a setup check as a `ValueError`."""
    try:
        yield
    except tf.errors.InvalidArgumentError as e:
        setup = re.search(f"{_SETUP_MARKER}(.*?){_SETUP_MARKER}", str(e), flags=re.S)
        if setup is not None:
            raise ValueError(setup.group(1)) from None
        found = re.search(f"{_MARKER}(.*?){_MARKER}", str(e), flags=re.S)
        if found is None:
            raise
        raise NonFiniteLossError(found.group(1)) from None


# Keras 3 (3.15) cannot fit under MultiWorkerMirroredStrategy
# (keras-team/keras#20585): its symbolic build averages a distributed data
# batch with `strategy.reduce`, which the collective strategy refuses, and
# its train function reduces each replica's logs with
# `strategy.reduce("MEAN", value, axis=0)`, which fails on scalars. The two
# functions below are the Distiller's workaround.


def is_multi_worker(strategy):
    """Whether `strategy` is a MultiWorkerMirroredStrategy across workers."""
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) and bool(
        strategy.cluster_resolver.cluster_spec().as_dict()
    )


def first_local_batch(iterator, strategy):
    """One data batch of the epoch iterator, each distributed value as its first local replica's.

    Keras's symbolic build only reads its shapes and dtypes.
    """
    for _, _, batches in iterator:
        batch = next(batches)
        break
    return tf.nest.map_structure(
        lambda v: strategy.experimental_local_results(v)[0] if isinstance(v, tf.distribute.DistributedValues) else v,
        batch,
    )


def logs_for_reduction(logs, strategy):
    """Step logs shaped so that Keras's multi-worker reduction (a mean over axis 0) works.

    Every replica logs the same synchronized metric values, so the mean of
    `[value]` over replicas and axis 0 is the value.
    """
    if not is_multi_worker(strategy):
        return logs
    return {name: tf.expand_dims(value, 0) for name, value in logs.items()}


def require_started(step, inputs, message):
    """`inputs`, after checking that a counter `step` is >= 0 (stops the step with `message` otherwise)."""
    check = tf.debugging.assert_greater_equal(
        step, tf.constant(0, step.dtype), message=f"{_SETUP_MARKER}{message}{_SETUP_MARKER}"
    )
    with tf.control_dependencies([check]):
        return tf.nest.map_structure(tf.identity, inputs)


def input_gradients(fn, inputs):
    """d sum(fn(inputs)) / d inputs, recorded by any enclosing tape (so it can be differentiated again)."""
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        total = tf.reduce_sum(fn(inputs))
    return tape.gradient(total, inputs)
