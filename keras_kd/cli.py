"""`keras-kd`: the command line. A thin layer over the library.

    keras-kd demo [--quick] [--run-dir DIR] [--temperature T] ...
    keras-kd losses            # the registered distillation terms
"""

import argparse
import os
import sys


def _demo(args):
    from keras_kd import demo

    overrides = {
        key: value
        for key, value in {
            "teacher_epochs": args.teacher_epochs,
            "student_epochs": args.student_epochs,
            "temperature": args.temperature,
            "student_loss_weight": args.student_loss_weight,
            "seed": args.seed,
            "verbose": args.verbose,
        }.items()
        if value is not None
    }
    config = demo.DemoConfig.quick(**overrides) if args.quick else demo.DemoConfig(**overrides)
    demo.run_demo(config, run_dir=args.run_dir, runs_base=args.runs_base)
    return 0


def _losses(args):
    from keras_kd import losses

    for name in losses.available():
        cls = type(losses.get(name))
        summary = (cls.__doc__ or "").strip().splitlines()[0]
        print(f"{name:12s} {cls.__name__:24s} {summary}")
    return 0


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
    demo.set_defaults(handler=_demo)

    losses = commands.add_parser("losses", help="list the registered distillation terms")
    losses.set_defaults(handler=_losses)
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
