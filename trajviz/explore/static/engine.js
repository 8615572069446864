// The run: every method from every start, as trajviz.engine runs it (float64, record every step).
//
// At gradient evaluation t (t = 0..steps) each start's position x_t is recorded with the full
// loss f(x_t) and the gradient used: the formula's gradient, or the minibatch gradient of the
// data rows of batch t, plus noise * gaussian noise (seed, t, start). A path diverges at the
// first t where x_t or f(x_t) is not finite or x_t leaves the box of 5 domain widths around the
// domain; from then on its records are NaN (and trajviz run's CSV has no rows for them).
TV.engine = (function () {
  "use strict";

  const ESCAPE_WIDTHS = 5.0;

  /** Gradient of the mean squared error of w * f + b against y on `rows` (regression's minibatch). */
  function minibatchGrad(data, rows, w, b, out) {
    const { f, y } = data;
    const scale = 1 / rows.length;
    let gw = 0, gb = 0;
    for (let k = 0; k < rows.length; k++) {
      const r = rows[k];
      const dr = scale * (2 * (w * f[r] + b - y[r]));
      gw += dr * f[r];
      gb += dr;
    }
    out[1] = gw; out[2] = gb;
    return out;
  }

  /**
   * Run every method. `setup`: {fn (compiled formula), data ({f, y} or null), domain, starts
   * [[x, y], ...], steps, noise, seed, batchSize (null: full objective), methods [{label, cls, hp}]}.
   * Returns one trace per method: {label, path, loss, grad, velocity, box (Float64Arrays
   * indexed [t][start][axis]), marks, divergedAt (Int32Array, -1 = never)}.
   */
  function run(setup) {
    const { fn, steps, starts } = setup;
    const n = starts.length;
    const T = steps + 1;
    const [[xa, xb], [ya, yb]] = setup.domain;
    const cx = (xa + xb) / 2, cy = (ya + yb) / 2;
    const hx = (0.5 + ESCAPE_WIDTHS) * (xb - xa), hy = (0.5 + ESCAPE_WIDTHS) * (yb - ya);
    const batched = setup.data && setup.batchSize && setup.batchSize < setup.data.f.length;
    // the random draws are shared by all methods: draw them once
    let noise = null;
    if (setup.noise) {
      noise = new Float64Array(T * 2 * n);
      for (let t = 0; t < T; t++) TV.streams.gaussianNoise(setup.seed, t, n, noise.subarray(2 * n * t, 2 * n * (t + 1)));
    }
    let rows = null;
    if (batched) {
      const batches = new TV.streams.Batches(setup.seed, setup.data.f.length, setup.batchSize);
      rows = Array.from({ length: T }, (_, t) => batches.rows(t));
    }
    const vg = new Float64Array(3);
    return setup.methods.map((m) => {
      const opt = TV.optim.create(m.cls, m.hp, 2 * n);
      const path = new Float64Array(T * 2 * n).fill(NaN);
      const loss = new Float64Array(T * n).fill(NaN);
      const grad = new Float64Array(T * 2 * n).fill(NaN);
      const velocity = opt.marks.velocity ? new Float64Array(T * 2 * n).fill(NaN) : null;
      const box = opt.marks.box ? new Float64Array(T * 2 * n).fill(NaN) : null;
      const divergedAt = new Int32Array(n).fill(-1);
      const p = new Float64Array(2 * n), g = new Float64Array(2 * n);
      const vel = new Float64Array(2 * n), bx = new Float64Array(2 * n);
      starts.forEach(([x, y], i) => { p[2 * i] = x; p[2 * i + 1] = y; });
      let alive = n;
      for (let t = 0; t < T && alive > 0; t++) {
        const o = 2 * n * t;
        for (let i = 0; i < n; i++) {
          if (divergedAt[i] >= 0) continue;
          const x = p[2 * i], y = p[2 * i + 1];
          fn.valueGrad(x, y, vg);
          const value = vg[0];
          if (batched) minibatchGrad(setup.data, rows[t], x, y, vg);
          if (!(Math.abs(x - cx) <= hx && Math.abs(y - cy) <= hy && Number.isFinite(value))) {
            divergedAt[i] = t;
            alive--;
            continue;
          }
          let gx = vg[1], gy = vg[2];
          if (noise) { gx = gx + setup.noise * noise[o + 2 * i]; gy = gy + setup.noise * noise[o + 2 * i + 1]; }
          g[2 * i] = gx; g[2 * i + 1] = gy;
          path[o + 2 * i] = x; path[o + 2 * i + 1] = y;
          loss[n * t + i] = value;
          grad[o + 2 * i] = gx; grad[o + 2 * i + 1] = gy;
          if (t > 0) {
            if (velocity) { velocity[o + 2 * i] = vel[2 * i]; velocity[o + 2 * i + 1] = vel[2 * i + 1]; }
            if (box) { box[o + 2 * i] = bx[2 * i]; box[o + 2 * i + 1] = bx[2 * i + 1]; }
          }
        }
        if (t === steps) break;
        // a diverged row's numbers never reach the others: every rule is elementwise
        opt.step(p, g, vel, bx);
      }
      return { label: m.label, name: m.name, path, loss, grad, velocity, box, marks: opt.marks, divergedAt, n, T };
    });
  }

  /** {label: [[[x, y], ...] per start]}: each path up to its divergence, as trajviz run's CSV has it. */
  function paths(traces) {
    const out = {};
    for (const tr of traces) {
      out[tr.label] = Array.from({ length: tr.n }, (_, i) => {
        const end = tr.divergedAt[i] >= 0 ? tr.divergedAt[i] : tr.T;
        const pts = [];
        for (let t = 0; t < end; t++) pts.push([tr.path[2 * (tr.n * t + i)], tr.path[2 * (tr.n * t + i) + 1]]);
        return pts;
      });
    }
    return out;
  }

  return { run, paths, minibatchGrad, ESCAPE_WIDTHS };
})();
