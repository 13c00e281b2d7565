import { base64ToBytes, loadDecoder } from "./decoder.js";
// The latent explorer's front end: one ES module for the notebook (an anywidget) and
// for a static web page (mountStatic, no kernel).
//
// It draws the model menu, one slider per latent dimension, the decoded image, the
// chosen test image with an Encode button, a Reset button, and for 2-D models a map of
// the test images' codes that sets the code on click or drag. It reads and writes the
// traits of course_utils.explorer.ExplorerWidget through the anywidget model API
// (get, set, on, off, save_changes, send), so any object with those methods can stand
// in for the model: createStaticModel builds one from embedded data.
//
// When the trait "spec" holds a decoder spec, every input event decodes in the page
// (decoder.js) and redraws at once; the code goes back to Python at most every
// SYNC_MS. Without a spec the code goes to the kernel, which answers with "pixels".
//
// Python bundles this file after decoder.js into one module (that import line
// removed), so names here must not clash with decoder.js's.

const SYNC_MS = 150;          // code -> Python while decoding in the page
const KERNEL_SYNC_MS = 30;    // code -> Python while the kernel decodes
const MAP_SIZE = 240;         // CSS pixels
// matplotlib's tab10, the colours of the course's scatter plots
const CLASS_COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
                       "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
const STYLE = `
.cu-explorer { font: 13px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif;
  box-sizing: border-box; max-width: 100%; padding: 4px 0; }
.cu-explorer *, .cu-explorer *::before, .cu-explorer *::after { box-sizing: inherit; }
.cu-explorer .cu-top, .cu-explorer .cu-bottom { display: flex; flex-wrap: wrap;
  align-items: center; gap: 6px 12px; margin: 2px 0 8px; }
.cu-explorer .cu-main { display: flex; flex-wrap: wrap; gap: 12px 18px;
  align-items: flex-start; }
.cu-explorer .cu-sliders { flex: 1 1 260px; min-width: 230px; max-width: 420px;
  max-height: 320px; overflow-y: auto; padding-right: 4px; }
.cu-explorer .cu-row { display: grid; align-items: center; gap: 4px;
  grid-template-columns: 2.4em 1.4em minmax(60px, 1fr) 1.6em 4.8em; margin: 2px 0; }
.cu-explorer .cu-row input[type=range] { width: 100%; min-width: 0; margin: 0; }
.cu-explorer .cu-end { font-size: 11px; opacity: 0.7; text-align: center; }
.cu-explorer .cu-readout { width: 4.8em; font: inherit; padding: 1px 2px; }
.cu-explorer figure { margin: 0; display: flex; flex-direction: column; gap: 4px; }
.cu-explorer figcaption { font-weight: 600; }
.cu-explorer .cu-image { display: block; border: 1px solid #767676; background: #fff;
  image-rendering: pixelated; }
.cu-explorer .cu-map { display: block; border: 1px solid #767676; background: #fff;
  cursor: crosshair; touch-action: none; }
.cu-explorer .cu-legend { display: flex; flex-wrap: wrap; gap: 0 6px; font-size: 11px;
  max-width: ${MAP_SIZE}px; }
.cu-explorer .cu-swatch { display: inline-block; width: 8px; height: 8px;
  border-radius: 50%; margin-right: 3px; }
.cu-explorer .cu-encode { display: flex; flex-wrap: wrap; align-items: center; gap: 4px; }
.cu-explorer .cu-encode input { width: 5em; font: inherit; }
.cu-explorer button, .cu-explorer select { font: inherit; padding: 2px 8px; }
.cu-explorer .cu-mode { font-size: 12px; opacity: 0.8; }
.cu-explorer .cu-mode::before { content: "\\25CF"; margin-right: 4px; color: #2ca02c; }
.cu-explorer .cu-mode.cu-kernel::before { color: #ff7f0e; }
.cu-explorer .cu-status { font-size: 12px; opacity: 0.85; overflow-wrap: anywhere; }
.cu-explorer .cu-hint { font-size: 11px; opacity: 0.7; max-width: ${MAP_SIZE}px; }
`;

// ------------------------------------------------------------------ helpers

const CONTROLS = new Set(["input", "select", "button"]);

function make(tag, attributes = {}, children = []) {
  const node = document.createElement(tag);
  // JupyterLab and Notebook 7 leave the keys pressed on a control to the control
  // (Notebook 7 would otherwise take a slider's arrow keys for its own shortcuts)
  if (CONTROLS.has(tag)) node.setAttribute("data-lm-suppress-shortcuts", "true");
  for (const [key, value] of Object.entries(attributes)) {
    if (key === "text") node.textContent = value;
    else if (key === "className") node.className = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}

/** Round to the sliders' grid of 0.01 and clip to [-range, range]. */
function snap(value, range) {
  const clipped = Math.min(range, Math.max(-range, value));
  return Math.round(clipped * 100) / 100;
}


/** A 28 x 28 canvas shown `scale` times larger with square pixels. */
function imageCanvas(height, width, scale, label) {
  const canvas = make("canvas", { className: "cu-image", role: "img", "aria-label": label });
  canvas.width = width;
  canvas.height = height;
  canvas.getContext("2d", { willReadFrequently: true }); // small, drawn often: keep on the CPU
  canvas.style.width = `${width * scale}px`;
  canvas.style.height = `${height * scale}px`;
  return canvas;
}

/** Draw grey levels (0 black .. 255 white) or probabilities (ink = 1) on a canvas. */
function drawPixels(canvas, values, isProbability) {
  const context = canvas.getContext("2d");
  const image = context.createImageData(canvas.width, canvas.height);
  const data = image.data;
  const count = canvas.width * canvas.height;
  for (let p = 0; p < count; p++) {
    let grey = 255;
    if (values && p < values.length) {
      grey = isProbability
        ? Math.round(255 * (1 - Math.min(1, Math.max(0, values[p]))))
        : values[p];
    }
    data[4 * p] = data[4 * p + 1] = data[4 * p + 2] = grey;
    data[4 * p + 3] = 255;
  }
  context.putImageData(image, 0, 0);
}

function float32FromBase64(text) {
  const bytes = base64ToBytes(text);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const values = new Float32Array(bytes.length / 4);
  for (let i = 0; i < values.length; i++) values[i] = view.getFloat32(4 * i, true);
  return values;
}

// ------------------------------------------------------------------ the view

class ExplorerView {
  constructor(model, root) {
    this.model = model;
    this.root = root;
    this.listeners = [];
    this.code = new Float64Array(0);
    this.decoder = null;
    this.syncTimer = null;
    this.syncPending = false;
    this.rebuildQueued = false;
    this.buildFrame();
    this.listen("change:model_names", () => this.fillMenu());
    this.listen("change:model_name", () => { this.menu.value = model.get("model_name"); });
    for (const name of ["active_model", "spec", "latent_dim", "points", "slider_range",
                        "image_shape", "fallback_reason"]) {
      this.listen(`change:${name}`, () => this.queueRebuild());
    }
    this.listen("change:code", () => this.adoptCode());
    this.listen("change:pixels", () => { if (!this.decoder) this.drawKernelPixels(); });
    this.listen("change:original", () => this.drawOriginal());
    this.listen("change:index", () => { this.indexInput.value = model.get("index"); });
    this.listen("change:n_images", () => this.updateEncodeControls());
    this.listen("change:note", () => this.showStatus());
    this.fillMenu();
    this.rebuild();
  }

  listen(event, callback) {
    this.model.on(event, callback);
    this.listeners.push([event, callback]);
  }

  destroy() {
    for (const [event, callback] of this.listeners) this.model.off(event, callback);
    clearTimeout(this.syncTimer);
    this.root.replaceChildren();
  }

  // --------------------------------------------------------------- layout

  buildFrame() {
    const model = this.model;
    this.menu = make("select", { "aria-label": "model" });
    this.menu.addEventListener("change", () => {
      this.status.textContent = `loading ${this.menu.value} ...`;
      model.set("model_name", this.menu.value);
      model.save_changes();
    });
    this.mode = make("span", { className: "cu-mode" });
    this.sliderBox = make("div", { className: "cu-sliders", role: "group",
                                   "aria-label": "latent code" });
    this.decodedFigure = make("figure", {}, [make("figcaption",
                                                  { text: "decoded from the code" })]);
    this.mapFigure = make("figure");
    this.originalFigure = make("figure", {}, [make("figcaption", { text: "test image" })]);
    this.indexInput = make("input", { type: "number", min: "0", step: "1",
                                      "aria-label": "test image index" });
    this.indexInput.addEventListener("change", () => this.chooseIndex());
    this.encodeButton = make("button", { type: "button", text: "Encode",
                                         title: "move the code to this test image's code" });
    this.encodeButton.addEventListener("click", () => this.encode());
    this.originalBox = make("div");
    this.originalFigure.append(this.originalBox, make("div", { className: "cu-encode" }, [
      make("label", { text: "index " }, [this.indexInput]), this.encodeButton]));
    this.resetButton = make("button", { type: "button", text: "Reset to origin",
                                        title: "set every coordinate to 0" });
    this.resetButton.addEventListener("click", () => this.reset());
    this.status = make("span", { className: "cu-status", "aria-live": "polite" });
    this.root.replaceChildren(make("div", { className: "cu-explorer" }, [
      make("style", { text: STYLE }),
      make("div", { className: "cu-top" }, [
        make("label", { text: "model " }, [this.menu]), this.mode]),
      make("div", { className: "cu-main" }, [
        this.sliderBox, this.decodedFigure, this.mapFigure, this.originalFigure]),
      make("div", { className: "cu-bottom" }, [this.resetButton, this.status]),
    ]));
  }

  fillMenu() {
    const names = this.model.get("model_names") || [];
    this.menu.replaceChildren(...names.map((name) => make("option", { value: name,
                                                                      text: name })));
    this.menu.value = this.model.get("model_name");
  }

  queueRebuild() {
    if (this.rebuildQueued) return;
    this.rebuildQueued = true;
    queueMicrotask(() => {
      this.rebuildQueued = false;
      this.rebuild();
    });
  }

  /** Everything that depends on the active model: decoder, sliders, images, map. */
  rebuild() {
    const model = this.model;
    const latentDim = model.get("latent_dim");
    const [height, width] = model.get("image_shape");
    const scale = model.get("scale");
    this.range = model.get("slider_range");
    this.keyStep = model.get("key_step");
    this.menu.value = model.get("model_name");
    this.decoder = null;
    let reason = model.get("fallback_reason") || "";
    const spec = model.get("spec");
    if (spec) {
      try {
        this.decoder = loadDecoder(spec);
      } catch (error) {
        reason = `the page cannot run this decoder: ${error.message}`;
        model.send({ event: "page_failed", model: model.get("active_model"), error: reason });
      }
    }
    this.mode.textContent = this.decoder ? "decoding in this page" : "decoding in the kernel";
    this.mode.classList.toggle("cu-kernel", !this.decoder);
    this.mode.title = this.decoder
      ? "each move is decoded by JavaScript in the browser, with no round trip"
      : reason;
    const incoming = model.get("code") || [];
    this.code = Float64Array.from({ length: latentDim }, (_, d) => incoming[d] || 0);
    this.buildSliders(latentDim);
    this.decoded = imageCanvas(height, width, scale, "decoded image");
    this.decodedFigure.replaceChildren(this.decodedFigure.firstChild, this.decoded);
    this.original = imageCanvas(height, width, scale, "test image");
    this.originalBox.replaceChildren(this.original);
    this.buildMap(latentDim === 2 ? model.get("points") : null);
    this.indexInput.value = model.get("index");
    this.updateEncodeControls();
    this.drawOriginal();
    this.redraw();
    if (!this.decoder) this.drawKernelPixels();
  }

  buildSliders(latentDim) {
    const range = this.range;
    this.sliders = [];
    this.readouts = [];
    const rows = [];
    for (let d = 0; d < latentDim; d++) {
      const name = `z${d + 1}`;
      const slider = make("input", { type: "range", min: String(-range), max: String(range),
                                     step: "0.01", "aria-label": name });
      slider.value = String(this.code[d]);
      slider.addEventListener("input", () => this.setCoordinate(d, Number(slider.value)));
      slider.addEventListener("keydown", (event) => this.onSliderKey(event, d));
      slider.addEventListener("change", () => this.flushSync());
      const readout = make("input", { type: "number", className: "cu-readout",
                                      min: String(-range), max: String(range),
                                      step: String(this.keyStep),
                                      "aria-label": `${name} value` });
      readout.value = this.code[d].toFixed(2);
      readout.addEventListener("change", () => {
        const value = Number(readout.value);
        if (Number.isFinite(value)) this.setCoordinate(d, value);
        else readout.value = this.code[d].toFixed(2);
        this.flushSync();
      });
      this.sliders.push(slider);
      this.readouts.push(readout);
      rows.push(make("div", { className: "cu-row" }, [
        make("label", { text: name }), make("span", { className: "cu-end", text: `-${range}` }),
        slider, make("span", { className: "cu-end", text: `+${range}` }), readout]));
    }
    this.sliderBox.replaceChildren(...rows);
  }

  /** Arrow keys move by key_step (0.1), so a key press changes the picture visibly. */
  onSliderKey(event, d) {
    const steps = { ArrowRight: 1, ArrowUp: 1, ArrowLeft: -1, ArrowDown: -1 };
    let value = null;
    if (event.key in steps) {
      value = this.code[d] + steps[event.key] * (event.shiftKey ? 0.01 : this.keyStep);
    } else if (event.key === "PageUp" || event.key === "PageDown") {
      value = this.code[d] + (event.key === "PageUp" ? 1 : -1);
    } else if (event.key === "Home" || event.key === "End") {
      value = event.key === "End" ? this.range : -this.range;
    }
    if (value === null) return;
    event.preventDefault();
    this.setCoordinate(d, value);
  }

  updateEncodeControls() {
    const count = this.model.get("n_images") || 0;
    this.indexInput.max = String(Math.max(0, count - 1));
    this.indexInput.disabled = this.encodeButton.disabled = count === 0;
    this.encodeButton.title = count === 0
      ? "this model has no test images: pass images=... in Python"
      : "move the code to this test image's code";
  }

  // ------------------------------------------------------------------ map

  buildMap(points) {
    this.map = null;
    if (!points) {
      this.mapFigure.replaceChildren();
      this.mapFigure.hidden = true;
      return;
    }
    this.mapFigure.hidden = false;
    const ratio = globalThis.devicePixelRatio || 1;
    const canvas = make("canvas", { className: "cu-map", role: "img",
                                    "aria-label": "latent map: click or drag to set z1, z2" });
    canvas.width = canvas.height = Math.round(MAP_SIZE * ratio);
    canvas.style.width = canvas.style.height = `${MAP_SIZE}px`;
    this.map = { canvas, background: this.drawMapBackground(points, canvas.width) };
    let dragging = false;
    const follow = (event) => {
      const box = canvas.getBoundingClientRect();
      const u = (event.clientX - box.left) / box.width;
      const v = (event.clientY - box.top) / box.height;
      this.setCode([this.range * (2 * u - 1), this.range * (1 - 2 * v)]);
    };
    canvas.addEventListener("pointerdown", (event) => {
      if (event.button !== 0) return;
      dragging = true;
      canvas.setPointerCapture?.(event.pointerId);
      follow(event);
      event.preventDefault();
    });
    canvas.addEventListener("pointermove", (event) => { if (dragging) follow(event); });
    const stop = () => {
      if (!dragging) return;
      dragging = false;
      this.flushSync();
    };
    canvas.addEventListener("pointerup", stop);
    canvas.addEventListener("pointercancel", stop);
    const names = points.class_names || [];
    const legend = make("div", { className: "cu-legend" }, names.map((name, k) =>
      make("span", {}, [make("span", { className: "cu-swatch",
                                       style: `background:${CLASS_COLOURS[k % 10]}` }),
                        name])));
    this.mapFigure.replaceChildren(
      make("figcaption", { text: "codes of the test images" }), canvas, legend,
      make("div", { className: "cu-hint",
                    text: "click or drag on the map to set (z1, z2); z1 across, z2 up" }));
  }

  /** Axes, grid and the scattered codes, drawn once per model into an offscreen canvas. */
  drawMapBackground(points, size) {
    const canvas = document.createElement("canvas");
    canvas.width = canvas.height = size;
    const context = canvas.getContext("2d");
    const range = this.range;
    const toPixel = (z) => ((z + range) / (2 * range)) * size;
    context.fillStyle = "#fff";
    context.fillRect(0, 0, size, size);
    context.lineWidth = Math.max(1, size / MAP_SIZE);
    for (let t = Math.ceil(-range); t <= range; t++) {
      context.strokeStyle = t === 0 ? "#999" : "#e4e4e4";
      const p = Math.round(toPixel(t)) + 0.5;
      context.beginPath();
      context.moveTo(p, 0);
      context.lineTo(p, size);
      context.moveTo(0, size - p);
      context.lineTo(size, size - p);
      context.stroke();
    }
    const codes = points.codes ? float32FromBase64(points.codes) : new Float32Array(0);
    const labels = points.labels ? base64ToBytes(points.labels) : null;
    const radius = 1.6 * (size / MAP_SIZE);
    context.globalAlpha = 0.6;
    for (let i = 0; i < codes.length / 2; i++) {
      context.fillStyle = labels ? CLASS_COLOURS[labels[i] % 10] : CLASS_COLOURS[0];
      context.beginPath();
      context.arc(toPixel(codes[2 * i]), size - toPixel(codes[2 * i + 1]), radius, 0,
                  2 * Math.PI);
      context.fill();
    }
    context.globalAlpha = 1;
    context.fillStyle = "#555";
    context.font = `${Math.round(11 * size / MAP_SIZE)}px sans-serif`;
    context.fillText(`z1 = ${range}`, size * 0.76, size * 0.5 - 4);
    context.fillText(`z2 = ${range}`, size * 0.5 + 4, 12 * size / MAP_SIZE);
    return canvas;
  }

  drawMap() {
    if (!this.map) return;
    const { canvas, background } = this.map;
    const context = canvas.getContext("2d");
    const size = canvas.width;
    context.drawImage(background, 0, 0);
    const x = ((this.code[0] + this.range) / (2 * this.range)) * size;
    const y = size - ((this.code[1] + this.range) / (2 * this.range)) * size;
    const unit = size / MAP_SIZE;
    context.lineWidth = 3 * unit;
    context.strokeStyle = "#fff";
    context.beginPath();
    context.arc(x, y, 6 * unit, 0, 2 * Math.PI);
    context.stroke();
    context.lineWidth = 1.5 * unit;
    context.strokeStyle = "#000";
    context.stroke();
    context.beginPath();
    context.moveTo(x - 9 * unit, y);
    context.lineTo(x + 9 * unit, y);
    context.moveTo(x, y - 9 * unit);
    context.lineTo(x, y + 9 * unit);
    context.stroke();
  }

  // ---------------------------------------------------------------- the code

  setCoordinate(d, value) {
    const code = Array.from(this.code);
    code[d] = value;
    this.setCode(code);
  }

  /** A new code from the page: show it, decode it, and tell Python soon. */
  setCode(values) {
    for (let d = 0; d < this.code.length; d++) this.code[d] = snap(values[d], this.range);
    this.updateControls();
    this.redraw();
    this.scheduleSync();
  }

  updateControls() {
    for (let d = 0; d < this.code.length; d++) {
      if (Number(this.sliders[d].value) !== this.code[d]) {
        this.sliders[d].value = String(this.code[d]);
      }
      this.readouts[d].value = this.code[d].toFixed(2);
    }
  }

  /** Decode (in the page) and draw; also the map marker and the status line. */
  redraw() {
    if (this.decoder) drawPixels(this.decoded, this.decoder.decode(this.code), true);
    this.drawMap();
    this.showStatus();
  }

  drawKernelPixels() {
    const pixels = this.model.get("pixels");
    drawPixels(this.decoded, pixels ? base64ToBytes(pixels) : null, false);
  }

  drawOriginal() {
    if (!this.original) return;
    const original = this.model.get("original");
    drawPixels(this.original, original ? base64ToBytes(original) : null, false);
  }

  showStatus() {
    const values = Array.from(this.code, (value) => value.toFixed(2)).join(", ");
    const length = Math.hypot(...this.code);
    this.status.textContent = `${this.model.get("note") || ""}z = (${values}), ` +
                              `|z| = ${length.toFixed(2)}`;
  }

  /** Send the code to Python now, then at most once per interval while it changes. */
  scheduleSync() {
    if (this.syncTimer !== null) {
      this.syncPending = true;
      return;
    }
    this.pushCode();
    this.syncTimer = setTimeout(() => {
      this.syncTimer = null;
      if (this.syncPending) {
        this.syncPending = false;
        this.scheduleSync();
      }
    }, this.decoder ? SYNC_MS : KERNEL_SYNC_MS);
  }

  flushSync() {
    if (this.syncPending) {
      this.syncPending = false;
      this.pushCode();
    }
  }

  pushCode() {
    this.model.set("code", Array.from(this.code));
    this.model.save_changes();
  }

  /** A code from Python (set_code, Encode, Reset): adopt it unless it is ours. */
  adoptCode() {
    const incoming = this.model.get("code") || [];
    if (incoming.length !== this.code.length) return; // a model change is on its way
    if (incoming.every((value, d) => Math.abs(value - this.code[d]) < 1e-9)) return;
    this.syncPending = false;
    this.code = Float64Array.from(incoming);
    this.updateControls();
    this.redraw();
  }

  // ------------------------------------------------------------- buttons

  chooseIndex() {
    const count = this.model.get("n_images") || 0;
    let index = Math.round(Number(this.indexInput.value));
    if (!Number.isFinite(index)) index = this.model.get("index");
    index = Math.min(Math.max(index, 0), Math.max(count - 1, 0));
    this.indexInput.value = index;
    this.model.set("index", index);
    this.model.save_changes();
    return index;
  }

  encode() {
    const index = this.chooseIndex();
    this.flushSync();
    this.model.send({ event: "encode", index });
  }

  reset() {
    if (this.decoder) this.setCode(new Array(this.code.length).fill(0));
    this.flushSync();
    this.model.send({ event: "reset" });
  }
}

/**
 * anywidget's entry point: draw the explorer for `model` into `el`.
 * @returns {() => void} cleanup, called when the view goes away
 */
function render({ model, el }) {
  const view = new ExplorerView(model, el);
  return () => view.destroy();
}

// --------------------------------------------------------- a page, no kernel

/**
 * A stand-in for the anywidget model on a page with no kernel: the same traits in a
 * plain object, and what Python would do (switch model, show a test image, encode
 * one, reset) done from the embedded data of course_utils.explorer.static_explorer_data.
 *
 * @param {object} data  {model_names, models: {name: {latent_dim, spec, points,
 *   images, codes, default_index}}, slider_range, key_step, scale, image_shape}
 * @returns {{get, set, on, off, save_changes, send}}
 */
export function createStaticModel(data) {
  const state = {
    model_names: data.model_names, model_name: data.model_names[0], active_model: "",
    slider_range: data.slider_range, key_step: data.key_step, scale: data.scale,
    image_shape: data.image_shape, latent_dim: 0, code: [], spec: null, pixels: "",
    fallback_reason: "", points: null, original: "", index: 0, n_images: 0, note: "",
  };
  const handlers = new Map();
  let changed = new Set();
  const emit = (event) => {
    for (const callback of [...(handlers.get(event) || [])]) callback();
  };
  const same = (a, b) => a === b || JSON.stringify(a) === JSON.stringify(b);
  // what the kernel would send: set without marking as changed by the page
  const update = (values) => {
    const keys = Object.keys(values).filter((key) => !same(state[key], values[key]));
    for (const key of keys) state[key] = values[key];
    for (const key of keys) emit(`change:${key}`);
    if (keys.length) emit("change");
  };
  const imageOf = (entry, index) => {
    const size = data.image_shape[0] * data.image_shape[1];
    const bytes = base64ToBytes(entry.images).subarray(index * size, (index + 1) * size);
    let text = "";
    for (const byte of bytes) text += String.fromCharCode(byte);
    return btoa(text);
  };
  const activate = (name) => {
    const entry = data.models[name];
    const count = entry.n_images || 0;
    const index = count ? Math.min(entry.default_index || 0, count - 1) : 0;
    update({
      latent_dim: entry.latent_dim, spec: entry.spec, points: entry.points || null,
      code: new Array(entry.latent_dim).fill(0), n_images: count, index,
      original: count ? imageOf(entry, index) : "", fallback_reason: "",
      note: `model '${name}', ${entry.latent_dim}-D latent space; `, active_model: name,
    });
  };
  const react = (keys) => {
    const entry = data.models[state.model_name];
    if (keys.has("model_name") && state.model_name !== state.active_model) {
      activate(state.model_name);
      return;
    }
    if (keys.has("index") && entry.n_images) update({ original: imageOf(entry, state.index) });
    if (keys.has("code")) update({ note: "" }); // a hand on the controls, as in Python
  };
  const receive = (message) => {
    const entry = data.models[state.active_model];
    const d = entry.latent_dim;
    if (message.event === "encode" && entry.n_images) {
      const index = Math.min(Math.max(message.index | 0, 0), entry.n_images - 1);
      const codes = float32FromBase64(entry.codes);
      const mean = Array.from(codes.subarray(index * d, (index + 1) * d));
      const clipped = mean.some((value) => Math.abs(value) > state.slider_range);
      update({ index, original: imageOf(entry, index),
               code: mean.map((value) => snap(value, state.slider_range)),
               note: `encoded test image ${index}; ` +
                     (clipped ? "clipped to the slider range; " : "") });
    } else if (message.event === "reset") {
      update({ code: new Array(d).fill(0), note: "reset to the origin; " });
    }
  };
  const model = {
    get: (key) => state[key],
    set(key, value) {
      if (same(state[key], value)) return;
      state[key] = value;
      changed.add(key);
      emit(`change:${key}`);
      emit("change");
    },
    on(event, callback) {
      if (!handlers.has(event)) handlers.set(event, new Set());
      handlers.get(event).add(callback);
    },
    off(event, callback) {
      if (!event) handlers.clear();
      else if (!callback) handlers.delete(event);
      else handlers.get(event)?.delete(callback);
    },
    save_changes() {
      const keys = changed;
      changed = new Set();
      queueMicrotask(() => react(keys)); // as a kernel would: later, not inside the call
    },
    send(message) {
      queueMicrotask(() => receive(message));
    },
  };
  activate(state.model_name);
  return model;
}

/**
 * Mount a working explorer on a page with no kernel.
 *
 * @param {HTMLElement} el  where to draw it
 * @param {object} data  from course_utils.explorer.static_explorer_data (as JSON)
 * @returns {{model: object, destroy: () => void}}
 */
export function mountStatic(el, data) {
  const model = createStaticModel(data);
  const destroy = render({ model, el });
  return { model, destroy };
}

export default { render };
