"""Distillation chains: teacher -> assistant(s) -> student, one hop at a time.

Each hop is a plain `Distiller` run (`keras_kd.training.train_distilled`)
with the same budget; the model a hop trains is the next hop's teacher.
Mirzadeh et al. find that an intermediate-size teacher assistant helps when
the teacher and the student differ much in size, and that the longest
chain through all sizes is best.
"""

from keras_kd import training
from keras_kd.methods import registry


@registry.register("takd")
def distill_chain(teacher, stage_fns, data, config, *, names=None, **train_kwargs):
    """Distills `teacher` through each stage in turn (TAKD).

    Args:
        teacher: the trained first teacher.
        stage_fns: functions building each hop's model, from the first
            assistant to the student.
        data: `((x_train, y_train), (x_val, y_val), (x_test, y_test))`.
        config: a `keras_kd.training.TrainConfig`, used for every hop.
        names: one name per hop. Defaults to `assistant_1, ..., student`.
        **train_kwargs: for every hop's `training.train_distilled`
            (`distillation_losses`, `student_loss_weight`, ...).

    Returns:
        One `training.RunResult` per hop, in order: its model, history and
        test accuracy (the chain's accuracy per stage).

    Reference:
        Mirzadeh, Farajtabar, Li, Levine, Matsukawa and Ghasemzadeh,
        "Improved Knowledge Distillation via Teacher Assistant", AAAI 2020.

    Example:

    ```python
    hops = distill_chain(teacher, [lambda: zoo.student_cnn(width=48), zoo.student_cnn], data,
                         training.TrainConfig(epochs=10), student_loss_weight=0.9)
    print([hop.test_accuracy for hop in hops])
    ```
    """
    stage_fns = list(stage_fns)
    if not stage_fns:
        raise ValueError("distill_chain needs at least one stage (the student). Received: stage_fns=[].")
    if names is None:
        names = [f"assistant_{i + 1}" for i in range(len(stage_fns) - 1)] + ["student"]
    if len(names) != len(stage_fns):
        raise ValueError(f"distill_chain: one name per stage. Received: {len(names)} names for {len(stage_fns)} stages.")
    results = []
    for name, stage_fn in zip(names, stage_fns):
        result = training.train_distilled(name, teacher, stage_fn, data, config, **train_kwargs)
        results.append(result)
        teacher = result.model
    return results
