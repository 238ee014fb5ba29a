"""ONNX export: onnxruntime reproduces the torch output of every family that exports (float32),
the file carries its inputs, outputs and units, a model that cannot be exported is refused with
the family and the operator named, and a NumPy time loop runs an exported stepper without torch."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch
from torch import nn

import sciml
from sciml.tasks import read_info, task_class
from sciml.tasks.onnx_export import (
    ATOL_SCALE,
    RTOL,
    OnnxExportError,
    export_onnx,
    read_metadata,
)

ROOT = Path(__file__).resolve().parents[2]
FNO2 = "n_modes: [4, 4], hidden_channels: 8, n_layers: 2"
FNO1 = "n_modes: [4], hidden_channels: 8, n_layers: 2"
SCOT = (
    "name: scot, patch_size: 2, embed_dim: 8, depths: [1, 1], num_heads: [1, 2], "
    "skip_connections: [1, 0], window_size: 4, time_conditioning: false"
)
MGNO = "preset: mgno, hidden_channels: 4, n_layers: 1, smoothing: [[1, 0], [1, 0]]"
# family -> (data: "poisson" grid pairs or a burgers kind, model section, extra spec lines)
# fno: test_the_cli_writes_an_onnx_file (the shared tiny run); fno_time: the lead-time test
FAMILIES = {
    "deeponet": ("poisson", "{preset: deeponet, branch_layers: [16], trunk_layers: [16]}", ""),
    "pod_deeponet": ("poisson", "{name: pod_deeponet, n_modes: 4}", ""),
    "mgno": ("poisson", f"{{{MGNO}, padding_mode: circular}}", ""),
    "fno+mass_projection": (
        "time_window",
        f"{{name: fno, {FNO1}}}",
        "constraint: {name: mass_projection}\n",
    ),
}
SLOW_FAMILIES = {
    "scot": ("poisson", f"{{{SCOT}}}", ""),
    "gaussian_ensemble": (
        "poisson",
        f"{{name: gaussian_ensemble, n_members: 2, base_options: {{{FNO2}}}}}",
        "task: probabilistic_field\n",
    ),
}


def _train(family: str, case: tuple[str, str, str], poisson: Path, burgers: Path, out: Path):
    data, model, extra = case
    if data == "poisson":
        section = f"{{dataset: poisson2d, path: {poisson}, inputs: [f], outputs: [u], n_train: 8, n_test: 4, subsample: 2}}"  # noqa: E501
    else:
        section = f"{{dataset: burgers1d, path: {burgers}, kind: {data}, inputs: [u], outputs: [u], n_test: 2}}"  # noqa: E501
    loss = "\n  loss: gaussian_nll" if "ensemble" in family else ""
    text = (
        f"name: {family.replace('+', '_')}\n{extra}data: {section}\nmodel: {model}\n"
        f"trainer:\n  epochs: 1\n  batch_size: 8\n  progress: false{loss}\n"
    )
    sciml.train(sciml.load_spec(text=text), out, progress=False)
    return out


def _assert_onnx_matches_torch(run_dir: Path, path: Path, batch_size: int) -> None:
    info = read_info(run_dir)
    loaded = sciml.load(run_dir)
    inputs = task_class(info["task"]).example_inputs(loaded, batch_size)
    with torch.no_grad():
        expected = loaded(*inputs)
    expected = tuple(expected) if isinstance(expected, tuple) else (expected,)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    for batch in (batch_size, 4):  # the batch axis is dynamic
        case = task_class(info["task"]).example_inputs(loaded, batch)
        with torch.no_grad():
            reference = loaded(*case)
        reference = tuple(reference) if isinstance(reference, tuple) else (reference,)
        got = session.run(None, {n: t.numpy() for n, t in zip(names, case)})
        assert len(got) == len(reference)
        for g, e in zip(got, reference):
            e = e.numpy()
            assert g.dtype == np.float32 and g.shape == e.shape and g.shape[0] == batch
            np.testing.assert_allclose(g, e, rtol=RTOL, atol=ATOL_SCALE * np.abs(e).max())
    meta = read_metadata(path)
    assert [row["name"] for row in meta["sciml.inputs"]] == names
    assert [row["shape"] for row in meta["sciml.inputs"]] == [
        ["batch", *t.shape[1:]] for t in inputs
    ]
    assert [row["shape"] for row in meta["sciml.outputs"]] == [
        ["batch", *e.shape[1:]] for e in expected
    ]
    assert meta["sciml.input_fields"] == info["input_fields"]
    assert "physical units" in meta["sciml.units"]
    assert meta["sciml.normalization"] == info["normalize"]


def _export_and_check(family, case, poisson_file, burgers_file, tmp_path) -> None:
    run_dir = _train(family, case, poisson_file, burgers_file, tmp_path / "run")
    path = sciml.export(run_dir, format="onnx", batch_size=2)
    assert path == run_dir / "surrogate.onnx"
    _assert_onnx_matches_torch(run_dir, path, batch_size=2)


@pytest.mark.parametrize("family", list(FAMILIES))
def test_onnxruntime_reproduces_the_torch_output_of_each_family(
    family, poisson_file, burgers_file, tmp_path
):
    _export_and_check(family, FAMILIES[family], poisson_file, burgers_file, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("family", list(SLOW_FAMILIES))
def test_onnxruntime_reproduces_the_torch_output_of_the_larger_families(
    family, poisson_file, burgers_file, tmp_path
):
    _export_and_check(family, SLOW_FAMILIES[family], poisson_file, burgers_file, tmp_path)


def test_the_time_conditioned_file_takes_the_lead_time_as_an_input(burgers_file, tmp_path):
    case = ("all2all", f"{{name: fno_time, {FNO1}}}", "")
    run_dir = _train("fno_time", case, Path(), burgers_file, tmp_path / "run")
    path = sciml.export(run_dir, tmp_path / "s.onnx", format="onnx", batch_size=3)
    meta = read_metadata(path)
    assert [(r["name"], r["shape"]) for r in meta["sciml.inputs"]] == [
        ("x", ["batch", 1, 32]),
        ("dt", ["batch"]),
    ]
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).standard_normal((3, 1, 32)).astype(np.float32)
    dt = np.array([0.2, 0.5, 1.0], dtype=np.float32)
    (got,) = session.run(["y"], {"x": x, "dt": dt})
    with torch.no_grad():
        expected = sciml.load(run_dir)(torch.from_numpy(x), torch.from_numpy(dt)).numpy()
    np.testing.assert_allclose(got, expected, rtol=RTOL, atol=ATOL_SCALE * np.abs(expected).max())


class _BasisNet(nn.Module):
    """A backbone giving 8 basis functions on a (6, 16) space-time grid from u0 (B, 16)."""

    input_keys = ("x",)

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(16, 8 * 6 * 16)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.linear(x)).reshape(x.shape[0], 8, 6, 16)


def test_a_hard_pde_model_is_refused_naming_the_family_and_the_reason(tmp_path):
    from sciml.constraints.hard import HardPDEConstraint
    from sciml.constraints.wrap import Constrained

    torch.manual_seed(0)
    layer = HardPDEConstraint(n_basis=8, n_points=None, experts=(1, 1))
    model = Constrained(_BasisNet(), layer).eval()
    info = {"name": "mlp", "constraint": {"name": "hard_pde"}}
    out = tmp_path / "m.onnx"
    with pytest.raises(OnnxExportError, match=r"^mlp \+ hard_pde: .*Levenberg-Marquardt"):
        export_onnx(model, (0.2 * torch.rand(2, 16),), out, info=info)
    assert not out.exists() and list(tmp_path.iterdir()) == []


class _ComplexFilter(nn.Module):
    """Fourier modes mixed by a complex einsum, as neuraloperator's layer does (un-rewritten)."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(1, 1, 9, dtype=torch.cfloat))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        spectrum = torch.einsum("bix,iox->box", torch.fft.rfft(x), self.weight)
        return torch.fft.irfft(spectrum, n=x.shape[-1])


def test_an_operator_without_onnx_form_is_named(tmp_path):
    out = tmp_path / "f.onnx"
    with pytest.raises(
        OnnxExportError,
        match=r"^spectral_filter: .*operator aten\.\w+\.\w+ has no ONNX conversion .*complex",
    ):
        export_onnx(
            _ComplexFilter(), (torch.randn(2, 1, 16),), out, info={"name": "spectral_filter"}
        )
    assert not out.exists()


def test_a_graph_that_disagrees_with_torch_is_not_written(tmp_path):
    class Noisy(nn.Module):
        """Adds fresh noise: the ONNX RandomNormal draws other numbers than torch."""

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x + torch.randn_like(x)

    out = tmp_path / "noisy.onnx"
    with pytest.raises(OnnxExportError, match=r"^noisy: .*disagrees with the torch model"):
        export_onnx(Noisy(), (torch.zeros(2, 1, 8),), out, info={"name": "noisy"})
    assert not out.exists()


def test_the_cli_writes_an_onnx_file(capsys, tiny_run, tmp_path):
    from sciml.cli import main

    out = tmp_path / "tiny.onnx"
    assert main(["export", str(tiny_run), "--format", "onnx", "--out", str(out)]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {out}"
    assert read_metadata(out)["sciml.family"] == "fno"
    _assert_onnx_matches_torch(tiny_run, out, batch_size=1)


def test_the_numpy_time_loop_runs_an_exported_stepper_without_torch(burgers_file, tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "onnx_time_loop", ROOT / "examples/onnx_time_loop.py"
    )
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    path = example.setup(tmp_path, epochs=1, n_samples=6, n_t=6)
    # torch made unimportable: the loop must not need it
    code = (
        "import runpy, sys; sys.modules['torch'] = None; "
        f"sys.argv = ['onnx_time_loop.py', {str(path)!r}, '--reference', "
        f"{str(tmp_path / 'reference.npz')!r}, '--steps', '3']; "
        f"runpy.run_path({str(ROOT / 'examples/onnx_time_loop.py')!r}, run_name='__main__'); "
        "assert sys.modules['torch'] is None; print('no torch')"
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[-1] == "no torch"
    rows = [line.split() for line in lines if line.split() and line.split()[0].isdigit()]
    assert [int(r[0]) for r in rows] == [0, 1, 2, 3]
    assert all(len(r) == 4 for r in rows[1:])  # step, mass, max|u|, relative L2 error
    assert all(np.isfinite(float(v)) for r in rows[1:] for v in r[1:])
    assert read_metadata(path)["sciml.inputs"][0]["shape"] == ["batch", 1, 64]


def test_a_gns_run_is_refused_naming_the_family(tmp_path):
    import yaml

    generate = {
        "n_samples": 1,
        "materials": ["jelly"],
        "particles_per_side": 4,
        "grid_n": 16,
        "dt": 1e-3,
        "n_steps": 24,
        "save_every": 1,
        "e_scale_range": [0.2, 0.2],
    }
    data = tmp_path / "jelly.h5"
    sciml.generate("mpm2d", data, generate, progress=False)
    spec = yaml.safe_load((ROOT / "examples/gns_jelly.yaml").read_text())
    spec["data"].update(path=str(data), generate=generate)
    spec["data"]["options"]["n_frames"] = 16
    spec["model"].update(radius=0.1, noise_std=0.0, latent=8, n_message_passing=1)
    spec["trainer"].update(max_steps=2, eval_every=2, checkpoint_every=2, progress=False)
    sciml.train(sciml.load_spec(text=yaml.safe_dump(spec)), tmp_path / "run", progress=False)
    with pytest.raises(
        OnnxExportError, match=r"^gns: cannot be exported to ONNX: .*simulation loop"
    ):
        sciml.export(tmp_path / "run", format="onnx")
    assert not (tmp_path / "run" / "surrogate.onnx").exists()


def test_a_graph_onnxruntime_cannot_run_is_refused(tmp_path):
    # onnxruntime's CPU provider has no float64 Conv (the FNO's lifting layer)
    model = sciml.registry.MODELS.get("fno")(1, 1, 1, n_modes=4, hidden_channels=4, n_layers=1)
    x = torch.randn(2, 1, 16, dtype=torch.float64)
    out = tmp_path / "f64.onnx"
    with pytest.raises(OnnxExportError, match=r"^fno: onnxruntime cannot run .*Conv"):
        export_onnx(model.double().eval(), (x,), out, info={"name": "fno"})
    assert not out.exists()
