"""Hand a VAE's decoder to the web page, so the latent explorer decodes there.

:func:`export_decoder` turns the decoder of a course VAE into a small JSON-able
*spec*: the layers in order, their shapes and activations, and their weights as
base64 strings. The JavaScript module ``js/decoder.js`` runs that spec in
the browser (or in node), and :func:`decode_with_spec` runs it in NumPy. Both compute
what ``VAE.decode`` computes, the sigmoid of the decoder's logits, to within 1e-4 per
pixel (``tests/test_explorer_js.py`` checks the JavaScript against Keras).

Only decoders the page can run *exactly* are exported: a plain chain of ``Dense``,
``Reshape``, ``Flatten``, ``Conv2DTranspose``, ``Activation`` and ``ReLU`` layers with
ReLU or linear activations, float32 weights, channels-last data, no dilation and no
output padding. That covers the dense decoders (Dense + ReLU stacks -> Dense(784) ->
Reshape) and the convolutional decoders of :mod:`course_utils.models`. For anything
else :func:`export_decoder` returns None (:func:`try_export_decoder` says why) and the
explorer decodes in the kernel instead. As a last guard, every spec is run in NumPy
on a few codes and compared with ``VAE.decode`` before it is returned.

Typical use::

    spec = export_decoder(vae)                 # dict, or None if not supported
    probabilities = decode_with_spec(spec, z)  # (n, 28, 28), like vae.decode(z)[..., 0]

Spec format (version 1)::

    {"format": "course-utils-decoder", "version": 1, "latent_dim": 2,
     "image_shape": [28, 28], "output": "sigmoid",
     "layers": [{"type": "dense", "name": "dense_1", "units": 128,
                 "activation": "relu", "kernel": W, "bias": W},
                {"type": "reshape", "name": "reshape", "target_shape": [7, 7, 64]},
                {"type": "conv2d_transpose", "name": "deconv_1", "filters": 64,
                 "kernel_size": [3, 3], "strides": [2, 2], "padding": "same",
                 "activation": "relu", "kernel": W, "bias": W},
                {"type": "flatten", ...}, {"type": "activation", "activation": "relu"}]}

where each ``W`` is ``{"shape": [...], "dtype": "float32" or "float16", "data":
base64 of the little-endian values in C order}``. Kernels keep Keras' layouts: Dense
``(in, units)``, Conv2DTranspose ``(kh, kw, filters, in)``. ``"float16"`` is used only
when it represents every weight exactly (true for the shipped models, whose weights
are stored as float16), which halves the size; ``bias`` may be null.
"""

from __future__ import annotations

import base64
import sys
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "SPEC_FORMAT",
    "SPEC_VERSION",
    "decode_with_spec",
    "export_decoder",
    "try_export_decoder",
]

SPEC_FORMAT = "course-utils-decoder"
SPEC_VERSION = 1
#: The largest difference per pixel probability the exported spec may show against
#: ``VAE.decode``; checked on a few codes when exporting.
TOLERANCE = 1e-4
_CHECK_CODES = 5


class _Unsupported(Exception):
    """The decoder cannot be run exactly in the page; the message says why."""


# ------------------------------------------------------------------ weights

def _encode_weight(array: np.ndarray, allow_float16: bool) -> dict[str, Any]:
    values = np.ascontiguousarray(array, dtype="<f4")
    if not np.all(np.isfinite(values)):
        raise _Unsupported("a weight is not finite (NaN or infinity)")
    dtype, stored = "float32", values
    if allow_float16:
        half = values.astype("<f2")
        if np.array_equal(half.astype("<f4"), values):
            dtype, stored = "float16", half
    return {"shape": list(values.shape), "dtype": dtype,
            "data": base64.b64encode(stored.tobytes()).decode("ascii")}


def _decode_weight(weight: dict[str, Any]) -> np.ndarray:
    dtype = {"float32": "<f4", "float16": "<f2"}[weight["dtype"]]
    values = np.frombuffer(base64.b64decode(weight["data"]), dtype=dtype)
    return values.reshape(weight["shape"]).astype(np.float64)


# ------------------------------------------------------------------ layers

def _activation_name(function: object, where: str) -> str:
    import keras

    if function is keras.activations.relu:
        return "relu"
    if function is keras.activations.linear:
        return "linear"
    name = getattr(function, "__name__", type(function).__name__)
    raise _Unsupported(f"{where} uses activation {name!r}; the page supports 'relu' and "
                       "linear (None) only")


def _check_float32(layer, where: str) -> None:
    policy = getattr(getattr(layer, "dtype_policy", None), "name", "float32")
    if policy != "float32":
        raise _Unsupported(f"{where} computes in {policy!r}; the page computes in float32")
    if getattr(layer, "quantization_mode", None) is not None or \
            getattr(layer, "lora_enabled", False):
        raise _Unsupported(f"{where} is quantised or has LoRA weights")


def _dense(layer, where: str, allow_float16: bool) -> dict[str, Any]:
    _check_float32(layer, where)
    if len(layer.input.shape) != 2:
        raise _Unsupported(f"{where} is a Dense layer on an input of shape "
                           f"{tuple(layer.input.shape)}; the page needs a flat input")
    kernel = np.asarray(layer.kernel.numpy())
    return {"units": int(layer.units), "activation": _activation_name(layer.activation, where),
            "kernel": _encode_weight(kernel, allow_float16),
            "bias": _encode_weight(layer.bias.numpy(), allow_float16) if layer.use_bias
            else None}


def _conv_transpose(layer, where: str, allow_float16: bool) -> dict[str, Any]:
    _check_float32(layer, where)
    problems = []
    if layer.data_format != "channels_last":
        problems.append(f"data_format {layer.data_format!r} (needs 'channels_last')")
    if tuple(layer.dilation_rate) != (1, 1):
        problems.append(f"dilation_rate {tuple(layer.dilation_rate)} (needs (1, 1))")
    if layer.output_padding is not None:
        problems.append(f"output_padding {layer.output_padding!r} (needs None)")
    if layer.padding not in ("same", "valid"):
        problems.append(f"padding {layer.padding!r} (needs 'same' or 'valid')")
    if getattr(layer, "groups", 1) != 1:
        problems.append(f"groups {layer.groups} (needs 1)")
    if len(layer.input.shape) != 4:
        problems.append(f"input shape {tuple(layer.input.shape)} (needs (batch, h, w, c))")
    if problems:
        raise _Unsupported(f"{where} has " + ", ".join(problems))
    kernel = np.asarray(layer.kernel.numpy())
    return {"filters": int(layer.filters), "kernel_size": [int(k) for k in layer.kernel_size],
            "strides": [int(s) for s in layer.strides], "padding": layer.padding,
            "activation": _activation_name(layer.activation, where),
            "kernel": _encode_weight(kernel, allow_float16),
            "bias": _encode_weight(layer.bias.numpy(), allow_float16) if layer.use_bias
            else None}


def _reshape(layer, where: str, allow_float16: bool) -> dict[str, Any]:
    shape = tuple(layer.output.shape[1:])  # resolves a -1 in target_shape
    if any(not isinstance(size, int) for size in shape):
        raise _Unsupported(f"{where} reshapes to an unknown shape {shape}")
    return {"target_shape": list(shape)}


def _flatten(layer, where: str, allow_float16: bool) -> dict[str, Any]:
    if getattr(layer, "data_format", "channels_last") != "channels_last" and \
            len(layer.input.shape) > 2:
        raise _Unsupported(f"{where} flattens channels first; the page keeps channels last")
    return {}


def _activation(layer, where: str, allow_float16: bool) -> dict[str, Any]:
    return {"activation": _activation_name(layer.activation, where)}


def _relu(layer, where: str, allow_float16: bool) -> dict[str, Any]:
    if layer.max_value is not None or float(layer.negative_slope) != 0.0 or \
            float(layer.threshold) != 0.0:
        raise _Unsupported(f"{where} is a ReLU with max_value, negative_slope or threshold "
                           "set; the page supports the plain ReLU only")
    return {"activation": "relu"}


def _layer_exporters() -> dict[type, tuple[str, Any]]:
    from keras import layers

    # exact classes only: a subclass may compute something else
    return {layers.Dense: ("dense", _dense),
            layers.Conv2DTranspose: ("conv2d_transpose", _conv_transpose),
            layers.Reshape: ("reshape", _reshape),
            layers.Flatten: ("flatten", _flatten),
            layers.Activation: ("activation", _activation),
            layers.ReLU: ("activation", _relu)}


def _layer_chain(decoder) -> list:
    """The decoder's layers after its input, checked to form one simple chain."""
    import keras

    if not isinstance(decoder, keras.Model) or len(decoder.inputs) != 1 or \
            len(decoder.outputs) != 1:
        raise _Unsupported("the decoder is not a keras.Model with one input and one output")
    tensor, chain = decoder.inputs[0], []
    for layer in decoder.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        try:
            layer_input = layer.input
        except (AttributeError, ValueError) as error:
            raise _Unsupported(f"layer {layer.name!r} has no single input ({error})") from error
        if layer_input is not tensor:
            raise _Unsupported(f"layer {layer.name!r} does not take the previous layer's "
                               "output: the page runs plain chains of layers only")
        tensor = layer.output
        chain.append(layer)
    if tensor is not decoder.outputs[0]:
        raise _Unsupported("the decoder's output is not its last layer's output")
    return chain


def _decoder_of(model) -> tuple[Any, int, tuple[int, int]]:
    vae_module = sys.modules.get("course_utils.models.vae")  # not imported: no VAE exists yet
    VAE = getattr(vae_module, "VAE", None)  # noqa: N806
    if VAE is None or not isinstance(model, VAE):
        raise _Unsupported(f"{type(model).__name__} is not a course VAE "
                           "(course_utils.models.vae.VAE), so its decode is unknown to the page")
    for method in ("decode", "_traced_decode"):
        if getattr(type(model), method) is not getattr(VAE, method):
            raise _Unsupported(f"{type(model).__name__} overrides VAE.{method}")
    image_shape = tuple(model.image_shape)
    if len(image_shape) != 3 or image_shape[2] != 1:
        raise _Unsupported(f"images of shape {image_shape} are not greyscale (h, w, 1)")
    return model.decoder, int(model.latent_dim), (int(image_shape[0]), int(image_shape[1]))


def _build_spec(model, allow_float16: bool) -> dict[str, Any]:
    decoder, latent_dim, image_shape = _decoder_of(model)
    exporters = _layer_exporters()
    layer_specs = []
    for index, layer in enumerate(_layer_chain(decoder)):
        where = f"layer {index} {layer.name!r} ({type(layer).__name__})"
        if type(layer) not in exporters:
            raise _Unsupported(f"{where}: the page supports "
                               f"{sorted(cls.__name__ for cls in exporters)} only")
        kind, export = exporters[type(layer)]
        layer_specs.append({"type": kind, "name": layer.name,
                            **export(layer, where, allow_float16)})
    return {"format": SPEC_FORMAT, "version": SPEC_VERSION, "latent_dim": latent_dim,
            "image_shape": list(image_shape), "output": "sigmoid", "layers": layer_specs}


def _check_against_model(spec: dict[str, Any], model) -> None:
    rng = np.random.default_rng(0)
    codes = np.concatenate([np.zeros((1, spec["latent_dim"])),
                            rng.uniform(-4.0, 4.0, (_CHECK_CODES - 1, spec["latent_dim"]))])
    codes = codes.astype(np.float32)
    try:
        ours = decode_with_spec(spec, codes)
    except ValueError as error:
        raise _Unsupported(f"the spec does not run: {error}") from error
    keras_pixels = np.asarray(model.decode(codes), dtype=np.float64).reshape(ours.shape)
    difference = float(np.max(np.abs(ours - keras_pixels)))
    if not difference <= TOLERANCE:
        raise _Unsupported(f"the page's decoding would differ from VAE.decode by "
                           f"{difference:.2g} per pixel (more than {TOLERANCE:g})")


# ------------------------------------------------------------------ public

def try_export_decoder(model: object, *, allow_float16: bool = True,
                       verify: bool = True) -> tuple[dict[str, Any] | None, str]:
    """Export a VAE's decoder for the page, or say why it cannot be.

    Parameters
    ----------
    model : object
        Usually a :class:`course_utils.models.vae.VAE`; anything else is not exported.
    allow_float16 : bool
        Store a weight array as float16 when that represents it exactly.
    verify : bool
        Run the spec with :func:`decode_with_spec` on five codes (the origin and four
        with coordinates up to 4 in size) and refuse it unless it matches
        ``model.decode`` to :data:`TOLERANCE` per pixel.

    Returns
    -------
    spec : dict or None
        The spec (JSON-able: str, int, list, dict and None only), or None.
    reason : str
        Empty when exported; otherwise why not, in words.
    """
    try:
        spec = _build_spec(model, bool(allow_float16))
        if verify:
            _check_against_model(spec, model)
    except _Unsupported as reason:
        return None, str(reason)
    return spec, ""


def export_decoder(model: object, *, allow_float16: bool = True,
                   verify: bool = True) -> dict[str, Any] | None:
    """The decoder of ``model`` as a JSON-able spec the page can run, or None.

    Parameters are those of :func:`try_export_decoder`, which also says why a decoder
    is not exported.

    Returns
    -------
    dict or None
        None for any decoder the page does not run exactly.
    """
    return try_export_decoder(model, allow_float16=allow_float16, verify=verify)[0]


def decode_with_spec(spec: dict[str, Any], codes: ArrayLike) -> np.ndarray:
    """Decode codes with a spec in NumPy (float64): what the page computes.

    Parameters
    ----------
    spec : dict
        From :func:`export_decoder`.
    codes : array-like of shape (n, latent_dim)

    Returns
    -------
    numpy.ndarray of shape (n, h, w)
        Pixel probabilities, ``sigmoid`` of the last layer's output.

    Raises
    ------
    ValueError
        For a spec that is not of this format or whose shapes do not fit together.
    """
    if not isinstance(spec, dict) or spec.get("format") != SPEC_FORMAT or \
            spec.get("version") != SPEC_VERSION:
        raise ValueError(f"spec must be a dict from export_decoder (format {SPEC_FORMAT!r}, "
                         f"version {SPEC_VERSION}); got {type(spec).__name__}. Pass what "
                         "export_decoder(vae) returns.")
    x = np.asarray(codes, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != spec["latent_dim"]:
        raise ValueError(f"codes must have shape (n, {spec['latent_dim']}); got {x.shape}. "
                         "Pass one row per code, e.g. z[None, :] for a single code.")
    for layer in spec["layers"]:
        x = _run_layer(layer, x)
    height, width = spec["image_shape"]
    if x[0].size != height * width:
        raise ValueError(f"the spec's last layer must give one {height} x {width} image; "
                         f"got {x.shape[1:]}. Export the spec again with export_decoder.")
    return 1.0 / (1.0 + np.exp(-x.reshape(len(x), height, width)))


def _run_layer(layer: dict[str, Any], x: np.ndarray) -> np.ndarray:
    kind = layer["type"]
    if kind == "dense":
        x = x @ _decode_weight(layer["kernel"])
        if layer["bias"] is not None:
            x = x + _decode_weight(layer["bias"])
    elif kind == "conv2d_transpose":
        x = _conv_transpose_numpy(layer, x)
    elif kind == "reshape":
        x = x.reshape((len(x), *layer["target_shape"]))
    elif kind == "flatten":
        x = x.reshape(len(x), -1)
    elif kind != "activation":
        raise ValueError(f"each layer type in the spec must be one export_decoder writes; "
                         f"got {kind!r}. Export the spec again with export_decoder.")
    if layer.get("activation", "linear") == "relu":
        x = np.maximum(x, 0.0)
    return x


def _transposed_geometry(padding: str, size: int, kernel: int, stride: int) -> tuple[int, int]:
    """Output length and padding before, as TensorFlow's conv2d_transpose (Keras) has them."""
    if padding == "same":
        length = size * stride
        return length, max(0, (size - 1) * stride + kernel - length) // 2
    return size * stride + max(kernel - stride, 0), 0


def _conv_transpose_numpy(layer: dict[str, Any], x: np.ndarray) -> np.ndarray:
    """Transposed convolution: output o gets input i through tap k when o = i s + k - pad."""
    kernel = _decode_weight(layer["kernel"])        # (kh, kw, filters, in)
    kh, kw, filters, channels = kernel.shape
    n, height, width, in_channels = x.shape
    if in_channels != channels:
        raise ValueError(f"the input of layer {layer['name']!r} must have {channels} "
                         f"channels; got {in_channels}. Export the spec again with "
                         "export_decoder.")
    (sy, sx), padding = layer["strides"], layer["padding"]
    out_h, top = _transposed_geometry(padding, height, kh, sy)
    out_w, left = _transposed_geometry(padding, width, kw, sx)
    full = np.zeros((n, max((height - 1) * sy + kh, top + out_h),
                     max((width - 1) * sx + kw, left + out_w), filters))
    for ky in range(kh):
        for kx in range(kw):
            full[:, ky:ky + (height - 1) * sy + 1:sy, kx:kx + (width - 1) * sx + 1:sx] += \
                np.einsum("nhwc,fc->nhwf", x, kernel[ky, kx])
    out = full[:, top:top + out_h, left:left + out_w]
    if layer["bias"] is not None:
        out = out + _decode_weight(layer["bias"])
    return out
