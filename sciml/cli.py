"""The ``sciml`` command line: ``train | evaluate | generate | validate | export | info``.

User errors (a bad spec, a missing or corrupt data file or mesh, an unknown name, an output path
that cannot be written, a run directory in use, a diverged run) print one clear message on stderr
and exit with status 2 — no traceback. Every command that writes checks its output path before
any work. A generation stopped by Ctrl-C / ``SIGTERM`` exits with 128 + the signal number and
keeps its ``.partial`` file for ``--resume``. Bugs still raise. Every case is listed, with the
message a user sees, in ``docs/errors.md`` (generated from ``tests/cli/``).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import sciml


def _user_errors() -> tuple[type[BaseException], ...]:
    from sciml.data.format import DataFileError
    from sciml.data.output_path import OutputPathError
    from sciml.data.recipes.base import RecipeError
    from sciml.embed import RunDirError
    from sciml.registry import UnknownNameError
    from sciml.solvers.fem.mesh import MeshError
    from sciml.spec import SpecError
    from sciml.tasks.onnx_export import OnnxExportError
    from sciml.training import CheckpointError, NonFiniteLossError, TrainerSetupError
    from sciml.training.run_lock import RunLockError

    return (
        SpecError,
        DataFileError,
        RecipeError,
        UnknownNameError,
        NonFiniteLossError,
        TrainerSetupError,
        CheckpointError,
        RunDirError,
        OutputPathError,
        MeshError,
        RunLockError,
        OnnxExportError,
    )


def _existing_run_dir(path: str) -> Path:
    """A run directory given to ``--resume`` / ``evaluate`` / ``export`` must exist already."""
    from sciml.embed import RunDirError

    run_dir = Path(path)
    if not run_dir.is_dir():
        problem = "is a file, not a run directory" if run_dir.exists() else "no such run directory"
        raise RunDirError(f"{run_dir}: {problem}")
    return run_dir


def _cmd_train(args: argparse.Namespace) -> int:
    from sciml import workflow
    from sciml.data.output_path import check_output_dir
    from sciml.spec import SpecError, load_spec

    if args.resume:
        result = workflow.resume(_existing_run_dir(args.resume), progress=not args.quiet)
    else:
        if args.spec is None:
            raise SpecError("give a spec file, or --resume RUN_DIR")
        spec = load_spec(args.spec, args.set)
        out = Path(args.out) if args.out else Path("runs") / spec.name
        check_output_dir(out, what="run directory")
        result = workflow.train(spec, out, overwrite=args.overwrite, progress=not args.quiet)
    if int(os.environ.get("RANK", "0")) == 0:  # under torchrun, one report, not one per rank
        print(f"run directory: {result.run_dir}")
        print(f"best validation loss: {result.best_val_loss:.4g} after {result.steps} steps")
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from sciml import workflow
    from sciml.data.output_path import check_output_dir
    from sciml.rundir import RunDir
    from sciml.tasks.torchrun import sharded_evaluation, torchrun_ranks

    run_dir = _existing_run_dir(args.run_dir)
    check_output_dir(args.out or RunDir(run_dir).eval_dir, what="evaluation folder")
    # under torchrun the ranks share the predictions; rank 0 writes the report
    with torchrun_ranks(args.device) as (ctx, device), sharded_evaluation(ctx, args.out) as out:
        report = workflow.evaluate(
            run_dir,
            data=args.data,
            split=args.split,
            resolutions=args.resolution,
            out_dir=out,
            device=device,
            checkpoint=args.checkpoint,
            vtu=args.vtu,
        )
    if not ctx.is_main:
        return 0
    for split, metrics in report.sections.items():
        shown = ", ".join(f"{k}={v:.4g}" for k, v in metrics.items() if isinstance(v, float))
        if "skipped" in metrics:  # e.g. a zero-shot resolution of a non-invariant model
            shown = f"skipped ({metrics['skipped']})"
        print(f"{split}: {shown}")
    print(f"metrics: {report.json_path}\ntable:   {report.markdown_path}")
    for fig in report.figures:
        print(f"figure:  {fig}")
    if args.vtu:
        print(f"paraview: {report.json_path.parent / 'vtu'}")
    return 0


def _cmd_generate(args: argparse.Namespace) -> int:
    from sciml.data.recipes.base import generate
    from sciml.spec import SpecError, load_spec, parse_override

    recipe, spec_params, default_out = args.recipe, {}, None
    if args.spec is not None:
        # the data file a spec trains on: its recipe, its `data.generate` parameters, its path
        spec = load_spec(args.spec)
        if spec.data.dataset is None:
            raise SpecError(
                f"{args.spec}: data.dataset is not set: no recipe makes {spec.data.file} "
                "(it is a file of yours or from `sciml import`)"
            )
        if recipe is not None and recipe != spec.data.dataset:
            raise SpecError(f"{args.spec}: data.dataset is {spec.data.dataset!r}, not {recipe!r}")
        recipe, spec_params, default_out = (
            spec.data.dataset,
            dict(spec.data.generate),
            spec.data.file,
        )
    if recipe is None:
        raise SpecError("sciml generate: give a recipe name (see `sciml info`) or --spec SPEC")
    params = dict(spec_params)  # over the recipe's defaults and catalog preset (make_config)
    for item in args.set:
        parts, value = parse_override(item)
        params[".".join(parts)] = value
    out = Path(args.out) if args.out else default_out or Path("data") / f"{recipe}.h5"
    # under torchrun each rank generates its blocks, rank 0 joins them (sciml/data/sharding.py)
    from sciml.data.sharding import sharded
    from sciml.tasks.torchrun import torchrun_ranks

    with (
        torchrun_ranks(args.device) as (ctx, device),
        sharded(ctx.rank, ctx.world_size, virtual=args.vds),
    ):
        path = generate(
            recipe, out, params, device=device, progress=not args.quiet, resume=args.resume
        )
    if ctx.is_main:
        print(f"wrote {path}")
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    from sciml import workflow
    from sciml.spec import load_spec

    spec = load_spec(args.spec, args.set)
    if spec.data.file.exists():
        # with the data at hand, also open the splits and build the model (catches a data
        # mismatch or a model option value the constructor rejects before a run starts)
        c = workflow.check(spec)
        checked = (
            f"; {spec.data.file}: {c['n_train']} train / {c['n_val']} validation / "
            f"{c['n_test']} test samples; "
            f"{c['n_parameters']:,} parameters"
        )
    else:
        checked = (
            f"; data file {spec.data.file} not found (make it with: sciml generate --spec "
            f"{args.spec}), so the model was not built"
        )
    source = spec.data.dataset or spec.data.file
    print(f"{args.spec}: valid (model {spec.model_name}, dataset {source}){checked}")
    if args.show:
        print(spec.to_yaml())
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from sciml.data.output_path import check_output_file
    from sciml.tasks import export

    run_dir = _existing_run_dir(args.run_dir)
    if args.out and Path(args.out).is_dir():
        # (a place that cannot be written export reports itself, before it writes)
        check_output_file(args.out, example_name="surrogate.pt2")
    path = export(run_dir, args.out, format=args.format, batch_size=args.batch_size)
    print(f"wrote {path}")
    return 0


def _pairs(items: list[str], flag: str) -> dict[str, str]:
    """``["u=y", "v=X.0"]`` → ``{"u": "y", "v": "X.0"}``; a one-line error otherwise."""
    from sciml.spec import SpecError

    out = {}
    for item in items:
        name, sep, key = item.partition("=")
        if not sep or not name or not key:
            raise SpecError(f"{flag} {item!r}: expected NAME=KEY, e.g. {flag} u=y")
        out[name] = key
    return out


def _cmd_import(args: argparse.Namespace) -> int:
    from sciml.data.importers import import_arrays

    path = import_arrays(
        args.source,
        args.out,
        _pairs(args.field, "--field"),
        coords=_pairs(args.coord, "--coord") or None,
        periodic=args.periodic,
    )
    print(f"wrote {path}")
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    from sciml.bench import load_profile, run_bench
    from sciml.registry import MODELS

    profile = load_profile(args.profile)
    if args.list:
        print(f"profile {profile.name} ({profile.source}): {profile.budget.describe()}")
        print(f"benchmarks: {', '.join(profile.benchmarks)}")
        print(f"models: {', '.join(MODELS.names())}")
        return 0
    out = Path(args.out) if args.out else Path("runs") / f"bench-{profile.name}"
    result = run_bench(
        profile,
        out,
        models=_names(args.models),
        benchmarks=_names(args.benchmarks),
        seeds=[s for group in args.seeds for s in group] or None,
        device=args.device,
        progress=not args.quiet,
    )
    print(result.markdown_path.read_text())
    print(f"leaderboard: {result.markdown_path}\njson:        {result.json_path}")
    for fig in result.figures:
        print(f"figure:      {fig}")
    if result.reused:
        print(f"({result.reused} finished cells reused from {out / 'cells'})")
    if result.failed:
        print(f"sciml bench: {len(result.failed)} cells failed (tracebacks beside their records)")
        return 1
    return 0


def _names(items: list[str]) -> list[str] | None:
    """``["fno,mgno", "deeponet"]`` → ``["fno", "mgno", "deeponet"]``; ``None`` when empty."""
    return [n for item in items for n in item.split(",") if n] or None


def _cmd_info(args: argparse.Namespace) -> int:
    import torch

    from sciml.catalog import preset_names
    from sciml.registry import (
        CONSTRAINTS,
        DATASETS,
        EQUATIONS,
        LOSSES,
        METRICS,
        MODELS,
        RECIPES,
        TASKS,
    )

    print(f"sciml {sciml.__version__}  (torch {torch.__version__})")
    for title, names in (
        ("tasks (spec task:)", TASKS.names()),
        ("models", MODELS.names()),
        ("constraints (spec constraint:)", CONSTRAINTS.names()),
        ("recipes (sciml generate)", RECIPES.names()),
        ("dataset kinds", DATASETS.names()),
        ("losses", LOSSES.names()),
        ("metrics", METRICS.names()),
        ("model presets", preset_names("models")),
        ("dataset presets", preset_names("datasets")),
        ("solver presets (sciml.solvers.presets.build_solver)", preset_names("solvers")),
        ("equations (for solver presets)", EQUATIONS.names()),
    ):
        print(f"{title}: {', '.join(names) if names else '-'}")
    devices = ["cpu"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    print(f"devices: {', '.join(devices)}")
    return 0


def _positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}")
    return value


def _seed_list(text: str) -> list[int]:
    """argparse type: comma-separated integers >= 0."""
    try:
        seeds = [int(x) for x in text.split(",")]
    except ValueError:
        seeds = [-1]
    if any(s < 0 for s in seeds):
        raise argparse.ArgumentTypeError(f"expected integers >= 0 such as 0,1,2, got {text!r}")
    return seeds


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sciml", description="Train, evaluate and embed PDE surrogates from YAML specs."
    )
    parser.add_argument("--version", action="version", version=f"sciml {sciml.__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    def overrides(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--set",
            action="append",
            default=[],
            metavar="KEY.PATH=VALUE",
            help="override a spec value, e.g. --set trainer.epochs=5 (repeatable)",
        )

    p = sub.add_parser("train", help="train a model from a YAML spec")
    p.add_argument("spec", nargs="?", help="YAML spec file")
    overrides(p)
    p.add_argument("--out", help="run directory (default runs/<spec name>)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted run")
    p.add_argument("--overwrite", action="store_true", help="replace an existing run directory")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("evaluate", help="evaluate a trained run on its test split")
    p.add_argument("run_dir")
    p.add_argument(
        "--data", help="another dataset file of the same fields (e.g. a test set at another grid)"
    )
    p.add_argument(
        "--split",
        choices=["test", "all"],
        help="which trajectories to evaluate (default: test of the spec's file, all of --data)",
    )
    p.add_argument(
        "--resolution",
        type=_positive_int,
        action="append",
        default=[],
        help="also evaluate zero-shot at this grid size (repeatable)",
    )
    p.add_argument("--out", help="output folder (default RUN_DIR/eval)")
    p.add_argument("--device", default="cpu")
    p.add_argument(
        "--checkpoint",
        choices=["best", "last"],
        default="best",
        help="which checkpoint to evaluate (default: lowest validation loss)",
    )
    p.add_argument(
        "--vtu",
        type=_positive_int,
        default=0,
        metavar="N",
        help="also write the first N samples (trajectories) and their ground truth as ParaView "
        "files into OUT/vtu (.vtu + .pvd)",
    )
    p.set_defaults(func=_cmd_evaluate)

    p = sub.add_parser("generate", help="generate a benchmark dataset with our solvers")
    p.add_argument("recipe", nargs="?", help="recipe name (see `sciml info`)")
    p.add_argument(
        "--spec",
        help="make the data file a training spec needs (its data.dataset, data.generate, "
        "data.path)",
    )
    overrides(p)
    p.add_argument("--out", help="output .h5 file (default data/<recipe>.h5 or the spec's path)")
    p.add_argument("--device", default="cpu")
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue the .partial file an interrupted run left (refused if there is none "
        "or it was made with other parameters)",
    )
    p.add_argument(
        "--vds",
        action="store_true",
        help="keep the shard files (OUT.shards/, one per torchrun rank) and write OUT as an HDF5 "
        "virtual dataset over them instead of copying them into one file",
    )
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=_cmd_generate)

    p = sub.add_parser("validate", help="check a spec without training")
    p.add_argument("spec")
    overrides(p)
    p.add_argument("--show", action="store_true", help="print the resolved spec")
    p.set_defaults(func=_cmd_validate)

    p = sub.add_parser("export", help="export a trained surrogate for use without sciml")
    p.add_argument("run_dir")
    p.add_argument(
        "--format",
        choices=["export", "torchscript", "onnx"],
        default="export",
        help="torch.export program (.pt2), TorchScript (.ts) or ONNX for onnxruntime (.onnx)",
    )
    p.add_argument(
        "--batch-size",
        type=_positive_int,
        default=1,
        help="batch size the file is specialized to (onnx: the batch axis is dynamic; "
        "also checked at this size)",
    )
    p.add_argument("--out", help="output file (default RUN_DIR/surrogate.pt2, .ts or .onnx)")
    p.set_defaults(func=_cmd_export)

    p = sub.add_parser(
        "import", help="turn arrays of an .npz or torch .pt file into a sciml data file"
    )
    p.add_argument("source", help="an .npz or a .pt/.pth holding a dict of arrays")
    p.add_argument("--out", required=True, help="the sciml HDF5 file to write")
    p.add_argument(
        "--field",
        action="append",
        default=[],
        metavar="NAME=KEY",
        help="a field and the source key of its (N, *S) array, e.g. u=y or v=X.0 (repeatable)",
    )
    p.add_argument(
        "--coord",
        action="append",
        default=[],
        metavar="AXIS=KEY",
        help="grid coordinates of one axis, e.g. x=X.1 (default: uniform on [0, 1])",
    )
    p.add_argument("--periodic", action="store_true", help="periodic axes (default: walls)")
    p.set_defaults(func=_cmd_import)

    p = sub.add_parser(
        "bench", help="every model family on every benchmark of a profile: one leaderboard"
    )
    p.add_argument(
        "--profile", default="ci", help="shipped profile (ci, full) or a profile .yaml (default ci)"
    )
    p.add_argument("--out", help="bench folder (default runs/bench-<profile>); reruns resume it")
    for flag, what in (("--models", "model families"), ("--benchmarks", "benchmarks")):
        p.add_argument(
            flag,
            action="append",
            default=[],
            metavar="A,B",
            help=f"only these {what} (comma-separated or repeated; default all)",
        )
    p.add_argument(
        "--seeds",
        type=_seed_list,
        action="append",
        default=[],
        metavar="0,1",
        help="seeds to run (default: the profile's)",
    )
    p.add_argument("--device", default="cpu")
    p.add_argument(
        "--list", action="store_true", help="list the benchmarks and models, run nothing"
    )
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_cmd_bench)

    p = sub.add_parser("info", help="list models, recipes, presets and devices")
    p.set_defaults(func=_cmd_info)
    return parser


def _interrupted() -> type[BaseException]:
    from sciml.data.recipes.base import GenerationInterrupted

    return GenerationInterrupted


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except _user_errors() as exc:
        print(f"sciml {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except _interrupted() as exc:  # a generation stopped cleanly by a signal
        print(f"sciml {args.command}: {exc}", file=sys.stderr)
        return 128 + exc.signum
    except KeyboardInterrupt:
        print(f"sciml {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader of our output has gone (e.g. `sciml info | head -1`): stop quietly, as
        # Python's documentation advises, pointing stdout at devnull so exit does not fail again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, what a shell reports for a command killed by it
    finally:
        run_lock = sys.modules.get("sciml.training.run_lock")
        if run_lock is not None:  # a run directory locked by this command is free again
            run_lock.release_all_run_locks()


if __name__ == "__main__":
    raise SystemExit(main())
