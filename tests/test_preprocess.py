"""Letterbox against YOLOX's own preprocessing, written out here as the reference."""

import cv2
import numpy as np
import pytest

from trt_viewer.core import preprocess
from trt_viewer.core.preprocess import CURRENT, LEGACY, letterbox


def yolox_preproc(img, input_size):
    """YOLOX >= 0.1.1 (yolox/data/data_augment.py preproc)."""
    padded = np.ones((input_size[0], input_size[1], 3), dtype=np.uint8) * 114
    r = min(input_size[0] / img.shape[0], input_size[1] / img.shape[1])
    resized = cv2.resize(
        img, (int(img.shape[1] * r), int(img.shape[0] * r)), interpolation=cv2.INTER_LINEAR
    ).astype(np.uint8)
    padded[: int(img.shape[0] * r), : int(img.shape[1] * r)] = resized
    return np.ascontiguousarray(padded.transpose(2, 0, 1), dtype=np.float32), r


def yolox_legacy_preproc(img, input_size):
    """YOLOX < 0.1.1: RGB, /255, ImageNet mean and std, the padding included."""
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    padded = np.ones((input_size[0], input_size[1], 3)) * 114.0
    r = min(input_size[0] / img.shape[0], input_size[1] / img.shape[1])
    resized = cv2.resize(
        img, (int(img.shape[1] * r), int(img.shape[0] * r)), interpolation=cv2.INTER_LINEAR
    ).astype(np.float32)
    padded[: int(img.shape[0] * r), : int(img.shape[1] * r)] = resized
    padded = padded[:, :, ::-1] / 255.0
    padded = (padded - mean) / std
    return np.ascontiguousarray(padded.transpose(2, 0, 1), dtype=np.float32), r


@pytest.fixture
def photo():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (432, 768, 3), np.uint8)
    return cv2.GaussianBlur(img, (5, 5), 0)


@pytest.mark.parametrize("shape", [(432, 768), (768, 432), (416, 416), (100, 50), (1080, 1920)])
def test_current_matches_yolox_exactly(shape):
    img = np.random.default_rng(1).integers(0, 256, (*shape, 3), np.uint8)
    ref, r_ref = yolox_preproc(img, (416, 416))
    out, r = letterbox(img, (416, 416))
    assert r == r_ref
    assert out.shape == (1, 3, 416, 416) and out.dtype == np.float32
    np.testing.assert_array_equal(out[0], ref)


def test_padding_is_114_at_the_bottom_right_only(photo):
    out, r = letterbox(photo, (416, 416))
    new_h = int(432 * r)
    assert new_h < 416
    assert (out[0, :, new_h:, :] == 114).all()
    assert not (out[0, :, :new_h, :] == 114).all()  # the image sits at the top-left


def test_channel_order_stays_bgr():
    img = np.zeros((32, 32, 3), np.uint8)
    img[..., 0] = 200  # blue
    out, _ = letterbox(img, (32, 32))
    assert out[0, 0].mean() == 200 and out[0, 2].mean() == 0


def test_legacy_matches_old_yolox(photo):
    ref, _ = yolox_legacy_preproc(photo, (416, 416))
    out, _ = letterbox(photo, (416, 416), preset=LEGACY)
    np.testing.assert_allclose(out[0], ref, atol=1e-5)


def test_writes_into_the_callers_buffer(photo):
    buf = np.full((1, 3, 416, 416), -1, np.float32)
    out, _ = letterbox(photo, (416, 416), buf)
    assert out is buf
    ref, _ = yolox_preproc(photo, (416, 416))
    np.testing.assert_array_equal(buf[0], ref)


def test_fp16_and_uint8_buffers(photo):
    ref, _ = yolox_preproc(photo, (416, 416))
    half = np.empty((1, 3, 416, 416), np.float16)
    letterbox(photo, (416, 416), half)
    np.testing.assert_array_equal(half[0].astype(np.float32), ref)  # 0..255 integers are exact
    u8 = np.empty((1, 3, 416, 416), np.uint8)
    letterbox(photo, (416, 416), u8)
    np.testing.assert_array_equal(u8[0], ref.astype(np.uint8))
    with pytest.raises(ValueError, match="float"):
        letterbox(photo, (416, 416), u8, LEGACY)


def test_strided_view_is_filled_in_place(photo):
    big = np.zeros((1, 3, 416, 832), np.float32)
    view = big[..., ::2]
    letterbox(photo, (416, 416), view)
    ref, _ = yolox_preproc(photo, (416, 416))
    np.testing.assert_array_equal(big[0, :, :, ::2], ref)
    assert (big[0, :, :, 1::2] == 0).all()


def test_presets_resolve_from_metadata():
    assert preprocess.resolve_preset("auto", {}) is CURRENT
    assert preprocess.resolve_preset("auto", {"preprocess": "legacy"}) is LEGACY
    assert preprocess.resolve_preset("legacy") is LEGACY
    with pytest.raises(ValueError):
        preprocess.resolve_preset("imagenet")


@pytest.mark.parametrize("shape", [(2, 4000), (20000, 3), (1, 1), (1, 100000), (3, 20000)])
def test_strips_keep_at_least_one_pixel_per_side(shape):
    img = np.random.default_rng(2).integers(0, 256, (*shape, 3), np.uint8)
    out, r = letterbox(img, (416, 416))
    assert r == preprocess.letterbox_ratio(shape, (416, 416))
    r_size, new_h, new_w = preprocess.letterbox_size(shape, (416, 416))
    assert r_size == r and 1 <= new_h <= 416 and 1 <= new_w <= 416
    assert new_h == max(1, int(shape[0] * r)) and new_w == max(1, int(shape[1] * r))
    ref = cv2.resize(img, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    np.testing.assert_array_equal(out[0, :, :new_h, :new_w], ref.transpose(2, 0, 1))
    assert (out[0, :, new_h:, :] == 114).all() and (out[0, :, :new_h, new_w:] == 114).all()


@pytest.mark.parametrize("shape", [(432, 768), (23, 41), (1080, 1920), (4000, 2)])
def test_letterbox_size_is_what_letterbox_fills(shape):
    """The size the GPU letterbox and box mapping rely on is the region the CPU fills."""
    img = np.full((*shape, 3), 7, np.uint8)
    out, _ = letterbox(img, (416, 416))
    _, new_h, new_w = preprocess.letterbox_size(shape, (416, 416))
    filled = out[0, 0] != 114
    assert filled[:new_h, :new_w].all() and not filled[new_h:].any() and not filled[:, new_w:].any()
