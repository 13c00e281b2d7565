"""The latent explorer: move sliders through a VAE's latent space and watch the decoder.

One slider per latent dimension (each over +-3 standard deviations of the prior
N(0, I), in steps of 0.01); the image decoded from the sliders' code is redrawn as a slider moves. A
menu picks the model (by default the small models shipped with the package, so
nothing needs training first; pass your own VAE instead), a button encodes a test
image and moves the sliders to its code (the posterior mean), and another button
resets the code to the origin. Use in a notebook::

    from course_utils.explorer import LatentExplorer
    explorer = LatentExplorer()             # shipped models, their embedded test images
    explorer                                # displays the widget
    LatentExplorer({"my VAE": vae}, images=data.x_test)   # your own model

Everything the buttons and sliders do is also a method (:meth:`LatentExplorer.set_code`,
:meth:`~LatentExplorer.encode_image`, :meth:`~LatentExplorer.reset`,
:meth:`~LatentExplorer.select_model`), so it can be scripted and tested without a
browser. Images are sent to the browser as PNG bytes (dark ink on white, like the
course's figures), enlarged with nearest-neighbour pixels.

A slider update calls the model's ``decode`` on one code; for a course VAE that is
a traced TensorFlow function, about a millisecond per update.

Moving the sliders of a displayed explorer from code while the browser is still
creating its views (in the same "Run All") can leave the page showing stale slider
positions, an ipywidgets front-end race; script an explorer that is not displayed,
or wait until it has appeared.
"""

from __future__ import annotations

import html
import io
from typing import Any, Mapping

import numpy as np

from course_utils._validation import check_array, check_images, check_positive_int
from course_utils.latent_space import decode_point

__all__ = ["LatentExplorer", "image_to_uint8", "latent_explorer", "render_png"]

DEFAULT_SCALE = 8
SLIDER_STEP = 0.01  # the browser snaps slider values to this step


# ---------------------------------------------------------------------- rendering

def image_to_uint8(image: object) -> np.ndarray:
    """Quantise pixel probabilities to the grey levels the explorer shows.

    Parameters
    ----------
    image : array-like of shape (h, w) or (h, w, 1)
        Values in [0, 1] (values outside are clipped).

    Returns
    -------
    numpy.ndarray of shape (h, w), uint8
        ``round(255 * (1 - p))``: ink (p = 1) is black, background (p = 0) white.
    """
    pixels = check_array(image, "image", ndim=(2, 3))
    if pixels.ndim == 3:
        if pixels.shape[-1] != 1:
            raise ValueError(f"image must be greyscale, shape (h, w) or (h, w, 1); got "
                             f"shape {pixels.shape}.")
        pixels = pixels[..., 0]
    return np.rint(255.0 * (1.0 - np.clip(pixels, 0.0, 1.0))).astype(np.uint8)


def render_png(image: object, scale: int = DEFAULT_SCALE) -> bytes:
    """PNG bytes of an image, each pixel drawn as a ``scale x scale`` block.

    Parameters
    ----------
    image : array-like of shape (h, w) or (h, w, 1)
        Pixel probabilities in [0, 1].
    scale : int
        Enlargement factor (nearest neighbour, so pixels stay sharp).

    Returns
    -------
    bytes
        A greyscale PNG of ``h * scale`` by ``w * scale`` pixels; reading it back and
        taking every ``scale``-th pixel gives :func:`image_to_uint8` of ``image``.
    """
    from PIL import Image

    scale = check_positive_int(scale, "scale")
    grey = image_to_uint8(image)
    enlarged = np.repeat(np.repeat(grey, scale, axis=0), scale, axis=1)
    buffer = io.BytesIO()
    Image.fromarray(enlarged, mode="L").save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


# ----------------------------------------------------------------------- decoding

def _model_latent_dim(model: object, name: str) -> int:
    latent_dim = getattr(model, "latent_dim", None)
    if not callable(getattr(model, "decode", None)) or isinstance(latent_dim, bool) \
            or not isinstance(latent_dim, (int, np.integer)) or latent_dim < 1:
        raise TypeError(f"models[{name!r}] must be a VAE (with decode(z) and an integer "
                        f"latent_dim) or the name of a shipped model; got "
                        f"{type(model).__name__}.")
    return int(latent_dim)


# ----------------------------------------------------------------------- explorer

class LatentExplorer:
    """Sliders over a VAE's latent space, the decoded image, and a choice of model.

    Parameters
    ----------
    models : None, VAE, or mapping of str to (VAE or str)
        None: every shipped model of :data:`course_utils.pretrained.PRETRAINED`,
        each loaded when first selected. A single VAE: that model alone. A mapping:
        menu label -> VAE, or -> the name of a shipped model (loaded when selected).
    images : None, array of shape (n, 28, 28[, 1]), or mapping of str to such arrays
        Test images the encode button can choose from: one array for every model,
        or one per menu label. Shipped models without images of their own use the
        embedded test subset of the dataset they were trained on; a model of yours
        without images cannot encode (the button is disabled).
    scale : int
        Screen pixels per image pixel.
    slider_range : float
        Each slider runs over ``[-slider_range, slider_range]``: prior standard
        deviations, since the prior is N(0, I).

    Attributes
    ----------
    model_menu : ipywidgets.Dropdown
    sliders : list of ipywidgets.FloatSlider
        One per latent dimension of the current model, ``z1, z2, ...``.
    image, original : ipywidgets.Image
        The decoded image and the chosen test image (PNG).
    index : ipywidgets.BoundedIntText
        Which test image the encode button uses.
    encode_button, reset_button : ipywidgets.Button
    status : ipywidgets.HTML
        The current code, and what the last action did.
    decoded : numpy.ndarray of shape (28, 28)
        Pixel probabilities of the image on display.
    """

    def __init__(self, models: object = None, images: object = None, *,
                 scale: int = DEFAULT_SCALE, slider_range: float = 3.0) -> None:
        import ipywidgets as widgets

        self._widgets = widgets
        self.scale = check_positive_int(scale, "scale")
        if isinstance(slider_range, bool) or not isinstance(slider_range, (int, float)) \
                or not 0 < slider_range < 100:
            raise ValueError(f"slider_range must be a positive number of prior standard "
                             f"deviations such as 3.0; got {slider_range!r}.")
        self.slider_range = float(slider_range)
        self._sources = self._check_models(models)
        self._images = self._check_image_sets(images)
        self._loaded: dict[str, Any] = {}
        self._dataset_images: dict[str, np.ndarray] = {}
        self._busy = False
        self._note = ""

        first = next(iter(self._sources))
        self.model_menu = widgets.Dropdown(options=list(self._sources), value=first,
                                           description="model")
        self.sliders: list = []
        self._slider_box = widgets.VBox()
        size = f"{28 * self.scale}px"
        self.image = widgets.Image(format="png", width=size, height=size)
        self.original = widgets.Image(format="png", width=size, height=size)
        self.index = widgets.BoundedIntText(value=0, min=0, max=0, description="test image")
        self.encode_button = widgets.Button(description="Encode test image",
                                            tooltip="move the sliders to this image's code")
        self.reset_button = widgets.Button(description="Reset to origin",
                                           tooltip="set every slider to 0")
        self.status = widgets.HTML()
        self._root = widgets.HBox([
            widgets.VBox([self.model_menu, self._slider_box,
                          widgets.HBox([self.index, self.encode_button]),
                          self.reset_button, self.status]),
            widgets.VBox([widgets.HTML("<b>decoded from the code</b>"), self.image]),
            widgets.VBox([widgets.HTML("<b>test image</b>"), self.original]),
        ])
        self.model_menu.observe(self._on_model_change, names="value")
        self.index.observe(self._on_index_change, names="value")
        self.encode_button.on_click(lambda _: self.encode_image(self.index.value))
        self.reset_button.on_click(lambda _: self.reset())
        self._activate(first)

    # ------------------------------------------------------------------ checks

    @staticmethod
    def _check_models(models: object) -> dict[str, object]:
        from course_utils.pretrained import PRETRAINED

        if models is None:
            return {name: name for name in PRETRAINED}
        if not isinstance(models, Mapping):
            _model_latent_dim(models, "your model")
            return {"your model": models}
        if not models:
            raise ValueError("models must name at least one model; got an empty mapping.")
        sources = {}
        for label, model in models.items():
            if not isinstance(label, str):
                raise TypeError(f"model labels must be strings; got {label!r}.")
            if isinstance(model, str):
                if model not in PRETRAINED:
                    raise ValueError(f"models[{label!r}] = {model!r} is not a shipped model; "
                                     f"the shipped models are {sorted(PRETRAINED)}.")
            else:
                _model_latent_dim(model, label)
            sources[label] = model
        return sources

    def _check_image_sets(self, images: object) -> dict[str, np.ndarray] | np.ndarray | None:
        if images is None:
            return None
        if isinstance(images, Mapping):
            unknown = sorted(set(images) - set(self._sources))
            if unknown:
                raise ValueError(f"images has entries {unknown} for models that are not in "
                                 f"the menu {list(self._sources)}.")
            return {label: check_images(value, f"images[{label!r}]")
                    for label, value in images.items()}
        return check_images(images, "images")

    # ------------------------------------------------------------ properties

    @property
    def widget(self):
        """The widget to display (an ``ipywidgets.HBox``)."""
        return self._root

    def _ipython_display_(self) -> None:
        """Display :attr:`widget`, so that an explorer shows as a notebook cell's value.

        IPython (7 to 9) prefers this hook to any ``_repr_*_`` method. Handing the widget
        to ``display`` lets the installed ipywidgets use its own protocol:
        ``_ipython_display_`` in ipywidgets 7 (Colab's), ``_repr_mimebundle_`` in 8.
        """
        from IPython.display import display

        display(self._root)

    @property
    def model_name(self) -> str:
        """The menu label of the current model."""
        return self.model_menu.value

    @property
    def model(self) -> object:
        """The current model (loading a shipped one if needed)."""
        return self._model(self.model_name)

    @property
    def latent_dim(self) -> int:
        return len(self.sliders)

    @property
    def code(self) -> np.ndarray:
        """The sliders' values, shape ``(latent_dim,)``."""
        return np.array([slider.value for slider in self.sliders], dtype=np.float64)

    @property
    def test_images(self) -> np.ndarray | None:
        """The images the encode button chooses from for the current model, ``(n, 28, 28)``."""
        return self._test_images(self.model_name)

    # ------------------------------------------------------------- actions

    def select_model(self, name: str) -> None:
        """Switch to the model with menu label ``name`` (as the menu does)."""
        if name not in self._sources:
            raise ValueError(f"no model is called {name!r} here; choose one of "
                             f"{list(self._sources)}.")
        self.model_menu.value = name

    def set_code(self, z: object) -> None:
        """Move the sliders to code ``z`` and redraw once.

        Each value is clipped to the slider range and rounded to the slider step
        (0.01), as a browser would snap it; :attr:`code` and the image then show
        exactly what the sliders show.

        Parameters
        ----------
        z : array-like of shape (latent_dim,)
        """
        code = check_array(z, "z", ndim=1)
        if code.shape != (self.latent_dim,):
            raise ValueError(f"z must have shape ({self.latent_dim},) for model "
                             f"{self.model_name!r}; got shape {code.shape}.")
        if not np.all(np.isfinite(code)):
            raise ValueError(f"z must be finite; got {code}.")
        clipped = np.clip(code.astype(np.float64), -self.slider_range, self.slider_range)
        self._note = ("" if np.array_equal(clipped, code) else
                      f"clipped to the slider range +-{self.slider_range:g}; ")
        snapped = np.round(np.round(clipped / SLIDER_STEP) * SLIDER_STEP, 10)
        self._busy = True
        try:
            for slider, value in zip(self.sliders, snapped):
                slider.value = float(value)
        finally:
            self._busy = False
        self._update()

    def reset(self) -> None:
        """Move every slider to 0, the prior's mean (the reset button)."""
        self.set_code(np.zeros(self.latent_dim))
        self._note = "reset to the origin; "
        self._show_status()

    def encode_image(self, index: int) -> np.ndarray:
        """Encode test image ``index`` and move the sliders to its posterior mean.

        Returns
        -------
        numpy.ndarray of shape (latent_dim,)
            ``z_mean`` of the image, before it is clipped and rounded to the sliders.
        """
        images = self.test_images
        if images is None:
            raise ValueError(f"model {self.model_name!r} has no test images to encode; pass "
                             "images=... when you create the explorer.")
        index = check_positive_int(index, "index", minimum=0)
        if index >= len(images):
            raise ValueError(f"index must be below {len(images)}, the number of test "
                             f"images; got {index}.")
        self.index.value = index
        z_mean, _ = self.model.encode(images[index:index + 1])
        z_mean = np.asarray(z_mean, dtype=np.float64)[0]
        self.set_code(z_mean)
        self._note = f"encoded test image {index}; " + self._note
        self._show_status()
        return z_mean

    # ------------------------------------------------------------ internals

    def _model(self, name: str) -> object:
        if name not in self._loaded:
            source = self._sources[name]
            if isinstance(source, str):
                from course_utils.pretrained import load_pretrained

                source = load_pretrained(source)
            self._loaded[name] = source
        return self._loaded[name]

    def _test_images(self, name: str) -> np.ndarray | None:
        if isinstance(self._images, dict):
            if name in self._images:
                return self._images[name]
        elif self._images is not None:
            return self._images
        source = self._sources[name]
        if not isinstance(source, str):
            return None
        from course_utils.pretrained import PRETRAINED

        dataset = PRETRAINED[source].dataset
        if dataset not in self._dataset_images:
            from course_utils.data import load_dataset

            self._dataset_images[dataset] = check_images(
                load_dataset(dataset, embedded_only=True).x_test, "test images")
        return self._dataset_images[dataset]

    def _activate(self, name: str) -> None:
        model = self._model(name)
        latent_dim = _model_latent_dim(model, name)
        for slider in self.sliders:
            slider.close()
        self.sliders = [
            self._widgets.FloatSlider(value=0.0, min=-self.slider_range,
                                      max=self.slider_range, step=SLIDER_STEP,
                                      description=f"z{i + 1}", continuous_update=True,
                                      readout_format=".2f",
                                      layout=self._widgets.Layout(width="380px"))
            for i in range(latent_dim)]
        for slider in self.sliders:
            slider.observe(self._on_slider, names="value")
        self._slider_box.children = tuple(self.sliders)
        images = self._test_images(name)
        can_encode = images is not None
        self.encode_button.disabled = self.index.disabled = not can_encode
        if can_encode:
            self.index.max = len(images) - 1
            self.index.value = min(self.index.value, len(images) - 1)
        self._show_original()
        self._note = f"model {name!r}, {latent_dim}-D latent space; "
        self._update()

    def _update(self) -> None:
        if self._busy:
            return
        model = self._model(self.model_name)
        self.decoded = decode_point(model, self.code.astype(np.float32))
        self.image.value = render_png(self.decoded, self.scale)
        self._show_status()

    def _show_status(self) -> None:
        values = ", ".join(f"{value:.2f}" for value in self.code)
        self.status.value = (f"<small>{html.escape(self._note)}z = ({values}), "
                             f"|z| = {np.linalg.norm(self.code):.2f}</small>")

    def _show_original(self) -> None:
        images = self.test_images
        if images is None:
            self.original.value = render_png(np.zeros((28, 28)), self.scale)
        else:
            self.original.value = render_png(images[self.index.value], self.scale)

    def _on_slider(self, change: dict) -> None:
        if abs(change["new"] - change["old"]) < 1e-9:
            return  # the browser echoing a value back, rounded differently
        if not self._busy:  # a hand on a slider; set_code redraws once itself
            self._note = ""
            self._update()

    def _on_index_change(self, change: dict) -> None:
        self._show_original()

    def _on_model_change(self, change: dict) -> None:
        self._activate(change["new"])


def latent_explorer(models: object = None, images: object = None, *,
                    scale: int = DEFAULT_SCALE, slider_range: float = 3.0):
    """Build a :class:`LatentExplorer` and return its widget.

    Parameters are those of :class:`LatentExplorer`.

    Returns
    -------
    ipywidgets.Widget
        Display it as a cell's value. (Keep a :class:`LatentExplorer` instead if you
        want to move the sliders from code.)
    """
    return LatentExplorer(models, images, scale=scale, slider_range=slider_range).widget
