"""The page's decoder against Keras: explorer/js/decoder.js run by node, for every model.

The JavaScript must give what ``VAE.decode`` gives, to 1e-4 per pixel probability, for
the shipped models and freshly built ones, at codes near and far from the origin. The
exporter must refuse any decoder the page cannot run exactly. The bundled module must
import without a DOM, and its stand-in model (the static page's "kernel") must do what
Python does. Tests that need node are skipped, with the reason, where node is missing.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import keras
import numpy as np
import pytest
from keras import layers

import course_utils
from course_utils.explorer.page_decoder import (
    SPEC_FORMAT,
    decode_with_spec,
    export_decoder,
    try_export_decoder,
)
from course_utils.models.networks import build_dense_encoder
from course_utils.models.pretrained import PRETRAINED, load_pretrained
from course_utils.models.vae import VAE, build_conv_vae, build_dense_vae

NODE = shutil.which("node")
needs_node = pytest.mark.skipif(NODE is None, reason="node is not installed: the JavaScript "
                                "decoder cannot be run (install Node 18 or later)")
JS_DIR = Path(course_utils.__file__).resolve().parent / "explorer" / "js"
TOLERANCE = 1e-4

DECODE_SCRIPT = """
import { readFileSync, writeFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
const [modulePath, inputPath, outputPath] = process.argv.slice(2);
const { loadDecoder } = await import(pathToFileURL(modulePath).href);
const { spec, codes } = JSON.parse(readFileSync(inputPath, "utf8"));
let result;
try {
  const decoder = loadDecoder(spec);
  result = { outputs: codes.map((code) => Array.from(decoder.decode(code))) };
} catch (error) {
  result = { error: String(error.message) };
}
writeFileSync(outputPath, JSON.stringify(result));
"""


@pytest.fixture(scope="module")
def run_js(tmp_path_factory):
    """Decode codes with a spec in node: returns (n, h, w) probabilities, or raises."""
    folder = tmp_path_factory.mktemp("js")
    script = folder / "decode.mjs"
    script.write_text(DECODE_SCRIPT)

    def run(spec: dict, codes: np.ndarray) -> np.ndarray:
        source, target = folder / "in.json", folder / "out.json"
        source.write_text(json.dumps({"spec": spec, "codes": np.asarray(codes).tolist()}))
        subprocess.run([NODE, str(script), str(JS_DIR / "decoder.js"), str(source), str(target)],
                       check=True, timeout=300)
        result = json.loads(target.read_text())
        if "error" in result:
            raise ValueError(result["error"])
        height, width = spec["image_shape"]
        return np.asarray(result["outputs"], dtype=np.float64).reshape(-1, height, width)

    return run


def sample_codes(latent_dim: int, seed: int = 0) -> np.ndarray:
    """Codes near the origin, across the sliders' range, and far out (|z_i| up to 4)."""
    rng = np.random.default_rng(seed)
    corners = 4.0 * np.array(np.meshgrid(*[[-1, 1]] * min(latent_dim, 3))).reshape(
        min(latent_dim, 3), -1).T
    corners = np.pad(corners, ((0, 0), (0, latent_dim - corners.shape[1])))
    return np.concatenate([np.zeros((1, latent_dim)), corners,
                           rng.normal(0.0, 1.5, (120, latent_dim)),
                           rng.uniform(-4.0, 4.0, (80, latent_dim))]).astype(np.float32)


def louder(vae: VAE, gain: float = 2.5) -> VAE:
    """Multiply the decoder's kernels by ``gain``: a fresh model's logits are near 0, and
    its pictures nearly constant grey, which would make a weak comparison."""
    for layer in vae.decoder.layers:
        if hasattr(layer, "kernel"):
            layer.kernel.assign(layer.kernel.numpy() * gain)
    return vae


def assert_page_matches_keras(vae, run_js, seed: int = 0) -> float:
    spec = export_decoder(vae)
    assert spec is not None, try_export_decoder(vae)[1]
    json.dumps(spec)  # JSON-able as it is
    codes = sample_codes(vae.latent_dim, seed)
    keras_pixels = vae.decode(codes)[..., 0].astype(np.float64)
    page_pixels = run_js(spec, codes)
    error = float(np.max(np.abs(page_pixels - keras_pixels)))
    assert error <= TOLERANCE, f"page and Keras differ by {error:.3g} per pixel"
    assert float(np.max(np.abs(decode_with_spec(spec, codes) - keras_pixels))) <= TOLERANCE
    # not a comparison of two blank pictures: pixels change a lot from code to code
    assert np.ptp(keras_pixels, axis=0).max() > 0.5
    return error


# ------------------------------------------------------------------ parity

@needs_node
@pytest.mark.parametrize("name", list(PRETRAINED))
def test_every_shipped_model_decodes_in_the_page_as_in_keras(name, run_js):
    assert_page_matches_keras(load_pretrained(name, compile=False), run_js)


@needs_node
def test_freshly_built_dense_and_conv_vaes_decode_in_the_page_as_in_keras(run_js):
    keras.utils.set_random_seed(3)
    assert_page_matches_keras(louder(build_dense_vae(3, hidden=(48, 24))), run_js, seed=1)
    keras.utils.set_random_seed(4)
    assert_page_matches_keras(louder(build_conv_vae(2)), run_js, seed=2)


def chain_vae(latent_dim: int, decoder_layers: list) -> VAE:
    """A VAE whose decoder is the given layers in a row (and a small dense encoder)."""
    inputs = keras.Input(shape=(latent_dim,))
    x = inputs
    for layer in decoder_layers:
        x = layer(x)
    decoder = keras.Model(inputs, x, name="decoder")
    return VAE(build_dense_encoder(latent_dim, (8,), gaussian=True), decoder)


def odd_geometry_vae() -> VAE:
    """Strides, kernels and paddings the course's models do not use, to pin the geometry:
    "valid" with a kernel of 2, "same" with kernels 5 and 4 (uneven padding, more of it
    after than before), separate Activation and ReLU layers, no bias."""
    keras.utils.set_random_seed(5)
    return chain_vae(2, [
        layers.Dense(7 * 7 * 4, activation="relu"), layers.Reshape((7, 7, 4)),
        layers.Conv2DTranspose(6, 2, strides=2, padding="valid"),          # 7 -> 14
        layers.Activation("relu"),
        layers.Conv2DTranspose(3, 5, strides=2, padding="same"),           # 14 -> 28
        layers.ReLU(),
        layers.Conv2DTranspose(1, 4, padding="same", use_bias=False)])     # 28, k even


@needs_node
def test_other_paddings_strides_and_layer_kinds_decode_as_in_keras(run_js):
    assert_page_matches_keras(louder(odd_geometry_vae()), run_js)
    keras.utils.set_random_seed(6)
    wide_stride = chain_vae(2, [                      # a kernel smaller than its stride
        layers.Dense(14 * 14 * 2), layers.Reshape((14, 14, 2)),
        layers.Conv2DTranspose(1, 1, strides=2, padding="valid")])          # 14 -> 28
    assert_page_matches_keras(louder(wide_stride, 8.0), run_js)
    keras.utils.set_random_seed(7)
    sequential = keras.Sequential([keras.Input((2,)), layers.Dense(32, activation="relu"),
                                   layers.Dense(784), layers.Reshape((28, 28, 1))])
    assert_page_matches_keras(louder(VAE(build_dense_encoder(2, (8,), gaussian=True),
                                         sequential), 4.0), run_js)


def test_float16_is_used_only_where_it_is_exact():
    vae = load_pretrained("mnist_conv", compile=False)   # stored as float16: exact
    spec = export_decoder(vae)
    kernels = [layer["kernel"] for layer in spec["layers"] if "kernel" in layer]
    assert {kernel["dtype"] for kernel in kernels} == {"float16"}
    assert {kernel["dtype"] for kernel in [layer["kernel"] for layer in export_decoder(
        vae, allow_float16=False)["layers"] if "kernel" in layer]} == {"float32"}
    keras.utils.set_random_seed(3)
    fresh = build_dense_vae(2, hidden=(16,))             # random float32: not exact
    assert {layer["kernel"]["dtype"] for layer in export_decoder(fresh)["layers"]
            if "kernel" in layer} == {"float32"}


def test_the_spec_describes_the_decoder():
    spec = export_decoder(load_pretrained("mnist_conv", compile=False))
    assert spec["format"] == SPEC_FORMAT and spec["latent_dim"] == 2
    assert spec["image_shape"] == [28, 28] and spec["output"] == "sigmoid"
    assert [layer["type"] for layer in spec["layers"]] == [
        "dense", "reshape", "conv2d_transpose", "conv2d_transpose", "conv2d_transpose"]
    deconv = spec["layers"][2]
    assert deconv["kernel"]["shape"] == [3, 3, 64, 64] and deconv["strides"] == [2, 2]
    assert deconv["padding"] == "same" and deconv["activation"] == "relu"
    assert spec["layers"][-1]["activation"] == "linear"     # logits: the sigmoid follows
    assert len(json.dumps(spec)) < 200_000


# ------------------------------------------------------------- unsupported

def custom_layer_vae(layer) -> VAE:
    return chain_vae(2, [layers.Dense(16, activation="relu"), layer, layers.Dense(784),
                         layers.Reshape((28, 28, 1))])


def skip_connection_vae() -> VAE:
    inputs = keras.Input(shape=(2,))
    hidden = layers.Dense(2)(inputs)
    x = layers.Dense(784)(layers.Add()([inputs, hidden]))
    decoder = keras.Model(inputs, layers.Reshape((28, 28, 1))(x))
    return VAE(build_dense_encoder(2, (8,), gaussian=True), decoder)


def conv_vae_with(**options) -> VAE:
    return chain_vae(2, [layers.Dense(14 * 14 * 2), layers.Reshape((14, 14, 2)),
                         layers.Conv2DTranspose(1, 3, **options)])


class OverridingVAE(VAE):
    def decode(self, z):
        return 1.0 - super().decode(z)


class Grey:
    """Not a VAE: something with decode and latent_dim."""

    latent_dim = 2

    def decode(self, z):
        return np.full((len(z), 28, 28, 1), 0.5, np.float32)


@pytest.mark.parametrize("make, reason", [
    (lambda: custom_layer_vae(layers.Dense(8, activation="tanh")), "activation 'tanh'"),
    (lambda: custom_layer_vae(layers.Dropout(0.1)), "Dropout"),
    (lambda: custom_layer_vae(layers.LeakyReLU()), "LeakyReLU"),
    (lambda: custom_layer_vae(layers.ReLU(max_value=6.0)), "max_value"),
    (lambda: conv_vae_with(strides=2, padding="same", dilation_rate=1, output_padding=1),
     "output_padding"),
    (lambda: chain_vae(2, [layers.Dense(7 * 7 * 2), layers.Reshape((7, 7, 2)),
                           layers.Conv2DTranspose(1, 3, dilation_rate=2, padding="same"),
                           layers.Flatten(), layers.Dense(784),
                           layers.Reshape((28, 28, 1))]), "dilation_rate"),
    (skip_connection_vae, "plain chains"),
    (lambda: OverridingVAE(build_dense_encoder(2, (8,), gaussian=True),
                           build_dense_vae(2, hidden=(8,)).decoder), "overrides VAE.decode"),
    (Grey, "not a course VAE"),
])
def test_decoders_the_page_cannot_run_exactly_are_not_exported(make, reason):
    model = make()
    spec, why = try_export_decoder(model)
    assert spec is None and export_decoder(model) is None
    assert reason in why, why


def test_a_spec_that_disagrees_with_keras_is_refused(monkeypatch):
    import course_utils.explorer.page_decoder as page_decoder

    vae = build_dense_vae(2, hidden=(8,))
    assert export_decoder(vae) is not None
    original = page_decoder._run_layer

    def off_by_a_little(layer, x):   # as if the page computed a layer slightly differently
        y = original(layer, x)
        return y + 0.01 if layer["type"] == "dense" else y

    monkeypatch.setattr(page_decoder, "_run_layer", off_by_a_little)
    spec, why = try_export_decoder(vae)
    assert spec is None and "differ from VAE.decode" in why


@needs_node
@pytest.mark.parametrize("damage, message", [
    (lambda spec: spec["layers"][0].update(type="conv2d"), "unsupported layer type conv2d"),
    (lambda spec: spec["layers"][0].update(activation="tanh"), "activation must be one of"),
    (lambda spec: spec["layers"][0]["kernel"].update(data="AAAA"), "needs"),
    (lambda spec: spec.update(version=99), "not a decoder spec"),
])
def test_the_javascript_refuses_a_spec_it_cannot_run(damage, message, run_js):
    spec = export_decoder(build_dense_vae(2, hidden=(8,)))
    damage(spec)
    with pytest.raises(ValueError, match=message):
        run_js(spec, np.zeros((1, 2)))


def test_decode_with_spec_rejects_bad_input():
    spec = export_decoder(build_dense_vae(2, hidden=(8,)))
    with pytest.raises(ValueError, match="shape"):
        decode_with_spec(spec, np.zeros((3, 5)))
    with pytest.raises(ValueError, match="export_decoder"):
        decode_with_spec({"format": "other"}, np.zeros((1, 2)))


# ------------------------------------------------------- the bundled module

STATIC_SCRIPT = """
import { readFileSync, writeFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
const [modulePath, dataPath, outputPath] = process.argv.slice(2);
const explorer = await import(pathToFileURL(modulePath).href);
const data = JSON.parse(readFileSync(dataPath, "utf8"));
const model = explorer.createStaticModel(data);
const tick = () => new Promise((resolve) => setTimeout(resolve, 0));
const traits = () => Object.fromEntries(["active_model", "model_name", "latent_dim", "code",
  "index", "n_images", "original", "note"].map((key) => [key, model.get(key)]));
const seen = [];
model.on("change:code", () => seen.push(model.get("code")));
const result = { exports: Object.keys(explorer).sort(), start: traits(),
                 render: typeof explorer.default.render };
model.send({ event: "encode", index: 2 });
await tick();
result.encoded = traits();
model.set("code", [0.5, -0.25]);
model.save_changes();
await tick();
result.moved = traits();
model.set("index", 4);
model.save_changes();
await tick();
result.indexed = traits();
model.set("model_name", data.model_names[1]);
model.save_changes();
await tick();
result.switched = traits();
model.send({ event: "encode", index: 1 });
await tick();
model.send({ event: "reset" });
await tick();
result.reset = traits();
const decoder = explorer.loadDecoder(data.models[data.model_names[0]].spec);
result.pixels = Array.from(decoder.decode([0.5, -0.25]));
result.changes = seen.length;
writeFileSync(outputPath, JSON.stringify(result));
"""


@needs_node
def test_the_static_page_model_does_what_python_does(tmp_path, mnist_conv_and_z8):
    """The page without a kernel: createStaticModel answers the explorer's requests
    (encode, choose an image, switch model, reset) as LatentExplorer does."""
    import base64

    from course_utils.explorer.widget import LatentExplorer, explorer_module_source, image_to_uint8

    data = mnist_conv_and_z8
    (tmp_path / "explorer.mjs").write_text(explorer_module_source())
    (tmp_path / "data.json").write_text(json.dumps(data))
    (tmp_path / "static.mjs").write_text(STATIC_SCRIPT)
    subprocess.run([NODE, str(tmp_path / "static.mjs"), str(tmp_path / "explorer.mjs"),
                    str(tmp_path / "data.json"), str(tmp_path / "out.json")],
                   check=True, timeout=300)
    result = json.loads((tmp_path / "out.json").read_text())
    assert {"mountStatic", "createStaticModel", "loadDecoder", "default"} <= \
        set(result["exports"])
    assert "render" not in result["exports"]    # anywidget warns about a named render
    assert result["render"] == "function"       # export default { render }

    python = LatentExplorer({"conv": "mnist_conv", "z8": "mnist_dense_z8"})
    start = result["start"]
    assert start["active_model"] == "conv" and start["latent_dim"] == 2
    assert start["code"] == [0, 0] and start["index"] == python.widget.index
    assert start["original"] == python.widget.original and start["note"] == python.widget.note
    python.encode_image(2)
    assert result["encoded"]["code"] == pytest.approx(python.widget.code, abs=1e-9)
    assert result["encoded"]["note"] == python.widget.note and result["encoded"]["index"] == 2
    assert result["moved"]["code"] == [0.5, -0.25] and result["moved"]["note"] == ""
    images = python.test_images
    assert base64.b64decode(result["indexed"]["original"]) == \
        image_to_uint8(images[4]).tobytes()
    switched = result["switched"]
    assert switched["active_model"] == "z8" and switched["latent_dim"] == 8
    assert switched["code"] == [0] * 8 and switched["note"].startswith("model 'z8', 8-D")
    assert result["reset"]["code"] == [0] * 8 and result["reset"]["note"] == \
        "reset to the origin; "
    python.set_code([0.5, -0.25])
    np.testing.assert_allclose(np.reshape(result["pixels"], (28, 28)), python.decoded,
                               atol=TOLERANCE)


@pytest.fixture(scope="module")
def mnist_conv_and_z8():
    from course_utils.explorer.widget import static_explorer_data

    return static_explorer_data({"conv": "mnist_conv", "z8": "mnist_dense_z8"}, n_images=10)


def chromium_or_skip() -> str:
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        pytest.skip("Chromium is not installed (apt-get install chromium): the static page "
                    "cannot be opened")
    pytest.importorskip("playwright.sync_api", reason="playwright (Python) is not installed")
    return executable


PIXEL_SUM = """(root) => {
  const canvas = root.querySelector("canvas.cu-image");
  const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let sum = 0;
  for (let i = 0; i < data.length; i += 4) sum += data[i];
  return sum;
}"""


def test_the_static_snippet_runs_in_chromium_without_a_kernel(tmp_path, mnist_conv_and_z8):
    """A smoke test of static_explorer_html in a real browser, offline (file://): keys,
    the map, Encode, the menu. The full browser tests live with the website's."""
    executable = chromium_or_skip()
    from playwright.sync_api import sync_playwright

    from course_utils.explorer.widget import static_explorer_html

    page_file = tmp_path / "page.html"
    page_file.write_text("<!doctype html><html><head><meta charset='utf-8'><title>t</title>"
                         "</head><body style='width:700px'>"
                         f"{static_explorer_html(mnist_conv_and_z8)}</body></html>")
    problems = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--no-first-run"])
        try:
            page = browser.new_page(viewport={"width": 1024, "height": 768})
            page.on("console", lambda message: problems.append(message.text)
                    if message.type == "error" else None)
            page.on("pageerror", lambda error: problems.append(str(error)))
            page.on("request", lambda request: problems.append(request.url)
                    if not request.url.startswith(("file:", "data:", "blob:")) else None)
            page.goto(page_file.as_uri())
            root = page.locator(".cu-explorer")
            root.locator("canvas.cu-image").first.wait_for(timeout=30_000)
            assert root.locator(".cu-mode").inner_text() == "decoding in this page"
            before = root.evaluate(PIXEL_SUM)
            slider = page.get_by_role("slider", name="z1")
            # Notebook 7 takes arrow keys from controls without this attribute
            assert slider.get_attribute("data-lm-suppress-shortcuts") == "true"
            slider.focus()
            page.keyboard.press("ArrowRight")
            assert page.get_by_label("z1 value").input_value() == "0.10"   # a visible step
            assert root.evaluate(PIXEL_SUM) != before
            box = root.locator("canvas.cu-map").bounding_box()
            page.mouse.click(box["x"] + 0.75 * box["width"], box["y"] + 0.25 * box["height"])
            assert "z = (1.50, 1.50)" in root.locator(".cu-status").inner_text()
            page.get_by_role("button", name="Encode").click()
            page.wait_for_function("document.querySelector('.cu-status').textContent"
                                   ".startsWith('encoded test image')", timeout=10_000)
            page.get_by_label("model").select_option("z8")
            page.wait_for_function("document.querySelectorAll('input[type=range]').length "
                                   "=== 8", timeout=10_000)
            assert root.locator("canvas.cu-map").count() == 0          # no map in 8-D
            width = page.evaluate("document.querySelector('.cu-explorer').scrollWidth")
            assert width <= 700                                         # nothing cut off
        finally:
            browser.close()
    assert not problems, problems


def test_the_bundled_module_imports_nothing_and_exports_plainly():
    """One self-contained module (anywidget loads it from a string; the website turns it
    into a classic script): no imports, and only plain function/const exports plus the
    default export anywidget wants."""
    import re

    from course_utils.explorer.widget import explorer_module_source

    source = explorer_module_source()
    assert not re.search(r"^\s*import\b", source, re.M)
    exports = re.findall(r"^export\b.*$", source, re.M)
    assert exports and all(re.match(r"export (function|const) \w+|export default \{ render \};$",
                                    line) for line in exports), exports
    assert "</script" not in source.lower()
