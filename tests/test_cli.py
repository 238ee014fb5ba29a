"""The command line: each user error is one line on stderr with exit status 2, no traceback."""

from __future__ import annotations

import re
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

import sciml
from sciml.cli import main


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code: int, err: str, pattern: str) -> None:
    import re

    assert code == 2
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert re.search(pattern, lines[0]), lines[0]


def test_version_and_info(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"sciml {sciml.__version__}"
    code, out, _ = run_cli(capsys, "info")
    assert code == 0
    assert "models: " in out and "fno" in out and "deeponet" in out
    assert "tasks (spec task:): field_operator, learned_simulator" in out
    assert "constraints (spec constraint:): " in out and "mass_projection" in out
    assert "recipes (sciml generate): " in out and "poisson2d" in out
    assert "ns2d-kolmogorov" in out.split("solver presets")[1].splitlines()[0]
    assert "navier_stokes2d" in out.split("equations")[1].splitlines()[0]
    assert "devices: cpu" in out


def test_output_into_a_closed_pipe_ends_quietly():
    """`sciml info | head -1`: no BrokenPipeError traceback once the reader has gone."""
    import subprocess
    import sys

    reader_gone = "import subprocess, sys; " + (
        "p = subprocess.Popen([sys.executable, '-m', 'sciml', 'info'], stdout=subprocess.PIPE, "
        "stderr=subprocess.PIPE); p.stdout.close(); sys.stderr.write(p.stderr.read().decode()); "
        "sys.exit(p.wait())"
    )
    done = subprocess.run([sys.executable, "-c", reader_gone], capture_output=True, text=True)
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr, done.stderr
    assert done.returncode in (0, 141)


def test_validate_accepts_the_shipped_examples(capsys):
    examples = sorted(Path("examples").glob("*.yaml"))
    assert len(examples) >= 7
    for example in examples:
        code, out, err = run_cli(capsys, "validate", str(example))
        assert code == 0, err
        assert "valid" in out


def test_typo_in_spec_is_one_clear_line(capsys, tiny_spec_file: Path, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(tiny_spec_file.read_text().replace("  epochs: 3", "  epoch: 3"))
    code, _, err = run_cli(capsys, "train", str(bad))
    assert_one_line_error(
        code, err, r"bad\.yaml:\d+: trainer\.epoch: unknown key\. Did you mean 'epochs'\?"
    )


def test_bad_set_override_type_is_one_clear_line(capsys, tiny_spec_file: Path):
    code, _, err = run_cli(
        capsys, "validate", str(tiny_spec_file), "--set", "trainer.batch_size=big"
    )
    assert_one_line_error(code, err, r"trainer\.batch_size: .*expected int")


def test_missing_data_file_is_one_clear_line(capsys, tiny_spec_file: Path, tmp_path):
    code, _, err = run_cli(
        capsys,
        "train",
        str(tiny_spec_file),
        "--set",
        f"data.path={tmp_path}/x.h5",
        "--out",
        str(tmp_path / "r"),
    )
    assert_one_line_error(
        code, err, r"x\.h5: data file not found; make it with: sciml generate poisson2d"
    )


def test_model_option_value_rejected_by_the_model_is_one_clear_line(
    capsys, tiny_spec_file: Path, tmp_path
):
    code, _, err = run_cli(
        capsys,
        "train",
        str(tiny_spec_file),
        "--set",
        "model.n_layers=0",
        "--out",
        str(tmp_path / "r"),
    )
    assert_one_line_error(
        code, err, r"model 'fno': invalid option value: fno option n_layers must be a positive"
    )
    assert not (tmp_path / "r").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the errors raised without CUDA")
@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("trainer.amp=bf16", r"trainer: amp='bf16' needs a CUDA device, but device is 'cpu'"),
        ("trainer.device=cuda", r"trainer: device='cuda' but CUDA is not available"),
        ("trainer.device=gpu", r"trainer: device='gpu' is not a torch device name"),
    ],
)
def test_device_this_machine_lacks_is_one_line_and_writes_nothing(
    capsys, tiny_spec_file: Path, tmp_path, override: str, message: str
):
    out = tmp_path / "r"
    code, _, err = run_cli(
        capsys, "train", str(tiny_spec_file), "--set", override, "--out", str(out)
    )
    assert_one_line_error(code, err, message)
    assert not out.exists()


def test_validate_with_the_data_at_hand_builds_the_model(capsys, tiny_spec_file: Path, tmp_path):
    code, out, err = run_cli(capsys, "validate", str(tiny_spec_file))
    assert code == 0, err
    assert re.search(
        r": valid \(model fno, dataset poisson2d\); .*poisson2d\.h5: 14 train / 2 validation "
        r"/ 8 test samples; [\d,]+ parameters$",
        out.strip(),
    ), out
    # a value only the model's constructor rejects is caught before any run starts
    code, _, err = run_cli(capsys, "validate", str(tiny_spec_file), "--set", "model.n_layers=0")
    assert_one_line_error(code, err, r"model 'fno': invalid option value")
    missing = tmp_path / "none.h5"
    code, out, _ = run_cli(capsys, "validate", str(tiny_spec_file), "--set", f"data.path={missing}")
    assert code == 0 and "none.h5 not found (make it with: sciml generate --spec" in out
    assert not missing.exists()


def test_nan_in_data_is_one_clear_line(capsys, tiny_spec_file: Path, poisson_file: Path, tmp_path):
    import shutil

    broken = tmp_path / "nan.h5"
    shutil.copy(poisson_file, broken)
    with h5py.File(broken, "r+") as f:
        f["t0_fields/u"][3, 2, 2] = np.nan
    code, _, err = run_cli(
        capsys,
        "train",
        str(tiny_spec_file),
        "--set",
        f"data.path={broken}",
        "--out",
        str(tmp_path / "r"),
    )
    assert_one_line_error(
        code, err, r"nan\.h5 \[t0_fields/u\]: non-finite value \(NaN/Inf\) in trajectory 3"
    )
    assert not (tmp_path / "r").exists()


def test_unknown_recipe_and_parameter_in_generate(capsys, tmp_path):
    code, _, err = run_cli(capsys, "generate", "poisson3d", "--out", str(tmp_path / "p.h5"))
    assert_one_line_error(code, err, r"unknown recipe 'poisson3d'\. Did you mean 'poisson2d'\?")
    code, _, err = run_cli(
        capsys, "generate", "poisson2d", "--set", "resolutoin=8", "--out", str(tmp_path / "p.h5")
    )
    assert_one_line_error(
        code,
        err,
        r"recipe 'poisson2d' has no parameter\(s\) \['resolutoin'\]\. Valid: .*resolution",
    )
    assert not list(tmp_path.iterdir())


def test_unwritable_generate_output_is_one_clear_line(capsys, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    code, _, err = run_cli(
        capsys, "generate", "poisson1d", "--out", str(blocker / "p.h5"), "--quiet"
    )
    assert_one_line_error(code, err, r"p\.h5: cannot create the output folder")


def test_evaluate_of_a_non_run_is_one_clear_line(capsys, tmp_path):
    code, _, err = run_cli(capsys, "evaluate", str(tmp_path))
    assert_one_line_error(code, err, r"no spec\.yaml; not a sciml run directory")


def test_train_evaluate_export_through_the_cli(capsys, tiny_spec_file: Path, tmp_path):
    run_dir = tmp_path / "run"
    code, out, err = run_cli(capsys, "train", str(tiny_spec_file), "--out", str(run_dir), "--quiet")
    assert code == 0, err
    assert f"run directory: {run_dir}" in out
    code, out, err = run_cli(capsys, "evaluate", str(run_dir), "--vtu", "1")
    assert code == 0, err
    assert "metrics: " in out and (run_dir / "eval" / "metrics.json").is_file()
    assert f"paraview: {run_dir / 'eval' / 'vtu'}" in out
    assert (run_dir / "eval" / "vtu" / "samples.pvd").is_file()
    code, out, err = run_cli(capsys, "export", str(run_dir), "--format", "torchscript")
    assert code == 0, err
    assert (run_dir / "surrogate.ts").is_file()

    # where an output cannot go: one line, exit 2, nothing left behind
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    code, _, err = run_cli(capsys, "evaluate", str(run_dir), "--out", str(blocker / "eval"))
    assert_one_line_error(code, err, r"a_file/eval: cannot create the evaluation folder")
    code, _, err = run_cli(capsys, "export", str(run_dir), "--out", str(blocker / "m.pt2"))
    assert_one_line_error(code, err, r"a_file/m\.pt2: cannot write there")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file", "run"]
    with pytest.raises(SystemExit) as exc:
        main(["export", str(run_dir), "--batch-size", "0"])
    assert exc.value.code == 2
    assert "--batch-size: expected an integer >= 1, got '0'" in capsys.readouterr().err


def test_train_without_a_spec_or_resume_is_one_line(capsys):
    code, _, err = run_cli(capsys, "train")
    assert_one_line_error(code, err, r"sciml train: error: give a spec file, or --resume RUN_DIR")


def test_torchrun_trains_with_two_processes_through_the_cli(tiny_spec_file: Path, tmp_path):
    import os
    import subprocess
    import sys

    run_dir = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
        "-m", "sciml", "train", str(tiny_spec_file), "--out", str(run_dir), "--quiet",
    ]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.count("run directory:") == 1  # one report, from rank 0
    assert (run_dir / "checkpoints" / "last.pt").is_file()
    assert len((run_dir / "metrics.csv").read_text().splitlines()) > 1


def test_generate_from_a_spec_writes_the_file_the_spec_trains_on(capsys, tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        "data:\n"
        "  dataset: poisson1d\n"
        f"  path: {tmp_path / 'p.h5'}\n"
        "  generate: {n_samples: 3, resolution: 16}\n"
        "  inputs: [f]\n"
        "  outputs: [u]\n"
        "model: {name: fno, n_modes: [4]}\n"
    )
    code, out, err = run_cli(capsys, "generate", "--spec", str(spec), "--quiet")
    assert code == 0, err
    assert out.strip() == f"wrote {tmp_path / 'p.h5'}"
    with h5py.File(tmp_path / "p.h5") as f:
        assert int(f.attrs["n_trajectories"]) == 3
    code, _, err = run_cli(capsys, "generate", "poisson2d", "--spec", str(spec))
    assert_one_line_error(code, err, r"spec\.yaml: data\.dataset is 'poisson1d', not 'poisson2d'")
