"""One keras-gen per work dir / model folder: the folder lock."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from keras_gen.cli import main
from keras_gen.utils.locks import LOCK_FILE, FolderLock, LockedError

SMOKE = Path(__file__).parents[1] / "training/configs/smoke_gan.yaml"


def dead_pid() -> int:
    out = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(out.stdout)


def write_lock(folder: Path, pid: int, host: str | None = None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    record = {"pid": pid, "host": host or socket.gethostname()}
    (folder / LOCK_FILE).write_text(json.dumps(record))


def test_a_held_lock_refuses_a_second_holder_and_is_released(tmp_path):
    with (
        FolderLock(tmp_path),
        pytest.raises(LockedError, match=f"process {os.getpid()}"),
    ):
        FolderLock(tmp_path).__enter__()
    assert not (tmp_path / LOCK_FILE).exists()
    with FolderLock(tmp_path):  # free again
        pass


def test_a_stale_lock_is_taken_over_but_not_another_hosts(tmp_path):
    write_lock(tmp_path / "a", dead_pid())
    with FolderLock(tmp_path / "a"):
        owner = json.loads((tmp_path / "a" / LOCK_FILE).read_text())
        assert owner["pid"] == os.getpid()
    # A pid on another machine (shared disk) cannot be checked: respected.
    write_lock(tmp_path / "b", dead_pid(), host="other-machine")
    with pytest.raises(LockedError, match="other-machine"):
        FolderLock(tmp_path / "b").__enter__()


def test_train_refuses_a_work_dir_in_use(tmp_path, capsys):
    work = tmp_path / "run"
    write_lock(work, os.getppid())  # a live process holds it
    code = main(["train", str(SMOKE), "--work-dir", str(work)])
    assert code == 2
    err = capsys.readouterr().err
    assert f"process {os.getppid()}" in err and str(work) in err
    assert not (work / "config.yaml").exists()  # nothing written
