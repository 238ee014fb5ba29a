"""Spec → train → evaluate → load → export, end to end on a tiny dataset."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import sciml
from sciml.data.format import DataFileError
from sciml.data.mesh import read_mesh
from sciml.embed import RunDirError, Surrogate, example_input
from sciml.training import TrainerSetupError


def test_training_writes_the_run_directory(tiny_run: Path):
    for name in (
        "spec.yaml",
        "model.json",
        "metrics.csv",
        "checkpoints/best.pt",
        "checkpoints/last.pt",
    ):
        assert (tiny_run / name).is_file(), name
    info = json.loads((tiny_run / "model.json").read_text())
    assert info["spatial_shape"] == [8, 8] and info["in_channels"] == 1
    rows = (tiny_run / "metrics.csv").read_text().splitlines()
    assert rows[0].startswith("step,") and len(rows) > 1


def test_evaluation_reports_metrics_at_training_and_double_resolution(tiny_run: Path, tmp_path):
    report = sciml.evaluate(tiny_run, out_dir=tmp_path)
    assert set(report.sections) == {"test", "test@16"}
    assert report.sections["test"]["resolution"] == 8
    assert report.sections["test@16"]["resolution"] == 16
    for section in report.sections.values():
        assert 0 < section["relative_l2"] < 10 and section["seconds_per_sample"] > 0
    saved = json.loads(report.json_path.read_text())
    assert saved["test"]["relative_l2"] == pytest.approx(report.sections["test"]["relative_l2"])
    assert "| test@16 |" in report.markdown_path.read_text()
    assert all(p.is_file() for p in report.figures) and len(report.figures) == 2


def test_evaluation_writes_paraview_files_of_the_first_samples(tiny_run: Path, tmp_path):
    report = sciml.evaluate(tiny_run, out_dir=tmp_path, vtu=2)
    vtu = tmp_path / "vtu"
    assert sorted(p.name for p in vtu.iterdir()) == [
        "sample_0000.vtu",
        "sample_0001.vtu",
        "samples.pvd",
    ]
    points, cells, data, _ = read_mesh(vtu / "sample_0000.vtu")
    assert points.shape == (64, 3) and cells["quad"].shape == (49, 4)  # the 8 x 8 test grid
    assert data["prediction"].shape == data["truth"].shape == (64, 1)
    # the written fields are the ones the report scored
    err = np.linalg.norm(data["error"]) / np.linalg.norm(data["truth"])
    assert 0 < err < 10 * report.sections["test"]["relative_l2"]
    with pytest.raises(sciml.spec.SpecError, match="--vtu -1"):
        sciml.evaluate(tiny_run, out_dir=tmp_path, vtu=-1)


def test_unknown_resolution_lists_the_available_ones(tiny_run: Path, tmp_path):
    with pytest.raises(sciml.spec.SpecError, match=r"--resolution 12: .*16 points per axis"):
        sciml.evaluate(tiny_run, resolutions=[12], out_dir=tmp_path)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error raised without CUDA")
def test_evaluation_on_a_missing_device_is_refused_before_writing(tiny_run: Path, tmp_path):
    with pytest.raises(sciml.spec.SpecError, match=r"--device: device='cuda' but CUDA is not"):
        sciml.evaluate(tiny_run, device="cuda", out_dir=tmp_path / "eval")
    assert not (tmp_path / "eval").exists()


def test_loading_onto_an_unknown_device_names_it(tiny_run: Path):
    with pytest.raises(ValueError, match="device='gpu' is not a torch device name"):
        sciml.load(tiny_run, device="gpu")


def test_loaded_surrogate_takes_batched_and_single_samples_in_physical_units(tiny_run: Path):
    surrogate = sciml.load(tiny_run)
    assert isinstance(surrogate, Surrogate) and not surrogate.training
    x = example_input(surrogate, batch=3)
    batched = surrogate(x)
    assert batched.shape == (3, 1, 8, 8)
    torch.testing.assert_close(surrogate(x[1]), batched[1])
    # the normalizers are folded in: scaling the physical input scales the (linear-ish) output scale
    assert surrogate.model.input_normalizer is not None
    double = surrogate.to(torch.float64)
    assert double(x.double()).dtype == torch.float64


def test_surrogate_rejects_wrong_shapes(tiny_run: Path):
    surrogate = sciml.load(tiny_run)
    with pytest.raises(
        ValueError,
        match=r"expected input of shape \(B, C_in, \*S\) or \(C_in, \*S\) with 2 spatial dims",
    ):
        surrogate(torch.zeros(8))


@pytest.mark.parametrize("fmt", ["export", "torchscript"])
def test_exported_file_loads_without_sciml_and_matches(tiny_run: Path, tmp_path, fmt):
    out = tmp_path / f"model.{fmt}"
    sciml.export(tiny_run, out, format=fmt, batch_size=2)
    x = example_input(sciml.load(tiny_run), batch=2)
    torch.save(x, tmp_path / "x.pt")
    loader = "torch.export.load(p).module()" if fmt == "export" else "torch.jit.load(p)"
    code = (
        "import sys, torch; sys.modules['sciml'] = None\n"  # any import of sciml now fails
        f"p = {str(out)!r}; m = {loader}\n"
        f"y = m(torch.load({str(tmp_path / 'x.pt')!r}))\n"
        f"torch.save(y, {str(tmp_path / 'y.pt')!r})\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
    expected = sciml.load(tiny_run)(x)
    torch.testing.assert_close(torch.load(tmp_path / "y.pt"), expected, rtol=1e-5, atol=1e-6)


def test_missing_data_file_names_the_generate_command(tiny_spec_file: Path, tmp_path):
    spec = sciml.load_spec(tiny_spec_file, [f"data.path={tmp_path / 'none.h5'}"])
    with pytest.raises(
        DataFileError,
        match=r"none\.h5: data file not found; make it with: sciml generate poisson2d .*--out .*none\.h5",
    ):
        sciml.train(spec, tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()


def test_existing_run_directory_is_not_overwritten_silently(tiny_run: Path, tiny_spec_file: Path):
    with pytest.raises(
        RunDirError, match=r"run directory exists; continue it with `sciml train --resume"
    ):
        sciml.train(sciml.load_spec(tiny_spec_file), tiny_run, progress=False)
    assert (tiny_run / "checkpoints" / "best.pt").is_file()


def test_resume_refuses_a_run_whose_spec_changed(tiny_run: Path, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(tiny_run, copy)
    spec_text = (copy / "spec.yaml").read_text().replace("lr: 0.001", "lr: 0.002")
    (copy / "spec.yaml").write_text(spec_text)
    with pytest.raises(TrainerSetupError, match="started from a different spec"):
        sciml.resume(copy, progress=False)


def test_resume_refuses_a_data_file_regenerated_since_the_run_started(
    tiny_spec_file: Path, poisson_file: Path, tmp_path
):
    import shutil

    from sciml.data.recipes.base import generate

    data = tmp_path / "poisson2d.h5"
    shutil.copy(poisson_file, data)
    spec = sciml.load_spec(tiny_spec_file, [f"data.path={data}", "trainer.max_steps=2"])
    run = sciml.train(spec, tmp_path / "run", progress=False).run_dir
    assert sciml.resume(run, progress=False).steps == 2  # same file: resumes (nothing left)

    generate("poisson2d", data, {"n_samples": 24, "resolution": 16, "seed": 1}, progress=False)
    with pytest.raises(
        sciml.spec.SpecError,
        match=r"the data file .*poisson2d\.h5 changed since "
        r"the run started \(attribute 'config' was .*\"seed\": 0.*, is .*\"seed\": 1",
    ):
        sciml.resume(run, progress=False)

    (run / "data_identity.json").unlink()  # a run from before the record existed
    assert sciml.resume(run, progress=False).steps == 2


def test_unwritable_run_directory_is_refused(tiny_spec_file: Path, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(RunDirError, match="cannot create the run directory"):
        sciml.train(sciml.load_spec(tiny_spec_file), blocker / "run", progress=False)


def test_loading_a_folder_that_is_not_a_run_is_explained(tmp_path):
    with pytest.raises(RunDirError, match=r"no model\.json \(not a sciml run"):
        sciml.load(tmp_path)
    with pytest.raises(RunDirError, match="run directory not found"):
        sciml.load(tmp_path / "missing")


def test_embed_in_solver_example_runs_a_time_loop_with_the_surrogate(tiny_run: Path, capsys):
    import importlib.util

    path = Path(__file__).parents[1] / "examples" / "embed_in_solver.py"
    spec = importlib.util.spec_from_file_location("embed_in_solver", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    errors = module.run(str(tiny_run), steps=3, resolution=16)
    assert len(errors) == 3 and all(0 < e < 10 for e in errors)
    # the transport step is an exact shift, so the reference energy is the same at every step
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("step")]
    energies = {line.split("energy ref ")[1].split()[0] for line in lines}
    assert len(lines) == 3 and len(energies) == 1


def test_autoregressive_run_reports_rollout_error_over_time(tmp_path):
    from sciml.data.recipes.base import generate

    data = tmp_path / "burgers.h5"
    generate(
        "burgers1d",
        data,
        {"n_samples": 6, "batch_size": 6, "n_fine": 64, "n_x": 32, "n_t": 6},
        progress=False,
    )
    spec = sciml.load_spec(
        Path(__file__).parents[1] / "examples" / "fno_burgers1d_rollout.yaml",
        [
            f"data.path={data}",
            "data.n_test=2",
            "model.n_modes=[4]",
            "model.hidden_channels=8",
            "trainer.epochs=2",
            "trainer.progress=false",
            "evaluation.rollout_steps=10",
        ],
    )
    run_dir = tmp_path / "run"
    sciml.train(spec, run_dir, progress=False)
    report = sciml.evaluate(run_dir)
    test = report.sections["test"]
    assert test["rollout_steps"] == 5  # 6 stored times: 1 input frame + 5 predicted
    assert 0 < test["rollout_relative_l2_final"] < 10
    assert (run_dir / "eval" / "rollout_error.png").is_file()


def test_evaluation_on_another_file_of_the_same_layout(
    tiny_run: Path, poisson_file: Path, tmp_path
):
    import shutil

    other = tmp_path / "other.h5"
    shutil.copy(poisson_file, other)
    report = sciml.evaluate(
        tiny_run, data=other, split="test", resolutions=[16], out_dir=tmp_path / "eval"
    )
    assert report.sections["test"]["relative_l2"] == pytest.approx(
        sciml.evaluate(tiny_run, out_dir=tmp_path / "eval2").sections["test"]["relative_l2"]
    )
    assert report.sections["test@16"]["resolution"] == 16
    whole = sciml.evaluate(tiny_run, data=other, out_dir=tmp_path / "eval3")  # default: all
    assert set(whole.sections) == {"all", "all@16"} and whole.sections["all"]["n_samples"] == 24
    with pytest.raises(DataFileError, match=r"missing\.h5: data file not found$"):
        sciml.evaluate(tiny_run, data=tmp_path / "missing.h5", out_dir=tmp_path / "eval3")


def test_training_never_reads_the_test_split(tiny_spec_file: Path, tmp_path, monkeypatch):
    from sciml.tasks.base import Task

    opened = []
    dataset = Task.dataset

    def spy(self, split, **kw):
        opened.append(split)
        return dataset(self, split, **kw)

    monkeypatch.setattr(Task, "dataset", spy)
    sciml.train(sciml.load_spec(tiny_spec_file), tmp_path / "run", progress=False)
    assert "val" in opened and "test" not in opened and "all" not in opened
    info = json.loads((tmp_path / "run" / "model.json").read_text())
    # 16 training trajectories, val_fraction 0.1 → 2 held out
    assert info["selection"].startswith("validation split (2 trajectories held out of the 16")


def test_the_report_says_which_checkpoint_and_what_it_was_selected_on(tiny_run: Path, tmp_path):
    report = sciml.evaluate(tiny_run, out_dir=tmp_path)
    run = json.loads(report.json_path.read_text())["run"]
    assert run["checkpoint"] == "best.pt" and run["selected_on"].startswith("validation split")
    last = sciml.evaluate(tiny_run, out_dir=tmp_path / "last", checkpoint="last")
    assert json.loads(last.json_path.read_text())["run"]["checkpoint"] == "last.pt"
    assert "- selected_on: validation split" in report.markdown_path.read_text()


def test_n_val_zero_selects_on_the_training_split(tiny_spec_file: Path, tmp_path):
    spec = sciml.load_spec(tiny_spec_file, ["data.n_val=0", "trainer.epochs=1"])
    sciml.train(spec, tmp_path / "run", progress=False)
    info = json.loads((tmp_path / "run" / "model.json").read_text())
    assert info["selection"].startswith("training split (16 trajectories")


def test_a_failed_export_leaves_the_earlier_file_intact(tiny_run: Path, tmp_path, monkeypatch):
    out = tmp_path / "surrogate.pt2"
    sciml.export(tiny_run, out)
    before = out.read_bytes()

    def broken(*args, **kwargs):
        raise RuntimeError("export failed")

    monkeypatch.setattr(torch.export, "export", broken)
    with pytest.raises(RuntimeError, match="export failed"):
        sciml.export(tiny_run, out)
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["surrogate.pt2"]  # no temporary left
