import numpy as np
import pytest

from cpm.data.subsets import label_subset, load_subset, save_subset
from cpm.errors import CPMError

# class sizes 10, 5, 1 (shuffled so the per-class draw does not rely on contiguous labels)
LABELS = np.random.default_rng(0).permutation(np.array([0] * 10 + [1] * 5 + [2] * 1))


def per_class(indices):
    return np.bincount(LABELS[indices], minlength=3).tolist()


def test_counts_are_rounded_half_up_with_at_least_one_per_class():
    assert per_class(label_subset(LABELS, 0.1, seed=0)) == [1, 1, 1]  # 1.0, 0.5 -> 1, 0.1 -> min 1
    assert per_class(label_subset(LABELS, 0.5, seed=0)) == [5, 3, 1]  # 5, 2.5 -> 3, 0.5 -> 1
    assert per_class(label_subset(LABELS, 0.3, seed=0)) == [3, 2, 1]  # 3, 1.5 -> 2, 0.3 -> 1
    np.testing.assert_array_equal(label_subset(LABELS, 1.0, seed=3), np.arange(16))


def test_sorted_unique_and_deterministic():
    a = label_subset(LABELS, 0.5, seed=7)
    assert a.dtype == np.int64 and np.all(np.diff(a) > 0)
    np.testing.assert_array_equal(a, label_subset(LABELS, 0.5, seed=7))
    # other seeds draw other samples (class 0 alone has C(10, 5) = 252 choices)
    assert any(not np.array_equal(a, label_subset(LABELS, 0.5, seed=s)) for s in range(3))


def test_bad_arguments():
    with pytest.raises(CPMError, match=r"fraction must be in \(0, 1\], got 0"):
        label_subset(LABELS, 0.0, 0)
    with pytest.raises(CPMError, match="got 1.5"):
        label_subset(LABELS, 1.5, 0)
    with pytest.raises(CPMError, match="1-D"):
        label_subset(LABELS.reshape(4, 4), 0.5, 0)
    with pytest.raises(CPMError, match="integers"):
        label_subset(LABELS.astype(float), 0.5, 0)


def test_index_file_round_trip(tmp_path):
    idx = label_subset(LABELS, 0.5, seed=1)
    path = save_subset(tmp_path / "run" / "subset.json", idx, fraction=0.5, seed=1, num_samples=16)
    assert path.is_file() and not (tmp_path / "run" / "subset.json.tmp").exists()
    np.testing.assert_array_equal(load_subset(path, num_samples=16), idx)
    with pytest.raises(CPMError, match="drawn from 16 samples, but the dataset has 20"):
        load_subset(path, num_samples=20)
    with pytest.raises(CPMError, match="not found"):
        load_subset(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(CPMError, match="bad.json: not a valid subset record"):
        load_subset(tmp_path / "bad.json")


def test_subset_of_another_fraction_is_refused(tmp_path):
    path = save_subset(tmp_path / "s.json", label_subset(LABELS, 0.5, seed=1), fraction=0.5, seed=1, num_samples=16)
    assert load_subset(path, num_samples=16, fraction=0.5).size == 9  # half-up per class
    with pytest.raises(CPMError, match=r"holds a 50% label subset \(9 clips\) but --fraction is 0.01 \(1%\); "
                                       r"pass --fraction 0.5"):
        load_subset(path, num_samples=16, fraction=0.01)
