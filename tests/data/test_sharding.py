"""Sharded generation: the ranks' shards, joined or virtual, are the serial file; a stopped
sharded run resumes. In-process tests play the ranks one after the other (rank 0, which joins,
last); the ``slow`` ones run ``sciml generate`` under ``torchrun`` with 2 gloo ranks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import sciml.data.sharding as sharding
from sciml.cli import main
from sciml.data.format import DataFileError, DatasetFile
from sciml.data.grid import GridPairDataset
from sciml.data.recipes import antiderivative
from sciml.data.recipes.base import generate
from sciml.data.sharding import shard_path, shard_ranges, sharded

RECIPE = "antiderivative"
PARAMS = {"n_samples": 10, "batch_size": 2, "n_sensors": 16, "refine": 2}
SETS = [item for k, v in PARAMS.items() for item in ("--set", f"{k}={v}")]


def assert_same_file(got: Path, want: Path) -> None:
    """Every group, dataset and attribute of ``want`` is in ``got`` with equal values (and
    nothing else is): datasets compared element by element, dtype and shape included."""

    def contents(path: Path) -> dict[str, Any]:
        items: dict[str, Any] = {}
        with h5py.File(path, "r") as f:
            items["/"] = dict(f.attrs)

            def visit(name: str, obj: Any) -> None:
                value = obj[...] if isinstance(obj, h5py.Dataset) else None
                items[name] = (dict(obj.attrs), value, getattr(obj, "dtype", None))

            f.visititems(visit)
        return items

    a, b = contents(got), contents(want)
    assert sorted(a) == sorted(b)
    np.testing.assert_equal(a, b)
    for name, item in b.items():
        if name != "/" and item[1] is not None:
            assert a[name][1].dtype == item[1].dtype and a[name][1].shape == item[1].shape, name


@pytest.fixture(scope="module")
def serial(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate(RECIPE, tmp_path_factory.mktemp("serial") / "s.h5", PARAMS, progress=False)


@pytest.fixture
def two_ranks_in_turn(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rank 1 then rank 0 in this process: no process group, barriers that do not wait."""
    monkeypatch.setattr(sharding.dist, "is_initialized", lambda: True)
    monkeypatch.setattr(sharding.Sharding, "_barrier", lambda self: None)


def _as_ranks(
    out: Path,
    *,
    virtual: bool = False,
    world_size: int = 2,
    recipe: str = RECIPE,
    params: dict[str, Any] = PARAMS,
) -> Path:
    for rank in reversed(range(world_size)):
        with sharded(rank, world_size, virtual=virtual):
            path = generate(recipe, out, params, progress=False)
    return path


@given(n=st.integers(1, 200), block=st.integers(1, 40), world=st.integers(1, 9))
def test_ranks_cover_the_trajectories_in_whole_serial_blocks(n: int, block: int, world: int):
    ranges = shard_ranges(n, block, world)
    assert len(ranges) == world
    assert ranges[0][0] == 0 and ranges[-1][1] == n
    for (_, stop), (start, _) in zip(ranges[:-1], ranges[1:], strict=True):
        assert stop == start  # contiguous, in rank order
    for start, stop in ranges:
        assert start % block == 0 and (stop % block == 0 or stop == n) and start <= stop
    sizes = [-(-(b - a) // block) for a, b in ranges]
    assert max(sizes) - min(sizes) <= 1  # blocks spread evenly


def test_joined_shards_are_the_serial_file(tmp_path, serial, two_ranks_in_turn):
    out = _as_ranks(tmp_path / "j.h5")
    assert_same_file(out, serial)
    assert sorted(os.listdir(tmp_path)) == ["j.h5"]  # the shards are gone


def test_virtual_file_reads_as_the_serial_file_and_trains(tmp_path, serial, two_ranks_in_turn):
    out = _as_ranks(tmp_path / "v.h5", virtual=True, world_size=3)
    assert_same_file(out, serial)
    with h5py.File(out) as f:
        assert f["t0_fields/u"].is_virtual and f["t0_fields/v"].is_virtual
    assert sorted(os.listdir(out.with_name("v.h5.shards"))) == [
        f"part-0000{r}-of-00003.h5" for r in range(3)
    ]
    got = GridPairDataset(out, ["v"], ["u"], n_train=6, n_test=4, split="test")
    want = GridPairDataset(serial, ["v"], ["u"], n_train=6, n_test=4, split="test")
    for i in range(len(want)):
        for key, value in want[i].items():
            assert value.equal(got[i][key]), key
    # moved with its shards, it still reads: the shards are named relative to the file
    moved = tmp_path / "moved"
    moved.mkdir()
    out.rename(moved / "v.h5")
    out.with_name("v.h5.shards").rename(moved / "v.h5.shards")
    np.testing.assert_array_equal(
        DatasetFile(moved / "v.h5").read("u"), h5py.File(serial)["t0_fields/u"][...]
    )


@pytest.mark.parametrize(
    ("virtual", "nu_max"),
    [(True, None), (True, 0.1), (False, 0.1)],
    ids=["virtual-constant_nu", "virtual-varying_nu", "joined-varying_nu"],
)
def test_scalars_series_and_scalar_attributes_are_the_serial_ones(
    tmp_path, two_ranks_in_turn, virtual, nu_max
):
    # per-trajectory viscosities, a max-slope series; rank 0's shard holds one trajectory, so
    # its nu is constant there (a root attribute of the shard) even when it varies in the file
    params = {"n_samples": 5, "batch_size": 1, "n_fine": 64, "n_x": 16, "n_t": 5, "t_end": 0.1}
    params |= {"nu_max": nu_max} if nu_max else {}
    want = generate("burgers_dirichlet", tmp_path / "s.h5", params, progress=False)
    got = _as_ranks(
        tmp_path / "g.h5", virtual=virtual, world_size=3, recipe="burgers_dirichlet", params=params
    )
    assert_same_file(got, want)
    with h5py.File(want) as f:
        assert ("nu" in f.attrs) == (nu_max is None) and "max_slope" in f["scalars"]


@pytest.mark.parametrize("virtual", [False, True], ids=["joined", "virtual"])
def test_ranks_without_a_block_only_wait(tmp_path, serial, two_ranks_in_turn, virtual):
    params = {**PARAMS, "batch_size": 4}  # 3 blocks over 5 ranks: ranks 0 and 2 get none
    want = generate(RECIPE, tmp_path / "s.h5", params, progress=False)
    got = _as_ranks(tmp_path / "g.h5", virtual=virtual, world_size=5, params=params)
    assert_same_file(got, want)
    if virtual:
        assert sorted(os.listdir(tmp_path / "g.h5.shards")) == [
            f"part-0000{r}-of-00005.h5" for r in (1, 3, 4)
        ]


def test_vds_without_torchrun_is_one_shard_and_a_virtual_file(tmp_path, serial, capsys):
    assert main(["generate", RECIPE, *SETS, "--out", str(tmp_path / "v.h5"), "--vds"]) == 0
    assert capsys.readouterr().out == f"wrote {tmp_path / 'v.h5'}\n"
    assert_same_file(tmp_path / "v.h5", serial)
    assert os.listdir(tmp_path / "v.h5.shards") == ["part-00000-of-00001.h5"]


def test_virtual_file_with_a_missing_shard_is_refused_on_open(tmp_path, two_ranks_in_turn):
    out = _as_ranks(tmp_path / "v.h5", virtual=True)
    shard_path(out, 1, 2).unlink()
    with pytest.raises(DataFileError, match=r"non-finite value \(NaN/Inf\) in trajectory 4"):
        DatasetFile(out)


def test_stopped_shard_resumes_without_redoing_its_blocks(
    tmp_path, serial, two_ranks_in_turn, monkeypatch
):
    real = antiderivative.generate_in_blocks
    starts: list[int] = []
    crash = [True]

    def crash_in_rank_1(out_path, layout, make_block, **kwargs):
        def make(start: int, size: int):
            starts.append(start)
            if crash[0] and start > 4:  # rank 1 holds trajectories 4..9: stop after one block
                raise KeyboardInterrupt
            return make_block(start, size)

        return real(out_path, layout, make, **kwargs)

    monkeypatch.setattr(antiderivative, "generate_in_blocks", crash_in_rank_1)
    out = tmp_path / "r.h5"
    with pytest.raises(KeyboardInterrupt), sharded(1, 2):
        generate(RECIPE, out, PARAMS, progress=False)
    partial = shard_path(out, 1, 2).with_suffix(".h5.partial")
    with h5py.File(partial) as f:
        assert int(f.attrs["n_complete"]) == 2
    crash[0] = False
    starts.clear()
    with sharded(1, 2):  # as `--resume`; without it the .partial is continued as well
        generate(RECIPE, out, PARAMS, progress=False, resume=True)
    assert starts == [6, 8]  # only the blocks not done
    starts.clear()
    with sharded(0, 2):
        generate(RECIPE, out, PARAMS, progress=False)
    assert starts == [0, 2]
    assert_same_file(out, serial)


def test_a_missing_shard_is_named_when_joining(tmp_path, two_ranks_in_turn):
    missing = r"shard of rank 1 \(trajectories 4\.\.9\) is missing"
    with pytest.raises(DataFileError, match=missing), sharded(0, 2):  # rank 1 never ran
        generate(RECIPE, tmp_path / "x.h5", PARAMS, progress=False)


def test_without_a_process_group_several_ranks_are_refused(tmp_path):
    no_group = "over 2 ranks needs the torch.distributed process group"
    with pytest.raises(RuntimeError, match=no_group), sharded(0, 2):
        pass
    with pytest.raises(ValueError, match="rank 2 of world_size 2"), sharded(2, 2):
        pass
    with sharded(0, 1):  # one rank, not virtual: a plain serial run
        assert sharding.active_sharding() is None


# ------------------------------------------------------------------------------------- torchrun
def _torchrun(*args: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    cmd += ["-m", "sciml", "generate", RECIPE, *SETS, "--quiet", *args]
    # one thread per process, as in this one: the recipe's float sums depend on the thread count
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


@pytest.mark.slow
def test_torchrun_two_ranks_write_the_serial_file_joined_and_virtual(tmp_path, serial):
    for name, extra in (("j.h5", []), ("v.h5", ["--vds"])):
        proc = _torchrun("--out", str(tmp_path / name), *extra)
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-3000:]
        assert out.count("wrote") == 1  # rank 0 reports
        assert_same_file(tmp_path / name, serial)
    assert sorted(os.listdir(tmp_path)) == ["j.h5", "v.h5", "v.h5.shards"]


@pytest.mark.slow
def test_torchrun_sigterm_keeps_the_shards_and_resume_gives_the_serial_file(tmp_path):
    params = {**PARAMS, "n_samples": 400}
    out = tmp_path / "g.h5"
    cmd = ["--out", str(out), "--set", "n_samples=400"]
    proc = _torchrun(*cmd)
    partials = [shard_path(out, r, 2).with_suffix(".h5.partial") for r in (0, 1)]
    deadline = time.monotonic() + 120
    while not all(p.exists() for p in partials) and time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)  # torchrun passes it on; each rank stops after its block
    _, err = proc.communicate(timeout=120)
    assert proc.returncode != 0
    assert "stopped by SIGTERM" in err
    assert not out.exists() and all(p.exists() for p in partials)
    done = _torchrun(*cmd, "--resume")
    _, err = done.communicate(timeout=300)
    assert done.returncode == 0, err[-3000:]
    assert sorted(os.listdir(tmp_path)) == ["g.h5"]
    want = generate(RECIPE, tmp_path / "ref" / "s.h5", params, progress=False)
    assert_same_file(out, want)
