import keras
import numpy as np
import pytest

from course_utils.models.inference import apply_model, batched_call


def test_apply_model_matches_one_call_across_batches():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(2)(inputs))
    x = np.random.default_rng(0).normal(size=(10, 3)).astype(np.float32)
    np.testing.assert_allclose(apply_model(model, x, batch_size=3), model(x), rtol=1e-6)


def test_apply_model_returns_a_list_for_several_outputs():
    inputs = keras.Input((3,))
    model = keras.Model(inputs, [keras.layers.Dense(2)(inputs), keras.layers.Dense(4)(inputs)])
    outputs = apply_model(model, np.zeros((7, 3)), batch_size=2)
    assert [o.shape for o in outputs] == [(7, 2), (7, 4)]


def test_apply_model_validates_inputs():
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(2)(inputs))
    with pytest.raises(TypeError, match="keras.Model"):
        apply_model(lambda x: x, np.zeros((2, 3)))
    with pytest.raises(ValueError, match="at least one row"):
        apply_model(model, np.zeros((0, 3)))


def test_apply_model_refuses_non_finite_inputs_and_images_outside_0_1():
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(2)(inputs))
    with pytest.raises(ValueError, match=r"inputs must hold finite numbers; got 1 NaN value"):
        apply_model(model, np.array([[0.0, np.nan, 1.0]]))
    images = keras.Input((28, 28, 1))
    encoder = keras.Model(images, keras.layers.Dense(2)(keras.layers.Flatten()(images)))
    with pytest.raises(ValueError, match=r"inputs must hold pixel values in \[0, 1\].*"
                                         r"divide by 255"):
        apply_model(encoder, np.full((2, 28, 28, 1), 255.0))
    codes = np.full((2, 3), 40.0)  # codes are not pixels: any finite value is fine
    assert apply_model(model, codes).shape == (2, 2)
    with pytest.raises(ValueError, match=r"inputs must hold rows of shape \(28, 28, 1\).*"
                                         r"got shape \(2, 32, 32, 1\)"):
        apply_model(encoder, np.zeros((2, 32, 32, 1)))


def test_batched_call_joins_blocks_of_rows_in_order():
    rows = np.arange(14, dtype=np.float32).reshape(7, 2)
    other = np.arange(7, dtype=np.float32)[:, None]
    calls = []

    def add(a, b):
        calls.append(len(a))
        return a + b

    np.testing.assert_array_equal(batched_call(add, rows, other, batch_size=3), rows + other)
    assert calls == [3, 3, 1]
    first, second = batched_call(lambda a: (a, -a), rows, batch_size=4)
    np.testing.assert_array_equal(first, rows)
    np.testing.assert_array_equal(second, -rows)


def test_batched_call_refuses_arrays_of_different_lengths_and_bad_batch_sizes():
    rows = np.zeros((4, 2), dtype=np.float32)
    with pytest.raises(ValueError, match="same number of rows"):
        batched_call(lambda a, b: a, rows, rows[:3], batch_size=2)
    with pytest.raises(ValueError, match="same number of rows"):
        batched_call(lambda a: a, rows[:0], batch_size=2)
    with pytest.raises(TypeError, match="batch_size"):
        batched_call(lambda a: a, rows, batch_size=2.0)
