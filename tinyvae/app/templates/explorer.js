// The tinyvae explorer's page: one run, or two side by side.  tinyvae/app/explore.py inlines this
// file after layers.js; DATA is what tinyvae/app/explore_data.py computed.  Every number the page
// shows is either computed there (the hole cells, r, the hole score, the real images' k-NN radii)
// or here from the same definition: z is in a hole when it is farther than r from every training
// code the page holds (tinyvae/studies/holes.py), and a decode is realistic when it lies inside the
// k-NN manifold of the real images (tinyvae/studies/precision.py: in_manifold).
// tests/test_explore_browser.py checks that each agrees with its Python function on the same points.
"use strict";
const DATA = JSON.parse(document.getElementById("explorer-data").textContent);
const PAIR = DATA.runs.length === 2;
window.tinyvae = {lastSample: null, ready: false};   // filled in at the end (section 13)

// --- 1. arrays from base64 (explore_data.py: to_base64, little-endian; to_bits, high bit first) ---
function bytesOf(text) {
  const s = atob(text), bytes = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) bytes[i] = s.charCodeAt(i);
  return bytes;
}
function floatsOf(text) { return new Float32Array(bytesOf(text).buffer); }
function doublesOf(text) { return new Float64Array(bytesOf(text).buffer); }
function bitsOf(text, n) {
  const bytes = bytesOf(text), out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (bytes[i >> 3] >> (7 - (i & 7))) & 1;
  return out;
}

// --- 2. random numbers, seeded, so that a press of "sample" draws the same eps on every visit ---
function uniforms(seed) {            // mulberry32: a 32-bit state, one uniform in [0, 1) per call
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6D2B79F5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
function normals(seed) {             // Box-Muller: u1, u2 ~ U(0, 1) -> two independent N(0, 1) draws
  const u = uniforms(seed);
  let spare = null;
  return () => {
    if (spare !== null) { const s = spare; spare = null; return s; }
    const u1 = 1 - u(), u2 = u();    // u1 in (0, 1]: log(u1) is finite
    const r = Math.sqrt(-2 * Math.log(u1)), angle = 2 * Math.PI * u2;
    spare = r * Math.sin(angle);
    return r * Math.cos(angle);
  };
}

// --- 3. colours: Okabe-Ito for categories, viridis for ordered values (both colour-blind safe) ---
const OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"];
const VIRIDIS = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
const HOLE_MARK = "#D55E00";         // Okabe-Ito vermillion: a prior draw in a hole, a decode's frame
function ordered(t) {                // t in [0, 1] -> a colour on viridis (dark blue to yellow)
  const s = Math.min(Math.max(t, 0), 1) * (VIRIDIS.length - 1), i = Math.min(Math.floor(s), VIRIDIS.length - 2);
  const f = s - i, c = VIRIDIS[i].map((v, k) => Math.round(v + f * (VIRIDIS[i + 1][k] - v)));
  return `rgb(${c[0]}, ${c[1]}, ${c[2]})`;
}
function colourOf(colouring, value) {
  if (!colouring) return "#0072B2";
  const n = colouring.names.length;
  // up to eight categories take Okabe-Ito's eight colours; more (ten digits) take viridis at n points
  if (colouring.kind === "category" && n <= OKABE_ITO.length) return OKABE_ITO[value];
  return ordered(n > 1 ? value / (n - 1) : 0.5);
}

// --- 4. images: pixel-exact, dark on white as in the figures ---
function drawImage(canvas, pixels, H, W) {
  const small = document.createElement("canvas");
  small.width = W; small.height = H;
  const g = small.getContext("2d"), im = g.createImageData(W, H);
  for (let i = 0; i < H * W; i++) {
    const v = 255 - Math.round(255 * Math.min(1, Math.max(0, pixels[i])));   // display only: clip to [0, 1]
    im.data[4 * i] = im.data[4 * i + 1] = im.data[4 * i + 2] = v;
    im.data[4 * i + 3] = 255;
  }
  g.putImageData(im, 0, 0);
  const c = canvas.getContext("2d");
  c.imageSmoothingEnabled = false;
  c.drawImage(small, 0, 0, canvas.width, canvas.height);
}
function pixelCanvas(size, inHole) {
  const c = document.createElement("canvas");
  c.width = c.height = size; c.className = "pixels" + (inHole ? " in-hole" : "");
  return c;
}
function figure(canvas, caption, className) {
  const f = document.createElement("figure"), cap = document.createElement("figcaption");
  if (className) f.className = className;
  if (caption instanceof Node) cap.append(caption); else cap.textContent = caption;
  f.append(canvas, cap);
  return f;
}
function el(tag, props, ...children) {
  const e = document.createElement(tag);
  Object.assign(e, props || {});
  e.append(...children);
  return e;
}
function fmt(v, digits = 2) { return (Math.abs(v) < 0.5 * 10 ** -digits ? 0 : v).toFixed(digits); }
function percent(k, n) {             // k of n as a percentage with its standard error, sqrt(p (1 - p) / n)
  const p = k / n, se = Math.sqrt(p * (1 - p) / n);
  return `${(100 * p).toFixed(1)}% ± ${(100 * se).toFixed(1)}%`;
}
function count(n) { return n.toLocaleString("en"); }

// --- 5. lesson 02's judge: the k-NN manifold of the real images, and the nearest training image ---
class Manifold {                     // precision.py: in_manifold(samples, real, k), for one sample
  constructor(images, radii, n, D) { // images (n, D) 0..255, the real points x_i / 255; radii R_k(x_i)
    this.images = images; this.radii = radii; this.n = n; this.D = D;
  }
  contains(x) {                      // f(s; X) = [exists i: |s - x_i| <= R_k(x_i)], closed balls
    const D = this.D, X = this.images;
    for (let i = 0, o = 0; i < this.n; i++, o += D) {
      const R = this.radii[i], stop = R * R * (1 + 1e-9);       // past this, |s - x_i| > R for sure
      let d2 = 0;
      for (let j = 0; j < D && d2 <= stop; j++) { const d = x[j] - X[o + j] / 255; d2 += d * d; }
      if (Math.sqrt(d2) <= R) return true;
    }
    return false;
  }
}
function nearestImage(x, images, n, D) {   // classifier.py: nearest_image_distance, with the image's index
  let best = Infinity, at = -1;
  for (let i = 0, o = 0; i < n; i++, o += D) {
    let d2 = 0;
    for (let j = 0; j < D && d2 < best; j++) { const d = x[j] - images[o + j] / 255; d2 += d * d; }
    if (d2 < best) { best = d2; at = i; }
  }
  return {index: at, distance: Math.sqrt(best)};
}
const CLASSIFIER = DATA.classifier ? sequentialOf(DATA.classifier.layers, floatsOf) : null;
function whichDigit(x) {             // classifier.py: Classifier.probabilities; "which digit", nothing more
  if (!CLASSIFIER) return null;
  const p = softmax(CLASSIFIER.forward(Float64Array.from(x)));   // p(y|x) = softmax(f(x))
  const top = Math.max(...p);
  return {label: p.indexOf(top), p: top};
}

// --- 6. the plane's geometry: a margin for the ticks around a SIZE x SIZE map (layout() sets SIZE) ---
let SIZE = 480;
const LEFT = 44, TOP = 6, RIGHT = 8, BOTTOM = 34;
function niceTicks(lo, hi) {         // about six round numbers between lo and hi
  const raw = (hi - lo) / 6, p = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map(m => m * p).find(s => s >= raw);
  const ticks = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9 * step; v += step) ticks.push(Math.abs(v) < 1e-9 * step ? 0 : v);
  return {ticks, digits: Math.max(0, -Math.floor(Math.log10(step) + 1e-9))};
}

// --- 7. one run: its decoder, its codes, its judge and its plane ---
class Run {
  constructor(data, k) {
    this.k = k; this.data = data;
    this.id = name => (k ? `${name}-${k + 1}` : name);   // element ids: "readout", "readout-2", ...
    this.Z = data.Z; this.D = data.D; [this.H, this.W] = data.image_shape;
    [this.A1, this.A2] = data.axes;
    [this.LO1, this.HI1, this.LO2, this.HI2] = data.extent;
    this.BINS = data.bins;
    this.HOLE = bitsOf(data.hole, data.bins * data.bins);   // (bins, bins) [i2, i1]: 1 for a hole cell (decided in Python)
    this.CODES = floatsOf(data.codes);           // (n_codes, Z) the shown test codes
    this.LOGVAR = data.logvar ? floatsOf(data.logvar) : null;   // (n_codes, Z) a VAE's log sigma^2
    const owner = data.images ? data : DATA.runs[0];            // the test and training images: run 1's when shared
    this.IMAGES = bytesOf(owner.images);         // (n_shown, D) 0..255: the test images, the judge's real points
    this.TRAIN_IMAGES = bytesOf(owner.train_images);            // (n_train_images, D) 0..255
    this.owner = owner;
    this.manifold = new Manifold(this.IMAGES, doublesOf(owner.radii), owner.n_shown, this.D);
    this.TRAIN = floatsOf(data.train_codes);     // (n_held, Z) the training codes the page holds
    this.N_HELD = data.train_codes_held; this.R = data.radius;
    this.decoder = sequentialOf(data.decoder, floatsOf);
    this.output = data.output === "Sigmoid" ? new Sigmoid() : null;
    this.prior = this.priorFactor();
    this.z = data.base.slice();                   // the current point, (Z,)
    this.colouring = data.colourings[0] || null;
    this.posterior = null;                        // the clicked code's q(z|x), drawn as ellipses
    this.marked = null;                           // the clicked code, marked on every plane
    this.sample = null;                           // the last prior sample's z and hole flags
    this.ends = [];                               // interpolation endpoints, z vectors
    this.frame = null;                            // the replay's frame on show (null: the model as it is)
    if (data.replay) this.replayFrames = data.replay.frames.map(f => ({...f, HOLE: bitsOf(f.hole, this.BINS * this.BINS),
                                                                        DOTS: floatsOf(f.dots)}));
    this.build();
  }
  priorFactor() {                    // z = mean + L eps: N(0, I) for a VAE; explore_data.py: prior_factor
    const d = this.data, Z = this.Z;
    if (d.prior_standard) return {mean: new Array(Z).fill(0), L: null};
    const packed = floatsOf(d.prior_chol), L = [];
    for (let i = 0, o = 0; i < Z; i++) { L.push(Array.from(packed.subarray(o, o + i + 1))); o += i + 1; }
    return {mean: d.prior_mean_z, L};
  }

  // 7a. the decoder, the hole test and the judge
  decode(z) {                        // models.py: _EncoderDecoder.decode, E[x|z]
    const out = this.decoder.forward(Float64Array.from(z));  // logits (Bernoulli) or means (Gaussian)
    return this.output ? this.output.forward(out) : out;
  }
  nearestDistance(z) {               // holes.py: nearest_distance, min_n |z - c_n| over the held codes
    const Z = this.Z, C = this.TRAIN;
    let best = Infinity;
    for (let n = 0, o = 0; n < this.N_HELD; n++, o += Z) {
      let d2 = 0;
      for (let i = 0; i < Z && d2 < best; i++) { const d = z[i] - C[o + i]; d2 += d * d; }
      if (d2 < best) best = d2;
    }
    return Math.sqrt(best);
  }
  inHole(z) { return this.nearestDistance(z) > this.R; }
  judge(x) {                         // realistic? and the nearest training image, with its distance
    const near = nearestImage(x, this.TRAIN_IMAGES, this.owner.n_train_images, this.D);
    return {realistic: this.manifold.contains(x), nearest: near.index, distance: near.distance, digit: whichDigit(x)};
  }
  pathCrossesHole(a, b) {            // is any point of the segment a -> b farther than r from every code?
    // The distance to the nearest code changes by at most |step| along a step (it is 1-Lipschitz),
    // so from a point at distance d <= r the next r - d of the path cannot reach a hole: step that
    // far (but at least r / 20, so a hole shallower than r / 40 could be stepped over).
    const len = Math.hypot(...b.map((v, i) => v - a[i]));
    for (let s = 0; ;) {
      const t = len > 0 ? s / len : 0, p = a.map((v, i) => v + t * (b[i] - v));
      const d = this.nearestDistance(p);
      if (d > this.R) return true;
      if (s >= len) return false;
      s = Math.min(len, s + Math.max(this.R - d, this.R / 20));
    }
  }
  code(n) { return Array.from(this.CODES.subarray(n * this.Z, (n + 1) * this.Z)); }
  image(n) { return Array.from(this.IMAGES.subarray(n * this.D, (n + 1) * this.D), v => v / 255); }
  trainImage(n) { return Array.from(this.TRAIN_IMAGES.subarray(n * this.D, (n + 1) * this.D), v => v / 255); }
  label(n) {
    const c = this.data.colourings[0];
    return c ? `, ${c.name} ${c.names[c.values[n]]}` : "";
  }

  // 7b. latent coordinates <-> canvas pixels; the pointer as a fraction of the plane
  toPixel(z1, z2) {
    return [LEFT + (z1 - this.LO1) / (this.HI1 - this.LO1) * SIZE, TOP + (1 - (z2 - this.LO2) / (this.HI2 - this.LO2)) * SIZE];
  }
  fraction() {                       // where the pointer is, as a fraction of the map across and up
    return [(this.z[this.A1] - this.LO1) / (this.HI1 - this.LO1), (this.z[this.A2] - this.LO2) / (this.HI2 - this.LO2)];
  }
  setFraction([f1, f2]) {
    this.z[this.A1] = this.LO1 + f1 * (this.HI1 - this.LO1);
    this.z[this.A2] = this.LO2 + f2 * (this.HI2 - this.LO2);
  }
  onStartSlice() {                   // the other latents still at their start values?
    for (let k = 0; k < this.Z; k++)
      if (k !== this.A1 && k !== this.A2 && this.z[k] !== this.data.base[k]) return false;
    return true;
  }
  canvasPoint(ev) {
    const r = this.plane.getBoundingClientRect();
    return [(ev.clientX - r.left) * this.plane.width / r.width, (ev.clientY - r.top) * this.plane.height / r.height];
  }
  nearestShown([px, py], within) {   // the shown test code nearest a canvas point, within `within` px
    let best = -1, bestD = within * within;
    for (let n = 0; n < this.data.n_codes; n++) {
      const [qx, qy] = this.toPixel(this.CODES[n * this.Z + this.A1], this.CODES[n * this.Z + this.A2]);
      const d2 = (qx - px) ** 2 + (qy - py) ** 2;
      if (d2 < bestD) { bestD = d2; best = n; }
    }
    return best;
  }

  // 7c. the page's elements for this run: the first screen (plane, decode, summary), then below
  build() {
    const d = this.data, id = this.id;
    this.plane = el("canvas", {className: "plane", id: id("plane"), tabIndex: 0});
    this.plane.dataset.testid = "plane";
    this.background = el("canvas");
    const big = this.H * Math.max(1, Math.floor((PAIR ? 100 : 168) / this.H));     // whole pixels per pixel
    this.decoded = el("canvas", {className: "pixels", id: id("decoded"), width: big, height: big});
    this.decoded.dataset.testid = "decode";
    this.nearest = el("canvas", {className: "pixels", id: id("nearest"), width: big, height: big});
    this.nearestCaption = el("span", {id: id("nearest-caption")});
    this.readout = el("div", {className: "readout", id: id("readout")});
    this.key = el("div", {className: "note key", id: id("key")});
    this.summary = el("div", {className: "summary", id: id("summary")});
    this.summary.dataset.testid = "sample-summary";
    this.heading = el("h2", {id: id("heading")});
    this.timing = el("div", {className: "note", id: id("timing")});
    this.compareBox = el("div", {id: id("compare")});
    this.sliderBox = el("div", {className: "sliders", id: id("sliders")});
    this.stripBox = el("div", {id: id("strip")});
    this.priorBox = el("div", {id: id("prior")});
    const side = el("div", {className: "side"}, this.heading,
      el("div", {className: "decodes"}, figure(this.decoded, "decode of z"), figure(this.nearest, this.nearestCaption)),
      this.readout, this.key);
    document.getElementById("runs").append(el("section", {className: "run", id: id("run")},
      el("div", {className: "plane-cell"}, this.plane), side, this.summary));
    // below the first screen: the notes, the details of a click, the path, the prior's decodes, the sliders
    const axesNote = el("p", {className: "note", id: id("axes-note")}, d.Z === 2
      ? `The plane is the whole latent space: z${this.A1 + 1} across, z${this.A2 + 1} up.`
      : `The plane shows z${this.A1 + 1} across and z${this.A2 + 1} up: ${d.axes_reason}. The other latents ` +
        `start at ${d.is_vae ? "0, the prior's mean" : "the codes' mean"}: the grey cells are the holes of that ` +
        "slice, and squares show every code's projection onto the plane.");
    const held = d.train_codes_held === d.n_train_codes
      ? `all ${count(d.n_train_codes)} training codes`
      : `${count(d.train_codes_held)} of the ${count(d.n_train_codes)} training codes (a random subsample, to keep this page small)`;
    const shown = d.n_codes === d.n_test ? `all ${count(d.n_test)}` : `${count(d.n_codes)} of the ${count(d.n_test)} (a random subsample)`;
    const about = el("p", {className: "note", id: id("holes-note")},
      `This page holds ${held}, and finds the holes among them${d.Z > 2 ? ` in all ${d.Z} latents` : ""}: ` +
      `r = ${d.radius.toFixed(3)}; ${(100 * d.score).toFixed(1)}% of ${count(d.n_prior)} prior draws land in a hole ` +
      `(the hole score, tinyvae/studies/holes.py). Squares: ${shown} test codes.`);
    const sliders = el("details", {}, el("summary", {}, `every latent's slider (${d.Z})`), this.sliderBox);
    document.getElementById("below-runs").append(el("div", {className: "below-run"},
      el("h2", {}, `${d.name}: ${d.kind} on ${d.data} (Z = ${d.Z}, D = ${d.D})`), axesNote, about, this.timing,
      this.compareBox, this.stripBox, this.priorBox, sliders));
    this.makeSliders();
    this.writeHeading();
  }
  writeHeading() {
    const d = this.data, f = this.frame;
    this.heading.textContent = `${d.name}${d.name === d.kind ? "" : ` (${d.kind})`}, Z = ${d.Z}: ` + (f
      ? `epoch ${f.epoch}, hole score ${(100 * f.score).toFixed(1)}%, r = ${f.radius.toPrecision(3)}`
      : `hole score ${(100 * d.score).toFixed(1)}%, r = ${d.radius.toPrecision(3)}`);
  }
  resize() {                         // the plane at the current SIZE: canvases, then everything drawn again
    this.plane.width = this.background.width = LEFT + SIZE + RIGHT;
    this.plane.height = this.background.height = TOP + SIZE + BOTTOM;
    this.drawBackground(); this.drawPlane();
  }

  makeSliders() {
    const d = this.data;
    this.sliders = [];
    for (let k = 0; k < this.Z; k++) {
      const input = el("input", {type: "range", min: d.slider_lo[k], max: d.slider_hi[k],
                                 step: (d.slider_hi[k] - d.slider_lo[k]) / 400});
      input.value = this.z[k];
      const value = el("span");
      const onPlane = k === this.A1 || k === this.A2;
      const stat = d.is_vae ? `KL ${d.latent_stats[k].toFixed(2)}` : `var ${d.latent_stats[k].toPrecision(3)}`;
      const label = el("label", {title: d.is_vae ? "KL(q(z_i|x) || N(0, 1)) of this latent, nats, averaged over the test set"
                                                 : "the variance of this latent's test codes"},
        el("span", {className: "name"}, `z${k + 1}${onPlane ? "*" : ""}`), el("span", {className: "stat"}, stat),
        input, " ", value);
      input.addEventListener("input", () => {
        this.z[k] = parseFloat(input.value);
        // an off-plane slider's middle tick is its start value: back there, the map is this slice's again
        if (!onPlane && Math.abs(this.z[k] - d.base[k]) < parseFloat(input.step) / 2) this.z[k] = d.base[k];
        if (onPlane) moveAll(this.fraction(), this);
        else { this.drawBackground(); this.update(); }
      });
      this.sliderBox.append(label);
      this.sliders.push({input, value});
    }
    if (this.Z > 2) {
      const reset = el("button", {}, "reset the other latents");
      reset.addEventListener("click", () => {
        for (let k = 0; k < this.Z; k++) if (k !== this.A1 && k !== this.A2) this.z[k] = d.base[k];
        this.drawBackground(); this.update();
      });
      this.sliderBox.append(el("div", {className: "note"}, "* on the plane"), reset);
    }
  }

  // 7d. drawing the plane: the holes, the codes and the rings (background), then the marks
  drawBackground() {
    const g = this.background.getContext("2d"), cell = SIZE / this.BINS, BINS = this.BINS;
    const f = this.frame, HOLE = f ? f.HOLE : this.HOLE;
    g.fillStyle = "#fff"; g.fillRect(0, 0, this.background.width, this.background.height);
    g.fillStyle = f || this.onStartSlice() ? "rgba(0, 0, 0, 0.16)" : "rgba(0, 0, 0, 0.06)";
    for (let i2 = 0; i2 < BINS; i2++)
      for (let i1 = 0; i1 < BINS; i1++)
        if (HOLE[i2 * BINS + i1]) {                     // whole pixels, so cells do not overlap
          const x0 = LEFT + Math.round(i1 * cell), y0 = TOP + Math.round(SIZE - (i2 + 1) * cell);
          g.fillRect(x0, y0, LEFT + Math.round((i1 + 1) * cell) - x0, TOP + Math.round(SIZE - i2 * cell) - y0);
        }
    const name = this.colouring ? this.colouring.name : null;
    if (f) {                                            // the replay: training codes at that epoch
      const c = name ? this.data.replay.colourings.find(x => x.name === name) : null;
      for (let n = 0; n < this.data.replay.n_dots; n++) {
        const [px, py] = this.toPixel(f.DOTS[2 * n], f.DOTS[2 * n + 1]);
        g.fillStyle = colourOf(c, c ? c.values[n] : 0);
        g.fillRect(px - 1.5, py - 1.5, 3, 3);
      }
    } else {
      const c = this.colouring;
      for (let n = 0; n < this.data.n_codes; n++) {
        const [px, py] = this.toPixel(this.CODES[n * this.Z + this.A1], this.CODES[n * this.Z + this.A2]);
        g.fillStyle = colourOf(c, c ? c.values[n] : 0);
        g.fillRect(px - 1.5, py - 1.5, 3, 3);
      }
    }
    g.strokeStyle = "#000"; g.lineWidth = 1.2; g.font = "12px system-ui, sans-serif";
    (f ? f.contours : this.data.contours).forEach((ring, k) => {
      g.setLineDash(k === 0 ? [] : [5, 3 * k]);
      g.beginPath();
      for (let i = 0; i < ring.length; i += 2) {
        const [px, py] = this.toPixel(ring[i], ring[i + 1]);
        i ? g.lineTo(px, py) : g.moveTo(px, py);
      }
      g.stroke();
      const [lx, ly] = this.toPixel(ring[0], ring[1]);
      g.setLineDash([]); g.fillStyle = "#000"; g.fillText(`${k + 1}σ`, lx + 3, ly - 3);
    });
    g.fillStyle = "#fff";                               // the margins: nothing of the map spills there
    g.fillRect(0, 0, LEFT, this.background.height); g.fillRect(LEFT + SIZE, 0, RIGHT, this.background.height);
    g.fillRect(0, 0, this.background.width, TOP); g.fillRect(0, TOP + SIZE, this.background.width, BOTTOM);
    this.drawAxes(g);
  }
  drawAxes(g) {                      // the frame, ticks with their values, and the axes' names
    g.strokeStyle = "#666"; g.lineWidth = 1; g.setLineDash([]);
    g.strokeRect(LEFT - 0.5, TOP - 0.5, SIZE + 1, SIZE + 1);
    g.fillStyle = "#222"; g.font = "11px system-ui, sans-serif";
    const across = niceTicks(this.LO1, this.HI1), up = niceTicks(this.LO2, this.HI2);
    g.textAlign = "center"; g.textBaseline = "top";
    for (const v of across.ticks) {
      const [x] = this.toPixel(v, this.LO2);
      g.beginPath(); g.moveTo(x, TOP + SIZE); g.lineTo(x, TOP + SIZE + 4); g.stroke();
      g.fillText(v.toFixed(across.digits), x, TOP + SIZE + 5);
    }
    g.textAlign = "right"; g.textBaseline = "middle";
    for (const v of up.ticks) {
      const [, y] = this.toPixel(this.LO1, v);
      g.beginPath(); g.moveTo(LEFT - 4, y); g.lineTo(LEFT, y); g.stroke();
      g.fillText(v.toFixed(up.digits), LEFT - 6, y);
    }
    g.font = "13px system-ui, sans-serif"; g.textAlign = "center"; g.textBaseline = "alphabetic";
    g.fillText(`z${this.A1 + 1} →`, LEFT + SIZE / 2, TOP + SIZE + BOTTOM - 3);
    g.save(); g.translate(12, TOP + SIZE / 2); g.rotate(-Math.PI / 2); g.fillText(`z${this.A2 + 1} →`, 0, 0); g.restore();
    g.textAlign = "start";
  }
  drawPlane() {
    const p = this.plane.getContext("2d");
    p.drawImage(this.background, 0, 0);
    p.save(); p.beginPath(); p.rect(LEFT, TOP, SIZE, SIZE); p.clip();   // marks stay on the map
    if (this.sample && !this.frame) {                    // the prior draws: x in a hole, a small ring elsewhere
      this.sample.z.forEach((zz, i) => {
        if (this.sample.inHole[i]) return;
        const [px, py] = this.toPixel(zz[this.A1], zz[this.A2]);
        p.strokeStyle = "rgba(0, 0, 0, 0.45)"; p.lineWidth = 1;
        p.beginPath(); p.arc(px, py, 1.8, 0, 2 * Math.PI); p.stroke();
      });
      this.sample.z.forEach((zz, i) => {                 // the draws in holes on top, with a white halo
        if (!this.sample.inHole[i]) return;
        const [px, py] = this.toPixel(zz[this.A1], zz[this.A2]);
        for (const [colour, width] of [["#fff", 3.5], [HOLE_MARK, 1.8]]) {
          p.strokeStyle = colour; p.lineWidth = width; p.beginPath();
          p.moveTo(px - 3.5, py - 3.5); p.lineTo(px + 3.5, py + 3.5); p.moveTo(px + 3.5, py - 3.5); p.lineTo(px - 3.5, py + 3.5);
          p.stroke();
        }
      });
    }
    if (this.posterior) {                                // q(z|x): mu +- 1 and 2 sigma in the plane's latents
      p.strokeStyle = "#0072B2"; p.lineWidth = 2;
      for (const e of this.posterior.ellipses) {
        const [cx, cy] = this.toPixel(e.centre[0], e.centre[1]);
        const rx = e.radii[0] / (this.HI1 - this.LO1) * SIZE, ry = e.radii[1] / (this.HI2 - this.LO2) * SIZE;
        p.setLineDash(e.k === 1 ? [] : [4, 3]); p.beginPath(); p.ellipse(cx, cy, rx, ry, 0, 0, 2 * Math.PI); p.stroke();
      }
      p.setLineDash([]);
    }
    if (this.marked) {                                   // the clicked code, on every plane: a ringed target
      const [mx, my] = this.toPixel(this.marked[this.A1], this.marked[this.A2]);
      for (const [colour, width] of [["#fff", 4], ["#000", 2]]) {
        p.strokeStyle = colour; p.lineWidth = width; p.beginPath(); p.arc(mx, my, 7, 0, 2 * Math.PI); p.stroke();
        p.beginPath(); p.moveTo(mx - 11, my); p.lineTo(mx - 4, my); p.moveTo(mx + 4, my); p.lineTo(mx + 11, my);
        p.moveTo(mx, my - 11); p.lineTo(mx, my - 4); p.moveTo(mx, my + 4); p.lineTo(mx, my + 11); p.stroke();
      }
    }
    if (this.ends.length) {
      p.strokeStyle = "#0072B2"; p.lineWidth = 2; p.beginPath();
      this.ends.forEach((e, i) => { const [ex, ey] = this.toPixel(e[this.A1], e[this.A2]); i ? p.lineTo(ex, ey) : p.moveTo(ex, ey); });
      p.stroke();
      this.ends.forEach(e => { const [ex, ey] = this.toPixel(e[this.A1], e[this.A2]); p.strokeRect(ex - 3, ey - 3, 6, 6); });
    }
    const [px, py] = this.toPixel(this.z[this.A1], this.z[this.A2]);
    p.strokeStyle = "#000"; p.lineWidth = 1; p.strokeRect(px - 5, py - 5, 10, 10);
    p.restore();
  }
  drawKey() {
    this.key.textContent = "";
    const c = this.colouring;
    if (!c) return;
    this.key.append(`${c.name}: `);
    const values = [...new Set(c.values)].sort((a, b) => a - b);
    for (const v of values) this.key.append(el("span", {style: `color: ${colourOf(c, v)}`}, `■ ${c.names[v]}`), " ");
  }

  // 7e. decode under the pointer, judged as lesson 02 judges, beside the nearest training image
  update() {
    const t0 = performance.now();
    const x = this.decode(this.z);
    const ms = performance.now() - t0;
    drawImage(this.decoded, x, this.H, this.W);
    const d = this.nearestDistance(this.z), inHole = d > this.R, verdict = this.judge(x);
    drawImage(this.nearest, this.trainImage(verdict.nearest), this.H, this.W);
    this.nearestCaption.textContent = `nearest training image, ${verdict.distance.toFixed(2)} away`;
    this.decoded.classList.toggle("in-hole", inHole);
    const where = `<span id="${this.id("hole-readout")}" class="${inHole ? "hole" : "dense"}">${inHole ? "in a hole" : "not in a hole"}</span>`;
    const full = this.Z > 2 ? ` (in all ${this.Z} latents${this.onStartSlice() ? "" : "; the grey cells show the start slice"})` : "";
    const digit = verdict.digit ? `; the classifier reads a ${verdict.digit.label} (p = ${verdict.digit.p.toFixed(2)})` : "";
    // during a replay the plane shows an earlier epoch's codes, but the pointer is judged by the model
    // as trained (its codes, r and decoder: the snapshots hold codes only), and the readout says so
    const asTrained = this.frame ? "judged by the model as trained (its codes, r and decoder):<br>" : "";
    this.readout.innerHTML = `z = (${this.z.slice(0, 4).map(v => fmt(v)).join(", ")}${this.Z > 4 ? ", …" : ""})<br>` +
      asTrained + `${where}${full}: nearest code ${d.toFixed(3)}, r = ${this.R.toFixed(3)}<br>` +
      `<span id="${this.id("real-readout")}" class="${verdict.realistic ? "real" : "unreal-text"}">` +
      `${verdict.realistic ? "realistic" : "not realistic"}</span>` + (PAIR ? "" : `: ${verdict.realistic ? "inside" : "outside"} ` +
      `the ${DATA.runs[0].k}-NN manifold of the real images`) + digit;
    this.timing.textContent =        // browsers round performance.now() to 0.1 ms
      ms < 0.1 ? "decoded in under 0.1 ms" : `decoded in ${ms.toFixed(1)} ms`;
    this.sliders.forEach((s, k) => { s.input.value = this.z[k]; s.value.textContent = fmt(this.z[k]); });
    this.drawPlane();
  }

  // 7f. a clicked code: input and reconstruction; for a VAE, q(z|x) too
  showCode(n) {
    const box = this.compareBox, big = 80, small = 52;
    box.textContent = "";
    this.marked = this.code(n);
    const input = pixelCanvas(big), recon = pixelCanvas(big);
    drawImage(input, this.image(n), this.H, this.W);
    if (!this.data.is_vae) {
      this.posterior = null;
      drawImage(recon, this.decode(this.code(n)), this.H, this.W);
      box.append(el("div", {className: "note"}, `test image ${this.data.shown[n]}${this.label(n)}: input | reconstruction f_θ(code)`),
                 input, " ", recon);
      this.drawPlane();
      return;
    }
    const mu = this.code(n), sigma = mu.map((_, i) => Math.exp(0.5 * this.LOGVAR[n * this.Z + i]));
    const [a1, a2] = [this.A1, this.A2];
    this.posterior = {n, test_index: this.data.shown[n], mu, sigma,
                      ellipses: [1, 2].map(k => ({k, centre: [mu[a1], mu[a2]], radii: [k * sigma[a1], k * sigma[a2]]}))};
    drawImage(recon, this.decode(mu), this.H, this.W);
    const eps = normals(1000003 * (n + 1) + DATA.seed), draws = el("div", {className: "frames"});
    for (let s = 0; s < 5; s++) {                        // z = mu + sigma * eps, eps ~ N(0, I)
      const zs = mu.map((m, i) => m + sigma[i] * eps());
      const c = pixelCanvas(small, this.inHole(zs));
      drawImage(c, this.decode(zs), this.H, this.W);
      draws.append(c);
    }
    box.append(el("div", {className: "note"}, `test image ${this.data.shown[n]}${this.label(n)}: input | decode of μ`),
               input, " ", recon,
               el("div", {className: "note", id: this.id("posterior-note")},
                  `q(z|x): μ = (${fmt(mu[a1])}, ${fmt(mu[a2])}), σ = (${fmt(sigma[a1], 3)}, ${fmt(sigma[a2], 3)}) in ` +
                  `z${a1 + 1}, z${a2 + 1} (blue: 1σ and 2σ). Decodes of five z ~ q(z|x) (vermillion frame: in a hole):`),
               draws);
    this.drawPlane();
  }
  say(text) {                        // feedback in the details panel, replacing what was there
    this.posterior = null; this.marked = null;
    this.compareBox.textContent = "";
    if (text) this.compareBox.append(el("div", {className: "note", id: this.id("click-note")}, text));
    this.drawPlane();
  }

  // 7g. the path between two points: frames with their t, and where it meets holes
  interpolate(a, b, steps, endImages) {
    const box = this.stripBox, size = PAIR ? 40 : 60;
    box.textContent = "";
    this.ends = [a, b];
    const frames = el("div", {className: "frames"});
    const end = (n, which) => {
      const c = pixelCanvas(size);
      drawImage(c, this.image(n), this.H, this.W);
      return figure(c, `input ${which}`, "end");
    };
    if (endImages && endImages[0] !== null) frames.append(end(endImages[0], "A"));
    let framesInHole = 0;
    for (let s = 0; s < steps; s++) {
      const t = s / (steps - 1), zt = a.map((v, k) => v + t * (b[k] - v));
      const inHole = this.inHole(zt);
      framesInHole += inHole;
      const c = pixelCanvas(size, inHole);
      drawImage(c, this.decode(zt), this.H, this.W);
      frames.append(figure(c, `t=${t.toFixed(2)}`));
    }
    if (endImages && endImages[1] !== null) frames.append(end(endImages[1], "B"));
    // the path is checked between the frames too: a narrow hole can lie between two of them
    const crosses = this.pathCrossesHole(a, b);
    const note = el("div", {className: "note", id: this.id("strip-note")});
    note.textContent = !crosses ? `the path stays out of the holes (${steps} frames)`
      : framesInHole ? `the path crosses a hole: ${framesInHole} of ${steps} frames lie in one (framed in vermillion)`
      : "the path crosses a hole between two frames (no frame lands inside it)";
    box.append(el("h2", {}, `${PAIR ? this.data.name + ": " : ""}the path z(t) = (1 - t) z_A + t z_B` +
                  (this.Z > 2 ? `, in all ${this.Z} latents` : "")), frames, note);
    this.drawPlane();
  }

  // 7h. the prior sample: z = mean + L eps, the same eps for every run on the page
  samplePrior(eps, press) {
    const {mean, L} = this.prior, Z = this.Z;
    const z = eps.map(e => mean.map((m, i) => {
      if (!L) return m + e[i];                            // N(0, I): L = I
      let v = m;
      for (let j = 0; j <= i; j++) v += L[i][j] * e[j];   // L is lower triangular
      return v;
    }));
    const distance = z.map(zz => this.nearestDistance(zz)), inHole = distance.map(v => v > this.R);
    const x = z.map(zz => this.decode(zz));
    const realistic = x.map(xx => this.manifold.contains(xx));
    this.sample = {z, distance, inHole, realistic};
    const n = z.length, nHole = inHole.filter(Boolean).length;
    const share = which => {
      const idx = inHole.map((h, i) => i).filter(i => inHole[i] === which), k = idx.filter(i => realistic[i]).length;
      return idx.length ? `${percent(k, idx.length)} (${k} of ${idx.length})` : "none drawn";
    };
    const d = this.data, seed = DATA.sample_seed * DATA.seed + press;
    this.summary.textContent = "";
    if (this.replayLine) this.summary.append(this.replayLine);
    this.summary.append(
      el("div", {id: this.id("prior-holes")}, el("b", {}, `${PAIR ? d.name + ": " : ""}${nHole} of ${n} prior draws ` +
         `(${percent(nHole, n)}) land in holes`), ` (×; draw set ${press}, seed ${seed}).`),
      el("div", {id: this.id("prior-real")}, `Realistic decodes: ${share(true)} of those in holes, ` +
         `${share(false)} of the others.`));
    // below the first screen: the first decodes, each beside nothing but its frame and its verdict
    const shown = Math.min(DATA.prior_shown, n), cols = PAIR ? 8 : 16, size = PAIR ? 32 : 36;
    const grid = el("div", {className: "grid", id: this.id("prior-grid")});
    grid.style.gridTemplateColumns = `repeat(${cols}, ${size + 2}px)`;
    for (let i = 0; i < shown; i++) {
      const c = pixelCanvas(size, inHole[i]);
      if (!realistic[i]) c.classList.add("unreal");
      drawImage(c, x[i], this.H, this.W);
      const near = nearestImage(x[i], this.TRAIN_IMAGES, this.owner.n_train_images, this.D);
      c.title = `z = (${z[i].slice(0, 4).map(v => fmt(v)).join(", ")}${Z > 4 ? ", …" : ""})${inHole[i] ? ", in a hole" : ""}; ` +
                `${realistic[i] ? "realistic" : "not realistic"}; nearest training image ${near.distance.toFixed(2)} away`;
      grid.append(c);
    }
    const prior = d.is_vae ? "N(0, I)" : "the Gaussian fitted to the training codes";
    this.priorBox.textContent = "";
    this.priorBox.append(el("h2", {}, `${PAIR ? d.name + ": " : ""}${n} draws from the prior, ${prior}`),
      el("div", {className: "note"}, `The first ${shown} decodes (vermillion frame: in a hole; faded: not realistic). ` +
         `On the plane: × in a hole, a small ring elsewhere` + (Z > 2 ? " (projections; the hole test is in all latents)." : ".")),
      grid);
    this.drawPlane();
  }

  // 7i. the replay: show epoch `epoch` of training (null: the model as it is)
  showEpoch(epoch) {
    const r = this.data.replay;
    if (!r) return;
    let frame = null;                 // the last frame at or before the epoch (the first, before it)
    if (epoch !== null && epoch < r.final_epoch)
      for (const f of this.replayFrames) if (f.epoch <= epoch || frame === null) frame = f;
    this.frame = frame;
    if (!this.replayLine) this.replayLine = this.summary.insertBefore(el("div", {id: this.id("replay-line")}), this.summary.firstChild);
    this.replayLine.textContent = frame ? `Epoch ${frame.epoch}: ${(100 * frame.score).toFixed(1)}% of ` +
      `${count(DATA.runs[this.k].n_prior)} prior draws land in holes (r = ${frame.radius.toPrecision(3)}); ` +
      "the sample below is of the model as trained." : "";
    this.writeHeading(); this.drawBackground(); this.update();
  }
}

// --- 8. the runs, the layout of the first screen, and what moves them together ---
const runs = DATA.runs.map((d, k) => new Run(d, k));
if (PAIR) document.getElementById("runs").classList.add("pair");

function layout() {                  // the largest plane with which the first screen fits the window
  const vw = document.documentElement.clientWidth, vh = window.innerHeight;
  const runsTop = document.getElementById("runs").getBoundingClientRect().top + window.scrollY;
  const side = PAIR ? 232 : 330, gaps = 28 + (PAIR ? 16 : 0) + runs.length * 12;
  const byWidth = (vw - gaps) / runs.length - side - LEFT - RIGHT;
  const below = PAIR ? 96 : 50;       // the summaries under the planes (a pair), the legend's line
  const byHeight = vh - runsTop - TOP - BOTTOM - below - 8;
  const apply = s => { SIZE = Math.max(180, Math.min(600, Math.floor(s))); runs.forEach(run => run.resize()); };
  apply(Math.min(byWidth, byHeight));
  // then measure: if the legend's line or a summary still ends below the window, shrink by that much
  const bottom = Math.max(...[document.getElementById("legend-line"), ...runs.map(r => r.summary), ...runs.map(r => r.plane)]
                          .map(e => e.getBoundingClientRect().bottom + window.scrollY));
  if (bottom > vh - 4 && SIZE > 180) apply(SIZE - (bottom - vh + 4));
}
function moveAll(fraction, from) {   // one pointer: the same place on every plane
  for (const run of runs) { if (run !== from) run.setFraction(fraction); run.update(); }
}
function clearDetails(text) { runs.forEach(run => run.say(text)); }

const interpMode = document.getElementById("interp-mode");
let pending = null;                  // the first end of an interpolation: per run, {z, image}
runs.forEach(run => {
  run.plane.addEventListener("mousemove", ev => {
    const [px, py] = run.canvasPoint(ev);
    run.setFraction([(px - LEFT) / SIZE, 1 - (py - TOP) / SIZE]);
    moveAll(run.fraction(), run);
  });
  run.plane.addEventListener("click", ev => {
    run.plane.focus();
    const n = run.nearestShown(run.canvasPoint(ev), 6);
    // the same test image on every run (when they share the test set); else this run's code
    const here = runs.map(r => (n >= 0 && (r === run || DATA.shared_test)) ? {z: r.code(n), image: n} : {z: r.z.slice(), image: null});
    if (ev.shiftKey || interpMode.checked) {
      if (pending === null) {
        pending = here;
        runs.forEach((r, k) => { r.ends = [here[k].z]; r.drawPlane(); });
        clearDetails("first end of the path set; click (shift-click) its other end");
      } else {
        runs.forEach((r, k) => r.interpolate(pending[k].z, here[k].z, 12, [pending[k].image, here[k].image]));
        pending = null;
        clearDetails(null);
      }
    } else if (n >= 0) {
      runs.forEach(r => (r === run || DATA.shared_test) ? r.showCode(n) : r.say(null));
    } else {
      clearDetails("no test code under the pointer (within 6 pixels): move onto a square and click, or " +
                   "shift-click two places for the path between them");
    }
  });
});
document.addEventListener("keydown", ev => {   // arrow keys move the pointer one cell (shift: ten)
  const step = {ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, 1], ArrowDown: [0, -1]}[ev.key];
  if (ev.key === "Escape") { clearDetails(null); return; }
  if (!step || ["INPUT", "SELECT", "TEXTAREA"].includes(document.activeElement.tagName)) return;
  ev.preventDefault();
  const cells = ev.shiftKey ? 10 : 1, [f1, f2] = runs[0].fraction();
  const clamp = v => Math.min(1, Math.max(0, v));
  runs[0].setFraction([clamp(f1 + step[0] * cells / runs[0].BINS), clamp(f2 + step[1] * cells / runs[0].BINS)]);
  moveAll(runs[0].fraction(), runs[0]);
});

// --- 9. the prior sample: one eps for every run; draw set 0 on load (explore.py: SAMPLE_SEED) ---
let presses = 0;
function samplePrior(fresh = true) {
  if (fresh) presses += 1;
  const eps = normals(DATA.sample_seed * DATA.seed + presses), Zmax = Math.max(...runs.map(r => r.Z));
  const draws = Array.from({length: DATA.prior_draws}, () => Array.from({length: Zmax}, eps));
  if (fresh) clearDetails(null);
  runs.forEach(run => run.samplePrior(draws.map(e => e.slice(0, run.Z)), presses));
  window.tinyvae.lastSample = {eps: draws, press: presses, runs: runs.map(r => r.sample)};
}
document.getElementById("prior-button").addEventListener("click", () => samplePrior(true));

// --- 10. colour by ---
const colourBy = document.getElementById("colour-by");
for (const c of DATA.runs[0].colourings) colourBy.append(el("option", {value: c.name}, c.name));
colourBy.append(el("option", {value: "none"}, "nothing"));
colourBy.addEventListener("change", () => {
  runs.forEach(run => {
    run.colouring = run.data.colourings.find(c => c.name === colourBy.value) || null;
    run.drawKey(); run.drawBackground(); run.drawPlane();
  });
});

// --- 11. the training replay: one slider over the epochs every run kept ---
const REPLAYED = runs.filter(r => r.data.replay);
const EPOCHS = [...new Set(REPLAYED.flatMap(r => [...r.data.replay.frames.map(f => f.epoch), r.data.replay.final_epoch]))]
  .sort((a, b) => a - b);
const epochSlider = document.getElementById("epoch-slider"), epochLabel = document.getElementById("epoch-label");
function showEpoch(i) {
  const epoch = EPOCHS[i], last = i === EPOCHS.length - 1;
  REPLAYED.forEach(r => r.showEpoch(last ? null : epoch));
  epochLabel.textContent = `epoch ${epoch} of ${EPOCHS[EPOCHS.length - 1]}` + (last ? " (the model as it is)" : "") + ": hole score " +
    REPLAYED.map(r => `${PAIR ? r.data.name + " " : ""}${(100 * (r.frame ? r.frame.score : r.data.score)).toFixed(1)}%`).join(", ");
}
if (REPLAYED.length) {
  document.getElementById("replay").hidden = false;
  epochSlider.max = EPOCHS.length - 1; epochSlider.value = EPOCHS.length - 1;
  epochSlider.addEventListener("input", () => showEpoch(parseInt(epochSlider.value, 10)));
}

// --- 12. the text that depends on the data ---
const first = DATA.runs[0], K = first.k;
const realSet = first.n_shown === first.n_test ? `the ${count(first.n_test)} test images`
  : `${count(first.n_shown)} of the ${count(first.n_test)} test images (a random subsample)`;
document.getElementById("title").textContent = PAIR
  ? `${DATA.runs.map(d => `${d.name} (${d.kind}, Z = ${d.Z})`).join(" against ")} on ${first.data}`
  : `tinyvae explorer: ${first.kind} on ${first.data} (Z = ${first.Z}, D = ${first.D})`;
document.getElementById("legend-line").textContent =
  "Grey cells are holes (farther than r from every training code), squares are test codes, rings the prior's 1–3σ, " +
  `and × the prior draws that land in holes; a decode is realistic when it lies inside the ${K}-NN manifold of the ` +
  "real images (lesson 02's precision), and beside it is the nearest training image.";
document.getElementById("about").append(el("p", {className: "note"}, (PAIR
  ? "One pointer drives both planes. It stands at the same place relative to each run's prior: " +
    "u standard deviations from the prior's mean along each axis, the same u in both (the planes span the " +
    "same number of standard deviations). \"Sample from the prior\" draws one eps ~ N(0, I) for both runs. "
  : "") + (DATA.budget.note ? `To keep the page small, ${DATA.budget.note.replace(/^to keep the page within [^,]*, /, "")}.` : "")));
document.getElementById("legend-hole").textContent =
  "A point z is in a hole when it is farther than r from every training code this page holds (for a VAE, " +
  "one draw z ~ q(z|x) per training image), r being the 99th percentile of the distances from each code to its " +
  "nearest neighbour (tinyvae/studies/holes.py). The readout under the pointer, the path's frames and the prior draws " +
  "use the whole z, in all latents; the grey cells are the holes of the plane's slice (the other latents at " +
  "their start values). The decoder was never trained in a hole. What its decodes there look like is not " +
  "assumed here: the prior sample measures it.";
document.getElementById("legend-judge").textContent =
  `A decode is realistic when it lies inside the ${K}-NN manifold of ${realSet}: within R of some real image x, ` +
  `where R is the distance from x to its ${K}rd nearest other real image (the improved precision of Kynkäänniemi et ` +
  "al. 2019, lesson 02's judge: tinyvae/studies/precision.py, in_manifold, re-written here and tested against it). " +
  `Beside each decode is the nearest of the ${count(first.n_train_images)} training images this page holds` +
  (first.n_train_images === first.n_train ? " (all of them)" : ` (of ${count(first.n_train)})`) + ", with its pixel distance." +
  (DATA.classifier ? ` Lesson 02's digit classifier (a ${DATA.classifier.sizes.join("-")} network trained on ` +
    `${count(DATA.classifier.n_train)} training images for ${DATA.classifier.epochs} epoch${DATA.classifier.epochs > 1 ? "s" : ""}, ` +
    `${(100 * DATA.classifier.test_accuracy).toFixed(1)}% right on the test images) says which digit a decode ` +
    "looks most like; it is not asked whether the decode looks real, since it can be sure of a blob." : "");
document.getElementById("legend-prior").textContent =
  `On load, and on each press, the page draws ${DATA.prior_draws} z from the prior (a VAE's N(0, I); for an AE the ` +
  "Gaussian fitted to its codes) with its own seeded sampler (mulberry32 and Box–Muller; draw set 0, shown on load, " +
  `has seed ${DATA.sample_seed * DATA.seed}), counts those that land in a hole, with the standard error ` +
  "sqrt(p (1 − p) / n), and judges every decode; the first decodes are below, those in holes framed in vermillion.";
document.getElementById("legend-replay").textContent = REPLAYED.length
  ? "tinyvae train keeps the codes of its training images at a few epochs (tinyvae/app/snapshots.py). The slider " +
    "shows, at each, the codes, the holes among them and the hole score, on the same plane as the model's; " +
    "the decode under the pointer stays the last epoch's. " + REPLAYED.map(r => `${r.data.name}: ` +
      `${count(r.data.replay.n_codes)} of its ${count(r.data.replay.n_train)} training codes behind each epoch's holes, ` +
      `${count(r.data.replay.n_dots)} drawn`).join("; ") + "."
  : "These runs kept no code snapshots (runs trained before the replay existed), so there is no slider.";

runs.forEach(run => run.drawKey());
layout();
runs.forEach(run => run.update());
samplePrior(false);                  // draw set 0, with the stated seed: the holes at a glance
if (REPLAYED.length) showEpoch(EPOCHS.length - 1);
window.addEventListener("resize", () => { layout(); runs.forEach(run => run.drawPlane()); });

// --- 13. a hook for tests and tools (the gallery's screenshots) ---
Object.assign(window.tinyvae, {
  decode: zz => Array.from(runs[0].decode(zz)),
  decodeRun: (k, zz) => Array.from(runs[k].decode(zz)),
  distance: (k, zz) => runs[k].nearestDistance(zz),
  inManifold: (xs, k = 0) => xs.map(x => runs[k].manifold.contains(x)),
  nearestTraining: (x, k = 0) => nearestImage(x, runs[k].TRAIN_IMAGES, runs[k].owner.n_train_images, runs[k].D),
  whichDigit: x => whichDigit(x),
  z: k => runs[k || 0].z.slice(),
  size: () => SIZE,
  pixelOf: (z1, z2, k = 0) => {      // page coordinates of a point of run k's plane
    const run = runs[k], r = run.plane.getBoundingClientRect(), [px, py] = run.toPixel(z1, z2);
    return [r.left + px * r.width / run.plane.width, r.top + py * r.height / run.plane.height];
  },
  marked: k => runs[k || 0].marked,
  compare: n => runs[0].showCode(n),
  posterior: k => runs[k || 0].posterior,
  interpolate: (a, b, steps) => runs[0].interpolate(a, b, steps, null),
  normals: (seed, n) => { const e = normals(seed); return Array.from({length: n}, e); },
  epochs: EPOCHS, showEpoch, frame: k => runs[k || 0].frame && {epoch: runs[k || 0].frame.epoch, score: runs[k || 0].frame.score},
  samplePrior: () => samplePrior(true), ready: true,
});
