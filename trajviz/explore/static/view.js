// Drawing: the contour map (computed once per surface and view, cached on an offscreen
// canvas), the paths with their heads, labels, velocity arrows and step boxes, and the loss
// panel. The picture language is trajviz's animations' (render/animate.py): one display scale
// per method and kind of mark for the whole run, the 90th percentile of the sizes drawn at 9%
// of the view's shorter side, no mark longer than twice that.
TV.view = (function () {
  "use strict";

  const MARK_FRACTION = 0.09, MARK_CAP = 2.0, MARK_QUANTILE = 0.9;
  const LOG_LEVELS = 28, LINEAR_LEVELS = 24, LOG_SPAN = 1e8;
  const FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'DejaVu Sans', sans-serif";
  const INK = "#1A1A1A";

  // ---- colours ------------------------------------------------------------------------------
  function rgb(hex) {
    return [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
  }
  function colormap(stops, t) {
    const c = stops.map(rgb);
    const x = Math.min(Math.max(t, 0), 1) * (c.length - 1);
    const i = Math.min(Math.floor(x), c.length - 2), f = x - i;
    return c[i].map((v, k) => Math.round(v + (c[i + 1][k] - v) * f));
  }
  // repeats of one method keep its hue in other shades (render/style.py's trace_styles)
  const SHADES = [[0.0, null], [-0.35, [10, 4]], [0.4, [2, 3]], [-0.6, [12, 4, 2, 4]], [0.65, [6, 6]]];
  function mix(hex, amount) {
    const target = amount > 0 ? 255 : 0, a = Math.abs(amount);
    return "#" + rgb(hex).map((c) => Math.round(c + (target - c) * a).toString(16).padStart(2, "0")).join("");
  }
  function styleFor(method) {
    const [shade, dash] = SHADES[method.repeat % SHADES.length];
    return {
      color: shade ? mix(method.color, shade) : method.color,
      dash: method.repeat === 0 ? (method.dashed ? [10, 4] : null) : dash,
      marker: method.marker || "o",
    };
  }
  // each method's head shape, as in the GIFs (matplotlib's marker letters, on the entry); unit radius
  const SHAPES = {
    "^": [[0, -1.15], [1, 0.75], [-1, 0.75]],
    "v": [[0, 1.15], [1, -0.75], [-1, -0.75]],
    "s": [[-0.85, -0.85], [0.85, -0.85], [0.85, 0.85], [-0.85, 0.85]],
    "D": [[0, -1.2], [0.85, 0], [0, 1.2], [-0.85, 0]],
    "d": [[0, -1.2], [0.6, 0], [0, 1.2], [-0.6, 0]],
    "p": [0, 1, 2, 3, 4].map((k) => [Math.sin((2 * Math.PI * k) / 5), -Math.cos((2 * Math.PI * k) / 5)]),
    "h": [0, 1, 2, 3, 4, 5].map((k) => [Math.sin((Math.PI * k) / 3), -Math.cos((Math.PI * k) / 3)]),
    "P": [[-0.35, -1], [0.35, -1], [0.35, -0.35], [1, -0.35], [1, 0.35], [0.35, 0.35], [0.35, 1],
          [-0.35, 1], [-0.35, 0.35], [-1, 0.35], [-1, -0.35], [-0.35, -0.35]],
  };

  // ---- numbers on axes ----------------------------------------------------------------------
  function niceTicks(lo, hi, target = 5) {
    const span = hi - lo;
    if (!(span > 0)) return [lo];
    const raw = span / target, mag = 10 ** Math.floor(Math.log10(raw));
    const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => span / s <= target + 0.5) || 10 * mag;
    const out = [];
    for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
    return out;
  }
  function tickText(v) {
    const s = String(Number(v.toPrecision(6)));
    return s.startsWith("-") ? "\u2212" + s.slice(1) : s;
  }
  const SUPERSCRIPT = { "-": "\u207b", 0: "\u2070", 1: "\u00b9", 2: "\u00b2", 3: "\u00b3", 4: "\u2074",
                        5: "\u2075", 6: "\u2076", 7: "\u2077", 8: "\u2078", 9: "\u2079" };
  function powerText(k) {
    return "10" + String(k).split("").map((c) => SUPERSCRIPT[c]).join("");
  }

  function quantile(values, q) {
    if (!values.length) return 0;
    const s = Float64Array.from(values).sort();
    const pos = (s.length - 1) * q, i = Math.floor(pos), f = pos - i;
    return i + 1 < s.length ? s[i] + (s[i + 1] - s[i]) * f : s[i];
  }

  // ---- canvases -----------------------------------------------------------------------------
  function fitCanvas(canvas) {
    const dpr = window.devicePixelRatio || 1;
    const w = Math.max(1, Math.round(canvas.clientWidth)), h = Math.max(1, Math.round(canvas.clientHeight));
    if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
      canvas.width = Math.round(w * dpr);
      canvas.height = Math.round(h * dpr);
    }
    return { w, h, dpr };
  }

  /** Contour levels as trajviz's background computes them (render/background.py). */
  function contourLevels(z, logLevels, optimum) {
    let lo = Infinity, hi = -Infinity;
    for (const v of z) if (Number.isFinite(v)) { if (v < lo) lo = v; if (v > hi) hi = v; }
    if (lo === Infinity) { lo = 0; hi = 0; }
    if (logLevels) {
      const shift = optimum !== null && optimum !== undefined ? optimum : lo;
      let top = hi - shift;
      if (!(top > 0)) top = 1;
      let minPos = Infinity;
      for (const v of z) { const s = v - shift; if (s > 0 && s < minPos) minPos = s; }
      let floor = Math.max(minPos === Infinity ? top / LOG_SPAN : minPos, top / LOG_SPAN);
      if (floor >= top) floor = top / 10;
      const n = LOG_LEVELS, a = Math.log(floor), b = Math.log(top);
      const levels = Array.from({ length: n }, (_, i) => Math.exp(a + ((b - a) * i) / (n - 1)));
      return { log: true, shift, floor, top, levels };
    }
    let floor = lo, top = hi;
    if (!(top > floor)) top = floor + 1;
    const n = LINEAR_LEVELS;
    const levels = Array.from({ length: n }, (_, i) => floor + ((top - floor) * i) / (n - 1));
    return { log: false, shift: 0, floor, top, levels };
  }

  // ---- the map ------------------------------------------------------------------------------
  class MapView {
    constructor(canvas, theme) {
      this.canvas = canvas;
      this.theme = theme;
      this.ctx = canvas.getContext("2d");
      this.background = null;
      this.key = null;
    }

    /** Place the view (equal aspect, centred, room for tick labels). */
    layout(domain) {
      const { w, h, dpr } = fitCanvas(this.canvas);
      const [[x0, x1], [y0, y1]] = domain;
      const m = { l: 52, r: 14, t: 14, b: 34 };
      const aw = w - m.l - m.r, ah = h - m.t - m.b;
      const s = Math.min(aw / (x1 - x0), ah / (y1 - y0));
      const pw = s * (x1 - x0), ph = s * (y1 - y0);
      this.box = { left: m.l + (aw - pw) / 2, top: m.t + (ah - ph) / 2, w: pw, h: ph };
      this.scale = s;
      this.domain = domain;
      this.size = { w, h, dpr };
    }

    toPx(x, y) {
      const [[x0], [, y1]] = this.domain;
      return [this.box.left + (x - x0) * this.scale, this.box.top + (y1 - y) * this.scale];
    }

    toData(px, py) {
      const [[x0], [, y1]] = this.domain;
      return [x0 + (px - this.box.left) / this.scale, y1 - (py - this.box.top) / this.scale];
    }

    /**
     * The contour background for `surface` (a {value(x, y)} function or a grid {x, y, z} sent
     * by the kernel), cached: recomputed only when the surface, the view or the size changes.
     */
    setSurface(source, key, info) {
      const fullKey = `${key}|${this.domain}|${this.size.w}x${this.size.h}@${this.size.dpr}`;
      if (fullKey === this.key) return;
      this.key = fullKey;
      const { dpr } = this.size;
      const b = this.box;
      const W = Math.max(2, Math.round(b.w * dpr)), H = Math.max(2, Math.round(b.h * dpr));
      const [[x0, x1], [y0, y1]] = this.domain;
      // the surface on a grid with one point per two device pixels
      let gx, gy, z;
      if (source.grid) {
        ({ x: gx, y: gy } = source.grid);
        z = Float64Array.from(source.grid.z.flat(), (v) => (v === null ? NaN : v));
      } else {
        const nx = Math.max(40, Math.ceil(W / 2)), ny = Math.max(40, Math.ceil(H / 2));
        gx = Array.from({ length: nx }, (_, i) => x0 + ((x1 - x0) * i) / (nx - 1));
        gy = Array.from({ length: ny }, (_, j) => y0 + ((y1 - y0) * j) / (ny - 1));
        z = new Float64Array(nx * ny);
        for (let j = 0; j < ny; j++) for (let i = 0; i < nx; i++) z[j * nx + i] = source.value(gx[i], gy[j]);
      }
      const nx = gx.length, ny = gy.length;
      const lv = contourLevels(z, info.log_levels, info.optimum);
      // shown values: log10 of the shifted value on log surfaces
      const shown = new Float64Array(z.length);
      for (let k = 0; k < z.length; k++) {
        const v = z[k];
        shown[k] = !Number.isFinite(v) ? NaN
          : lv.log ? Math.log10(Math.min(Math.max(v - lv.shift, lv.floor), lv.top)) : Math.min(Math.max(v, lv.floor), lv.top);
      }
      const cuts = lv.levels.map((l) => (lv.log ? Math.log10(l) : l));
      const nb = cuts.length - 1;
      const bandColors = Array.from({ length: nb }, (_, i) => colormap(this.theme.surface, (i + 0.5) / nb));
      const img = new ImageData(W, H);
      const axes = rgb(this.theme.axes);
      for (let py = 0; py < H; py++) {
        const fy = ((H - 1 - py) / (H - 1)) * (ny - 1);
        const j = Math.min(Math.floor(fy), ny - 2), ty = fy - j;
        for (let px = 0; px < W; px++) {
          const fx = (px / (W - 1)) * (nx - 1);
          const i = Math.min(Math.floor(fx), nx - 2), tx = fx - i;
          const a = shown[j * nx + i], b2 = shown[j * nx + i + 1], c = shown[(j + 1) * nx + i], d = shown[(j + 1) * nx + i + 1];
          const v = (a * (1 - tx) + b2 * tx) * (1 - ty) + (c * (1 - tx) + d * tx) * ty;
          let col = axes;
          if (v === v) {
            let lo = 0, hi = nb - 1;
            while (lo < hi) { const mid = (lo + hi + 1) >> 1; if (cuts[mid] <= v) lo = mid; else hi = mid - 1; }
            col = bandColors[lo];
          }
          const o = 4 * (py * W + px);
          img.data[o] = col[0]; img.data[o + 1] = col[1]; img.data[o + 2] = col[2]; img.data[o + 3] = 255;
        }
      }
      const off = document.createElement("canvas");
      off.width = W; off.height = H;
      const octx = off.getContext("2d");
      octx.putImageData(img, 0, 0);
      // thin contour lines on every other level (marching squares on the grid)
      octx.strokeStyle = this.theme.contour;
      octx.globalAlpha = this.theme.contour_alpha * 1.6;
      octx.lineWidth = 0.8 * dpr;
      const X = (fi) => (fi / (nx - 1)) * (W - 1), Y = (fj) => (H - 1) - (fj / (ny - 1)) * (H - 1);
      for (let l = 1; l < cuts.length; l += 2) {
        const c0 = cuts[l];
        octx.beginPath();
        for (let j = 0; j < ny - 1; j++) {
          for (let i = 0; i < nx - 1; i++) {
            const v00 = shown[j * nx + i], v10 = shown[j * nx + i + 1], v01 = shown[(j + 1) * nx + i], v11 = shown[(j + 1) * nx + i + 1];
            const code = (v00 > c0) | ((v10 > c0) << 1) | ((v11 > c0) << 2) | ((v01 > c0) << 3);
            if (code === 0 || code === 15 || !(v00 === v00 && v10 === v10 && v01 === v01 && v11 === v11)) continue;
            const pts = [];
            const edge = (va, vb, xa, ya, xb, yb) => {
              if ((va > c0) !== (vb > c0)) { const f = (c0 - va) / (vb - va); pts.push([X(xa + (xb - xa) * f), Y(ya + (yb - ya) * f)]); }
            };
            edge(v00, v10, i, j, i + 1, j);
            edge(v10, v11, i + 1, j, i + 1, j + 1);
            edge(v11, v01, i + 1, j + 1, i, j + 1);
            edge(v01, v00, i, j + 1, i, j);
            for (let k = 0; k + 1 < pts.length; k += 2) { octx.moveTo(pts[k][0], pts[k][1]); octx.lineTo(pts[k + 1][0], pts[k + 1][1]); }
          }
        }
        octx.stroke();
      }
      this.background = off;
      this.levels = lv;
    }

    /** Everything: background, axes, minima, paths to `scene.frame`, heads, marks, labels, starts. */
    draw(scene) {
      const ctx = this.ctx, { w, h, dpr } = this.size, b = this.box;
      ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
      ctx.fillStyle = this.theme.axes;
      ctx.fillRect(0, 0, w, h);
      if (this.background) ctx.drawImage(this.background, b.left, b.top, b.w, b.h);
      this.drawAxes();
      ctx.save();
      ctx.beginPath();
      ctx.rect(b.left, b.top, b.w, b.h);
      ctx.clip();
      for (const m of scene.minima) this.star(...this.toPx(m[0], m[1]));
      const heads = [];
      for (const tr of scene.traces) heads.push(...this.drawTrace(tr, scene));
      for (const hd of heads) if (!hd.outside) this.drawMarks(hd, scene);
      for (const hd of heads) {
        if (hd.outside) this.pointer(hd.px, hd.py, hd.toward, hd.style.color);
        else this.head(hd.px, hd.py, hd.style.marker, 6.5, hd.style.color, INK, 1.6);
      }
      scene.starts.forEach(([x, y], i) => this.startMarker(...this.toPx(x, y), i === scene.dragging));
      ctx.restore();
      this.drawLabels(heads.filter((hd) => hd.labelled));
    }

    drawAxes() {
      const ctx = this.ctx, b = this.box, [[x0, x1], [y0, y1]] = this.domain;
      ctx.strokeStyle = "#888888";
      ctx.lineWidth = 1;
      ctx.strokeRect(b.left + 0.5, b.top + 0.5, b.w - 1, b.h - 1);
      ctx.fillStyle = this.theme.text;
      ctx.font = `14px ${FONT}`;
      ctx.textAlign = "center";
      ctx.textBaseline = "top";
      for (const v of niceTicks(x0, x1, Math.max(3, Math.round(b.w / 110)))) {
        const [px] = this.toPx(v, y0);
        ctx.fillRect(px, b.top + b.h, 1, 4);
        ctx.fillText(tickText(v), px, b.top + b.h + 6);
      }
      ctx.textAlign = "right";
      ctx.textBaseline = "middle";
      for (const v of niceTicks(y0, y1, Math.max(3, Math.round(b.h / 90)))) {
        const [, py] = this.toPx(x0, v);
        ctx.fillRect(b.left - 4, py, 4, 1);
        ctx.fillText(tickText(v), b.left - 7, py);
      }
      ctx.font = `italic 14px ${FONT}`;
      ctx.textAlign = "center";
      ctx.textBaseline = "bottom";
      ctx.fillText("x", b.left + b.w / 2, this.size.h - 1);
      ctx.save();
      ctx.translate(13, b.top + b.h / 2);
      ctx.rotate(-Math.PI / 2);
      ctx.textBaseline = "middle";
      ctx.fillText("y", 0, 0);
      ctx.restore();
    }

    drawTrace(tr, scene) {
      const ctx = this.ctx, style = tr.style, heads = [];
      for (let i = 0; i < tr.n; i++) {
        const end = tr.divergedAt[i] >= 0 ? tr.divergedAt[i] : tr.T;
        const last = Math.min(scene.frame, end - 1);
        if (last < 0) continue;
        const pts = [];
        for (let t = 0; t <= last; t++) pts.push(this.toPx(tr.path[2 * (tr.n * t + i)], tr.path[2 * (tr.n * t + i) + 1]));
        // the line through the iterates, less the ones within a pixel of the last kept
        // (they change nothing on screen, and wide strokes cost per vertex)
        const kept = [pts[0]];
        for (let k = 1; k < pts.length; k++) {
          const [ax, ay] = kept[kept.length - 1], [bx, by] = pts[k];
          if ((bx - ax) ** 2 + (by - ay) ** 2 >= 1 || k === pts.length - 1) kept.push(pts[k]);
        }
        const line = () => { ctx.beginPath(); kept.forEach(([x, y], k) => (k ? ctx.lineTo(x, y) : ctx.moveTo(x, y))); };
        ctx.lineJoin = "round";
        ctx.lineCap = "round";
        ctx.setLineDash([]);
        ctx.strokeStyle = "rgba(26,26,26,0.55)";
        ctx.lineWidth = 4.6;
        line(); ctx.stroke();
        ctx.strokeStyle = style.color;
        ctx.lineWidth = 2.6;
        if (style.dash) ctx.setLineDash(style.dash);
        line(); ctx.stroke();
        ctx.setLineDash([]);
        // a dot at each iterate, where iterates are far enough apart to be seen
        ctx.fillStyle = style.color;
        ctx.strokeStyle = INK;
        ctx.lineWidth = 0.8;
        let lx = Infinity, ly = Infinity;
        ctx.beginPath(); // all the dots as one path: one fill and one stroke
        for (const [x, y] of pts) {
          if ((x - lx) ** 2 + (y - ly) ** 2 < 100) continue;
          ctx.moveTo(x + 2.2, y);
          ctx.arc(x, y, 2.2, 0, 2 * Math.PI);
          lx = x; ly = y;
        }
        ctx.fill();
        ctx.stroke();
        const [hx, hy] = pts[pts.length - 1];
        // a head that has left the view is pinned to its edge, with a pointer to where it went
        const b = this.box, pad = 9;
        const px = Math.min(Math.max(hx, b.left + pad), b.left + b.w - pad);
        const py = Math.min(Math.max(hy, b.top + pad), b.top + b.h - pad);
        const outside = px !== hx || py !== hy;
        const diverged = tr.divergedAt[i] >= 0 && scene.frame >= tr.divergedAt[i];
        if (diverged && !outside) this.cross(px, py, style.color);
        heads.push({ tr, i, t: last, px, py, style, diverged, outside, toward: [hx - px, hy - py],
                     labelled: i === 0 || !heads.some((hd) => hd.labelled) });
      }
      return heads;
    }

    drawMarks(hd, scene) {
      if (!scene.story || hd.diverged) return;
      const { tr, i, t } = hd, k = tr.scales;
      if (!k) return;
      const at = (arr) => [arr[2 * (tr.n * t + i)], arr[2 * (tr.n * t + i) + 1]];
      const px = this.scale;
      if (tr.box && k.box > 0) {
        const [bx, by] = at(tr.box);
        if (Number.isFinite(bx) && Number.isFinite(by)) {
          const cap = capFactor(Math.max(bx, by) * k.box, k.boxTarget);
          const hw = bx * k.box * cap * px, hh = by * k.box * cap * px;
          const ctx = this.ctx;
          ctx.lineWidth = 4.2; ctx.strokeStyle = "rgba(26,26,26,0.6)";
          ctx.strokeRect(hd.px - hw, hd.py - hh, 2 * hw, 2 * hh);
          ctx.lineWidth = 2.4; ctx.strokeStyle = hd.style.color;
          ctx.strokeRect(hd.px - hw, hd.py - hh, 2 * hw, 2 * hh);
        }
      }
      const kind = tr.velocity ? "velocity" : tr.box ? null : "gradient";
      if (kind && k.arrow > 0) {
        let [vx, vy] = at(kind === "velocity" ? tr.velocity : tr.grad);
        if (kind === "gradient") { vx = -vx; vy = -vy; }
        if (Number.isFinite(vx) && Number.isFinite(vy)) {
          const cap = capFactor(Math.hypot(vx, vy) * k.arrow, k.arrowTarget);
          this.arrow(hd.px, hd.py, vx * k.arrow * cap * px, -vy * k.arrow * cap * px, hd.style.color, kind === "gradient");
        }
      }
    }

    drawLabels(heads) {
      const ctx = this.ctx, b = this.box;
      ctx.font = `600 16px ${FONT}`;
      ctx.textBaseline = "middle";
      ctx.textAlign = "left";
      const placed = [];
      const overlaps = (r) => placed.some((q) => r.x < q.x + q.w && q.x < r.x + r.w && r.y < q.y + q.h && q.y < r.y + r.h);
      const inside = (r) => r.x >= b.left && r.x + r.w <= b.left + b.w && r.y >= b.top && r.y + r.h <= b.top + b.h;
      for (const hd of [...heads].sort((p, q) => p.py - q.py)) {
        const text = hd.tr.display;
        const tw = ctx.measureText(text).width, th = 20;
        const offsets = [[12, -16], [12, 4], [-tw - 12, -16], [-tw - 12, 4], [12, -36], [12, 24], [-tw - 12, -36],
                         [-tw - 12, 24], [12, -56], [12, 44], [-tw / 2, -40], [-tw / 2, 22]];
        let rect = null;
        for (const [dx, dy] of offsets) {
          const r = { x: hd.px + dx, y: hd.py + dy, w: tw, h: th };
          if (inside(r) && !overlaps(r)) { rect = r; break; }
        }
        if (!rect) rect = { x: Math.min(Math.max(hd.px + 12, b.left), b.left + b.w - tw), y: hd.py - 16, w: tw, h: th };
        placed.push(rect);
        const ty = rect.y + th / 2;
        // a short leader in the method's colour ties the label to its head
        ctx.strokeStyle = hd.style.color;
        ctx.lineWidth = 2;
        const ax = rect.x > hd.px ? rect.x - 2 : rect.x + tw + 2;
        ctx.beginPath(); ctx.moveTo(hd.px, hd.py); ctx.lineTo(ax, ty); ctx.stroke();
        ctx.lineJoin = "round";
        ctx.strokeStyle = "rgba(255,255,255,0.92)";
        ctx.lineWidth = 5;
        ctx.strokeText(text, rect.x, ty);
        ctx.fillStyle = INK;
        ctx.fillText(text, rect.x, ty);
      }
    }

    dot(x, y, r, fill, edge, width) {
      const ctx = this.ctx;
      ctx.beginPath(); ctx.arc(x, y, r, 0, 2 * Math.PI);
      ctx.fillStyle = fill; ctx.fill();
      ctx.lineWidth = width; ctx.strokeStyle = edge; ctx.stroke();
    }

    head(x, y, marker, r, fill, edge, width) {
      const shape = SHAPES[marker];
      if (!shape) { this.dot(x, y, r, fill, edge, width); return; }
      const ctx = this.ctx;
      ctx.beginPath();
      shape.forEach(([u, v], k) => (k ? ctx.lineTo(x + u * r * 1.1, y + v * r * 1.1) : ctx.moveTo(x + u * r * 1.1, y + v * r * 1.1)));
      ctx.closePath();
      ctx.fillStyle = fill; ctx.fill();
      ctx.lineWidth = width; ctx.strokeStyle = edge; ctx.stroke();
    }

    startMarker(x, y, active) {
      this.dot(x, y, active ? 9 : 8, "#FFFFFF", INK, 2.2);
      this.dot(x, y, 2.2, INK, INK, 0);
    }

    star(x, y) {
      const ctx = this.ctx, r = 10;
      ctx.beginPath();
      for (let k = 0; k < 10; k++) {
        const a = -Math.PI / 2 + (k * Math.PI) / 5, rr = k % 2 ? r * 0.45 : r;
        const px = x + rr * Math.cos(a), py = y + rr * Math.sin(a);
        if (k) ctx.lineTo(px, py); else ctx.moveTo(px, py);
      }
      ctx.closePath();
      ctx.fillStyle = this.theme.star; ctx.fill();
      ctx.strokeStyle = INK; ctx.lineWidth = 1.3; ctx.stroke();
    }

    /** A triangle at the view's edge pointing along (dx, dy): a head beyond the view. */
    pointer(x, y, [dx, dy], color) {
      const ctx = this.ctx, len = Math.hypot(dx, dy) || 1, ux = dx / len, uy = dy / len;
      ctx.beginPath();
      ctx.moveTo(x + 9 * ux, y + 9 * uy);
      ctx.lineTo(x - 6 * ux - 7 * uy, y - 6 * uy + 7 * ux);
      ctx.lineTo(x - 6 * ux + 7 * uy, y - 6 * uy - 7 * ux);
      ctx.closePath();
      ctx.fillStyle = color; ctx.fill();
      ctx.lineWidth = 1.5; ctx.strokeStyle = INK; ctx.stroke();
    }

    cross(x, y, color) {
      const ctx = this.ctx;
      for (const [wd, col] of [[5, INK], [2.6, color]]) {
        ctx.strokeStyle = col; ctx.lineWidth = wd;
        ctx.beginPath(); ctx.moveTo(x - 7, y - 7); ctx.lineTo(x + 7, y + 7); ctx.moveTo(x + 7, y - 7); ctx.lineTo(x - 7, y + 7); ctx.stroke();
      }
    }

    arrow(x, y, dx, dy, color, hollow) {
      const len = Math.hypot(dx, dy);
      if (!(len > 1)) return;
      const ctx = this.ctx, ux = dx / len, uy = dy / len;
      const head = Math.min(12, len * 0.55), halfw = 2.2, headw = 6.5;
      const bx = x + ux * (len - head), by = y + uy * (len - head);
      ctx.beginPath();
      ctx.moveTo(x - uy * halfw, y + ux * halfw);
      ctx.lineTo(bx - uy * halfw, by + ux * halfw);
      ctx.lineTo(bx - uy * headw, by + ux * headw);
      ctx.lineTo(x + dx, y + dy);
      ctx.lineTo(bx + uy * headw, by - ux * headw);
      ctx.lineTo(bx + uy * halfw, by - ux * halfw);
      ctx.lineTo(x + uy * halfw, y - ux * halfw);
      ctx.closePath();
      ctx.fillStyle = hollow ? "#FFFFFF" : color;
      ctx.fill();
      ctx.lineJoin = "miter";
      ctx.lineWidth = hollow ? 2.2 : 1.2;
      ctx.strokeStyle = hollow ? color : INK;
      ctx.stroke();
      if (hollow) { ctx.lineWidth = 0.8; ctx.strokeStyle = INK; ctx.stroke(); }
    }
  }

  function capFactor(size, target) {
    return size > MARK_CAP * target ? (MARK_CAP * target) / size : 1;
  }

  /** One display scale per trace and kind of mark, for the whole run (render/animate.py). */
  function markScales(tr, domain) {
    const [[x0, x1], [y0, y1]] = domain;
    const view = Math.min(x1 - x0, y1 - y0);
    const arrowTarget = MARK_FRACTION * view, boxTarget = (MARK_FRACTION * view) / 2;
    const lengths = [], halves = [];
    const kind = tr.velocity ? tr.velocity : tr.box ? null : tr.grad;
    for (let t = 0; t < tr.T; t++) {
      for (let i = 0; i < tr.n; i++) {
        if (tr.divergedAt[i] >= 0 && t >= tr.divergedAt[i]) continue;
        const o = 2 * (tr.n * t + i);
        if (kind) { const l = Math.hypot(kind[o], kind[o + 1]); if (Number.isFinite(l) && l > 0) lengths.push(l); }
        if (tr.box) { const hb = Math.max(tr.box[o], tr.box[o + 1]); if (Number.isFinite(hb) && hb > 0) halves.push(hb); }
      }
    }
    const qa = quantile(lengths, MARK_QUANTILE), qb = quantile(halves, MARK_QUANTILE);
    return { arrow: qa > 0 ? arrowTarget / qa : 0, box: qb > 0 ? boxTarget / qb : 0, arrowTarget, boxTarget };
  }

  // ---- the loss panel -----------------------------------------------------------------------
  class LossView {
    constructor(canvas, theme) {
      this.canvas = canvas;
      this.theme = theme;
      this.ctx = canvas.getContext("2d");
    }

    /** The shift and range of the log axis for a run (render/scene.py's loss axes). */
    prepare(traces, optimum) {
      let lo = Infinity, hi = -Infinity;
      for (const tr of traces) for (const v of tr.loss) if (Number.isFinite(v)) { if (v < lo) lo = v; if (v > hi) hi = v; }
      const shift = optimum !== null && optimum !== undefined ? optimum : Number.isFinite(lo) ? lo : 0;
      const scale = Number.isFinite(lo) ? Math.max(Math.abs(lo - shift), Math.abs(hi - shift)) : 1;
      const floor = Math.max(scale, 1) * 1e-16;
      let ymin = Infinity, ymax = -Infinity;
      for (const tr of traces) for (const v of tr.loss) if (Number.isFinite(v)) {
        const s = Math.max(v - shift, floor);
        if (s < ymin) ymin = s;
        if (s > ymax) ymax = s;
      }
      if (!Number.isFinite(ymin)) { ymin = 1e-3; ymax = 1; }
      let a = Math.floor(Math.log10(ymin)), bb = Math.ceil(Math.log10(ymax));
      if (bb <= a) bb = a + 1;
      this.range = { shift, floor, a, b: bb, optimumKnown: optimum !== null && optimum !== undefined };
    }

    draw(scene) {
      const ctx = this.ctx, { w, h, dpr } = fitCanvas(this.canvas);
      ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
      ctx.fillStyle = this.theme.axes;
      ctx.fillRect(0, 0, w, h);
      if (!this.range) return;
      const m = { l: 58, r: 12, t: 30, b: 30 };
      const pw = w - m.l - m.r, ph = h - m.t - m.b;
      const { shift, floor, a, b } = this.range;
      const steps = Math.max(scene.steps, 1);
      const X = (t) => m.l + (t / steps) * pw;
      const Y = (v) => m.t + ph - ((Math.log10(Math.max(v - shift, floor)) - a) / (b - a)) * ph;
      ctx.font = `14px ${FONT}`;
      ctx.fillStyle = this.theme.text;
      ctx.strokeStyle = "#DDDDDD";
      ctx.lineWidth = 1;
      const every = Math.max(1, Math.ceil((b - a) / 5));
      ctx.textAlign = "right"; ctx.textBaseline = "middle";
      for (let k = a; k <= b; k += every) {
        const y = m.t + ph - ((k - a) / (b - a)) * ph;
        ctx.beginPath(); ctx.moveTo(m.l, y + 0.5); ctx.lineTo(m.l + pw, y + 0.5); ctx.stroke();
        ctx.fillText(powerText(k), m.l - 6, y);
      }
      ctx.textAlign = "center"; ctx.textBaseline = "top";
      for (const t of niceTicks(0, steps, 5)) {
        ctx.fillText(tickText(t), X(t), m.t + ph + 5);
        ctx.beginPath(); ctx.moveTo(X(t) + 0.5, m.t); ctx.lineTo(X(t) + 0.5, m.t + ph); ctx.stroke();
      }
      ctx.strokeStyle = "#888888";
      ctx.strokeRect(m.l + 0.5, m.t + 0.5, pw, ph);
      ctx.font = `600 14px ${FONT}`;
      ctx.textAlign = "left"; ctx.textBaseline = "top";
      const what = this.range.optimumKnown ? "f*" : "min";
      const label = shift ? `loss  f(x, y) ${shift > 0 ? "\u2212" : "+"} ${Math.abs(Number(shift.toPrecision(4)))} (${what})`
        : "loss  f(x, y)";
      ctx.fillText(label, m.l, 7);
      ctx.font = `13px ${FONT}`;
      ctx.textAlign = "right";
      ctx.fillStyle = this.theme.muted;
      ctx.fillText("log scale, against step", m.l + pw, 8);
      ctx.save();
      ctx.beginPath(); ctx.rect(m.l, m.t, pw, ph); ctx.clip();
      for (const tr of scene.traces) {
        ctx.strokeStyle = tr.style.color;
        ctx.lineWidth = 2.2;
        ctx.setLineDash(tr.style.dash || []);
        for (let i = 0; i < tr.n; i++) {
          const end = Math.min(scene.frame + 1, tr.divergedAt[i] >= 0 ? tr.divergedAt[i] : tr.T);
          ctx.beginPath();
          for (let t = 0; t < end; t++) {
            const y = Y(tr.loss[tr.n * t + i]);
            if (t) ctx.lineTo(X(t), y); else ctx.moveTo(X(t), y);
          }
          ctx.stroke();
        }
      }
      ctx.setLineDash([]);
      ctx.restore();
      ctx.strokeStyle = INK;
      ctx.globalAlpha = 0.5;
      ctx.beginPath(); ctx.moveTo(X(scene.frame) + 0.5, m.t); ctx.lineTo(X(scene.frame) + 0.5, m.t + ph); ctx.stroke();
      ctx.globalAlpha = 1;
    }
  }

  return { MapView, LossView, markScales, styleFor, contourLevels, colormap, niceTicks };
})();
