"""Tests of course_utils.models.comparison: multiply-add counts, run results and the table."""

import math
from types import SimpleNamespace

import keras
import pytest

from course_utils.models.comparison import ComparisonTable, RunResult, compare_runs, multiply_adds
from course_utils.models.networks import build_conv_decoder, build_conv_encoder
from course_utils.models.vae import build_conv_vae, build_dense_vae

LOSSES = {"loss": 150.25, "reconstruction_loss": 145.0, "kl_loss": 5.25}


def _single_layer_model(layer, input_shape):
    inputs = keras.Input(shape=input_shape)
    return keras.Model(inputs, layer(inputs))


# --- multiply_adds -----------------------------------------------------------------------

def test_multiply_adds_of_a_dense_stack_is_the_sum_of_weight_matrix_sizes():
    inputs = keras.Input(shape=(5,))
    hidden = keras.layers.Dense(7, activation="relu")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(3)(hidden))
    assert multiply_adds(model) == 5 * 7 + 7 * 3


def test_multiply_adds_of_conv2d_counts_output_positions():
    # 10 x 10 x 3 input, 3 x 3 kernel, valid padding, stride 1: 8 x 8 outputs of 4 filters.
    model = _single_layer_model(keras.layers.Conv2D(4, 3), (10, 10, 3))
    assert multiply_adds(model) == 8 * 8 * (3 * 3 * 3) * 4
    # Stride 2 with same padding: 5 x 5 outputs.
    strided = _single_layer_model(keras.layers.Conv2D(4, 3, strides=2, padding="same"),
                                  (10, 10, 3))
    assert multiply_adds(strided) == 5 * 5 * (3 * 3 * 3) * 4


def test_multiply_adds_of_conv2d_transpose_counts_input_positions():
    # 5 x 5 x 2 input spread with a 3 x 3 kernel into 6 channels: output 11 x 11 (valid),
    # but each of the 25 input positions meets 3 * 3 * 6 weights per input channel.
    model = _single_layer_model(keras.layers.Conv2DTranspose(6, 3, strides=2), (5, 5, 2))
    assert model.output.shape[1:3] == (11, 11)
    assert multiply_adds(model) == 25 * (3 * 3 * 2) * 6


def test_multiply_adds_of_the_course_vaes_by_hand():
    dense = (784 * 512 + 512 * 256 + 2 * (256 * 2)      # encoder with two heads
             + 2 * 256 + 256 * 512 + 512 * 784)          # decoder
    assert multiply_adds(build_dense_vae(latent_dim=2)) == dense == 1_066_496
    encoder = (14 * 14 * 9 * 1 * 32 + 7 * 7 * 9 * 32 * 64 + 3136 * 16 + 2 * (16 * 2))
    decoder = (2 * 3136 + 7 * 7 * 9 * 64 * 64 + 14 * 14 * 9 * 64 * 32 + 28 * 28 * 9 * 32)
    assert multiply_adds(build_conv_encoder(2)) == encoder
    assert multiply_adds(build_conv_decoder(2)) == decoder
    assert multiply_adds(build_conv_vae(latent_dim=2)) == encoder + decoder == 6_660_928


def test_multiply_adds_refuses_unknown_layers_with_weights_and_non_models():
    model = _single_layer_model(keras.layers.BatchNormalization(), (4,))
    with pytest.raises(ValueError, match="BatchNormalization"):
        multiply_adds(model)
    with pytest.raises(TypeError, match="keras.Model"):
        multiply_adds(keras.layers.Dense(3))


# --- RunResult ---------------------------------------------------------------------------

def test_seconds_per_epoch_is_the_median_without_the_first_epoch():
    run = RunResult("a", 10, 20, (10.0, 2.0, 3.0, 100.0), LOSSES)
    assert run.seconds_per_epoch == 3.0
    assert run.epochs == 4
    assert RunResult("b", 10, 20, (4.0, 6.0), LOSSES).seconds_per_epoch == 6.0
    assert RunResult("c", 10, 20, (7.5,), LOSSES).seconds_per_epoch == 7.5
    assert run.test_nelbo == 150.25


def test_run_result_from_training_reads_the_model_and_history():
    inputs = keras.Input(shape=(4,))
    model = keras.Model(inputs, keras.layers.Dense(3)(inputs))
    history = SimpleNamespace(epoch_seconds=[1.5, 1.0, 1.25])
    run = RunResult.from_training("tiny", model, history, LOSSES)
    assert run.parameters == 4 * 3 + 3
    assert run.multiply_adds == 12
    assert run.epoch_seconds == (1.5, 1.0, 1.25)
    with pytest.raises(TypeError, match="epoch_seconds"):
        RunResult.from_training("tiny", model, SimpleNamespace(history={}), LOSSES)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"name": ""}, TypeError, "name"),
    ({"parameters": -1}, ValueError, "parameters"),
    ({"parameters": True}, ValueError, "parameters"),
    ({"epoch_seconds": ()}, ValueError, "epoch_seconds"),
    ({"epoch_seconds": (1.0, 0.0)}, ValueError, "epoch_seconds"),
    ({"test_losses": {"loss": 1.0}}, ValueError, "reconstruction_loss"),
    ({"test_losses": {**LOSSES, "loss": math.nan}}, ValueError, "finite"),
    ({"test_losses": {**LOSSES, "kl_loss": "x"}}, TypeError, "number"),
    # An empty or wrongly typed result says what to pass instead.
    ({"test_losses": {}}, ValueError, r"test_losses must hold.*evaluate_nelbo"),
    ({"test_losses": 150.0}, TypeError, r"test_losses must be a mapping.*got float.*"
                                        r"evaluate_nelbo"),
    ({"epoch_seconds": 3.0}, TypeError, r"epoch_seconds must be a sequence.*got float"),
    ({"epoch_seconds": (1.0, math.inf)}, ValueError, r"epoch_seconds.*finite"),
])
def test_run_result_rejects_bad_values(kwargs, error, match):
    arguments = {"name": "a", "parameters": 1, "multiply_adds": 1,
                 "epoch_seconds": (1.0,), "test_losses": LOSSES, **kwargs}
    with pytest.raises(error, match=match):
        RunResult(**arguments)


# --- compare_runs ------------------------------------------------------------------------

def test_compare_runs_formats_one_row_per_run_in_order():
    runs = [RunResult("dense VAE", 1_068_820, 1_066_496, (3.0, 1.0, 1.5), LOSSES),
            RunResult("conv VAE", 134_165, 6_660_928, (9.0, 4.25),
                      {"loss": 199.96, "reconstruction_loss": 196.0, "kl_loss": 3.961})]
    table = compare_runs(runs)
    assert isinstance(table, ComparisonTable)
    assert table.columns[0] == "model" and len(table.columns) == 8
    assert table.rows == (
        ("dense VAE", "1,068,820", "1,066,496", "3", "1.25", "150.2", "145.0", "5.25"),
        ("conv VAE", "134,165", "6,660,928", "2", "4.25", "200.0", "196.0", "3.96"),
    )


def test_comparison_table_text_is_aligned_and_html_is_escaped():
    table = ComparisonTable(("model", "n"), (("a<b", "1"), ("long name", "1,000")))
    lines = table.text().splitlines()
    assert lines[0].startswith("model") and set(lines[1]) <= {"-", " "}
    assert len(lines) == 4
    # Every line has the numeric column right-aligned to the same end.
    assert lines[2].endswith("    1") and lines[3].endswith("1,000")
    assert len(lines[2]) == len(lines[3])
    assert repr(table) == table.text()
    rendered = table._repr_html_()
    assert "a&lt;b" in rendered and "a<b" not in rendered
    assert rendered.count("<tr>") == 3


def test_compare_runs_rejects_empty_duplicates_and_other_objects():
    run = RunResult("a", 1, 1, (1.0,), LOSSES)
    with pytest.raises(ValueError, match="at least one"):
        compare_runs([])
    with pytest.raises(ValueError, match="differ"):
        compare_runs([run, run])
    with pytest.raises(TypeError, match="RunResult"):
        compare_runs([run, {"name": "b"}])


def test_compare_runs_refuses_a_single_run_not_in_a_list():
    run = RunResult("a", 1, 1, (1.0,), LOSSES)
    with pytest.raises(TypeError, match=r"runs must be a list of RunResult.*\[run\]"):
        compare_runs(run)
