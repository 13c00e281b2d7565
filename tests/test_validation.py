"""Tests of course_utils._validation: the one input validator every public helper uses."""

from __future__ import annotations

import numpy as np
import pytest

from course_utils._validation import (
    PIXEL_RANGE,
    check_array,
    check_images,
    check_non_negative_number,
    check_same_shape,
)

# ------------------------------------------------------------------ conversion

def test_check_array_returns_float32_by_default_and_the_requested_dtype():
    assert check_array([[1, 2]], "a").dtype == np.float32
    assert check_array([[1, 2]], "a", dtype=np.float64).dtype == np.float64
    assert check_array(np.array([True, False]), "mask").tolist() == [1.0, 0.0]


@pytest.mark.parametrize("value", [["a", "b"], np.array(["0.5", "1"]), "abc", {"x": 1}])
def test_check_array_refuses_text_and_objects(value):
    with pytest.raises(TypeError, match=r"a must be a numeric array.*got"):
        check_array(value, "a")


def test_check_array_refuses_complex_numbers():
    with pytest.raises(TypeError, match=r"complex.*np\.real"):
        check_array(np.array([1 + 2j]), "a")


def test_check_array_refuses_ragged_rows():
    with pytest.raises(TypeError, match=r"codes must be a numeric array.*same length"):
        check_array([[1.0, 2.0], [3.0]], "codes")


def test_check_array_shape_message_shows_the_expected_layout():
    with pytest.raises(ValueError, match=r"z must have 2 dimensions, shape \(n, latent_dim\); "
                                         r"got shape \(5,\)"):
        check_array(np.zeros(5), "z", ndim=2, layout="(n, latent_dim)")


# ----------------------------------------------------------------------- empty

@pytest.mark.parametrize(("min_len", "words"), [(1, "at least one image"),
                                                (2, "at least 2 images")])
def test_check_array_refuses_too_few_rows(min_len, words):
    with pytest.raises(ValueError, match=rf"x must hold {words}; got 0"):
        check_array(np.zeros((0, 28, 28)), "x", min_len=min_len, noun="image")


def test_check_array_refuses_a_scalar_when_rows_are_needed():
    with pytest.raises(ValueError, match=r"x must hold at least one item; got a single "
                                         r"number"):
        check_array(3.0, "x", min_len=1)


# --------------------------------------------------------------------- finite

def test_finite_check_counts_nan_and_infinite_values_and_says_how_to_fix():
    x = np.zeros((4, 28, 28), np.float32)
    x[0, 0, :3] = np.nan
    x[1, 5, 5] = np.inf
    with pytest.raises(ValueError) as info:
        check_array(x, "x_train", finite=True, value_noun="pixel")
    message = str(info.value)
    assert "x_train must hold finite numbers" in message
    assert "3 NaN pixels" in message and "1 infinite pixel" in message
    assert "np.nan_to_num" in message


def test_finite_check_can_name_a_cause_instead_of_the_generic_fix():
    with pytest.raises(ValueError, match=r"1 NaN value \(of 2\)\. Training diverged\.$"):
        check_array([[np.nan, 0.0]], "z", finite=True, fix="training diverged")


def test_finite_is_off_by_default():
    assert np.isnan(check_array([np.nan], "a")).all()


# ----------------------------------------------------------------------- range

def test_range_check_names_the_maximum_and_suggests_dividing_by_255():
    x = np.arange(256, dtype=np.uint8).reshape(1, 16, 16)
    with pytest.raises(ValueError, match=r"x must hold pixel values in \[0, 1\]; got min 0"
                                         r"(\.0)?, max 255(\.0)?.*divide by 255"):
        check_array(x, "x", value_range=PIXEL_RANGE, value_noun="pixel")


def test_range_check_suggests_rescaling_images_in_minus_one_to_one():
    with pytest.raises(ValueError, match=r"min -1(\.0)?.*\(x \+ 1\) / 2"):
        check_array(np.linspace(-1, 1, 20), "x", value_range=PIXEL_RANGE)


def test_range_check_allows_exact_ends_and_float32_round_off_without_mutating_input():
    x = np.array([0.0, 1.0, 0.5], np.float32)
    assert check_array(x, "x", value_range=PIXEL_RANGE).tolist() == [0.0, 1.0, 0.5]
    rounded = np.array([1.0000001, -1e-8, 0.25], np.float64)
    out = check_array(rounded, "x", value_range=PIXEL_RANGE, dtype=np.float64)
    assert out.min() >= 0.0 and out.max() <= 1.0
    assert rounded[0] > 1.0  # the caller's array is untouched
    np.testing.assert_allclose(out, [1.0, 0.0, 0.25])


def test_range_check_refuses_nan_as_not_finite_first():
    with pytest.raises(ValueError, match="NaN"):
        check_array([np.nan, 0.5], "x", finite=True, value_range=PIXEL_RANGE)


# ---------------------------------------------------------------------- images

def test_check_images_keeps_its_old_behaviour_without_options():
    out = check_images(np.full((2, 28, 28, 1), 7.0))
    assert out.shape == (2, 28, 28) and out.dtype == np.float32
    with pytest.raises(ValueError, match="greyscale"):
        check_images(np.zeros((2, 28, 28, 3)))
    with pytest.raises(ValueError, match="dimensions"):
        check_images(np.zeros(10))


def test_check_images_with_pixels_refuses_nan_and_0_to_255():
    with pytest.raises(ValueError, match=r"x_train must hold finite numbers; got 1 NaN pixel"):
        check_images(np.array([[[np.nan, 0.0]]]), "x_train", pixels=True)
    with pytest.raises(ValueError, match=r"max 255(\.0)?.*divide by 255"):
        check_images(np.full((1, 4, 4), 255.0), "x_train", pixels=True)


def test_check_images_refuses_no_images():
    with pytest.raises(ValueError, match=r"images must hold at least one image; got 0"):
        check_images(np.zeros((0, 28, 28)))


def test_check_images_checks_the_image_size_the_model_expects():
    assert check_images(np.zeros((3, 28, 28)), image_shape=(28, 28, 1)).shape == (3, 28, 28)
    with pytest.raises(ValueError, match=r"x_train must hold images of shape \(28, 28, 1\).*"
                                         r"got shape \(5, 32, 32, 1\).*28 x 28"):
        check_images(np.zeros((5, 32, 32, 1)), "x_train", image_shape=(28, 28, 1))


# ------------------------------------------------------- numbers >= 0 and same shapes

@pytest.mark.parametrize("value", [0, 0.0, 2, np.float32(0.5), np.int64(3)])
def test_check_non_negative_number_returns_a_float(value):
    result = check_non_negative_number(value, "kl_weight")
    assert isinstance(result, float) and result == float(value)


@pytest.mark.parametrize("value, error, match", [
    (-0.1, ValueError, r"kl_weight must be a finite number >= 0; got -0\.1\. Pass a float: "
                       r"1\.0 for the ELBO\."),
    (np.inf, ValueError, r"finite number >= 0; got inf"),
    (np.nan, ValueError, r"finite number >= 0; got nan"),
    (True, TypeError, r"kl_weight must be a number >= 0; got bool True\. Pass"),
    ("1", TypeError, r"got str '1'"),
    (None, TypeError, r"got NoneType None"),
])
def test_check_non_negative_number_refuses_with_what_got_and_fix(value, error, match):
    with pytest.raises(error, match=match):
        check_non_negative_number(value, "kl_weight", example="1.0 for the ELBO")


def test_check_same_shape_passes_equal_shapes_and_names_both_with_the_fix():
    check_same_shape(np.zeros((2, 3)), "a", np.ones((2, 3)), "b")
    with pytest.raises(ValueError, match=r"images and reconstructions must have the same "
                                         r"shape; got \(2, 3\) and \(3, 2\)\. Reconstruct"):
        check_same_shape(np.zeros((2, 3)), "images", np.zeros((3, 2)), "reconstructions",
                         fix="Reconstruct the same batch.")
