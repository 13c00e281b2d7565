"""The latent explorer: move through a VAE's latent space and watch the decoder.

One slider per latent dimension (each over +-3 standard deviations of the prior
N(0, I)); the image decoded from the code is redrawn as a slider moves. A menu picks the
model (by default the small models shipped with the package, so nothing needs training
first; pass your own VAE instead), a button encodes a test image and moves the code to
its posterior mean, and another resets the code to the origin. For 2-D models a map of
the test images' codes, coloured by class, sets the code on click or drag. Use in a
notebook::

    from course_utils.explorer.widget import LatentExplorer
    explorer = LatentExplorer()             # shipped models, their embedded test images
    explorer                                # displays the widget
    LatentExplorer({"my VAE": vae}, images=data.x_test, labels=data.y_test)

**Where it decodes.** The widget is an anywidget: its front end is one ES module
(``js/``) that runs in JupyterLab, Notebook 7, Colab (ipywidgets 7) and VS
Code. For the course's dense and convolutional decoders, the decoder's weights go to
the browser once (:func:`course_utils.explorer.page_decoder.export_decoder`) and every slider
move is decoded there, in JavaScript, with no round trip to the kernel; the code goes
back to Python a few times a second, so :attr:`LatentExplorer.code` stays right. Any
other model (say a VAE with a decoder layer the page does not know) is decoded in the
kernel, as before: the browser sends the code, Python decodes and sends the pixels.

Everything the controls do is also a method (:meth:`LatentExplorer.set_code`,
:meth:`~LatentExplorer.encode_image`, :meth:`~LatentExplorer.reset`,
:meth:`~LatentExplorer.select_model`), so it can be scripted and tested without a
browser. The same module also runs on a static web page with no kernel:
:func:`static_explorer_html` writes a self-contained snippet for the shipped models.
"""

from __future__ import annotations

import base64
import io
import json
import re
from functools import cache
from pathlib import Path
from typing import Any, Mapping

import anywidget
import numpy as np
import traitlets
from numpy.typing import ArrayLike

from course_utils._validation import check_array, check_images, check_positive_int

__all__ = [
    "ExplorerWidget",
    "LatentExplorer",
    "clean_image_index",
    "explorer_module_source",
    "image_to_uint8",
    "latent_explorer",
    "render_png",
    "static_explorer_data",
    "static_explorer_html",
]

DEFAULT_SCALE = 8
SLIDER_STEP = 0.01   # codes are snapped to this grid, as the page's sliders snap them
KEY_STEP = 0.1       # one arrow-key press in the page
MAP_POINTS = 2000    # at most this many test codes on the 2-D map
JS_DIR = Path(__file__).resolve().parent / "js"
_JS_IMPORT = 'import { base64ToBytes, loadDecoder } from "./decoder.js";'
STATIC_FORMAT = "course-utils-explorer"
#: Test images (or labels): one array for every model, or one per menu label.
_PerModel = ArrayLike | Mapping[str, ArrayLike] | None


# ---------------------------------------------------------------------- rendering

def image_to_uint8(image: ArrayLike) -> np.ndarray:
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
                             f"shape {pixels.shape}. Keep one channel, e.g. image[..., :1].")
        pixels = pixels[..., 0]
    return np.rint(255.0 * (1.0 - np.clip(pixels, 0.0, 1.0))).astype(np.uint8)


def render_png(image: ArrayLike, scale: int = DEFAULT_SCALE) -> bytes:
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


def _base64(array: np.ndarray, dtype: str) -> str:
    return base64.b64encode(np.ascontiguousarray(array, dtype=dtype).tobytes()).decode("ascii")


def _grey_base64(image: np.ndarray) -> str:
    """Grey levels of an image (h, w) as base64 bytes, row by row (the page draws them)."""
    return _base64(image_to_uint8(image), "u1")


def _snap(values: np.ndarray, limit: float) -> np.ndarray:
    """Clip to ``[-limit, limit]`` and round half up to the 0.01 grid, as the page does."""
    clipped = np.clip(np.asarray(values, dtype=np.float64), -limit, limit)
    return np.floor(clipped / SLIDER_STEP + 0.5) / round(1 / SLIDER_STEP)


# ------------------------------------------------------------------ test images

def _ink_components(mask: np.ndarray) -> list[np.ndarray]:
    """The 8-connected components of a boolean image, as arrays of (row, col)."""
    seen = np.zeros_like(mask, dtype=bool)
    components = []
    for start in zip(*np.nonzero(mask)):
        if seen[start]:
            continue
        seen[start] = True
        stack, members = [start], []
        while stack:
            row, col = stack.pop()
            members.append((row, col))
            for dr in (-1, 0, 1):
                for dc in (-1, 0, 1):
                    r, c = row + dr, col + dc
                    if 0 <= r < mask.shape[0] and 0 <= c < mask.shape[1] and mask[r, c] \
                            and not seen[r, c]:
                        seen[r, c] = True
                        stack.append((r, c))
        components.append(np.array(members))
    return components


def clean_image_index(images: ArrayLike, *, ink: float = 0.2, limit: int = 200) -> int:
    """Index of the first image whose ink is one piece, with no stray marks beside it.

    An image counts as clean when its pixels above ``ink`` form one 8-connected
    component and every pixel outside that component's bounding box is exactly 0
    (no faint specks either).

    Parameters
    ----------
    images : array-like of shape (n, h, w) or (n, h, w, 1)
        Pixel values in [0, 1].
    ink : float
        The grey level above which a pixel counts as ink.
    limit : int
        Look at the first ``limit`` images only.

    Returns
    -------
    int
        That index, or 0 if none of the first ``limit`` images is clean.
    """
    batch = check_images(images, "images")
    for index, image in enumerate(batch[:limit]):
        components = _ink_components(image > ink)
        if len(components) != 1:
            continue
        (top, left), (bottom, right) = components[0].min(axis=0), components[0].max(axis=0)
        outside = image.copy()
        outside[top:bottom + 1, left:right + 1] = 0.0
        if not outside.any():
            return index
    return 0


# ------------------------------------------------------------------- the module

@cache
def explorer_module_source() -> str:
    """The explorer's front end as one ES module: ``decoder.js`` then ``explorer.js``.

    The notebook widget runs it (as anywidget's ``_esm``) and so does the static page.
    It exports ``default`` (``{render}``, anywidget's entry point), ``mountStatic``,
    ``createStaticModel`` and ``loadDecoder``.

    Returns
    -------
    str
        JavaScript source.
    """
    decoder = (JS_DIR / "decoder.js").read_text(encoding="utf-8")
    explorer = (JS_DIR / "explorer.js").read_text(encoding="utf-8")
    first_line, _, rest = explorer.partition("\n")
    if first_line.strip() != _JS_IMPORT:
        raise RuntimeError(f"{JS_DIR / 'explorer.js'} must start with the line {_JS_IMPORT!r}"
                           f" (it is bundled after decoder.js); it starts {first_line!r}.")
    return f"{decoder}\n// ---- explorer.js ----\n{rest}"


class ExplorerWidget(anywidget.AnyWidget):
    """The explorer's synced state; its front end is :func:`explorer_module_source`.

    :class:`LatentExplorer` owns one and reacts to its changes; a page with no kernel
    holds the same traits in a plain object. Codes and images travel as plain lists and
    base64 strings, which ipywidgets 7 and 8 both carry unchanged.
    """

    _esm = explorer_module_source()
    #: menu entries and the one chosen there (the page sets ``model_name``)
    model_names = traitlets.List(traitlets.Unicode()).tag(sync=True)
    model_name = traitlets.Unicode().tag(sync=True)
    #: the model whose data the traits below hold, set last when switching
    active_model = traitlets.Unicode().tag(sync=True)
    latent_dim = traitlets.Int(0).tag(sync=True)
    slider_range = traitlets.Float(3.0).tag(sync=True)
    key_step = traitlets.Float(KEY_STEP).tag(sync=True)
    scale = traitlets.Int(DEFAULT_SCALE).tag(sync=True)
    image_shape = traitlets.List(traitlets.Int(), default_value=[28, 28]).tag(sync=True)
    #: the current code, shape (latent_dim,); set by the page and by Python
    code = traitlets.List(traitlets.Float()).tag(sync=True)
    #: the decoder spec (page_decoder.export_decoder), or None: the kernel decodes
    spec = traitlets.Dict(default_value=None, allow_none=True).tag(sync=True)
    fallback_reason = traitlets.Unicode().tag(sync=True)
    #: grey levels (base64 uint8, h * w) decoded by the kernel, when there is no spec
    pixels = traitlets.Unicode().tag(sync=True)
    #: the chosen test image (grey levels, like pixels), its index, how many there are
    original = traitlets.Unicode().tag(sync=True)
    index = traitlets.Int(0).tag(sync=True)
    n_images = traitlets.Int(0).tag(sync=True)
    #: for 2-D models: {"codes": base64 float32 (n, 2), "labels": base64 uint8 (n,) or
    #: None, "class_names": [...]}; None otherwise
    points = traitlets.Dict(default_value=None, allow_none=True).tag(sync=True)
    #: what the last action did, shown before the code
    note = traitlets.Unicode().tag(sync=True)


# -------------------------------------------------------------------- the models

def _model_latent_dim(model: object, name: str) -> int:
    latent_dim = getattr(model, "latent_dim", None)
    if not callable(getattr(model, "decode", None)) or isinstance(latent_dim, bool) \
            or not isinstance(latent_dim, (int, np.integer)) or latent_dim < 1:
        raise TypeError(f"models[{name!r}] must be a VAE (with decode(z) and an integer "
                        f"latent_dim) or the name of a shipped model; got "
                        f"{type(model).__name__}. Pass a course VAE, or a name such as "
                        "'mnist_dense'.")
    return int(latent_dim)


def _check_sources(models: object) -> dict[str, object]:
    from course_utils.models.pretrained import PRETRAINED

    if models is None:
        return {name: name for name in PRETRAINED}
    if not isinstance(models, Mapping):
        _model_latent_dim(models, "your model")
        return {"your model": models}
    if not models:
        raise ValueError("models must name at least one model; got an empty mapping. Pass "
                         "None for the shipped models, or {'label': vae}.")
    sources = {}
    for label, model in models.items():
        if not isinstance(label, str):
            raise TypeError(f"model labels must be strings; got {label!r}. Use the menu "
                            "text as the key, e.g. {'my VAE': vae}.")
        if isinstance(model, str):
            if model not in PRETRAINED:
                raise ValueError(f"models[{label!r}] must be the name of a shipped model, "
                                 f"one of {sorted(PRETRAINED)}; got {model!r}. Pick one of "
                                 "those names.")
        else:
            _model_latent_dim(model, label)
        sources[label] = model
    return sources


def _per_model(value: object, sources: Mapping[str, object], name: str,
               check: Any) -> dict[str, Any] | Any:
    """``value`` checked with ``check``: one for all models, or a mapping per menu label."""
    if value is None:
        return None
    if isinstance(value, Mapping):
        unknown = sorted(set(value) - set(sources))
        if unknown:
            raise ValueError(f"the keys of {name} must be models of the menu "
                             f"{list(sources)}; got {unknown} too. Drop those entries or "
                             "add the models.")
        return {label: check(item, f"{name}[{label!r}]") for label, item in value.items()}
    return check(value, name)


def _check_labels(value: object, name: str) -> np.ndarray:
    labels = np.asarray(value)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer) or \
            (labels.size and (labels.min() < 0 or labels.max() > 255)):
        raise ValueError(f"{name} must be integer class labels 0-255, shape (n,); got "
                         f"{labels.dtype} of shape {labels.shape}. Pass e.g. data.y_test.")
    return labels


class _Catalogue:
    """The menu's models, loaded when first needed, with their test images and page specs."""

    def __init__(self, models: object, images: _PerModel, labels: _PerModel) -> None:
        self.sources = _check_sources(models)
        self.images = _per_model(images, self.sources, "images", check_images)
        self.labels = _per_model(labels, self.sources, "labels", _check_labels)
        self._loaded: dict[str, Any] = {}
        self._datasets: dict[str, Any] = {}
        self._specs: dict[str, tuple[dict | None, str]] = {}
        self._points: dict[str, dict | None] = {}
        self._clean: dict[str, int] = {}
        for label in self.sources:
            own_images = self._own(self.images, label)
            own_labels = self._own(self.labels, label)
            if own_labels is not None and (own_images is None
                                           or len(own_labels) != len(own_images)):
                raise ValueError(f"labels for {label!r} must come with images, one label per "
                                 f"image ({0 if own_images is None else len(own_images)}); "
                                 f"got {len(own_labels)} labels. Pass images too, with as many "
                                 "images as labels.")

    def model(self, name: str) -> Any:  # a course VAE, or a model with decode, latent_dim
        if name not in self._loaded:
            source = self.sources[name]
            if isinstance(source, str):
                from course_utils.models.pretrained import load_pretrained

                source = load_pretrained(source)
            self._loaded[name] = source
        return self._loaded[name]

    @property
    def loaded(self) -> list[str]:
        return list(self._loaded)

    def _dataset(self, name: str, load: bool = True):
        source = self.sources[name]
        if not isinstance(source, str):
            return None
        from course_utils.models.pretrained import PRETRAINED

        dataset = PRETRAINED[source].dataset
        if dataset not in self._datasets and load:
            from course_utils.data.datasets import load_dataset

            self._datasets[dataset] = load_dataset(dataset, embedded_only=True)
        return self._datasets.get(dataset)

    def _own(self, table: object, name: str) -> Any:
        if isinstance(table, dict):
            return table.get(name)
        return table

    def test_images(self, name: str, load: bool = True) -> np.ndarray | None:
        """Images of shape (n, h, w) for the encode button, or None."""
        own = self._own(self.images, name)
        if own is not None:
            return own
        data = self._dataset(name, load)
        return None if data is None else check_images(data.x_test, "test images")

    def test_labels(self, name: str) -> np.ndarray | None:
        """Classes of :meth:`test_images`, shape (n,), or None."""
        if self._own(self.images, name) is not None:
            return self._own(self.labels, name)
        data = self._dataset(name, load=False)
        return None if data is None else np.asarray(data.y_test)

    def class_names(self, name: str, labels: np.ndarray) -> list[str]:
        data = self._dataset(name, load=False)
        if data is not None and self._own(self.labels, name) is None:
            return list(data.class_names)
        return [str(k) for k in range(int(labels.max()) + 1)] if labels.size else []

    def clean_index(self, name: str) -> int:
        if name not in self._clean:
            images = self.test_images(name)
            self._clean[name] = 0 if images is None else clean_image_index(images)
        return self._clean[name]

    def spec(self, name: str) -> tuple[dict | None, str]:
        """The page spec of a model's decoder, or None and the reason."""
        if name not in self._specs:
            from course_utils.explorer.page_decoder import try_export_decoder

            self._specs[name] = try_export_decoder(self.model(name))
        return self._specs[name]

    def refuse_spec(self, name: str, reason: str) -> None:
        self._specs[name] = (None, reason)

    def points(self, name: str) -> dict | None:
        """The map's data for a 2-D model with test images, or None."""
        if name not in self._points:
            model, images = self.model(name), self.test_images(name)
            points: dict[str, Any] | None = None
            if _model_latent_dim(model, name) == 2 and images is not None and \
                    callable(getattr(model, "encode", None)):
                shown = images[:MAP_POINTS]
                codes = np.asarray(model.encode(shown[..., None])[0], dtype=np.float32)
                labels = self.test_labels(name)
                points = {"codes": _base64(codes, "<f4"), "labels": None, "class_names": []}
                if labels is not None:
                    points["labels"] = _base64(labels[:MAP_POINTS], "u1")
                    points["class_names"] = self.class_names(name, labels)
            self._points[name] = points
        return self._points[name]


# ----------------------------------------------------------------------- explorer

class LatentExplorer:
    """Sliders over a VAE's latent space, the decoded image, and a choice of model.

    Parameters
    ----------
    models : None, VAE, or mapping of str to (VAE or str)
        None: every shipped model of :data:`course_utils.models.pretrained.PRETRAINED`,
        each loaded when first selected. A single VAE: that model alone. A mapping:
        menu label -> VAE, or -> the name of a shipped model (loaded when selected).
    images : None, array of shape (n, 28, 28[, 1]), or mapping of str to such arrays
        Test images the encode button can choose from: one array for every model,
        or one per menu label. Shipped models without images of their own use the
        embedded test subset of the dataset they were trained on; a model of yours
        without images cannot encode (the button is disabled).
    labels : None, int array of shape (n,), or mapping of str to such arrays
        Classes of those images, to colour the 2-D map (shipped models have theirs).
    scale : int
        Screen pixels per image pixel.
    slider_range : float
        Each slider runs over ``[-slider_range, slider_range]``: prior standard
        deviations, since the prior is N(0, I).
    decode_in_page : bool
        True: send the decoder to the browser when it can run there. False: always
        decode in the kernel (to compare the two, say).

    Attributes
    ----------
    widget : ExplorerWidget
        The anywidget to display (displaying the explorer shows it).
    decoded : numpy.ndarray of shape (28, 28)
        Pixel probabilities of the image for the current code.
    """

    def __init__(self, models: object = None, images: _PerModel = None, *,
                 labels: _PerModel = None,
                 scale: int = DEFAULT_SCALE, slider_range: float = 3.0,
                 decode_in_page: bool = True) -> None:
        if not isinstance(decode_in_page, bool):
            raise TypeError(f"decode_in_page must be True or False; got {decode_in_page!r}. "
                            "Pass a bool.")
        self.scale = check_positive_int(scale, "scale")
        if isinstance(slider_range, bool) or not isinstance(slider_range, (int, float)) \
                or not 0 < slider_range < 100:
            raise ValueError(f"slider_range must be a positive number of prior standard "
                             f"deviations below 100; got {slider_range!r}. Pass a number "
                             "such as 3.0.")
        self.slider_range = float(slider_range)
        self._catalogue = _Catalogue(models, images, labels)
        if not decode_in_page:
            for name in self._catalogue.sources:
                self._catalogue.refuse_spec(name, "decode_in_page=False: the kernel decodes")
        self._busy = False
        self._index_chosen = False
        self._decoded_cache: tuple[tuple, np.ndarray] | None = None
        names = list(self._catalogue.sources)
        self.widget = ExplorerWidget(model_names=names, model_name=names[0],
                                     slider_range=self.slider_range, scale=self.scale)
        self._activate(names[0])
        self.widget.observe(self._on_model_name, names="model_name")
        self.widget.observe(self._on_code, names="code")
        self.widget.observe(self._on_index, names="index")
        self.widget.on_msg(self._on_message)

    def _ipython_display_(self) -> None:
        """Display :attr:`widget`, so that an explorer shows as a notebook cell's value.

        IPython (7 to 9) prefers this hook to any ``_repr_*_`` method. Handing the widget
        to ``display`` lets the installed ipywidgets use its own protocol:
        ``_ipython_display_`` in ipywidgets 7 (Colab's), ``_repr_mimebundle_`` in 8.
        """
        from IPython.display import display

        display(self.widget)

    # ------------------------------------------------------------ properties

    @property
    def model_name(self) -> str:
        """The menu label of the current model."""
        return self.widget.active_model

    @property
    def model(self) -> Any:  # a course VAE, or a model of yours with decode and latent_dim
        """The current model (loading a shipped one if needed)."""
        return self._catalogue.model(self.model_name)

    @property
    def latent_dim(self) -> int:
        return self.widget.latent_dim

    @property
    def code(self) -> np.ndarray:
        """The current code, shape ``(latent_dim,)``."""
        return np.array(self.widget.code, dtype=np.float64)

    @property
    def decodes_in_page(self) -> bool:
        """True when the browser decodes (the decoder spec went to the page)."""
        return self.widget.spec is not None

    @property
    def test_images(self) -> np.ndarray | None:
        """The images the encode button chooses from for the current model, ``(n, 28, 28)``."""
        return self._catalogue.test_images(self.model_name)

    @property
    def decoded(self) -> np.ndarray:
        """Pixel probabilities for the current code, shape (28, 28), decoded in Python."""
        key = (self.model_name, tuple(self.widget.code))
        if self._decoded_cache is None or self._decoded_cache[0] != key:
            from course_utils.latent.decoding import decode_point

            self._decoded_cache = (key, decode_point(self.model, self.code.astype(np.float32)))
        return self._decoded_cache[1]

    @property
    def status(self) -> str:
        """The status line the page shows: the last action, then the code and its length."""
        values = ", ".join(f"{value:.2f}" for value in self.code)
        return f"{self.widget.note}z = ({values}), |z| = {np.linalg.norm(self.code):.2f}"

    # ------------------------------------------------------------- actions

    def select_model(self, name: str) -> None:
        """Switch to the model with menu label ``name`` (as the menu does)."""
        if name not in self._catalogue.sources:
            raise ValueError(f"name must be a model of the menu, one of "
                             f"{list(self._catalogue.sources)}; got {name!r}. Choose one of "
                             "those.")
        self._activate(name)

    def set_code(self, z: ArrayLike) -> None:
        """Move the code to ``z`` and redraw once.

        Each value is clipped to the slider range and rounded to 0.01, as the page's
        sliders snap it; :attr:`code` and the image then show exactly what the sliders
        show.

        Parameters
        ----------
        z : array-like of shape (latent_dim,)
        """
        code = check_array(z, "z", ndim=1, finite=True)
        if code.shape != (self.latent_dim,):
            raise ValueError(f"z must have shape ({self.latent_dim},) for model "
                             f"{self.model_name!r}; got shape {code.shape}. Pass one value "
                             "per latent dimension.")
        snapped = _snap(code, self.slider_range)
        clipped = not np.array_equal(np.clip(code, -self.slider_range, self.slider_range), code)
        self._show(snapped, f"clipped to the slider range +-{self.slider_range:g}; "
                   if clipped else "")

    def reset(self) -> None:
        """Move the code to 0, the prior's mean (the reset button)."""
        self._show(np.zeros(self.latent_dim), "reset to the origin; ")

    def encode_image(self, index: int) -> np.ndarray:
        """Encode test image ``index`` and move the code to its posterior mean.

        Returns
        -------
        numpy.ndarray of shape (latent_dim,)
            ``z_mean`` of the image, before it is clipped and rounded to the sliders.
        """
        images = self.test_images
        if images is None:
            raise ValueError(f"model {self.model_name!r} must have test images to encode; "
                             "got none. Pass images=... when you create the explorer.")
        index = check_positive_int(index, "index", minimum=0)
        if index >= len(images):
            raise ValueError(f"index must be below {len(images)}, the number of test "
                             f"images; got {index}. Pass a smaller index.")
        self._index_chosen = True
        self.widget.index = index
        z_mean, _ = self.model.encode(images[index:index + 1])
        z_mean = np.asarray(z_mean, dtype=np.float64)[0]
        snapped = _snap(z_mean, self.slider_range)
        clipped = not np.array_equal(np.clip(z_mean, -self.slider_range, self.slider_range),
                                     z_mean)
        self._show(snapped, f"encoded test image {index}; " +
                   ("clipped to the slider range; " if clipped else ""))
        return z_mean

    # ------------------------------------------------------------ internals

    def _show(self, code: np.ndarray, note: str) -> None:
        """Put a code (already snapped) and a note on display, and redraw."""
        self._busy = True
        try:
            with self.widget.hold_sync():
                self.widget.note = note
                self.widget.code = [float(value) for value in code]
                self._redraw()
        finally:
            self._busy = False

    def _redraw(self) -> None:
        """The kernel's share of a redraw: nothing when the page decodes."""
        if self.widget.spec is None:
            self.widget.pixels = _grey_base64(self.decoded)

    def _activate(self, name: str) -> None:
        catalogue = self._catalogue
        model = catalogue.model(name)
        latent_dim = _model_latent_dim(model, name)
        spec, reason = catalogue.spec(name)
        images = catalogue.test_images(name)
        count = 0 if images is None else len(images)
        index = self.widget.index if self._index_chosen and self.widget.index < count \
            else catalogue.clean_index(name)
        points = catalogue.points(name)
        self._busy = True
        try:
            with self.widget.hold_sync():
                widget = self.widget
                widget.model_name = name
                widget.latent_dim = latent_dim
                widget.spec = spec  # type: ignore[assignment]  # traitlets' stubs: Dict is never None
                widget.fallback_reason = reason
                widget.points = points  # type: ignore[assignment]  # (allow_none is not typed)
                widget.n_images = count
                widget.index = index
                widget.original = "" if images is None or not count else \
                    _grey_base64(images[index])
                widget.code = [0.0] * latent_dim
                widget.note = f"model {name!r}, {latent_dim}-D latent space; "
                widget.active_model = name
                self._redraw()
        finally:
            self._busy = False

    def _on_model_name(self, change: dict) -> None:
        if self._busy or change["new"] == self.widget.active_model:
            return
        try:
            self._activate(change["new"])
        except Exception as error:  # a broken model file, say: keep the explorer usable
            previous = self.widget.active_model
            self._busy = True
            try:
                self.widget.model_name = previous
            finally:
                self._busy = False
            self.widget.note = f"could not open {change['new']!r}: {error}; "

    def _on_code(self, change: dict) -> None:
        """A code from the page (a slider, the map): check it, then redraw if needed."""
        if self._busy:
            return
        old, new = change["old"], change["new"]
        valid = len(new) == self.latent_dim and all(np.isfinite(new))
        if not valid:  # e.g. a late code from the model shown before: put back the last one
            restore = old if len(old) == self.latent_dim else [0.0] * self.latent_dim
            self._show(np.asarray(restore, dtype=np.float64), self.widget.note)
            return
        if len(old) == len(new) and np.max(np.abs(np.subtract(new, old)), initial=0) < 1e-9:
            return  # the page echoing a value back, rounded differently
        self.widget.note = ""
        self._redraw()

    def _on_index(self, change: dict) -> None:
        images = self.test_images
        if self._busy or images is None:
            return
        index = min(max(int(change["new"]), 0), len(images) - 1)
        if index != change["new"]:
            self.widget.index = index
            return
        self._index_chosen = True
        self.widget.original = _grey_base64(images[index])

    def _on_message(self, _widget: object, content: dict, _buffers: object) -> None:
        """Buttons in the page: encode, reset; and a page that cannot run the spec."""
        event = content.get("event") if isinstance(content, dict) else None
        try:
            if event == "encode":
                self.encode_image(int(content.get("index", self.widget.index)))
            elif event == "reset":
                self.reset()
            elif event == "page_failed" and content.get("model") == self.model_name:
                self._catalogue.refuse_spec(self.model_name, str(content.get("error")))
                self._activate(self.model_name)
        except (TypeError, ValueError) as error:
            self.widget.note = f"{error} "


def latent_explorer(models: object = None, images: _PerModel = None, *,
                    labels: _PerModel = None,
                    scale: int = DEFAULT_SCALE, slider_range: float = 3.0,
                    decode_in_page: bool = True) -> ExplorerWidget:
    """Build a :class:`LatentExplorer` and return its widget.

    Parameters are those of :class:`LatentExplorer`.

    Returns
    -------
    ExplorerWidget
        Display it as a cell's value. (Keep a :class:`LatentExplorer` instead if you
        want to move the code from Python.)
    """
    return LatentExplorer(models, images, labels=labels, scale=scale,
                          slider_range=slider_range, decode_in_page=decode_in_page).widget


# ------------------------------------------------------------------ static page

def static_explorer_data(models: object = None, images: _PerModel = None, *,
                         labels: _PerModel = None, n_images: int = 100,
                         scale: int = DEFAULT_SCALE, slider_range: float = 3.0) -> dict:
    """Everything a page with no kernel needs to run the explorer, as JSON-able data.

    For each model: its decoder spec, its 2-D map, and its first ``n_images`` test images
    with their codes (posterior means, computed here), so that Encode works without a
    kernel. The shipped models take about 1.7 MB as JSON.

    Parameters
    ----------
    models, images, labels
        As for :class:`LatentExplorer` (default: the shipped models).
    n_images : int
        Test images per model that the page can show and encode.
    scale : int
        Screen pixels per image pixel.
    slider_range : float
        Half-width of the sliders' range.

    Returns
    -------
    dict
        ``{"format", "version", "model_names", "models": {name: {"latent_dim", "spec",
        "points", "images", "codes", "n_images", "default_index"}}, "slider_range",
        "key_step", "scale", "image_shape"}``; ``images`` are base64 grey levels
        (uint8, ``(n, h, w)``), ``codes`` base64 float32 ``(n, latent_dim)``.

    Raises
    ------
    ValueError
        If a model's decoder cannot run in the page (the message says why): a page
        without a kernel has no other way to decode.
    """
    n_images = check_positive_int(n_images, "n_images")
    scale = check_positive_int(scale, "scale")
    catalogue = _Catalogue(models, images, labels)
    entries = {}
    for name in catalogue.sources:
        spec, reason = catalogue.spec(name)
        if spec is None:
            raise ValueError(f"model {name!r} must run in a page without a kernel; got one "
                             f"that cannot be decoded in a page: {reason}. Leave it out of "
                             "models=.")
        model = catalogue.model(name)
        test_images = catalogue.test_images(name)
        entry = {"latent_dim": spec["latent_dim"], "spec": spec,
                 "points": catalogue.points(name), "images": "", "codes": "",
                 "n_images": 0, "default_index": 0}
        if test_images is not None:
            shown = test_images[:n_images]
            codes = np.asarray(model.encode(shown[..., None])[0], dtype=np.float32)
            entry.update(images=_base64(np.stack([image_to_uint8(im) for im in shown]), "u1"),
                         codes=_base64(codes, "<f4"), n_images=len(shown),
                         default_index=clean_image_index(shown))
        entries[name] = entry
    first_spec = entries[next(iter(entries))]["spec"]
    return {"format": STATIC_FORMAT, "version": 1, "model_names": list(entries),
            "models": entries, "slider_range": float(slider_range), "key_step": KEY_STEP,
            "scale": scale, "image_shape": first_spec["image_shape"]}


_ELEMENT_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")


def static_explorer_html(data: dict | None = None, *,
                         element_id: str = "latent-explorer") -> str:
    """A self-contained HTML snippet that shows a working explorer with no kernel.

    Paste it into any page (it needs no other file and no network): a ``<div>``, the
    data as JSON, and an inline ES module (the explorer's front end) that mounts it.
    Inline, so it also works from ``file://`` pages, where browsers refuse to load
    module files.

    Parameters
    ----------
    data : dict, optional
        From :func:`static_explorer_data`; default: the shipped models.
    element_id : str
        The ``id`` of the explorer's ``<div>`` (letters, digits, ``-`` and ``_``,
        starting with a letter); use a different one for each explorer on a page.

    Returns
    -------
    str
        HTML.
    """
    if not isinstance(element_id, str) or not _ELEMENT_ID.match(element_id):
        raise ValueError(f"element_id must be letters, digits, '-' or '_', starting with a "
                         f"letter; got {element_id!r}. Pass an id such as "
                         "'latent-explorer'.")
    if data is None:
        data = static_explorer_data()
    if not isinstance(data, dict) or data.get("format") != STATIC_FORMAT:
        raise ValueError("data must come from static_explorer_data(); got "
                         f"{type(data).__name__}. Pass what static_explorer_data() returns, "
                         "or None.")
    payload = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    module = explorer_module_source()
    if "</script" in module.lower():
        raise RuntimeError("the explorer's module contains '</script', which would end the "
                           "inline script early.")
    return (f'<div id="{element_id}" class="vae-course-explorer"></div>\n'
            f'<script type="application/json" id="{element_id}-data">{payload}</script>\n'
            f'<script type="module">\n{module}\n'
            f'mountStatic(document.getElementById({json.dumps(element_id)}), JSON.parse('
            f'document.getElementById({json.dumps(element_id + "-data")}).textContent));\n'
            "</script>\n")
