import numpy as np
import pytest
from matplotlib.figure import Figure

from course_utils.latent.plots import plot_latent_scatter
from course_utils.plotting import plot_history, plot_image_grid, plot_reconstructions

IMAGES = np.random.default_rng(0).uniform(size=(12, 28, 28, 1)).astype(np.float32)


def test_plot_history_draws_train_and_validation_curves():
    figure = plot_history({"loss": [3.0, 2.0, 1.0], "val_loss": [3.5, 2.5, 2.0]})
    assert isinstance(figure, Figure)
    lines = figure.axes[0].get_lines()
    assert len(lines) == 2
    np.testing.assert_array_equal(lines[1].get_ydata(), [3.5, 2.5, 2.0])


def test_plot_history_uses_given_axes():
    figure = Figure()
    ax = figure.subplots()
    assert plot_history({"loss": [1.0]}, ax=ax) is figure
    assert len(ax.get_lines()) == 1


def test_plot_history_rejects_unknown_keys_and_bad_history():
    with pytest.raises(ValueError, match=r"keys must name metrics of the history.*'kl_loss'"):
        plot_history({"loss": [1.0]}, keys=["kl_loss"])
    with pytest.raises(TypeError, match="History"):
        plot_history([1.0, 2.0])


def test_plot_image_grid_has_one_image_per_input_and_blank_cells():
    figure = plot_image_grid(IMAGES[:7], ncols=4, titles=[str(i) for i in range(7)])
    shown = [ax for ax in figure.axes if ax.images]
    assert len(figure.axes) == 8 and len(shown) == 7
    np.testing.assert_allclose(shown[3].images[0].get_array(), IMAGES[3, :, :, 0])
    assert shown[6].get_title() == "6"


def test_plot_image_grid_validates_lengths():
    with pytest.raises(ValueError, match="one entry per image"):
        plot_image_grid(IMAGES[:3], titles=["a"])
    with pytest.raises(ValueError, match="greyscale"):
        plot_image_grid(np.zeros((2, 28, 28, 3)))


def test_plot_reconstructions_puts_originals_over_reconstructions():
    reconstructions = 1.0 - IMAGES
    figure = plot_reconstructions(IMAGES, reconstructions, n=5)
    axes = np.array(figure.axes).reshape(2, 5)
    np.testing.assert_allclose(axes[0, 2].images[0].get_array(), IMAGES[2, :, :, 0])
    np.testing.assert_allclose(axes[1, 2].images[0].get_array(), reconstructions[2, :, :, 0])
    with pytest.raises(ValueError, match="same shape"):
        plot_reconstructions(IMAGES, IMAGES[:3])


def test_plot_latent_scatter_one_collection_per_class_plus_extras():
    codes = np.random.default_rng(1).normal(size=(30, 2))
    labels = np.repeat(np.arange(3), 10)
    figure = plot_latent_scatter(codes, labels, class_names=["a", "b", "c"],
                                 extra_points={"samples": np.zeros((4, 2))})
    ax = figure.axes[0]
    assert len(ax.collections) == 4
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["a", "b", "c", "samples"]


def test_plot_latent_scatter_rejects_non_2d_codes_and_bad_labels():
    with pytest.raises(ValueError, match="PCA"):
        plot_latent_scatter(np.zeros((5, 3)))
    with pytest.raises(ValueError, match="one entry per code"):
        plot_latent_scatter(np.zeros((5, 2)), labels=np.zeros(4))
