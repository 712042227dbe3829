"""Augmentations: hand-computed shear and crop, numpy vs batched-torch statistics, zeros kept, device kept."""
import numpy as np
import pytest
import torch

from cpm.config import AugmentConfig
from cpm.data.batch_augment import BatchAugment, rotation_matrices
from cpm.data.transforms import (NumpyAugment, apply_linear, crop_resize, gaussian_noise, joint_mask,
                                 mirror_crop_indices, motion_scale, posture_jitter, rotation_matrix, scale_matrix, shear_matrix,
                                 temporal_crop)

OFF = dict(shear=0.0, crop_pad_ratio=0)


def test_shear_fixed_matrix_hand_computed():
    r = np.array([[1.0, 0.5, 0.0], [0.0, 1.0, -0.2], [0.1, 0.0, 1.0]])
    x = np.zeros((3, 2, 4, 2))
    x[:, 1, 3, 0] = [1.0, 2.0, 3.0]
    out = apply_linear(x, r)
    np.testing.assert_allclose(out[:, 1, 3, 0], [2.0, 1.4, 3.1])
    assert np.all(out[:, 0] == 0) and np.all(out[..., 1] == 0)
    m = shear_matrix(np.random.default_rng(0), 0.5)
    assert np.all(np.diag(m) == 1) and np.all(np.abs(m[~np.eye(3, dtype=bool)]) <= 0.5)


def test_scale_per_axis_factors_numpy_and_torch():
    m = scale_matrix(np.random.default_rng(0), 0.2)
    assert np.all(m[~np.eye(3, dtype=bool)] == 0) and np.all(np.abs(np.diag(m) - 1) <= 0.2)
    # a unit point on each axis in turn: each axis is stretched by its own factor, nothing leaks across axes
    x = np.zeros((3, 1, 3, 1))
    x[0, 0, 0, 0] = x[1, 0, 1, 0] = x[2, 0, 2, 0] = 1.0
    n = 4000
    aug = NumpyAugment(AugmentConfig(scale=0.2, **OFF), np.random.default_rng(1))
    f_np = np.stack([np.diag(aug(x)[:, 0, :, 0]) for _ in range(n)])  # (n, 3) factors
    f_t = BatchAugment(AugmentConfig(scale=0.2, **OFF), torch.Generator().manual_seed(1))(
        torch.from_numpy(x).float().expand(n, 3, 1, 3, 1).contiguous())[:, :, 0, :, 0].diagonal(dim1=1, dim2=2)
    for f in (f_np, f_t.double().numpy()):
        assert f.min() >= 0.8 - 1e-6 and f.max() <= 1.2 + 1e-6
        np.testing.assert_allclose(f.mean(0), 1.0, atol=0.01)
        np.testing.assert_allclose(f.std(0), 0.4 / np.sqrt(12), atol=0.005)  # U(0.8, 1.2)
        assert abs(np.corrcoef(f.T)[0, 1]) < 0.05  # independent axes


def test_scale_composes_after_shear_with_the_draws_in_order():
    x = torch.randn(5, 3, 4, 25, 1)
    g = torch.Generator().manual_seed(7)
    out = BatchAugment(AugmentConfig(shear=0.5, crop_pad_ratio=0, scale=0.3), g)(x)
    g = torch.Generator().manual_seed(7)
    v = (torch.rand(5, 6, generator=g) * 2 - 1) * 0.5  # shear first ...
    s = 1 + (torch.rand(5, 3, generator=g) * 2 - 1) * 0.3  # ... then the scale
    one = torch.ones(5, 1)
    sh = torch.cat([one, v[:, :3], one, v[:, 3:], one], 1).view(5, 3, 3)
    expected = torch.einsum("ncd,ndtvm->nctvm", torch.diag_embed(s) @ sh, x)
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)


def _one_clip_both_paths(fn, key: str, value: float, n: int):
    """A clip with 7 present frames (3 padded) and an absent second person, augmented n times by the numpy
    function `fn` and by `BatchAugment` with only `key` on: (clip, numpy outputs, torch outputs)."""
    x = np.random.default_rng(0).normal(size=(3, 10, 25, 2)).astype(np.float32)
    x[:, 7:] = 0.0  # padded tail
    x[..., 1] = 0.0  # absent second person
    out_np = np.stack([fn(x, np.random.default_rng(i), value) for i in range(n)])
    cfg = AugmentConfig(**{key: value}, **OFF)
    out_t = BatchAugment(cfg, torch.Generator().manual_seed(0))(torch.from_numpy(x).expand(n, *x.shape).contiguous())
    return x, out_np, out_t.numpy()


def test_posture_jitter_moves_each_joint_by_one_offset_for_the_whole_clip_numpy_and_torch():
    """Breaks if the offset changes from frame to frame (that would be noise, not posture), is shared by all
    joints (a translation), reaches absent persons or padded frames, or has the wrong scale."""
    x, out_np, out_t = _one_clip_both_paths(posture_jitter, "posture_jitter", 0.05, 600)
    for out in (out_np, out_t):
        d = out - x[None]
        assert np.all(out[:, :, 7:] == 0) and np.all(out[..., 1] == 0)
        np.testing.assert_allclose(d[:, :, :7], np.repeat(d[:, :, :1], 7, axis=2), atol=1e-6)  # constant in time
        per_joint = d[:, :, 0, :, 0]  # (n, C, V): one offset per clip, coordinate and joint
        np.testing.assert_allclose(per_joint.std(), 0.05, rtol=0.05)
        assert abs(np.corrcoef(per_joint[:, 0, 0], per_joint[:, 0, 1])[0, 1]) < 0.15  # joints move independently
    # a 2-D pose with a score channel: the score is left alone
    xs = np.abs(x[:, :7, :, :1]) + 0.1
    out = NumpyAugment(AugmentConfig(posture_jitter=0.05, **OFF), np.random.default_rng(1), coords=2)(xs)
    assert np.array_equal(out[2], xs[2]) and not np.array_equal(out[:2], xs[:2])


def test_motion_scale_scales_each_joints_motion_about_its_mean_by_one_factor_numpy_and_torch():
    """Breaks if the posture (each joint's temporal mean) moves, if the factor differs between joints or frames,
    if absent persons, padded frames or a score channel change, or if the factor's range is wrong."""
    n = 400
    x, out_np, out_t = _one_clip_both_paths(motion_scale, "motion_scale", 0.3, n)
    mean = x[:, :7].mean(axis=1, keepdims=True)
    for out in (out_np, out_t):
        assert np.all(out[:, :, 7:] == 0) and np.all(out[..., 1] == 0)
        np.testing.assert_allclose(out[:, :, :7].mean(axis=2), np.repeat(mean[None, :, 0], n, 0), atol=1e-5)
        a = (out[:, :, :7, :, 0] - mean[None, ..., 0]) / (x[None, :, :7, :, 0] - mean[None, ..., 0])  # per clip
        np.testing.assert_allclose(a, np.broadcast_to(a[:, :1, :1, :1], a.shape), rtol=1e-3, atol=1e-3)
        assert 0.7 <= a.min() < 0.75 and 1.25 < a.max() <= 1.3
    # a 2-D pose with a score channel: the score is left alone, the coordinates are scaled
    xs = np.abs(x[:, :7, :, :1]) + 0.1
    out = NumpyAugment(AugmentConfig(motion_scale=0.3, **OFF), np.random.default_rng(1), coords=2)(xs)
    assert np.array_equal(out[2], xs[2]) and not np.allclose(out[:2], xs[:2])


def test_mirror_crop_exact_indices():
    assert mirror_crop_indices(12, 2, 0).tolist() == [1, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
    assert mirror_crop_indices(12, 2, 2).tolist() == list(range(12))
    assert mirror_crop_indices(12, 2, 4).tolist() == [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 11, 10]
    x = np.random.default_rng(0).normal(size=(3, 12, 5, 2))
    pad = 12 // 6  # the lineage's construction: concatenate mirrored ends, then slice
    padded = np.concatenate((x[:, :pad][:, ::-1], x, x[:, -pad:][:, ::-1]), axis=1)
    for seed in range(10):
        start = int(np.random.default_rng(seed).integers(0, 2 * pad + 1))
        np.testing.assert_array_equal(temporal_crop(x, np.random.default_rng(seed), 6), padded[:, start:start + 12])


def test_batched_crop_matches_numpy_for_the_same_starts():
    x = torch.randn(5, 3, 13, 4, 2, dtype=torch.float64)
    aug = BatchAugment(AugmentConfig(shear=0.0, crop_pad_ratio=4))
    starts = torch.tensor([0, 1, 3, 5, 6])
    aug.crop_starts = lambda n, pad, like: starts
    out = aug(x)
    for i in range(5):
        np.testing.assert_array_equal(out[i].numpy(), x[i].numpy()[:, mirror_crop_indices(13, 3, int(starts[i]))])


def test_numpy_and_torch_statistics_agree():
    n, s = 4000, 0.5
    basis = np.zeros((3, 6, 3, 1), dtype=np.float32)  # joint j holds e_j: the output's column j is R e_j
    basis[:, :, :3, 0] = np.eye(3)[:, None, :]
    np_aug = NumpyAugment(AugmentConfig(shear=s, crop_pad_ratio=0), np.random.default_rng(0))
    mats_np = np.stack([np_aug(basis)[:, 0, :3, 0] for _ in range(n)])
    torch.manual_seed(0)
    bases = torch.from_numpy(basis)[None].repeat(n, 1, 1, 1, 1)
    mats_t = BatchAugment(AugmentConfig(shear=s, crop_pad_ratio=0))(bases)[:, :, 0, :3, 0].numpy()
    off = ~np.eye(3, dtype=bool)
    for mats in (mats_np, mats_t):
        np.testing.assert_allclose(mats[:, ~off], 1.0, atol=1e-6)
        assert abs(mats[:, off].mean()) < 0.01 and abs(mats[:, off].std() - s / np.sqrt(3)) < 0.01
        assert mats[:, off].min() >= -s and mats[:, off].max() <= s
    t, ratio = 30, 6
    pad = t // ratio
    ramp = np.zeros((3, t, 1, 1), dtype=np.float32)
    ramp[0, :, 0, 0] = np.arange(t)
    table = {tuple(mirror_crop_indices(t, pad, k)): k for k in range(2 * pad + 1)}
    np_aug = NumpyAugment(AugmentConfig(shear=0.0, crop_pad_ratio=ratio), np.random.default_rng(1))
    starts_np = np.array([table[tuple(np_aug(ramp)[0, :, 0, 0].astype(int))] for _ in range(n)])
    ramps = torch.from_numpy(ramp)[None].repeat(n, 1, 1, 1, 1)
    out = BatchAugment(AugmentConfig(shear=0.0, crop_pad_ratio=ratio))(ramps)
    starts_t = np.array([table[tuple(row)] for row in out[:, 0, :, 0, 0].long().tolist()])
    expected_std = np.sqrt(((2 * pad + 1) ** 2 - 1) / 12)
    for starts in (starts_np, starts_t):
        assert set(starts.tolist()) == set(range(2 * pad + 1))
        assert abs(starts.mean() - pad) < 0.1 and abs(starts.std() - expected_std) < 0.1


def test_crop_resize_windows_are_linear_resamples():
    t = 20
    ramp = np.zeros((3, t, 1, 1))
    ramp[0, :, 0, 0] = np.arange(t)
    windows = {}
    for length in range(1, t + 1):
        pos = np.clip((np.arange(t) + 0.5) * length / t - 0.5, 0, length - 1)
        for start in range(t - length + 1):
            windows[tuple(np.round(start + pos, 3))] = length
    rng = np.random.default_rng(0)
    lengths_np = [windows[tuple(np.round(crop_resize(ramp, rng, 0.5)[0, :, 0, 0], 3))] for _ in range(300)]
    out = BatchAugment(AugmentConfig(crop_resize_min=0.5, **OFF))(torch.from_numpy(ramp).repeat(300, 1, 1, 1, 1))
    lengths_t = [windows[tuple(np.round(row, 3))] for row in out[:, 0, :, 0, 0].numpy()]
    for lengths in (lengths_np, lengths_t):
        assert min(lengths) == 10 and max(lengths) == 20 and abs(np.mean(lengths) - 15) < 0.6
    x = torch.randn(2, 3, t, 4, 2)
    torch.testing.assert_close(BatchAugment(AugmentConfig(crop_resize_min=1.0, **OFF))(x), x)


def test_rotation_numpy_equals_torch_and_is_orthonormal():
    angles = np.array([[0.3, -1.2, 2.0], [0.0, 0.0, 0.0]])
    rt = rotation_matrices(torch.from_numpy(angles)).numpy()
    for a, r in zip(angles, rt):
        np.testing.assert_allclose(r, rotation_matrix(a), atol=1e-12)
        np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-12)
    np.testing.assert_allclose(rotation_matrix(np.array([0, 0, np.pi / 2])) @ [1, 0, 0], [0, 1, 0], atol=1e-12)


ALL_ON = AugmentConfig(shear=0.5, crop_pad_ratio=6, rotation=30.0, noise_std=0.05, joint_mask_prob=0.2,
                       crop_resize_min=0.5, scale=0.2, posture_jitter=0.05, motion_scale=0.3)


def _batch_with_padding(n=8, t=24):
    x = torch.randn(n, 3, t, 25, 2)
    x[..., 1] = 0.0  # absent second person
    x[:, :, t - 6:] = 0.0  # zero-padded tail
    return x


def test_absent_persons_stay_zero_in_both_implementations():
    x = _batch_with_padding()
    out = BatchAugment(ALL_ON)(x)
    assert torch.all(out[..., 1] == 0)
    np_aug = NumpyAugment(ALL_ON, np.random.default_rng(0))
    for sample in x.numpy():
        assert np.all(np_aug(sample)[..., 1] == 0)
    noisy = gaussian_noise(x[0].numpy(), np.random.default_rng(0), 0.1)
    assert np.all(noisy[:, 18:] == 0) and np.all(noisy[..., 1] == 0)
    assert abs((noisy[:, :18, :, 0] - x[0].numpy()[:, :18, :, 0]).std() - 0.1) < 0.01
    noisy_t = BatchAugment(AugmentConfig(noise_std=0.1, **OFF))(x)
    assert torch.all(noisy_t[:, :, 18:] == 0) and abs((noisy_t - x)[:, :, :18, :, 0].std() - 0.1) < 0.01


def test_joint_mask_rate():
    x = np.ones((3, 4, 25, 2))
    rng = np.random.default_rng(0)
    zeroed = np.mean([(joint_mask(x, rng, 0.3)[0, 0, :, 0] == 0).mean() for _ in range(400)])
    xt = torch.ones(400, 3, 4, 25, 2)
    out = BatchAugment(AugmentConfig(joint_mask_prob=0.3, **OFF))(xt)
    zeroed_t = (out[:, 0, 0, :, 0] == 0).float().mean().item()
    assert abs(zeroed - 0.3) < 0.02 and abs(zeroed_t - 0.3) < 0.02
    assert torch.all((out == 0).all(dim=(1, 2, 4)) | (out == 1).all(dim=(1, 2, 4)))  # whole joints


def test_device_dtype_and_reproducibility():
    x = _batch_with_padding().double()
    torch.manual_seed(3)
    a = BatchAugment(ALL_ON)(x)
    torch.manual_seed(3)
    b = BatchAugment(ALL_ON)(x)
    assert a.dtype == torch.float64 and a.device == x.device and a.shape == x.shape
    torch.testing.assert_close(a, b)
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    torch.testing.assert_close(BatchAugment(ALL_ON, g1)(x), BatchAugment(ALL_ON, g2)(x))
    with pytest.raises(ValueError, match=r"\(N, 3, T, V, M\)"):
        BatchAugment(ALL_ON)(x[0])
    if torch.cuda.is_available():
        xc = x.float().cuda()
        out = BatchAugment(ALL_ON, torch.Generator().manual_seed(0))(xc)
        assert out.device == xc.device and torch.all(out[..., 1] == 0)


def test_2d_keypoints_take_the_xy_block_and_keep_the_score():
    # (x, y, score) = (1, 2, 0.7): the (x, y) block of r maps the coordinates, the score passes through
    x = np.array([1.0, 2.0, 0.7]).reshape(3, 1, 1, 1)
    r = np.array([[1.0, 0.5, 0.1], [0.2, 1.0, 0.3], [0.4, 0.6, 1.0]])
    np.testing.assert_allclose(apply_linear(x, r, coords=2).ravel(), [2.0, 2.2, 0.7])
    np.testing.assert_allclose(apply_linear(x[:2], r, coords=2).ravel(), [2.0, 2.2])  # (x, y) only
    # batched: shear + rotation + noise on coords only, the score channel untouched, same map as its block
    cfg = AugmentConfig(shear=0.5, crop_pad_ratio=0, rotation=20.0, noise_std=0.0)
    xb = torch.rand(4, 3, 6, 17, 2, dtype=torch.float64) + 0.1
    out = BatchAugment(cfg, torch.Generator().manual_seed(1), coords=2)(xb)
    torch.testing.assert_close(out[:, 2], xb[:, 2])
    g = torch.Generator().manual_seed(1)
    ref = BatchAugment(cfg, g, coords=2)
    angles = (ref._rand(4, 3, like=xb) * 2 - 1) * np.deg2rad(20.0)
    m = (ref.shear_matrices(4, xb) @ rotation_matrices(angles))[:, :2, :2].to(xb.dtype)
    torch.testing.assert_close(out[:, :2], torch.einsum("nij,njtvm->nitvm", m, xb[:, :2]))
    noisy = BatchAugment(AugmentConfig(shear=0.0, crop_pad_ratio=0, noise_std=0.1), coords=2)(xb)
    torch.testing.assert_close(noisy[:, 2], xb[:, 2])
    assert not torch.equal(noisy[:, :2], xb[:, :2])
    n = NumpyAugment(AugmentConfig(shear=0.5, crop_pad_ratio=0, noise_std=0.1), np.random.default_rng(0), coords=2)
    np.testing.assert_array_equal(n(xb[0].numpy())[2], xb[0, 2].numpy())
