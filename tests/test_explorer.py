import base64
import io
import json
import logging

import ipywidgets
import ipywidgets.embed
import numpy as np
import pytest
from PIL import Image

from course_utils.explorer.page_decoder import decode_with_spec
from course_utils.explorer.widget import (
    ExplorerWidget,
    LatentExplorer,
    clean_image_index,
    explorer_module_source,
    image_to_uint8,
    latent_explorer,
    render_png,
    static_explorer_data,
    static_explorer_html,
)
from course_utils.models.pretrained import PRETRAINED, load_pretrained


@pytest.fixture(scope="module")
def vae2():
    return load_pretrained("mnist_dense")


@pytest.fixture(scope="module")
def vae8():
    return load_pretrained("mnist_dense_z8")


@pytest.fixture(scope="module")
def mnist_test():
    from course_utils.data.datasets import load_dataset

    return load_dataset("mnist", embedded_only=True)


@pytest.fixture(scope="module")
def test_images(mnist_test):
    return mnist_test.x_test[:50]


def grey_levels(text: str) -> np.ndarray:
    """A base64 grey-level trait (pixels, original) as a (28, 28) uint8 image."""
    return np.frombuffer(base64.b64decode(text), dtype=np.uint8).reshape(28, 28)


def shown(explorer):
    """The grey levels the page draws: decoded from the spec in the page (the page's
    JavaScript matches the spec's NumPy run to 1e-4, see test_explorer_js.py), or the
    kernel's pixels when the kernel decodes."""
    if explorer.decodes_in_page:
        probabilities = decode_with_spec(explorer.widget.spec, explorer.code[None])[0]
        return image_to_uint8(probabilities)
    return grey_levels(explorer.widget.pixels)


def expected(vae, code):
    return image_to_uint8(vae.decode(np.asarray(code, dtype=np.float32)[None])[0])


def assert_matches(explorer, vae, code):
    np.testing.assert_allclose(explorer.code, code, atol=1e-9)
    # one grey level of slack: float32 arithmetic in a different order
    difference = np.abs(shown(explorer).astype(int) - expected(vae, code).astype(int))
    assert difference.max() <= 1


def page_moves(explorer, code):
    """What the page does when a slider or the map moves: set the synced code."""
    explorer.widget.code = [float(value) for value in code]


def page_sends(explorer, **content):
    """A button in the page (Encode, Reset): a custom message to the kernel."""
    explorer.widget._handle_custom_msg(content, [])


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
    assert explorer.latent_dim == 2 and explorer.widget.slider_range == 3.0
    assert explorer.decodes_in_page and explorer.widget.key_step == 0.1
    assert_matches(explorer, vae2, [0.0, 0.0])
    before = shown(explorer)
    page_moves(explorer, [1.5, 0.0])
    assert not np.array_equal(shown(explorer), before)
    assert_matches(explorer, vae2, [1.5, 0.0])
    page_moves(explorer, [1.5, -2.2])
    assert_matches(explorer, vae2, [1.5, -2.2])
    np.testing.assert_allclose(explorer.decoded, vae2.decode(np.array([[1.5, -2.2]]))[0, ..., 0],
                               atol=1e-5)
    assert "1.50, -2.20" in explorer.status


def test_the_page_decodes_so_a_move_costs_the_kernel_nothing(vae2, monkeypatch):
    explorer = LatentExplorer({"dense": vae2})
    assert explorer.widget.spec["latent_dim"] == 2 and explorer.widget.pixels == ""
    calls = []
    monkeypatch.setattr(type(vae2), "decode", lambda self, z: calls.append(z) or 1 / 0)
    for value in np.linspace(-2, 2, 9):
        page_moves(explorer, [round(float(value), 2), 0.5])
    assert calls == [] and explorer.widget.pixels == ""       # no decode, nothing sent
    np.testing.assert_allclose(explorer.code, [2.0, 0.5])      # Python still knows the code


def test_the_kernel_decodes_what_the_page_cannot(vae2, test_images):
    class Inverted:
        """Same decoder, but decode shows the negative: the explorer must use decode."""

        latent_dim = 2
        decoder = vae2.decoder

        def decode(self, z):
            return 1.0 - vae2.decode(z)

        def encode(self, x):
            return vae2.encode(x)

    inverted = Inverted()
    explorer = LatentExplorer(inverted, images=test_images)
    assert not explorer.decodes_in_page and explorer.widget.spec is None
    assert "not a course VAE" in explorer.widget.fallback_reason
    assert_matches(explorer, inverted, [0.0, 0.0])
    page_moves(explorer, [0.7, -1.2])                          # the page sends the code ...
    assert_matches(explorer, inverted, [0.7, -1.2])            # ... the kernel sends pixels
    explorer.set_code([-0.3, 2.1])
    assert_matches(explorer, inverted, [-0.3, 2.1])
    by_choice = LatentExplorer(vae2, decode_in_page=False)    # a VAE, decoded in the kernel
    assert not by_choice.decodes_in_page and "decode_in_page" in by_choice.widget.fallback_reason
    page_moves(by_choice, [0.7, -1.2])
    assert_matches(by_choice, vae2, [0.7, -1.2])


def test_a_page_that_cannot_run_the_spec_falls_back_to_the_kernel(vae2):
    explorer = LatentExplorer({"dense": vae2})
    page_sends(explorer, event="page_failed", model="dense", error="no WebAssembly, say")
    assert not explorer.decodes_in_page and "no WebAssembly" in explorer.widget.fallback_reason
    page_moves(explorer, [0.4, 0.4])
    assert_matches(explorer, vae2, [0.4, 0.4])


def test_encode_button_moves_the_sliders_to_the_posterior_mean(vae2, test_images):
    explorer = LatentExplorer({"dense": vae2}, images=test_images)
    z_mean, _ = vae2.encode(test_images)
    index = int(np.flatnonzero(np.abs(z_mean).max(axis=1) < 2.9)[3])
    explorer.widget.index = index                             # the page's index box
    np.testing.assert_array_equal(grey_levels(explorer.widget.original),
                                  image_to_uint8(test_images[index]))
    page_sends(explorer, event="encode", index=index)
    # the code holds z_mean to the sliders' step, 0.01
    np.testing.assert_allclose(explorer.code, z_mean[index], atol=0.005 + 1e-9)
    assert np.abs(explorer.code - z_mean[index]).max() > 0      # really rounded
    np.testing.assert_allclose(explorer.code * 100, np.round(explorer.code * 100), atol=1e-6)
    assert_matches(explorer, vae2, explorer.code)
    assert f"encoded test image {index}" in explorer.status
    page_moves(explorer, explorer.code + 1e-12)                # the page echoing it back
    assert "encoded" in explorer.status


def test_reset_button_returns_to_the_origin(vae2, test_images):
    explorer = LatentExplorer({"dense": vae2}, images=test_images)
    explorer.set_code([2.0, -1.0])
    page_sends(explorer, event="reset")
    np.testing.assert_array_equal(explorer.code, [0.0, 0.0])
    assert_matches(explorer, vae2, [0.0, 0.0])
    assert "reset to the origin" in explorer.status
    explorer.set_code([1.0, 1.0])
    explorer.reset()
    np.testing.assert_array_equal(explorer.code, [0.0, 0.0])


def test_codes_outside_the_range_are_clipped_and_said_so(vae2):
    explorer = LatentExplorer(vae2, slider_range=2.0)
    explorer.set_code([5.0, -0.5])
    np.testing.assert_allclose(explorer.code, [2.0, -0.5])
    assert "clipped" in explorer.status
    assert_matches(explorer, vae2, [2.0, -0.5])
    explorer.set_code([0.125, -0.125])                         # half-way: up, as the page
    np.testing.assert_allclose(explorer.code, [0.13, -0.12])


def test_a_bad_code_from_the_page_is_put_back(vae2):
    explorer = LatentExplorer(vae2)
    explorer.set_code([1.0, 2.0])
    page_moves(explorer, [0.5, 0.5, 0.5])       # late, from a model shown before
    np.testing.assert_array_equal(explorer.code, [1.0, 2.0])
    explorer.widget.code = [float("nan"), 0.0]
    np.testing.assert_array_equal(explorer.code, [1.0, 2.0])
    page_moves(explorer, [0.1, 0.2])                          # still usable
    assert_matches(explorer, vae2, [0.1, 0.2])


def test_switching_model_rebuilds_the_sliders(vae2, vae8, test_images):
    explorer = LatentExplorer({"2-D": vae2, "8-D": vae8}, images=test_images)
    explorer.select_model("8-D")
    assert explorer.latent_dim == 8 and len(explorer.widget.code) == 8
    assert explorer.widget.active_model == explorer.widget.model_name == "8-D"
    assert explorer.widget.spec["latent_dim"] == 8 and explorer.widget.points is None
    assert_matches(explorer, vae8, np.zeros(8))
    page_moves(explorer, np.eye(8)[5])
    assert_matches(explorer, vae8, np.eye(8)[5])
    explorer.widget.model_name = "2-D"                        # the page's menu does the same
    assert explorer.latent_dim == 2 and explorer.widget.active_model == "2-D"
    assert_matches(explorer, vae2, [0.0, 0.0])


def test_a_model_that_fails_to_load_leaves_the_explorer_usable(vae2, monkeypatch):
    import course_utils.models.pretrained as pretrained

    explorer = LatentExplorer({"mine": vae2, "shipped": "mnist_conv"})

    def broken(name, **kwargs):
        raise pretrained.DataFileError(f"Model file of {name!r} is corrupted.")

    monkeypatch.setattr(pretrained, "load_pretrained", broken)
    explorer.widget.model_name = "shipped"                     # chosen in the page
    assert explorer.model_name == explorer.widget.model_name == "mine"
    assert "could not open 'shipped'" in explorer.widget.note
    with pytest.raises(pretrained.DataFileError):
        explorer.select_model("shipped")                       # from Python: raise
    page_moves(explorer, [0.3, 0.3])
    assert_matches(explorer, vae2, [0.3, 0.3])


def test_shipped_models_are_the_default_and_load_when_selected():
    explorer = LatentExplorer()
    assert explorer.widget.model_names == list(PRETRAINED)
    assert explorer._catalogue.loaded == [explorer.model_name]     # only the first so far
    assert explorer.test_images.shape == (1000, 28, 28)           # embedded test subset
    assert explorer.decodes_in_page
    explorer.select_model("fashion_conv")
    assert explorer.decodes_in_page                                # conv decoders too
    z_mean = explorer.encode_image(0)
    assert z_mean.shape == (2,)
    np.testing.assert_allclose(explorer.code, np.clip(z_mean, -3, 3), atol=0.005 + 1e-9)
    assert set(explorer._catalogue.loaded) == {"mnist_dense", "fashion_conv"}


def test_a_model_without_images_cannot_encode(vae2):
    explorer = LatentExplorer({"mine": vae2, "shipped": "mnist_conv"})
    assert explorer.widget.n_images == 0 and explorer.test_images is None
    assert explorer.widget.original == "" and explorer.widget.points is None
    with pytest.raises(ValueError, match="must have test images to encode; got none"):
        explorer.encode_image(0)
    page_sends(explorer, event="encode", index=0)               # the page: a note, no raise
    assert "must have test images to encode" in explorer.widget.note
    explorer.select_model("shipped")
    assert explorer.widget.n_images == 1000


# --------------------------------------------------------------- test images

def test_the_default_test_image_is_a_clean_one(mnist_test):
    images = mnist_test.x_test
    # test image 0 of the embedded subset has two specks beside its 0: not the default
    assert clean_image_index(images[[0, 1]]) == 1
    index = clean_image_index(images)
    assert index == 1
    explorer = LatentExplorer({"conv": "mnist_conv"})
    assert explorer.widget.index == index
    np.testing.assert_array_equal(grey_levels(explorer.widget.original),
                                  image_to_uint8(images[index]))


def test_clean_image_index_skips_stray_marks_and_faint_specks():
    blob = np.zeros((28, 28))
    blob[8:20, 10:16] = 1.0
    with_dot, with_speck = blob.copy(), blob.copy()
    with_dot[5, 24] = 0.9           # a second piece of ink
    with_speck[27, 0] = 0.05        # faint, but outside the digit's box
    assert clean_image_index(np.stack([with_dot, with_speck, blob])) == 2
    assert clean_image_index(np.stack([with_dot, blob, blob])) == 1


def test_the_index_from_the_page_is_kept_in_range(vae2, test_images):
    explorer = LatentExplorer(vae2, images=test_images)
    explorer.widget.index = 500
    assert explorer.widget.index == len(test_images) - 1
    np.testing.assert_array_equal(grey_levels(explorer.widget.original),
                                  image_to_uint8(test_images[-1]))


def test_the_2d_map_holds_the_test_codes_and_their_classes(vae2, mnist_test):
    explorer = LatentExplorer({"mine": vae2}, images=mnist_test.x_test[:300],
                              labels=mnist_test.y_test[:300])
    points = explorer.widget.points
    codes = np.frombuffer(base64.b64decode(points["codes"]), dtype="<f4").reshape(-1, 2)
    np.testing.assert_allclose(codes, vae2.encode(mnist_test.x_test[:300])[0], atol=1e-6)
    labels = np.frombuffer(base64.b64decode(points["labels"]), dtype=np.uint8)
    np.testing.assert_array_equal(labels, mnist_test.y_test[:300])
    assert points["class_names"] == [str(k) for k in range(10)]
    shipped = LatentExplorer({"fashion": "fashion_conv"}).widget.points
    assert shipped["class_names"][0] == "T-shirt/top" and len(shipped["class_names"]) == 10
    unlabelled = LatentExplorer(vae2, images=mnist_test.x_test[:20]).widget.points
    assert unlabelled["labels"] is None

    class DecodeOnly:
        latent_dim = 2

        def decode(self, z):
            return vae2.decode(z)

    assert LatentExplorer(DecodeOnly(), images=mnist_test.x_test[:20]).widget.points is None


# ------------------------------------------------------------------ the widget

def test_widget_and_function_forms(vae2):
    widget = latent_explorer({"mine": vae2})
    assert isinstance(widget, ExplorerWidget) and isinstance(widget, ipywidgets.Widget)
    explorer = LatentExplorer(vae2)
    assert isinstance(explorer.widget, ExplorerWidget)
    assert explorer.widget._esm == explorer_module_source()
    assert "export default { render }" in explorer.widget._esm
    assert explorer.widget.model_id in ipywidgets.embed.dependency_state(explorer.widget)
    synced = explorer.widget.get_state()
    for trait in ("code", "spec", "model_names", "latent_dim", "original", "points"):
        assert trait in synced        # everything the page needs, in the widget's state
    json.dumps(synced)


def test_many_models_print_no_retracing_warning(caplog):
    from course_utils.models.vae import build_dense_vae

    models = {f"model {k}": build_dense_vae(2, hidden=(8,)) for k in range(6)}
    explorer = LatentExplorer(models)
    with caplog.at_level(logging.WARNING):
        for name in models:
            explorer.select_model(name)
            explorer.set_code([0.5, 0.5])
            explorer.decoded  # noqa: B018  (decodes in Python)
    assert not [record for record in caplog.records if "retracing" in record.getMessage()]


# A model that needs no TensorFlow, so that the kernel below starts quickly.
DISPLAY_CELL = """
import numpy as np
from course_utils.explorer.widget import LatentExplorer

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


# ------------------------------------------------------------ the static page

def test_static_data_holds_what_a_page_without_a_kernel_needs(mnist_test):
    data = static_explorer_data({"conv": "mnist_conv", "z8": "mnist_dense_z8"}, n_images=12)
    assert data["model_names"] == ["conv", "z8"] and data["image_shape"] == [28, 28]
    assert data["slider_range"] == 3.0 and data["key_step"] == 0.1
    conv = data["models"]["conv"]
    assert conv["spec"]["latent_dim"] == 2 and conv["n_images"] == 12
    assert conv["default_index"] == clean_image_index(mnist_test.x_test[:12])
    images = np.frombuffer(base64.b64decode(conv["images"]), np.uint8).reshape(12, 28, 28)
    np.testing.assert_array_equal(images[3], image_to_uint8(mnist_test.x_test[3]))
    codes = np.frombuffer(base64.b64decode(conv["codes"]), "<f4").reshape(12, 2)
    np.testing.assert_allclose(codes, load_pretrained("mnist_conv").encode(
        mnist_test.x_test[:12])[0], atol=1e-5)
    assert conv["points"] is not None and data["models"]["z8"]["points"] is None
    json.dumps(data)


def test_static_html_is_a_self_contained_snippet(vae2):
    data = static_explorer_data({"dense": "mnist_dense"}, n_images=3)
    html = static_explorer_html(data, element_id="explorer-06")
    assert html.startswith('<div id="explorer-06"')
    start = html.index('id="explorer-06-data">') + len('id="explorer-06-data">')
    payload = html[start:html.index("</script>", start)]
    assert json.loads(payload.replace("<\\/", "</")) == data
    assert explorer_module_source() in html and "mountStatic(" in html
    assert "http://" not in html and "https://" not in html    # nothing from the network
    with pytest.raises(ValueError, match="element_id"):
        static_explorer_html(data, element_id="1 <bad>")
    with pytest.raises(ValueError, match="static_explorer_data"):
        static_explorer_html({"models": {}})

    class Grey:
        latent_dim = 2

        def decode(self, z):
            return np.full((len(z), 28, 28, 1), 0.5, np.float32)

    with pytest.raises(ValueError, match="cannot be decoded in a page"):
        static_explorer_data({"grey": Grey()})


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
    with pytest.raises(ValueError, match="labels"):
        LatentExplorer(vae2, images=test_images, labels=np.zeros(7, dtype=int))
    with pytest.raises(ValueError, match="labels"):
        LatentExplorer(vae2, labels=np.zeros(50, dtype=int))       # labels without images
    with pytest.raises(ValueError, match="labels"):
        LatentExplorer(vae2, images=test_images, labels=np.full(50, 0.5))
    with pytest.raises(ValueError):
        LatentExplorer(vae2, scale=0)
    with pytest.raises(ValueError):
        LatentExplorer(vae2, slider_range=-1.0)
    with pytest.raises(TypeError, match="decode_in_page"):
        LatentExplorer(vae2, decode_in_page="no")
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
    explorer.set_code([0.2, 0.2])                                  # still usable
    assert_matches(explorer, vae2, [0.2, 0.2])
