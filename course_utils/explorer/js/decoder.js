// Decode latent codes to pixel probabilities in the page, with no kernel.
//
// A decoder arrives as a plain JSON "spec" written by course_utils.explorer.page_decoder
// (export_decoder): the layer list, shapes, activations and weights (base64,
// little-endian float32, or float16 where that loses nothing). decode(code) runs
// the layers in order and applies a sigmoid to the last layer's logits, exactly as
// VAE.decode does in Python, and returns the pixel probabilities row by row.
//
// Supported layers: "dense" (kernel (in, out)), "reshape", "flatten" (both free:
// the buffer is already channels-last, row-major), "conv2d_transpose" (kernel
// (kh, kw, out, in) as Keras stores it; "same" or "valid" padding; any stride) and
// "activation"; activations "relu" and "linear". The Python exporter refuses
// anything else, and so does loadDecoder.
//
// Speed: every buffer is a Float32Array allocated once; the layers scatter each
// nonzero input into the outputs it feeds, so the zeros a ReLU leaves behind cost
// nothing, and the innermost loop runs over contiguous output channels.
//
// Plain modern JavaScript, no dependencies, no build step: it runs in browsers and
// in node (which the parity test uses).

export const SPEC_FORMAT = "course-utils-decoder";
export const SPEC_VERSION = 1;
const ACTIVATIONS = new Set(["relu", "linear"]);

// ------------------------------------------------------------------ weights

/** Bytes of a base64 string (atob exists in browsers and in node >= 16). */
export function base64ToBytes(text) {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** An IEEE 754 half-precision number, given as its 16 bits, as a JS number. */
function halfToNumber(bits) {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24; // zero and subnormals
  if (exponent === 31) return fraction ? NaN : sign * Infinity;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

const product = (shape) => shape.reduce((a, b) => a * b, 1);

/**
 * A weight array of a spec as a Float32Array.
 * @param {{shape: number[], dtype: string, data: string}} weight
 * @param {string} where  what to name in an error message
 */
export function decodeWeight(weight, where) {
  if (!weight || !Array.isArray(weight.shape) || typeof weight.data !== "string") {
    throw new Error(`${where}: expected {shape, dtype, data}, got ${JSON.stringify(weight)}`);
  }
  const size = product(weight.shape);
  const bytes = base64ToBytes(weight.data);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const width = { float32: 4, float16: 2 }[weight.dtype];
  if (!width) throw new Error(`${where}: dtype must be float32 or float16, got ${weight.dtype}`);
  if (bytes.length !== size * width) {
    throw new Error(`${where}: shape [${weight.shape}] needs ${size * width} bytes of ` +
                    `${weight.dtype}, got ${bytes.length}`);
  }
  const values = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    values[i] = width === 4 ? view.getFloat32(4 * i, true)
                            : halfToNumber(view.getUint16(2 * i, true));
  }
  return values;
}

// ------------------------------------------------------------------- layers

function applyActivation(values, activation) {
  if (activation === "relu") {
    for (let i = 0; i < values.length; i++) if (values[i] < 0) values[i] = 0;
  }
}

function checkActivation(activation, where) {
  if (!ACTIVATIONS.has(activation)) {
    throw new Error(`${where}: activation must be one of ${[...ACTIVATIONS]}, got ${activation}`);
  }
}

/** Dense: out[j] = bias[j] + sum_i x[i] kernel[i, j], then the activation. */
function denseStep(layer, inShape, where) {
  if (inShape.length !== 1) throw new Error(`${where}: dense needs a flat input, got [${inShape}]`);
  const [inputs] = inShape;
  const units = layer.units;
  const kernel = decodeWeight(layer.kernel, `${where} kernel`);
  if (layer.kernel.shape[0] !== inputs || layer.kernel.shape[1] !== units) {
    throw new Error(`${where}: kernel shape [${layer.kernel.shape}] does not map ${inputs} ` +
                    `inputs to ${units} units`);
  }
  const bias = layer.bias ? decodeWeight(layer.bias, `${where} bias`) : new Float32Array(units);
  if (bias.length !== units) throw new Error(`${where}: bias needs ${units} values`);
  checkActivation(layer.activation, where);
  const out = new Float32Array(units);
  const run = (x) => {
    out.set(bias);
    for (let i = 0; i < inputs; i++) {
      const xi = x[i];
      if (xi === 0) continue; // a ReLU's zeros cost nothing
      const row = i * units;
      for (let j = 0; j < units; j++) out[j] += xi * kernel[row + j];
    }
    applyActivation(out, layer.activation);
    return out;
  };
  return { run, shape: [units] };
}

/**
 * The padding Keras (TensorFlow's conv2d_transpose) puts before the first output
 * along one axis: output o receives input i through kernel tap k when
 * o = i * stride + k - before.
 */
function padBefore(padding, size, kernel, stride, outSize) {
  if (padding === "valid") return 0;
  return Math.floor(Math.max(0, (size - 1) * stride + kernel - outSize) / 2);
}

/** Keras' output length of a transposed convolution (output_padding None). */
function transposedLength(padding, size, kernel, stride) {
  return padding === "same" ? size * stride : size * stride + Math.max(kernel - stride, 0);
}

/**
 * The arithmetic of a transposed convolution, kept in one function whose arguments are
 * all locals (which the JavaScript engine optimises best): every nonzero input value
 * x[i, j, c] adds x * kernel[c, ky, kx, :] to the outputs (i sy + ky - top, j sx + kx -
 * left, :) that lie inside the image. The nonzero channels of an input pixel are first
 * listed (values, kernel offsets), then added eight at a time, so that each output
 * value is read and written once per eight multiply-adds.
 */
function convTranspose(x, out, kernel, bias, geometry, values, offsets) {
  const [height, width, inChannels, kh, kw, sy, sx, filters, outHeight, outWidth, top,
         left] = geometry;
  for (let p = 0; p < outHeight * outWidth; p++) out.set(bias, p * filters);
  const taps = kh * kw * filters;
  for (let i = 0; i < height; i++) {
    // kernel rows that land inside the output for input row i
    const y0 = Math.max(0, top - i * sy);
    const y1 = Math.min(kh, outHeight + top - i * sy);
    for (let j = 0; j < width; j++) {
      const x0 = Math.max(0, left - j * sx);
      const x1 = Math.min(kw, outWidth + left - j * sx);
      const inBase = (i * width + j) * inChannels;
      let n = 0;
      for (let c = 0; c < inChannels; c++) {
        const v = x[inBase + c];
        if (v === 0) continue; // a ReLU's zeros cost nothing
        values[n] = v;
        offsets[n] = c * taps;
        n++;
      }
      for (let ky = y0; ky < y1; ky++) {
        const rowBase = ((i * sy + ky - top) * outWidth - left + j * sx) * filters;
        for (let kx = x0; kx < x1; kx++) {
          const o = rowBase + kx * filters;
          const tap = (ky * kw + kx) * filters;
          let t = 0;
          for (; t + 7 < n; t += 8) {
            const v0 = values[t], v1 = values[t + 1], v2 = values[t + 2], v3 = values[t + 3];
            const v4 = values[t + 4], v5 = values[t + 5], v6 = values[t + 6], v7 = values[t + 7];
            const k0 = offsets[t] + tap, k1 = offsets[t + 1] + tap;
            const k2 = offsets[t + 2] + tap, k3 = offsets[t + 3] + tap;
            const k4 = offsets[t + 4] + tap, k5 = offsets[t + 5] + tap;
            const k6 = offsets[t + 6] + tap, k7 = offsets[t + 7] + tap;
            for (let f = 0; f < filters; f++) {
              out[o + f] += v0 * kernel[k0 + f] + v1 * kernel[k1 + f] +
                            v2 * kernel[k2 + f] + v3 * kernel[k3 + f] +
                            v4 * kernel[k4 + f] + v5 * kernel[k5 + f] +
                            v6 * kernel[k6 + f] + v7 * kernel[k7 + f];
            }
          }
          for (; t < n; t++) {
            const v = values[t];
            const k = offsets[t] + tap;
            for (let f = 0; f < filters; f++) out[o + f] += v * kernel[k + f];
          }
        }
      }
    }
  }
}

/**
 * The same transposed convolution as convTranspose, computed output by output: each
 * output sums, over the kernel taps that reach it, the dot product of an input pixel's
 * channels with the tap's weights (Keras' own layout (kh, kw, out, in): contiguous in
 * `in`). Faster than scattering when there are few output channels (the last layer,
 * one channel), where the scatter's innermost loop would be one step long.
 */
function convTransposeGather(x, out, kernel, bias, geometry) {
  const [height, width, inChannels, kh, kw, sy, sx, filters, outHeight, outWidth, top,
         left] = geometry;
  for (let oy = 0; oy < outHeight; oy++) {
    for (let ox = 0; ox < outWidth; ox++) {
      const o = (oy * outWidth + ox) * filters;
      for (let f = 0; f < filters; f++) out[o + f] = bias[f];
      for (let ky = 0; ky < kh; ky++) {
        const ty = oy + top - ky; // = i * sy for the input row i this tap reads
        const i = (ty / sy) | 0;
        if (ty < 0 || i * sy !== ty || i >= height) continue;
        for (let kx = 0; kx < kw; kx++) {
          const tx = ox + left - kx;
          const j = (tx / sx) | 0;
          if (tx < 0 || j * sx !== tx || j >= width) continue;
          const xBase = (i * width + j) * inChannels;
          for (let f = 0; f < filters; f++) {
            const kBase = ((ky * kw + kx) * filters + f) * inChannels;
            let sum = 0;
            let c = 0;
            for (; c + 3 < inChannels; c += 4) { // unrolled by four
              sum += x[xBase + c] * kernel[kBase + c] +
                     x[xBase + c + 1] * kernel[kBase + c + 1] +
                     x[xBase + c + 2] * kernel[kBase + c + 2] +
                     x[xBase + c + 3] * kernel[kBase + c + 3];
            }
            for (; c < inChannels; c++) sum += x[xBase + c] * kernel[kBase + c];
            out[o + f] += sum;
          }
        }
      }
    }
  }
}

/** A Conv2DTranspose kernel rearranged from Keras' (kh, kw, out, in) to (in, kh, kw, out). */
function inputMajor(keras, kh, kw, filters, inChannels) {
  const kernel = new Float32Array(keras.length);
  for (let y = 0; y < kh; y++) {
    for (let x = 0; x < kw; x++) {
      for (let f = 0; f < filters; f++) {
        for (let c = 0; c < inChannels; c++) {
          kernel[((c * kh + y) * kw + x) * filters + f] =
            keras[((y * kw + x) * filters + f) * inChannels + c];
        }
      }
    }
  }
  return kernel;
}

/**
 * Conv2DTranspose, channels last. Keras stores the kernel as (kh, kw, out, in); for the
 * scatter it is rearranged once to (in, kh, kw, out), so that one input value meets its
 * kh * kw * out weights in one contiguous run.
 */
function convTransposeStep(layer, inShape, where) {
  if (inShape.length !== 3) {
    throw new Error(`${where}: conv2d_transpose needs an (h, w, c) input, got [${inShape}]`);
  }
  const [height, width, inChannels] = inShape;
  const [kh, kw] = layer.kernel_size;
  const [sy, sx] = layer.strides;
  const filters = layer.filters;
  if (layer.padding !== "same" && layer.padding !== "valid") {
    throw new Error(`${where}: padding must be same or valid, got ${layer.padding}`);
  }
  const shape = layer.kernel.shape;
  if (shape.length !== 4 || shape[0] !== kh || shape[1] !== kw || shape[2] !== filters ||
      shape[3] !== inChannels) {
    throw new Error(`${where}: kernel shape [${shape}] is not [${kh}, ${kw}, ${filters}, ` +
                    `${inChannels}] (kh, kw, out, in)`);
  }
  checkActivation(layer.activation, where);
  const keras = decodeWeight(layer.kernel, `${where} kernel`);
  // few output channels (the last layer): gather, in Keras' layout; else scatter
  const gather = filters < 4;
  const kernel = gather ? keras : inputMajor(keras, kh, kw, filters, inChannels);
  const bias = layer.bias ? decodeWeight(layer.bias, `${where} bias`)
                          : new Float32Array(filters);
  if (bias.length !== filters) throw new Error(`${where}: bias needs ${filters} values`);
  const outHeight = transposedLength(layer.padding, height, kh, sy);
  const outWidth = transposedLength(layer.padding, width, kw, sx);
  const top = padBefore(layer.padding, height, kh, sy, outHeight);
  const left = padBefore(layer.padding, width, kw, sx, outWidth);
  const out = new Float32Array(outHeight * outWidth * filters);
  const geometry = new Int32Array([height, width, inChannels, kh, kw, sy, sx, filters,
                                   outHeight, outWidth, top, left]);
  const values = new Float32Array(inChannels);  // one input pixel's nonzero channels
  const offsets = new Int32Array(inChannels);
  const run = (x) => {
    if (gather) convTransposeGather(x, out, kernel, bias, geometry);
    else convTranspose(x, out, kernel, bias, geometry, values, offsets);
    applyActivation(out, layer.activation);
    return out;
  };
  return { run, shape: [outHeight, outWidth, filters] };
}

function reshapeStep(layer, inShape, where) {
  const target = layer.target_shape;
  if (!Array.isArray(target) || product(target) !== product(inShape)) {
    throw new Error(`${where}: cannot reshape [${inShape}] to [${target}]`);
  }
  return { run: (x) => x, shape: target.slice() };
}

function activationStep(layer, inShape, where) {
  checkActivation(layer.activation, where);
  const out = new Float32Array(product(inShape));
  const run = (x) => {
    out.set(x);
    applyActivation(out, layer.activation);
    return out;
  };
  return { run, shape: inShape };
}

const STEPS = {
  dense: denseStep,
  conv2d_transpose: convTransposeStep,
  reshape: reshapeStep,
  flatten: (layer, inShape) => ({ run: (x) => x, shape: [product(inShape)] }),
  activation: activationStep,
};

// ------------------------------------------------------------------ decoder

/**
 * Build a decoder from a spec (see course_utils.explorer.page_decoder.export_decoder).
 *
 * @param {object} spec
 * @returns {{latentDim: number, height: number, width: number,
 *            decode: (code: ArrayLike<number>, out?: Float32Array) => Float32Array}}
 *   decode(code) returns height * width pixel probabilities, row by row, in a buffer
 *   it reuses (pass `out` to keep a copy).
 * @throws {Error} for a spec it cannot run exactly, saying what is wrong.
 */
export function loadDecoder(spec) {
  if (!spec || spec.format !== SPEC_FORMAT || spec.version !== SPEC_VERSION) {
    throw new Error(`not a decoder spec of format ${SPEC_FORMAT} version ${SPEC_VERSION}`);
  }
  const latentDim = spec.latent_dim;
  const [height, width] = spec.image_shape;
  if (!(latentDim >= 1) || !(height >= 1) || !(width >= 1)) {
    throw new Error("spec needs latent_dim and image_shape [h, w]");
  }
  let shape = [latentDim];
  const steps = spec.layers.map((layer, index) => {
    const where = `layer ${index} (${layer.name || layer.type})`;
    const make = STEPS[layer.type];
    if (!make) throw new Error(`${where}: unsupported layer type ${layer.type}`);
    const step = make(layer, shape, where);
    shape = step.shape;
    return step.run;
  });
  if (product(shape) !== height * width || (shape.length === 3 && shape[2] !== 1)) {
    throw new Error(`the last layer gives [${shape}], not one ${height} x ${width} image`);
  }
  const input = new Float32Array(latentDim);
  const pixels = new Float32Array(height * width);
  const decode = (code, out = pixels) => {
    if (code.length !== latentDim) {
      throw new Error(`code must have ${latentDim} values, got ${code.length}`);
    }
    for (let i = 0; i < latentDim; i++) input[i] = code[i];
    let x = input;
    for (const run of steps) x = run(x);
    for (let p = 0; p < out.length; p++) out[p] = 1 / (1 + Math.exp(-x[p])); // sigmoid
    return out;
  };
  return { latentDim, height, width, decode };
}
