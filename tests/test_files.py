"""``ceg.files``: a destination is the old file or the complete new one, never half."""

from __future__ import annotations

import os

import pytest

from ceg.files import write_atomic, write_text_atomic


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "out.txt"
    path.write_text("old")

    def half(tmp):
        tmp.write_text("ne")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        write_atomic(path, half)
    assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_text_replaces_the_file_with_the_umask_permissions(tmp_path):
    path = tmp_path / "report.md"
    path.write_text("old")
    assert write_text_atomic(path, "né\n") == path
    assert path.read_text(encoding="utf-8") == "né\n"
    mask = os.umask(0)
    os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask  # not mkstemp's private 0600


def test_a_missing_folder_is_created_not_an_error(tmp_path):
    # A held-out run with --save-fit into its not-yet-made --out folder sampled for 47 minutes
    # and then raised FileNotFoundError at the write: the write makes the folder.
    path = tmp_path / "new" / "deeper" / "fit.txt"
    write_text_atomic(path, "done")
    assert path.read_text() == "done"
    assert [p.name for p in path.parent.iterdir()] == ["fit.txt"]
