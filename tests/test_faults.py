"""Fault injection: kills during checkpoint writes, read-only output folders, NaN samples read by DataLoader
workers, a full disk. Each case checks the exit code, the absence of a traceback, the culprit named, and the files that
must survive (by hash)."""
import os
import random
import signal
import time

import numpy as np
import pytest
import torch

from cpm.prepare.ntu_fake import random_sequence, write_skeleton
from cpm.prepare.ntu import main as prepare_ntu_main
from cpm.cli.evaluate import linear_main
from cpm.runtime import checkpoint as ck
from cpm.cli.pretrain import main as pretrain_main
from eval_fixtures import tiny_config_dict, tiny_setup, write_arrays, write_config
from fault_helpers import assert_clean_end, digest, tiny_pretrain_config, tmpfs

EXIT_USER, EXIT_OS = 2, 3


def _saver_child(path, ready: int) -> None:
    """Forked child: write checkpoints to `path` in a loop until killed, writing one byte to the pipe `ready`
    after the first complete write (never returns into pytest)."""
    try:
        state = {"model": {"w": torch.randn(400_000)}, "epoch": 0, "step": 0, "config": {}}
        while True:
            state["epoch"] += 1
            ck.save_checkpoint(state, path)
            if state["epoch"] == 1:
                os.write(ready, b"1")
    finally:
        os._exit(0)


def test_sigkill_during_checkpoint_writes(tmp_path):
    """Killed at random moments while writing: last.pt is always a whole checkpoint, and the next start
    removes the temporary files the kills left."""
    rng = random.Random(0)
    last, stale = tmp_path / "last.pt", 0
    for _ in range(6):
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:
            _saver_child(last, write_end)
        os.close(write_end)
        assert os.read(read_end, 1) == b"1"  # the child has written once: the kill lands in the loop
        os.close(read_end)
        time.sleep(rng.uniform(0.0, 0.3))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        assert ck.load_checkpoint(last)["epoch"] >= 1  # a whole checkpoint after every kill
        stale = len(list(tmp_path.glob(".last.pt.*.tmp")))
    assert ck.remove_stale_temps(tmp_path) == stale
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]


def test_nan_sample_read_by_workers_is_reported_once(tmp_path, capsys):
    root = write_arrays(tmp_path / "data")
    x = np.load(root / "train_data.npy")
    x[3, 0, 2, 1, 0] = np.nan
    np.save(root / "train_data.npy", x)
    d = tiny_config_dict(root)
    d["data"]["num_workers"] = 2  # the default: the error is raised in a worker process
    cfg = write_config(tmp_path / "nan.yaml", d)
    code = pretrain_main(["--config", str(cfg), "--out", str(tmp_path / "run")])
    assert_clean_end(code, capsys.readouterr().err, EXIT_USER, "train_data.npy: sample 3 has NaN/inf coordinates",
                     "(in DataLoader worker")


@pytest.fixture
def ro_run(tmp_path):
    """A finished tiny 1-epoch run in a folder mounted read-only: (config, run folder, digest of the mount)."""
    cfg = tiny_pretrain_config(tmp_path / "cfg")

    def populate(ro):
        assert pretrain_main(["--config", str(cfg), "--out", str(ro / "run")]) == 0

    with tmpfs(tmp_path / "ro", populate) as ro:
        yield cfg, ro / "run", digest(ro)


@pytest.mark.parametrize("extra", [["--out", "{ro}/new"], ["--out", "{ro}/run", "--force"],
                                   ["--out", "{ro}/run", "--resume", "auto", "--set", "train.epochs=2"]],
                         ids=["new", "existing", "resume"])
def test_read_only_output_folder(ro_run, capsys, extra):
    cfg, run, before = ro_run
    capsys.readouterr()
    code = pretrain_main(["--config", str(cfg), *[a.replace("{ro}", str(run.parent)) for a in extra]])
    assert_clean_end(code, capsys.readouterr().err, EXIT_OS, "Read-only file system", str(run.parent))
    assert digest(run.parent) == before


def test_read_only_prepare_and_eval_outputs(tmp_path, capsys):
    raw = tmp_path / "raw"
    raw.mkdir()
    write_skeleton(raw / "S001C001P001R001A001.skeleton", random_sequence(np.random.default_rng(0), 6))
    cfg, ckpt, _ = tiny_setup(tmp_path)
    with tmpfs(tmp_path / "ro") as ro:
        code = prepare_ntu_main(["--raw", str(raw), "--out", str(ro / "ntu"), "--benchmark", "xsub", "--workers",
                                 "1", "--no-progress"])
        assert_clean_end(code, capsys.readouterr().err, EXIT_OS, "Read-only file system", str(ro / "ntu"))
        code = linear_main(["--config", str(cfg), "--checkpoint", str(ckpt), "--device", "cpu", "--no-progress",
                            "--out", str(ro / "linear")])  # refused before the evaluation runs
        assert_clean_end(code, capsys.readouterr().err, EXIT_OS, "Read-only file system", str(ro / "linear"))


def test_full_disk_during_checkpoint_write_keeps_the_last_checkpoint(tmp_path, capsys):
    cfg = tiny_pretrain_config(tmp_path / "cfg")

    def populate(mount):  # a finished epoch, then the disk filled up to 60 kB (a checkpoint needs ~300 kB)
        assert pretrain_main(["--config", str(cfg), "--out", str(mount / "run")]) == 0
        st = os.statvfs(mount)
        (mount / "filler").write_bytes(b"\0" * (st.f_bavail * st.f_frsize - 60_000))

    with tmpfs(tmp_path / "full", populate, read_only=False, size="2m") as full:
        kept = {k: v for k, v in digest(full / "run").items() if k.endswith(".pt")}
        capsys.readouterr()
        code = pretrain_main(["--config", str(cfg), "--out", str(full / "run"), "--resume", "auto",
                              "--set", "train.epochs=2"])
        assert_clean_end(code, capsys.readouterr().err, EXIT_OS, "No space left on device", str(full / "run"))
        assert {k: v for k, v in digest(full / "run").items() if k.endswith(".pt")} == kept
        assert not list((full / "run").glob(".*.tmp"))
