// The tinyvae explorer's page: one run, or two side by side.  tinyvae/app/explore.py inlines this
// file after layers.js; DATA is what tinyvae/app/explore_data.py computed.  Every number the page
// shows is either computed there (the hole cells, r, the hole score) or here from the same
// definition (tinyvae/studies/holes.py: z is in a hole when it is farther than r from every training
// code the page holds), and tests/test_explore_browser.py checks the two agree.
"use strict";
const DATA = JSON.parse(document.getElementById("explorer-data").textContent);
const PAIR = DATA.runs.length === 2;

// --- 1. arrays from base64 (explore_data.py to_base64: little-endian float32 or uint8) ---
function bytesOf(text) {
  const s = atob(text), bytes = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) bytes[i] = s.charCodeAt(i);
  return bytes;
}
function floatsOf(text) { return new Float32Array(bytesOf(text).buffer); }

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

// --- 3. colours ---
const TAB10 = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
               "#7f7f7f", "#bcbd22", "#17becf"];
const VIRIDIS = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
function ordered(t) {                // t in [0, 1] -> a colour on viridis (dark blue to yellow)
  const s = Math.min(Math.max(t, 0), 1) * (VIRIDIS.length - 1), i = Math.min(Math.floor(s), VIRIDIS.length - 2);
  const f = s - i, c = VIRIDIS[i].map((v, k) => Math.round(v + f * (VIRIDIS[i + 1][k] - v)));
  return `rgb(${c[0]}, ${c[1]}, ${c[2]})`;
}
function colourOf(colouring, value) {
  if (!colouring) return "#1f77b4";
  return colouring.kind === "category" ? TAB10[value % TAB10.length]
    : ordered(colouring.names.length > 1 ? value / (colouring.names.length - 1) : 0.5);
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
  cap.textContent = caption;
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
function percent(k, n) {             // k of n as a percentage with its standard error
  const p = k / n, se = Math.sqrt(p * (1 - p) / n);
  return `${(100 * p).toFixed(1)}% ± ${(100 * se).toFixed(1)}%`;
}

// --- 5. the plane's geometry: a margin for the ticks around a SIZE x SIZE map ---
const SIZE = 480, LEFT = 48, TOP = 8, RIGHT = 10, BOTTOM = 38;
function niceTicks(lo, hi) {         // about six round numbers between lo and hi
  const raw = (hi - lo) / 6, p = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map(m => m * p).find(s => s >= raw);
  const ticks = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9 * step; v += step) ticks.push(Math.abs(v) < 1e-9 * step ? 0 : v);
  return {ticks, digits: Math.max(0, -Math.floor(Math.log10(step) + 1e-9))};
}

// --- 6. one run: its decoder, its codes and its plane ---
class Run {
  constructor(data, k) {
    this.k = k; this.data = data;
    this.id = name => (k ? `${name}-${k + 1}` : name);   // element ids: "readout", "readout-2", ...
    this.Z = data.Z; this.D = data.D; [this.H, this.W] = data.image_shape;
    [this.A1, this.A2] = data.axes;
    [this.LO1, this.HI1, this.LO2, this.HI2] = data.extent;
    this.BINS = data.bins;
    this.HOLE = bytesOf(data.hole);              // (bins, bins) [i2, i1]: 1 for a hole cell (decided in Python)
    this.CODES = floatsOf(data.codes);           // (n, Z) the shown test codes
    this.LOGVAR = data.logvar ? floatsOf(data.logvar) : null;   // (n, Z) a VAE's log sigma^2
    this.IMAGES = data.images ? bytesOf(data.images) : null;    // (n, D) 0..255 (null: run 1's)
    this.TRAIN = floatsOf(data.train_codes);     // (n_held, Z) the training codes the page holds
    this.N_HELD = data.train_codes_held; this.R = data.radius;
    this.decoder = sequentialOf(data.decoder, floatsOf);
    this.output = data.output === "Sigmoid" ? new Sigmoid() : null;
    this.z = data.base.slice();                   // the current point, (Z,)
    this.colouring = data.colourings[0] || null;
    this.posterior = null;                        // the clicked code's q(z|x), drawn as ellipses
    this.sample = null;                           // the last prior sample's z and hole flags
    this.ends = [];                               // interpolation endpoints, z vectors
    this.build();
  }

  // 6a. the decoder and the hole test
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
  image(n) {
    const images = this.IMAGES || runs[0].IMAGES;
    return Array.from(images.subarray(n * this.D, (n + 1) * this.D), v => v / 255);
  }
  label(n) {
    const c = this.data.colourings[0];
    return c ? `, ${c.name} ${c.names[c.values[n]]}` : "";
  }

  // 6b. latent coordinates <-> canvas pixels; the pointer as a fraction of the plane
  toPixel(z1, z2) {
    return [LEFT + (z1 - this.LO1) / (this.HI1 - this.LO1) * SIZE, TOP + (1 - (z2 - this.LO2) / (this.HI2 - this.LO2)) * SIZE];
  }
  toLatent(px, py) {
    return [this.LO1 + (px - LEFT) / SIZE * (this.HI1 - this.LO1), this.LO2 + (1 - (py - TOP) / SIZE) * (this.HI2 - this.LO2)];
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
    for (let n = 0; n < this.data.n_shown; n++) {
      const [qx, qy] = this.toPixel(this.CODES[n * this.Z + this.A1], this.CODES[n * this.Z + this.A2]);
      const d2 = (qx - px) ** 2 + (qy - py) ** 2;
      if (d2 < bestD) { bestD = d2; best = n; }
    }
    return best;
  }

  // 6c. the page's elements for this run
  build() {
    const d = this.data, id = this.id;
    this.plane = el("canvas", {className: "plane", id: id("plane"), width: LEFT + SIZE + RIGHT,
                               height: TOP + SIZE + BOTTOM, tabIndex: 0});
    this.key = el("div", {className: "note key", id: id("key")});
    this.decoded = el("canvas", {className: "pixels", id: id("decoded"), width: PAIR ? 160 : 256, height: PAIR ? 160 : 256});
    this.readout = el("div", {className: "readout", id: id("readout")});
    this.timing = el("div", {className: "note", id: id("timing")});
    this.compareBox = el("div", {id: id("compare")});
    this.sliderBox = el("div", {className: "sliders", id: id("sliders")});
    this.stripBox = el("div", {className: "wide", id: id("strip")});
    this.priorBox = el("div", {className: "wide", id: id("prior")});
    const heading = el("h2", {}, `${PAIR ? d.name + ": " : ""}${d.kind} on ${d.data} (Z = ${d.Z}, D = ${d.D})`);
    const axesNote = el("p", {className: "note", id: id("axes-note")}, d.Z === 2
      ? `The plane is the whole latent space: z${this.A1 + 1} across, z${this.A2 + 1} up.`
      : `The plane shows z${this.A1 + 1} across and z${this.A2 + 1} up: ${d.axes_reason}. The other latents ` +
        `start at ${d.is_vae ? "0, the prior's mean" : "the codes' mean"}: the red cells are the holes of that ` +
        "slice, and dots show every code's projection onto the plane.");
    const held = d.train_codes_held === d.n_train_codes
      ? `all ${d.n_train_codes.toLocaleString("en")} training codes`
      : `${d.train_codes_held.toLocaleString("en")} of the ${d.n_train_codes.toLocaleString("en")} training ` +
        "codes (a random subsample, to keep this page small)";
    const shown = d.n_shown === d.n_test ? `all ${d.n_test.toLocaleString("en")}`
      : `${d.n_shown.toLocaleString("en")} of the ${d.n_test.toLocaleString("en")} (a random subsample)`;
    const about = el("p", {className: "note", id: id("holes-note")},
      `This page holds ${held}, and finds the holes among them${d.Z > 2 ? ` in all ${d.Z} latents` : ""}: ` +
      `r = ${d.radius.toFixed(3)}; ` +
      `${(100 * d.score).toFixed(1)}% of ${d.n_prior.toLocaleString("en")} prior draws land in a hole ` +
      `(the hole score, tinyvae/studies/holes.py). Dots: ${shown} test codes.`);
    // beside the plane (one run) or under it (two): the decode, the sliders, then the details of a
    // click, last, so that their coming and going moves nothing else
    const side = el("div", {className: "side"}, this.decoded, this.readout, this.timing);
    this.compareBox.className = "details";
    const block = el("div", {className: "run", id: id("run")},
      el("div", {className: "plane-column"}, el("div", {className: "header"}, heading, axesNote, about), this.plane, this.key),
      el("div", {className: "below"}, side, this.sliderBox, this.compareBox), this.stripBox, this.priorBox);
    document.getElementById("runs").append(block);
    this.background = el("canvas", {width: this.plane.width, height: this.plane.height});
    this.makeSliders();
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

  // 6d. drawing the plane
  drawBackground() {
    const g = this.background.getContext("2d"), cell = SIZE / this.BINS, BINS = this.BINS;
    g.fillStyle = "#fff"; g.fillRect(0, 0, this.background.width, this.background.height);
    g.fillStyle = this.onStartSlice() ? "rgba(220, 0, 0, 0.30)" : "rgba(220, 0, 0, 0.08)";
    for (let i2 = 0; i2 < BINS; i2++)
      for (let i1 = 0; i1 < BINS; i1++)
        if (this.HOLE[i2 * BINS + i1]) {                // whole pixels, so cells do not overlap
          const x0 = LEFT + Math.round(i1 * cell), y0 = TOP + Math.round(SIZE - (i2 + 1) * cell);
          g.fillRect(x0, y0, LEFT + Math.round((i1 + 1) * cell) - x0, TOP + Math.round(SIZE - i2 * cell) - y0);
        }
    const c = this.colouring;
    for (let n = 0; n < this.data.n_shown; n++) {
      const [px, py] = this.toPixel(this.CODES[n * this.Z + this.A1], this.CODES[n * this.Z + this.A2]);
      g.fillStyle = colourOf(c, c ? c.values[n] : 0);
      g.fillRect(px - 1.5, py - 1.5, 3, 3);
    }
    g.strokeStyle = "#000"; g.lineWidth = 1.2; g.font = "12px system-ui, sans-serif";
    this.data.contours.forEach((ring, k) => {
      g.setLineDash(k === 0 ? [] : [5, 3 * k]);
      g.beginPath();
      ring.forEach(([a, b], i) => { const [px, py] = this.toPixel(a, b); i ? g.lineTo(px, py) : g.moveTo(px, py); });
      g.stroke();
      const [lx, ly] = this.toPixel(ring[0][0], ring[0][1]);
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
      g.fillText(v.toFixed(across.digits), x, TOP + SIZE + 6);
    }
    g.textAlign = "right"; g.textBaseline = "middle";
    for (const v of up.ticks) {
      const [, y] = this.toPixel(this.LO1, v);
      g.beginPath(); g.moveTo(LEFT - 4, y); g.lineTo(LEFT, y); g.stroke();
      g.fillText(v.toFixed(up.digits), LEFT - 6, y);
    }
    g.font = "13px system-ui, sans-serif"; g.textAlign = "center"; g.textBaseline = "alphabetic";
    g.fillText(`z${this.A1 + 1} →`, LEFT + SIZE / 2, TOP + SIZE + BOTTOM - 4);
    g.save(); g.translate(13, TOP + SIZE / 2); g.rotate(-Math.PI / 2); g.fillText(`z${this.A2 + 1} →`, 0, 0); g.restore();
    g.textAlign = "start";
  }
  drawPlane() {
    const p = this.plane.getContext("2d");
    p.drawImage(this.background, 0, 0);
    p.save(); p.beginPath(); p.rect(LEFT, TOP, SIZE, SIZE); p.clip();   // marks stay on the map
    if (this.sample) {                                   // the prior draws: x in a hole, a grey dot elsewhere
      this.sample.z.forEach((zz, i) => {
        const [px, py] = this.toPixel(zz[this.A1], zz[this.A2]);
        p.beginPath();
        if (this.sample.inHole[i]) {
          p.strokeStyle = "#b00"; p.lineWidth = 1.5;
          p.moveTo(px - 3, py - 3); p.lineTo(px + 3, py + 3); p.moveTo(px + 3, py - 3); p.lineTo(px - 3, py + 3);
          p.stroke();
        } else {
          p.fillStyle = "rgba(0, 0, 0, 0.45)"; p.arc(px, py, 1.6, 0, 2 * Math.PI); p.fill();
        }
      });
    }
    if (this.posterior) {                                // q(z|x): mu +- 1 and 2 sigma in the plane's latents
      p.strokeStyle = "#06c"; p.lineWidth = 2;
      for (const e of this.posterior.ellipses) {
        const [cx, cy] = this.toPixel(e.centre[0], e.centre[1]);
        const rx = e.radii[0] / (this.HI1 - this.LO1) * SIZE, ry = e.radii[1] / (this.HI2 - this.LO2) * SIZE;
        p.setLineDash(e.k === 1 ? [] : [4, 3]); p.beginPath(); p.ellipse(cx, cy, rx, ry, 0, 0, 2 * Math.PI); p.stroke();
      }
      p.setLineDash([]);
    }
    if (this.ends.length) {
      p.strokeStyle = "#00c"; p.lineWidth = 2; p.beginPath();
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
    this.key.append(`codes by ${c.name}: `);
    const values = [...new Set(c.values)].sort((a, b) => a - b);
    for (const v of values) this.key.append(el("span", {style: `color: ${colourOf(c, v)}`}, `■ ${c.names[v]}`));
  }

  // 6e. decode under the pointer
  update() {
    const t0 = performance.now();
    const x = this.decode(this.z);
    const ms = performance.now() - t0;
    drawImage(this.decoded, x, this.H, this.W);
    const d = this.nearestDistance(this.z), inHole = d > this.R;
    const where = inHole ? '<span id="' + this.id("hole-readout") + '" class="hole">in a hole</span>'
                         : '<span id="' + this.id("hole-readout") + '" class="dense">not in a hole</span>';
    const full = this.Z > 2 ? ` (in all ${this.Z} latents${this.onStartSlice() ? "" : "; the red cells show the start slice"})` : "";
    const verdict = JUDGE ? JUDGE.judge(x, this) : null;
    this.readout.innerHTML = `z = (${this.z.map(v => fmt(v)).join(", ")})<br>${where}${full}: the nearest ` +
      `training code is ${d.toFixed(3)} away, r = ${this.R.toFixed(3)}` + (verdict ? `<br><span id="${this.id("valid-readout")}">` +
      `${verdict.valid ? "judged valid" : "not judged valid"}: ${verdict.text}</span>` : "");
    this.timing.textContent =        // browsers round performance.now() to 0.1 ms
      ms < 0.1 ? "decoded in under 0.1 ms" : `decoded in ${ms.toFixed(1)} ms`;
    this.sliders.forEach((s, k) => { s.input.value = this.z[k]; s.value.textContent = fmt(this.z[k]); });
    this.drawPlane();
  }

  // 6f. a clicked code: input and reconstruction; for a VAE, q(z|x) too
  showCode(n) {
    const box = this.compareBox, big = PAIR ? 64 : 80, small = PAIR ? 44 : 52;
    box.textContent = "";
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
                  `z${a1 + 1}, z${a2 + 1} (blue: 1σ and 2σ). Decodes of five z ~ q(z|x) (red frame: in a hole):`),
               draws);
    this.drawPlane();
  }
  say(text) {                        // feedback in the details panel, replacing what was there
    this.posterior = null;
    this.compareBox.textContent = "";
    if (text) this.compareBox.append(el("div", {className: "note", id: this.id("click-note")}, text));
    this.drawPlane();
  }

  // 6g. the path between two points: frames with their t, and where it meets holes
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
      : framesInHole ? `the path crosses a hole: ${framesInHole} of ${steps} frames lie in one (framed in red)`
      : "the path crosses a hole between two frames (no frame lands inside it)";
    box.append(el("div", {className: "note"}, `the path z(t) = (1 - t) z_A + t z_B` +
                  (this.Z > 2 ? `, in all ${this.Z} latents` : "")), frames, note);
    this.drawPlane();
  }

  // 6h. the prior sample: z = mean + L eps, the same eps for every run on the page
  samplePrior(eps, judge) {
    const d = this.data, L = d.prior_chol, Z = this.Z;
    const z = eps.map(e => d.prior_mean_z.map((m, i) => {
      let v = m;
      for (let j = 0; j <= i; j++) v += L[i][j] * e[j];   // L is lower triangular
      return v;
    }));
    const distance = z.map(zz => this.nearestDistance(zz)), inHole = distance.map(v => v > this.R);
    const x = z.map(zz => this.decode(zz));
    const verdicts = judge ? x.map(xx => judge.judge(xx, this)) : null;
    this.sample = {z, distance, inHole, valid: verdicts ? verdicts.map(v => v.valid) : null};
    const nHole = inHole.filter(Boolean).length, n = z.length;
    const box = this.priorBox;
    box.textContent = "";
    const lines = [el("span", {id: this.id("prior-holes")},
      `${nHole} of ${n} draws (${percent(nHole, n)}) land in a hole (farther than r from every code this page holds).`)];
    if (verdicts) {
      const ok = verdicts.filter(v => v.valid), inside = verdicts.filter((v, i) => inHole[i]), outside = verdicts.filter((v, i) => !inHole[i]);
      const share = list => list.length ? `${list.filter(v => v.valid).length} of ${list.length} (${percent(list.filter(v => v.valid).length, list.length)})` : "none";
      lines.push(el("br"), el("span", {id: this.id("prior-valid")},
        `${ok.length} of ${n} (${percent(ok.length, n)}) are judged valid by ${judge.name}: ${share(inside)} of the draws in holes, ` +
        `${share(outside)} of the others.`));
    } else {
      lines.push(el("br"), el("span", {id: this.id("prior-valid")}, "Validity is not measured on this page (no judge for these data)."));
    }
    const prior = d.is_vae ? "N(0, I)" : "the Gaussian fitted to the training codes";
    const shown = Math.min(DATA.prior_shown, n), cols = PAIR ? 8 : 16, size = PAIR ? 32 : 36;
    const grid = el("div", {className: "grid", id: this.id("prior-grid")});
    grid.style.gridTemplateColumns = `repeat(${cols}, ${size + 2}px)`;
    for (let i = 0; i < shown; i++) {
      const c = pixelCanvas(size, inHole[i]);
      if (verdicts && !verdicts[i].valid) c.style.opacity = "0.55";
      drawImage(c, x[i], this.H, this.W);
      c.title = `z = (${z[i].map(v => fmt(v)).join(", ")})${inHole[i] ? ", in a hole" : ""}` +
                (verdicts ? `; ${verdicts[i].text}` : "");
      grid.append(c);
    }
    box.append(el("h2", {}, `${PAIR ? d.name + ": " : ""}${n} draws from the prior, ${prior}`),
               el("div", {className: "prior-stats"}, ...lines),
               el("div", {className: "note"}, `The first ${shown} decodes (red frame: in a hole` +
                  (verdicts ? "; faded: not judged valid" : "") + `). On the plane: × in a hole, a grey dot elsewhere` +
                  (Z > 2 ? " (projections; the hole test is in all latents)." : ".")),
               grid);
    this.drawPlane();
  }
}

// --- 7. the judge of a decode: is it valid? (explore_data.py: judge_data) ---
function makeJudge(j) {
  if (!j) return null;
  if (j.kind === "classifier") {     // classifier.py: Classifier.probabilities, top_probability, is_valid
    const net = sequentialOf(j.layers, floatsOf);
    return {
      name: "lesson 02's classifier",
      legend: `A decode is judged valid when lesson 02's classifier (tinyvae/studies/classifier.py: a ${j.sizes.join("-")} ` +
        `network, Linear, ReLU, Linear and softmax, trained on the ${j.n_train.toLocaleString("en")} training ` +
        `images for ${j.epochs} epochs) gives one class a probability of at least ${j.threshold}. It classifies ` +
        `${(100 * j.test_accuracy).toFixed(1)}% of the test images correctly and passes ${(100 * j.test_valid).toFixed(1)}% ` +
        "of them as valid. Its limit: a classifier can be sure of an image no person would call valid, so look at " +
        "the decodes too.",
      judge(x) {
        const p = softmax(net.forward(Float64Array.from(x)));   // p(y|x) = softmax(f(x))
        const top = Math.max(...p), k = p.indexOf(top);
        return {valid: top >= j.threshold, value: top, text: `the classifier says ${k} with p = ${top.toFixed(2)}`};
      },
    };
  }
  const IMAGES = bytesOf(j.images), D = DATA.runs[0].D;    // (n_held, D) 0..255
  return {                           // classifier.py: nearest_image_distance, over the held images
    name: "the distance to the nearest training image",
    legend: `A decode is judged valid when its pixel distance to the nearest of the ` +
      `${j.n_held === j.n_train ? "" : j.n_held.toLocaleString("en") + " of the "}${j.n_train.toLocaleString("en")} ` +
      `training images this page holds is at most the ${j.percentile}th percentile of the same distance for the ` +
      "model's own reconstructions of the test images (" +
      DATA.runs.map(d => `${PAIR ? d.name + ": " : ""}${d.judge_threshold.toFixed(2)}`).join(", ") +
      "): as close to real data as its reconstructions are. (These data have no classes to recognise.)",
    judge(x, run) {
      let best = Infinity;
      for (let n = 0, o = 0; n < j.n_held; n++, o += D) {
        let d2 = 0;
        for (let i = 0; i < D && d2 < best; i++) { const d = x[i] - IMAGES[o + i] / 255; d2 += d * d; }
        if (d2 < best) best = d2;
      }
      const d = Math.sqrt(best), bar = run.data.judge_threshold;
      return {valid: d <= bar, value: d, text: `nearest training image ${d.toFixed(2)} away (bar ${bar.toFixed(2)})`};
    },
  };
}
const JUDGE = makeJudge(DATA.judge);

// --- 8. the runs, and what moves them together ---
const runs = DATA.runs.map((d, k) => new Run(d, k));
if (PAIR) {
  document.getElementById("runs").classList.add("pair");
  const headers = [...document.querySelectorAll(".header")];      // the two planes at one height
  const tallest = Math.max(...headers.map(h => h.offsetHeight));
  headers.forEach(h => { h.style.minHeight = `${tallest}px`; });
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
      clearDetails("no test code under the pointer (within 6 pixels): move onto a dot and click, or " +
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

// --- 9. the prior sample: one eps for every run ---
let presses = 0;
function samplePrior() {
  presses += 1;
  const eps = normals(DATA.seed * 7919 + presses), Zmax = Math.max(...runs.map(r => r.Z));
  const draws = Array.from({length: DATA.prior_draws}, () => Array.from({length: Zmax}, eps));
  clearDetails(null);
  runs.forEach(run => run.samplePrior(draws.map(e => e.slice(0, run.Z)), JUDGE));
  window.tinyvae.lastSample = {eps: draws, runs: runs.map(r => r.sample)};
}
document.getElementById("prior-button").addEventListener("click", samplePrior);

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

// --- 11. the text that depends on the data ---
const first = DATA.runs[0];
document.getElementById("title").textContent = PAIR
  ? `tinyvae explorer: ${DATA.runs.map(d => `${d.name} (${d.kind}, Z = ${d.Z})`).join(" and ")} on ${first.data}`
  : `tinyvae explorer: ${first.kind} on ${first.data} (Z = ${first.Z}, D = ${first.D})`;
document.getElementById("about").append(el("p", {className: "note"}, PAIR
  ? "One pointer drives both planes. It stands at the same place relative to each run's prior: " +
    "u standard deviations from the prior's mean along each axis, the same u in both (the planes span the " +
    "same number of standard deviations). \"Sample from the prior\" draws one eps ~ N(0, I) for both runs."
  : ""));
document.getElementById("legend-hole").textContent =
  "A point z is in a hole when it is farther than r from every training code this page holds (for a VAE, " +
  "one draw z ~ q(z|x) per training image), r being the 99th percentile of the distances from each code to its " +
  "nearest neighbour (tinyvae/studies/holes.py). The readout under the pointer, the path's frames and the prior draws " +
  "use the whole z, in all latents; the red cells are the holes of the plane's slice (the other latents at " +
  "their start values). The decoder was never trained in a hole. What its decodes there look like is not " +
  "assumed here: \"sample from the prior\" measures it.";
document.getElementById("legend-prior").textContent =
  `Each press draws ${DATA.prior_draws} z from the prior (a VAE's N(0, I); for an AE the Gaussian fitted to its codes), ` +
  "counts those that land in a hole (with the standard error of that fraction), and shows the first decodes, " +
  "those in holes framed in red. " + (JUDGE ? JUDGE.legend : "This page has no judge of whether a decode is valid, " +
  "so it reports only where the draws land.");

runs.forEach(run => { run.drawKey(); run.drawBackground(); run.update(); });

// --- 12. a hook for tests and tools (the gallery's screenshots) ---
window.tinyvae = {
  decode: zz => Array.from(runs[0].decode(zz)),
  decodeRun: (k, zz) => Array.from(runs[k].decode(zz)),
  distance: (k, zz) => runs[k].nearestDistance(zz),
  z: k => runs[k || 0].z.slice(),
  pixelOf: (z1, z2, k = 0) => {      // page coordinates of a point of run k's plane
    const run = runs[k], r = run.plane.getBoundingClientRect(), [px, py] = run.toPixel(z1, z2);
    return [r.left + px * r.width / run.plane.width, r.top + py * r.height / run.plane.height];
  },
  compare: n => runs[0].showCode(n),
  posterior: k => runs[k || 0].posterior,
  judge: (x, k = 0) => JUDGE ? JUDGE.judge(x, runs[k]).value : null,   // top p, or the nearest-image distance
  interpolate: (a, b, steps) => runs[0].interpolate(a, b, steps, null),
  normals: (seed, n) => { const e = normals(seed); return Array.from({length: n}, e); },
  samplePrior, lastSample: null, ready: true,
};
