// Decode latent codes to pixel probabilities in the page, with no kernel.
//
// A decoder arrives as a plain JSON "spec" written by course_utils.page_decoder
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
 * left, :) that lie inside the image.
 */
function convTranspose(x, out, kernel, bias, geometry) {
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
      for (let c = 0; c < inChannels; c++) {
        const v = x[inBase + c];
        if (v === 0) continue; // a ReLU's zeros cost nothing
        const kernelBase = c * taps;
        for (let ky = y0; ky < y1; ky++) {
          const rowBase = ((i * sy + ky - top) * outWidth - left + j * sx) * filters;
          for (let kx = x0; kx < x1; kx++) {
            const o = rowBase + kx * filters;
            const k = kernelBase + (ky * kw + kx) * filters;
            if (filters === 1) {
              out[o] += v * kernel[k];
              continue;
            }
            let f = 0;
            for (; f + 7 < filters; f += 8) { // unrolled: about 10-25 % faster in V8
              const p = o + f;
              const q = k + f;
              out[p] += v * kernel[q];
              out[p + 1] += v * kernel[q + 1];
              out[p + 2] += v * kernel[q + 2];
              out[p + 3] += v * kernel[q + 3];
              out[p + 4] += v * kernel[q + 4];
              out[p + 5] += v * kernel[q + 5];
              out[p + 6] += v * kernel[q + 6];
              out[p + 7] += v * kernel[q + 7];
            }
            for (; f < filters; f++) out[o + f] += v * kernel[k + f];
          }
        }
      }
    }
  }
}

/**
 * Conv2DTranspose, channels last. Keras stores the kernel as (kh, kw, out, in); it is
 * rearranged once to (in, kh, kw, out), so that one input value meets its kh * kw * out
 * weights in one contiguous run.
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
  const run = (x) => {
    convTranspose(x, out, kernel, bias, geometry);
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
 * Build a decoder from a spec (see course_utils.page_decoder.export_decoder).
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
