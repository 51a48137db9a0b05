// The layers of tinyvae/layers.py, copied line for line for one example at a time (N = 1), so that
// the page runs the run's own decoder.  tests/test_explore_browser.py checks in Chromium that
// decode(z) here equals model.decode(z) in Python to 1e-4 per pixel.
"use strict";

class Linear {                       // layers.py: class Linear
  constructor(W, b, D_in, D_out) {
    this.params = {W: W, b: b};      // W (D_in, D_out) row-major, b (D_out,)
    this.D_in = D_in; this.D_out = D_out;
  }
  forward(x) {                       // out = x @ W + b: (D_in,) -> (D_out,)
    const W = this.params.W, D_out = this.D_out;
    const out = new Float64Array(D_out);         // out = x @ W
    for (let i = 0; i < this.D_in; i++) {
      const xi = x[i], row = i * D_out;
      for (let j = 0; j < D_out; j++) out[j] += xi * W[row + j];
    }
    for (let j = 0; j < D_out; j++) out[j] += this.params.b[j];   // out += b
    return out;
  }
}

class ReLU {                         // layers.py: class ReLU
  forward(x) { return x.map(v => Math.max(v, 0)); }   // out = max(x, 0)
}

function sigmoid(x) {                // layers.py: def sigmoid, without overflow
  const e = Math.exp(-Math.abs(x));  // in (0, 1]
  return x >= 0 ? 1 / (1 + e) : e / (1 + e);
}

class Sigmoid {                      // layers.py: class Sigmoid
  forward(x) { return x.map(sigmoid); }               // out = 1 / (1 + exp(-x))
}

class Sequential {                   // layers.py: class Sequential
  constructor(layers) { this.layers = layers; }
  forward(x) {
    for (const layer of this.layers) x = layer.forward(x);
    return x;
  }
}

function softmax(logits) {           // classifier.py: def softmax, for one example
  let m = -Infinity;                 // p_k = exp(l_k - m) / sum_j exp(l_j - m), m = max_j l_j
  for (const l of logits) m = Math.max(m, l);
  const e = logits.map(l => Math.exp(l - m));        // in (0, 1]
  let sum = 0;
  for (const v of e) sum += v;
  return e.map(v => v / sum);
}

// A network the page was given as [{kind: "Linear", W, b, D_in, D_out}, {kind: "ReLU"}, ...]
// (tinyvae/app/explore_data.py: linear_layers), rebuilt from its base64 float32 weights.
function sequentialOf(layers, floatsOf) {
  return new Sequential(layers.map(l => l.kind === "Linear"
    ? new Linear(floatsOf(l.W), floatsOf(l.b), l.D_in, l.D_out) : new ReLU()));
}
