"""Output paths are checked before any work: folders, files under files, unwritable places."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sciml.data.output_path import OutputPathError, check_output_dir, check_output_file


def test_new_and_existing_files_and_folders_pass(tmp_path: Path):
    assert check_output_file(tmp_path / "new" / "deep" / "a.h5") == tmp_path / "new/deep/a.h5"
    (tmp_path / "old.h5").write_text("x")
    check_output_file(tmp_path / "old.h5")  # replaced atomically by the writers
    check_output_dir(tmp_path / "run")
    check_output_dir(tmp_path)
    assert not (tmp_path / "new").exists()  # checking creates nothing


def test_a_folder_is_not_an_output_file(tmp_path: Path):
    with pytest.raises(
        OutputPathError,
        match=r"is an existing folder; give the path of a file "
        r"to write, e\.g\. .*/x\.h5",
    ):
        check_output_file(tmp_path, example_name="x.h5")


def test_a_file_on_the_way_is_named(tmp_path: Path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(OutputPathError, match=r"cannot create the output folder: .*f is a file"):
        check_output_file(tmp_path / "f" / "g" / "a.h5")
    with pytest.raises(OutputPathError, match=r"cannot create the run directory: .*f is a file"):
        check_output_dir(tmp_path / "f" / "run", what="run directory")
    with pytest.raises(OutputPathError, match=r"is an existing file, not a folder"):
        check_output_dir(tmp_path / "f")


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into a read-only folder")
def test_an_unwritable_folder_is_named(tmp_path: Path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    try:
        with pytest.raises(OutputPathError, match="the folder .*locked is not writable"):
            check_output_file(locked / "a.h5")
        with pytest.raises(OutputPathError, match="locked: the output folder is not writable"):
            check_output_dir(locked)
    finally:
        locked.chmod(0o755)
