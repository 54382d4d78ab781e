"""`keras-kd`: the command line. A thin layer over the library.

    keras-kd demo [--quick] [--run-dir DIR] [--temperature T] ...
    keras-kd export MODEL.keras --quantization int8 --data fashion_mnist
    keras-kd train-teacher | distill | evaluate CONFIG.yaml [--smoke] [--set key.path=value ...]
    keras-kd compress CONFIG.json  # channel pruning -> pruning -> QAT -> int8
    keras-kd report RUN_DIR        # report.md with training curves, terms, Pareto, confusion
    keras-kd losses            # the registered distillation terms
    keras-kd methods           # the registered methods
"""

import argparse
import os
import sys

from keras_kd.augment import presets
from keras_kd.export import modes as export_modes


def _read_demo_config(path):
    """The DemoConfig fields of a JSON file, checked by name."""
    import dataclasses
    import json

    from keras_kd import demo

    with open(path) as f:
        try:
            fields = json.load(f)
        except json.JSONDecodeError as e:
            raise ValueError(f"--config {path}: not valid JSON ({e}).") from None
    if not isinstance(fields, dict):
        raise ValueError(f"--config {path}: expected a JSON object of DemoConfig fields. Received: {type(fields).__name__}.")
    known = [f.name for f in dataclasses.fields(demo.DemoConfig)]
    unknown = sorted(set(fields) - set(known))
    if unknown:
        raise ValueError(f"--config {path}: unknown fields {unknown}. DemoConfig's fields: {', '.join(known)}.")
    return fields


def _demo(args):
    from keras_kd import demo

    overrides = _read_demo_config(args.config) if args.config else {}
    overrides.update({
        key: value
        for key, value in {
            "teacher_epochs": args.teacher_epochs,
            "student_epochs": args.student_epochs,
            "temperature": args.temperature,
            "student_loss_weight": args.student_loss_weight,
            "seed": args.seed,
            "verbose": args.verbose,
            "export": False if args.no_export else None,
            "augment": args.augment,
            "terms": args.term,
        }.items()
        if value is not None
    })  # fmt: skip
    config = demo.DemoConfig.quick(**overrides) if args.quick else demo.DemoConfig(**overrides)
    demo.run_demo(config, run_dir=args.run_dir, runs_base=args.runs_base)
    return 0


def _load_export_data(name):
    """`(x_calibration, x_test, y_test)` from a dataset name or an .npz file."""
    import numpy as np

    if name == "fashion_mnist":
        from keras_kd.datasets import fashion_mnist

        (x_train, _), _, (x_test, y_test) = fashion_mnist.load_splits()
        return x_train, x_test, y_test
    if name.endswith(".npz") and os.path.exists(name):
        with np.load(name) as arrays:
            missing = {"x_train", "x_test", "y_test"} - set(arrays.files)
            if missing:
                raise ValueError(
                    f"--data {name!r} lacks arrays {sorted(missing)}. It needs "
                    f"x_train (calibration), x_test and y_test, preprocessed as "
                    f"in training."
                )
            return arrays["x_train"], arrays["x_test"], arrays["y_test"]
    raise ValueError(
        f"Unknown --data. Received: {name!r}. Use 'fashion_mnist', or an .npz "
        f"file with x_train, x_test and y_test."
    )


def _export(args):
    from keras_kd import export
    from keras_kd import files

    model = files.load_keras_model(args.model)
    if hasattr(model, "student") and hasattr(model, "teacher"):
        print(f"{args.model} holds a distiller; exporting its student {model.student.name!r}.")
        model = model.student
    x_calibration, x_test, y_test = _load_export_data(args.data)
    variants = list(export_modes.MODES) if args.quantization == "all" else (
        ["float32", args.quantization] if args.quantization != "float32" else ["float32"]
    )
    out_dir = args.out or os.path.splitext(args.model)[0] + "_export"
    export.export_report(
        model, out_dir, x_test, y_test,
        representative_data=x_calibration[: args.calibration_samples],
        variants=variants, threads=args.threads, xnnpack=not args.no_xnnpack,
        name=os.path.splitext(os.path.basename(args.model))[0], overwrite=args.overwrite,
    )  # fmt: skip
    print(f"Wrote {out_dir}/export_report.json and the .tflite files")
    return 0


def _positive_int(text):
    """argparse type: an integer >= 1, refused at parse time (before any work)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _report(args):
    from keras_kd import run_report

    x_test = y_test = None
    if args.data:
        _, x_test, y_test = _load_export_data(args.data)
    run_report.write_report(args.run_dir, x_test=x_test, y_test=y_test)
    return 0


def _experiment(args):
    from keras_kd import experiment

    config = experiment.load_config(args.config, args.set or (), smoke=args.smoke)
    command = {"train-teacher": experiment.train_teacher, "distill": experiment.distill, "evaluate": experiment.evaluate}
    command[args.command](config)
    return 0


def _compress(args):
    from keras_kd.compress import run

    run.run(args.config)
    return 0


def _print_registry(names, get):
    for name in names:
        obj = get(name)
        summary = (obj.__doc__ or "").strip().splitlines()[0]
        print(f"{name:20s} {obj.__name__:32s} {summary}")
    return 0


def _losses(args):
    from keras_kd import losses

    return _print_registry(losses.available(), losses.get_class)


def _methods(args):
    from keras_kd import methods

    return _print_registry(methods.available(), methods.get)


def build_parser():
    parser = argparse.ArgumentParser(
        prog="keras-kd",
        description="Knowledge distillation for Keras 3: distill a teacher into a small student.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser(
        "demo",
        help="teacher vs scratch student vs distilled student on Fashion-MNIST",
        description=(
            "Trains (or reuses a cached) teacher, a student from scratch and the "
            "same student distilled, then prints a table and writes results.json "
            "and a validation-accuracy plot under a fresh run directory."
        ),
    )
    demo.add_argument("--quick", action="store_true", help="a one-minute version on 8k images")
    demo.add_argument("--run-dir", help="output directory (must be new or empty)")
    demo.add_argument("--runs-base", default="runs", help="parent of generated run directories (default: runs)")
    demo.add_argument("--teacher-epochs", type=int)
    demo.add_argument("--student-epochs", type=int)
    demo.add_argument("--temperature", type=float)
    demo.add_argument("--student-loss-weight", type=float)
    demo.add_argument("--seed", type=int)
    demo.add_argument("--verbose", type=int, choices=[0, 1, 2], help="Keras progress display (default: 1, bars)")
    demo.add_argument(
        "--augment", choices=list(presets.PRESETS),
        help="augmentation preset for the distilled student (default: none)",
    )
    demo.add_argument("--no-export", action="store_true", help="skip the LiteRT export of the distilled student")
    demo.add_argument(
        "--term", action="append", metavar="SPEC",
        help="a distillation term 'name[:key=value,...]' (repeat for several; 'keras-kd losses' lists the names), "
        "e.g. --term kd --term hint:teacher_layer_name=block3,student_layer_name=block3,weight=100 "
        "(default: kd alone)",
    )
    demo.add_argument(
        "--config", metavar="FILE",
        help="a JSON object of DemoConfig fields, e.g. {\"student_epochs\": 20, \"terms\": [\"kd\", "
        "{\"name\": \"at\", \"teacher_layer_name\": \"block2\", \"student_layer_name\": \"block2\"}]}; "
        "flags given beside it win",
    )
    demo.set_defaults(handler=_demo)

    export = commands.add_parser(
        "export",
        help="convert a .keras model to LiteRT and report size, accuracy and latency",
        description=(
            "Converts a saved Keras model (a Distiller exports its student) to "
            ".tflite, runs each variant with the LiteRT interpreter on the test "
            "data and prints size, accuracy vs Keras, latency and tensor dtypes. "
            "float32 is always included as the baseline."
        ),
    )
    export.add_argument("model", help="a .keras file")
    export.add_argument(
        "--quantization", default="all", choices=["all", *export_modes.MODES],
        help="variant to export besides float32 (default: all)",
    )
    export.add_argument("--data", default="fashion_mnist", help="'fashion_mnist' or an .npz with x_train, x_test, y_test")
    export.add_argument("--calibration-samples", type=_positive_int, default=500, help="int8 calibration samples (default 500)")
    export.add_argument("--threads", type=_positive_int, default=1, help="interpreter threads for latency (default 1)")
    export.add_argument("--no-xnnpack", action="store_true", help="time without the XNNPACK delegate")
    export.add_argument("--out", help="output directory (default: MODEL_export/)")
    export.add_argument("--overwrite", action="store_true", help="replace existing .tflite files")
    export.set_defaults(handler=_export)

    for name, summary in (
        ("train-teacher", "train the config's teacher on the labels (OUT/teacher.keras)"),
        ("distill", "distill the config's student (training the teacher first if needed), export and report"),
        ("evaluate", "test accuracy of OUT/teacher.keras and OUT/student.keras"),
    ):
        sub = commands.add_parser(name, help=summary, description=f"{summary}. See keras_kd.experiment.config for the format.")
        sub.add_argument("config", help="a YAML or JSON experiment config (examples/configs/)")
        sub.add_argument("--smoke", action="store_true", help="a one-minute run: 1 epoch, 512 samples")
        sub.add_argument("--set", action="append", metavar="KEY.PATH=VALUE", help="override a config key, e.g. distill.epochs=3")
        sub.set_defaults(handler=_experiment)

    compress = commands.add_parser(
        "compress", help="prune and quantize a student, the teacher guiding each fine-tune, to int8",
        description="Runs keras_kd.compress.compress_student from a JSON config (see keras_kd.compress.run).",
    )  # fmt: skip
    compress.add_argument("config", help="a JSON file: student, teacher, data, out and CompressConfig fields")
    compress.set_defaults(handler=_compress)

    report = commands.add_parser("report", help="write report.md and its plots for a run directory")
    report.add_argument("run_dir", help="a directory holding results.json (e.g. runs/demo-...)")
    report.add_argument("--data", help="'fashion_mnist' or an .npz with x_test, y_test: adds the confusion matrices")
    report.set_defaults(handler=_report)

    losses = commands.add_parser("losses", help="list the registered distillation terms")
    losses.set_defaults(handler=_losses)
    methods = commands.add_parser("methods", help="list the registered methods (Distillers beyond plain terms)")
    methods.set_defaults(handler=_methods)
    return parser


def main(argv=None):
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except (ValueError, TypeError, FileExistsError, FileNotFoundError) as e:
        # Our errors already say what to do; a traceback adds nothing.
        print(f"keras-kd {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
