import io

import ipywidgets
import ipywidgets.embed
import numpy as np
import pytest
from PIL import Image

from course_utils.explorer import (
    LatentExplorer,
    image_to_uint8,
    latent_explorer,
    render_png,
)
from course_utils.pretrained import PRETRAINED, load_pretrained


@pytest.fixture(scope="module")
def vae2():
    return load_pretrained("mnist_dense")


@pytest.fixture(scope="module")
def vae8():
    return load_pretrained("mnist_dense_z8")


@pytest.fixture(scope="module")
def test_images():
    from course_utils.data import load_dataset

    return load_dataset("mnist", embedded_only=True).x_test[:50]


def shown(explorer):
    """The grey levels on display, one per image pixel, read back from the PNG."""
    picture = np.asarray(Image.open(io.BytesIO(explorer.image.value)))
    return picture[::explorer.scale, ::explorer.scale]


def expected(vae, code):
    return image_to_uint8(vae.decode(np.asarray(code, dtype=np.float32)[None])[0])


def assert_matches(explorer, vae, code):
    # one grey level of slack: the explorer decodes through a traced copy of the decoder
    difference = np.abs(shown(explorer).astype(int) - expected(vae, code).astype(int))
    assert difference.max() <= 1


# -------------------------------------------------------------------- rendering

def test_render_png_round_trips_through_the_quantisation():
    image = np.linspace(0, 1, 28 * 28).reshape(28, 28)
    picture = np.asarray(Image.open(io.BytesIO(render_png(image, 3))))
    assert picture.shape == (84, 84) and picture.dtype == np.uint8
    np.testing.assert_array_equal(picture[::3, ::3], image_to_uint8(image))
    np.testing.assert_array_equal(picture[1::3, 2::3], image_to_uint8(image))  # blocks
    assert image_to_uint8(np.ones((2, 2)))[0, 0] == 0          # ink is black
    assert image_to_uint8(np.zeros((2, 2, 1)))[0, 0] == 255     # background white
    with pytest.raises(ValueError):
        image_to_uint8(np.zeros((2, 2, 3)))
    with pytest.raises(ValueError):
        render_png(image, 0)


# ---------------------------------------------------------------------- sliders

def test_moving_sliders_redraws_the_decoder_output(vae2, test_images):
    explorer = LatentExplorer({"dense": vae2}, images=test_images)
    assert len(explorer.sliders) == 2
    assert [s.min for s in explorer.sliders] == [-3.0, -3.0]
    assert [s.max for s in explorer.sliders] == [3.0, 3.0]
    assert_matches(explorer, vae2, [0.0, 0.0])
    before = explorer.image.value
    explorer.sliders[0].value = 1.5
    assert explorer.image.value != before
    assert_matches(explorer, vae2, [1.5, 0.0])
    explorer.sliders[1].value = -2.2
    assert_matches(explorer, vae2, [1.5, -2.2])
    np.testing.assert_allclose(explorer.code, [1.5, -2.2])
    np.testing.assert_allclose(explorer.decoded, vae2.decode(np.array([[1.5, -2.2]]))[0, ..., 0],
                               atol=1e-5)
    assert "1.50, -2.20" in explorer.status.value


def test_encode_button_moves_the_sliders_to_the_posterior_mean(vae2, test_images):
    explorer = LatentExplorer({"dense": vae2}, images=test_images)
    z_mean, _ = vae2.encode(test_images)
    index = int(np.flatnonzero(np.abs(z_mean).max(axis=1) < 2.9)[3])
    explorer.index.value = index
    np.testing.assert_array_equal(shown_original := np.asarray(
        Image.open(io.BytesIO(explorer.original.value)))[::8, ::8],
        image_to_uint8(test_images[index]))
    assert shown_original.shape == (28, 28)
    explorer.encode_button.click()
    # the sliders hold z_mean to their step, 0.01, as a browser would snap it
    np.testing.assert_allclose(explorer.code, z_mean[index], atol=0.005 + 1e-9)
    assert np.abs(explorer.code - z_mean[index]).max() > 0      # really rounded
    np.testing.assert_allclose(explorer.code * 100, np.round(explorer.code * 100), atol=1e-6)
    assert_matches(explorer, vae2, explorer.code)
    assert f"encoded test image {index}" in explorer.status.value
    image = explorer.image.value
    explorer.sliders[0].value += 1e-12      # a browser echoing the value back
    assert explorer.image.value is image and "encoded" in explorer.status.value


def test_reset_button_returns_to_the_origin(vae2, test_images):
    explorer = LatentExplorer({"dense": vae2}, images=test_images)
    explorer.set_code([2.0, -1.0])
    explorer.reset_button.click()
    np.testing.assert_array_equal(explorer.code, [0.0, 0.0])
    assert_matches(explorer, vae2, [0.0, 0.0])


def test_codes_outside_the_range_are_clipped_and_said_so(vae2):
    explorer = LatentExplorer(vae2, slider_range=2.0)
    explorer.set_code([5.0, -0.5])
    np.testing.assert_allclose(explorer.code, [2.0, -0.5])
    assert "clipped" in explorer.status.value
    assert_matches(explorer, vae2, [2.0, -0.5])


def test_switching_model_rebuilds_the_sliders(vae2, vae8, test_images):
    explorer = LatentExplorer({"2-D": vae2, "8-D": vae8}, images=test_images)
    old_sliders = explorer.sliders
    explorer.select_model("8-D")
    assert len(explorer.sliders) == 8 and explorer.latent_dim == 8
    assert len(explorer._slider_box.children) == 8
    assert all(slider not in old_sliders for slider in explorer.sliders)
    assert_matches(explorer, vae8, np.zeros(8))
    explorer.sliders[5].value = 1.0
    assert_matches(explorer, vae8, np.eye(8)[5])
    explorer.model_menu.value = "2-D"                          # the menu does the same
    assert len(explorer.sliders) == 2
    assert_matches(explorer, vae2, [0.0, 0.0])


def test_shipped_models_are_the_default_and_load_when_selected():
    explorer = LatentExplorer()
    assert list(explorer.model_menu.options) == list(PRETRAINED)
    assert list(explorer._loaded) == [explorer.model_name]     # only the first so far
    assert explorer.test_images.shape == (1000, 28, 28)       # embedded test subset
    explorer.select_model("fashion_conv")
    z_mean = explorer.encode_image(0)
    assert z_mean.shape == (2,)
    np.testing.assert_allclose(explorer.code, np.clip(z_mean, -3, 3), atol=0.005 + 1e-9)
    assert set(explorer._loaded) == {"mnist_dense", "fashion_conv"}


def test_a_model_without_images_cannot_encode(vae2):
    explorer = LatentExplorer({"mine": vae2, "shipped": "mnist_conv"})
    assert explorer.encode_button.disabled and explorer.test_images is None
    with pytest.raises(ValueError, match="no test images"):
        explorer.encode_image(0)
    explorer.select_model("shipped")
    assert not explorer.encode_button.disabled


def test_a_model_with_its_own_decode_is_shown_as_it_decodes(vae2):
    class Inverted:
        """Same decoder, but decode shows the negative: the explorer must use decode."""

        latent_dim = 2
        decoder = vae2.decoder

        def decode(self, z):
            return 1.0 - vae2.decode(z)

        def encode(self, x):
            return vae2.encode(x)

    z = np.array([0.7, -1.2], dtype=np.float32)
    inverted = Inverted()
    explorer = LatentExplorer(inverted)
    explorer.set_code(z)
    assert_matches(explorer, inverted, z)


def test_widget_and_function_forms(vae2):
    widget = latent_explorer({"mine": vae2})
    assert isinstance(widget, ipywidgets.Widget)
    explorer = LatentExplorer(vae2)
    assert explorer.widget is explorer._root
    state = ipywidgets.embed.dependency_state(explorer.widget)
    for part in [explorer.image, explorer.original, *explorer.sliders]:
        assert part.model_id in state   # everything a saved notebook needs to redraw it


# A model that needs no TensorFlow, so that the kernel below starts quickly.
DISPLAY_CELL = """
import numpy as np
from course_utils.explorer import LatentExplorer

class Grey:
    latent_dim = 2

    def decode(self, z):
        return np.full((len(z), 28, 28, 1), 0.5, np.float32)

explorer = LatentExplorer(Grey())
explorer
"""
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def test_an_explorer_as_a_cells_value_displays_its_widget_in_a_kernel(tmp_path):
    """Displayed by IPython as a kernel does it: ipywidgets 7 (Colab's) and 8 differ here."""
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell(DISPLAY_CELL),
        nbformat.v4.new_code_cell("print(explorer.widget.model_id)")])
    NotebookClient(notebook, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = notebook.cells[0].outputs
    errors = [f"{output.ename}: {output.evalue}" for output in outputs
              if output.output_type == "error"]
    assert not errors, f"displaying the explorer raised {errors}"
    printed = "".join(output.get("text", "") for output in outputs
                      if output.output_type == "stream")
    assert "Traceback" not in printed, f"displaying the explorer failed:\n{printed}"
    views = [output.data[WIDGET_VIEW] for output in outputs
             if WIDGET_VIEW in output.get("data", {})]
    assert len(views) == 1, f"expected one widget view, got these outputs: {outputs}"
    assert views[0]["model_id"] == notebook.cells[1].outputs[0].text.strip()


# --------------------------------------------------------------------- bad inputs

@pytest.mark.parametrize("models, error", [
    ({}, ValueError), ({"x": object()}, TypeError), ({"x": "no_such_model"}, ValueError),
    ({1: "mnist_conv"}, TypeError), (42, TypeError)])
def test_bad_models_are_rejected(models, error):
    with pytest.raises(error):
        LatentExplorer(models)


def test_bad_arguments_are_rejected(vae2, test_images):
    with pytest.raises(ValueError):
        LatentExplorer(vae2, images={"other": test_images})
    with pytest.raises(ValueError):
        LatentExplorer(vae2, images=np.zeros((3, 28, 28, 3)))
    with pytest.raises(ValueError):
        LatentExplorer(vae2, scale=0)
    with pytest.raises(ValueError):
        LatentExplorer(vae2, slider_range=-1.0)
    explorer = LatentExplorer(vae2, images=test_images)
    with pytest.raises(ValueError):
        explorer.set_code([0.0, 1.0, 2.0])
    with pytest.raises(ValueError):
        explorer.set_code([np.nan, 0.0])
    with pytest.raises(ValueError):
        explorer.encode_image(len(test_images))
    with pytest.raises(TypeError):
        explorer.encode_image(1.5)
    with pytest.raises(ValueError):
        explorer.select_model("nope")
