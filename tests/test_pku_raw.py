"""PKU-MMD raw parsing: split files, label csv, skeleton txt, clip cutting and prepare_pku end to end."""
import pickle

import numpy as np
import pytest

from cpm.data.normalize import normalize_sequence
from cpm.prepare.pku import cut_clip, main, read_labels, read_pku_skeleton, read_split_file
from cpm.errors import CPMError

SPLIT = "Training videos: \r\n0002-L, 0002-M, 0003-R\r\nValidataion videos: \r\n0291-L, 0291-M\r\n"


def _seq(rng, frames, two=False):
    seq = rng.normal(size=(frames, 150))
    if not two:
        seq[:, 75:] = 0.0  # second body absent: the release fills it with zeros
    return seq


def _write_seq(path, seq):
    path.write_bytes("".join(" ".join(f"{v:.6f}" for v in row) + " \r\n" for row in seq).encode())


def test_split_file_official_format(tmp_path):
    p = tmp_path / "cross-subject.txt"
    p.write_bytes(SPLIT.encode())
    assert read_split_file(p) == (["0002-L", "0002-M", "0003-R"], ["0291-L", "0291-M"])
    p.write_text("Training videos:\nA01N01-L, A01N01-M\nValidation videos:\nA02N01-L\n")  # Part II, fixed typo
    assert read_split_file(p) == (["A01N01-L", "A01N01-M"], ["A02N01-L"])
    p.write_text("0002-L, 0003-R\n")
    with pytest.raises(CPMError, match="Training videos:"):
        read_split_file(p)
    p.write_text("Training videos:\na, b\nValidataion videos:\nb\n")
    with pytest.raises(CPMError, match="1 in both"):
        read_split_file(p)


def test_labels_and_skeleton_errors_name_file_and_line(tmp_path):
    lab = tmp_path / "0002-L.txt"
    lab.write_text("41,42,111,1\r\n2,120,180,2\r\n\r\n")
    assert read_labels(lab) == [(40, 42, 111), (1, 120, 180)]
    lab.write_text("41,42,111,1\n2,x,180,1\n")
    with pytest.raises(CPMError, match="0002-L.txt: line 2:"):
        read_labels(lab)
    skel = tmp_path / "skel.txt"
    seq = _seq(np.random.default_rng(0), 5)
    _write_seq(skel, seq)
    np.testing.assert_allclose(read_pku_skeleton(skel), seq, atol=5e-7)
    text = skel.read_text().splitlines()
    text[3] = " ".join(text[3].split()[:149])
    skel.write_text("\n".join(text))
    with pytest.raises(CPMError, match=r"skel.txt: line 4: expected 150 finite numbers"):
        read_pku_skeleton(skel)
    text[3] = "nan " + " ".join(text[2].split()[1:])
    skel.write_text("\n".join(text))
    with pytest.raises(CPMError, match="line 4"):
        read_pku_skeleton(skel)


def test_cut_clip_layout_and_empty():
    seq = np.zeros((10, 150))
    seq[2:6, :75] = np.arange(75)  # body 1: joint j has (3j, 3j+1, 3j+2)
    seq[4, 75:] = -1.0  # body 2 in one frame
    clip = cut_clip(seq, 1, 7)  # frames 1..6; frames 1 and 6 carry no body -> dropped
    assert clip.shape == (3, 4, 25, 2) and clip.dtype == np.float32
    np.testing.assert_array_equal(clip[:, 0, 7, 0], [21, 22, 23])
    np.testing.assert_array_equal(clip[:, :, 0, 1].any(axis=0), [False, False, True, False])
    assert cut_clip(seq, 7, 10) is None


def test_prepare_pku_end_to_end(tmp_path, capsys):
    rng = np.random.default_rng(1)
    skel, lab, out = tmp_path / "skeleton", tmp_path / "label", tmp_path / "out"
    skel.mkdir(), lab.mkdir()
    (tmp_path / "split.txt").write_bytes(SPLIT.encode())
    seqs = {v: _seq(rng, 400, two=(v == "0003-R")) for v in ("0002-L", "0002-M", "0003-R", "0291-L")}
    seqs["0002-M"][100:140] = 0.0  # the second clip of 0002-M has no body
    for v, s in seqs.items():
        _write_seq(skel / f"{v}.txt", s)
        (lab / f"{v}.txt").write_text("5,10,60,1\n51,100,140,2\n1,300,390,1\n")
    bad = (skel / "0291-L.txt").read_text().splitlines()
    bad[7] = bad[7].replace(" ", " abc ", 1)
    (skel / "0291-L.txt").write_text("\n".join(bad))  # corrupt -> its clips fail, listed
    _write_seq(skel / "0291-M.txt", seqs["0002-L"])  # 0291-M has no label file
    code = main(["--skeletons", str(skel), "--labels", str(lab), "--split-file", str(tmp_path / "split.txt"),
                 "--out", str(out), "--frames", "20", "--workers", "2", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 1
    assert "0291-L.txt: line 8:" in err and "0291-M.txt: label file not found" in err
    assert "train: 8 samples written, 1 empty" in err and "val: 0 samples written" in err
    names, labels = pickle.load(open(out / "train_label.pkl", "rb"))
    assert names == ["0002-L_000", "0002-L_001", "0002-L_002", "0002-M_000", "0002-M_002", "0003-R_000",
                     "0003-R_001", "0003-R_002"]
    assert labels == [4, 50, 0, 4, 0, 4, 50, 0]
    data = np.load(out / "train_data.npy")
    assert data.shape == (8, 3, 300, 25, 2)
    ref = cut_clip(read_pku_skeleton(skel / "0003-R.txt"), 300, 390)
    np.testing.assert_array_equal(data[-1, :, :90], ref)
    assert np.all(data[-1, :, 90:] == 0) and np.abs(data[-1, ..., 1]).sum() > 0
    np.testing.assert_allclose(np.load(out / "train_position.npy")[-1], normalize_sequence(ref, 20), atol=1e-6)
    assert np.load(out / "val_data.npy").shape == (0, 3, 300, 25, 2)
