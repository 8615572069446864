// The explorer: controls, pointer handling, play/scrub, the URL hash, and the window.trajviz hook.
//
// Every element is built with createElement and every piece of text from the state, the hash,
// a formula or an error is set with textContent: nothing from them is ever parsed as HTML.
TV.app = (function () {
  "use strict";

  const PLAY_SECONDS = 6;
  const HASH_DELAY_MS = 250;
  const BATCH_CHOICES = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512];

  function h(tag, props = {}, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(props)) {
      if (k === "text") el.textContent = v;
      else if (k === "class") el.className = v;
      else if (k === "style") Object.assign(el.style, v);
      else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v);
    }
    for (const c of children) if (c !== null && c !== undefined) el.append(c);
    return el;
  }

  // ---- hyperparameter controls: which keys matter for which class ---------------------------
  const fmt = (v, d) => TV.state.fmt(v, d);
  const CONTROL = {
    lr: { label: "lr", log: true, min: -6, max: 2, step: 0.01, get: (hp) => hp.lr, put: (v) => ["lr", fmt(v, 3)] },
    momentum: { label: "momentum", min: 0, max: 0.999, step: 0.001, get: (hp) => hp.momentum, put: (v) => ["momentum", fmt(v, 3)] },
    beta1: { label: "β₁", min: 0, max: 0.999, step: 0.001, get: (hp) => hp.betas[0],
             put: (v, hp) => ["betas", `${fmt(v, 3)}/${fmt(hp.betas[1], 6)}`] },
    beta2: { label: "β₂", min: 0.9, max: 0.9999, step: 0.0001, get: (hp) => hp.betas[1],
             put: (v, hp) => ["betas", `${fmt(hp.betas[0], 6)}/${fmt(v, 4)}`] },
    alpha: { label: "α", min: 0, max: 0.999, step: 0.001, get: (hp) => hp.alpha, put: (v) => ["alpha", fmt(v, 3)] },
    rho: { label: "ρ", min: 0, max: 0.999, step: 0.001, get: (hp) => hp.rho, put: (v) => ["rho", fmt(v, 3)] },
    eps: { label: "eps", log: true, min: -12, max: 0, step: 0.1, get: (hp) => hp.eps, put: (v) => ["eps", fmt(v, 2)] },
  };
  function controlsFor(m) {
    const hp = m.hp || {};
    const out = [];
    if (typeof hp.lr === "number") out.push("lr");
    if (m.cls === "SGD" && hp.momentum > 0) out.push("momentum");
    if (Array.isArray(hp.betas) && hp.betas.length === 2) out.push("beta1", "beta2");
    if (typeof hp.alpha === "number") out.push("alpha");
    if (typeof hp.rho === "number") out.push("rho");
    if (typeof hp.eps === "number" && m.cls !== "SGD") out.push("eps");
    return out;
  }

  /** "Adam", or "Adam (lr=0.05)" when the label carries hyperparameters (render/style.py's method_name). */
  function displayName(m) {
    const base = m.label.split("#")[0];
    let extra = "";
    if (base !== m.name) {
      const lower = base.toLowerCase();
      extra = lower.startsWith(m.name) ? base.slice(m.name.length).replace(/^:/, "") : base;
    }
    return extra ? `${m.title} (${extra})` : m.title;
  }

  // ---- traces from the kernel (nested lists) into the engine's flat arrays ------------------
  function fromKernel(tr) {
    const T = tr.path.length, n = T ? tr.path[0].length : 0;
    const flat = (arr, width) => {
      if (!arr) return null;
      const out = new Float64Array(T * n * width);
      let k = 0;
      for (const row of arr) for (const v of row) {
        if (width === 1) out[k++] = v === null ? NaN : v;
        else for (const c of v) out[k++] = c === null ? NaN : c;
      }
      return out;
    };
    return { label: tr.label, name: tr.name, T, n, path: flat(tr.path, 2), loss: flat(tr.loss, 1), grad: flat(tr.grad, 2),
             velocity: flat(tr.velocity, 2), box: flat(tr.step_size, 2), divergedAt: Int32Array.from(tr.diverged_at) };
  }

  // ---- the backends: where paths come from ----------------------------------------------------
  /** The page computes everything itself. */
  function pageBackend(catalog) {
    return {
      kernel: false,
      compute(state) {
        const r = TV.state.resolve(state, catalog);
        const s = r.surface;
        const traces = TV.engine.run({
          fn: s.fn, data: s.data ? catalog.config.data[s.data] : null, domain: s.domain, starts: r.state.start,
          steps: r.state.steps, noise: r.state.noise, seed: r.state.seed, batchSize: r.state.batch_size || null,
          methods: r.methods,
        });
        return { ...r, traces, background: { value: (x, y) => s.fn.value(x, y) } };
      },
    };
  }

  function create(root, config, options = {}) {
    const catalog = new TV.state.Catalog(config);
    const theme = config.theme;
    const backend = options.kernel ? options.kernel : pageBackend(catalog);
    let current = null;          // {state, surface, methods, traces}
    let frame = 0;
    let playing = false, playStart = 0, playFrom = 0;
    let dragging = -1;
    let preview = null;          // kernel mode: the starts while a drag is under way (sent on release)
    let hashTimer = null, lastHash = null;
    let structure = "";
    // drag timings for benchmarks/explore_drag.py: off unless it switches them on
    const bench = { on: false, samples: [], runMs: 0 };

    // ---- the page ---------------------------------------------------------------------------
    const ui = {};
    ui.surface = h("select", { class: "tv-select", "aria-label": "surface", onchange: () => onSurfacePicked() });
    ui.formula = h("input", { class: "tv-formula", type: "text", spellcheck: "false", autocomplete: "off",
                              placeholder: "or type a formula in x and y, e.g. x**2 + 10*y**2", "aria-label": "formula" });
    ui.formulaError = h("span", { class: "tv-error", role: "alert" });
    ui.title = h("div", { class: "tv-title" });
    ui.map = h("canvas", { class: "tv-map" });
    ui.notice = h("div", { class: "tv-notice", hidden: "" });
    ui.hint = h("span", { class: "tv-small", text: "drag ○ · double-click: add / remove" });
    ui.loss = h("canvas", { class: "tv-loss" });
    ui.methods = h("div", { class: "tv-methods" });
    ui.addMethod = h("select", { class: "tv-select tv-add", "aria-label": "add a method", onchange: () => onAddMethod() });
    ui.notes = h("div", { class: "tv-notes" });
    ui.steps = h("input", { type: "range", min: "10", max: "2000", step: "10", "aria-label": "steps" });
    ui.stepsOut = h("output", { class: "tv-value" });
    ui.noise = h("input", { type: "range", min: "0", max: "100", step: "1", "aria-label": "noise" });
    ui.noiseOut = h("output", { class: "tv-value" });
    ui.seed = h("input", { type: "number", min: "0", step: "1", class: "tv-seed", "aria-label": "seed" });
    ui.batch = h("select", { class: "tv-select", "aria-label": "batch size" });
    ui.batchRow = h("div", { class: "tv-row" }, h("label", { text: "batch" }), ui.batch,
                    h("span", { class: "tv-small", text: "rows per step (regression's data)" }));
    ui.play = h("button", { class: "tv-button tv-play", text: "▶ Play", title: "play the race (space)" });
    ui.step = h("button", { class: "tv-button", text: "Step ›", title: "one step (→)" });
    ui.scrub = h("input", { type: "range", min: "0", max: "1", step: "1", class: "tv-scrub", "aria-label": "step shown" });
    ui.frameOut = h("output", { class: "tv-frame" });
    ui.command = h("input", { type: "text", readonly: "", class: "tv-command", "aria-label": "equivalent command" });
    ui.copy = h("button", { class: "tv-button", text: "Copy command", title: "the trajviz animate command that makes this race" });
    ui.status = h("span", { class: "tv-status" });

    const main = h("div", { class: "tv-root" },
      h("header", { class: "tv-bar" },
        h("span", { class: "tv-brand", text: "trajviz explore" }),
        h("label", { class: "tv-field" }, h("span", { text: "surface" }), ui.surface),
        h("div", { class: "tv-formula-wrap" }, ui.formula, ui.formulaError)),
      h("div", { class: "tv-main" },
        h("div", { class: "tv-mapwrap" }, ui.title, ui.map, ui.notice),
        h("aside", { class: "tv-side" },
          ui.loss,
          h("div", { class: "tv-run" },
            h("div", { class: "tv-row" }, h("label", { text: "steps" }), ui.steps, ui.stepsOut),
            h("div", { class: "tv-row" }, h("label", { text: "noise" }), ui.noise, ui.noiseOut,
              h("label", { class: "tv-seedlabel", text: "seed" }), ui.seed),
            ui.batchRow,
            h("div", { class: "tv-row tv-starts" }, h("label", { text: "starts" }),
              h("button", { class: "tv-button tv-small-button", text: "+ start", onclick: () => addStart() }),
              h("button", { class: "tv-button tv-small-button", text: "− start", onclick: () => removeStart(-1) }), ui.hint)),
          ui.methods,
          h("div", { class: "tv-row" }, ui.addMethod),
          ui.notes)),
      h("footer", { class: "tv-bar" }, ui.play, ui.step, ui.scrub, ui.frameOut, ui.command, ui.copy, ui.status));
    root.append(main);

    const mapView = new TV.view.MapView(ui.map, theme);
    const lossView = new TV.view.LossView(ui.loss, theme);

    // ---- state ------------------------------------------------------------------------------
    function apply(partial) {
      if (backend.kernel) { backend.request(partial); return; } // the kernel checks and merges
      const base = current ? current.state : config.state;
      const next = TV.state.merge(base, partial, catalog);
      const t0 = performance.now();
      const result = backend.compute(next);
      bench.runMs = performance.now() - t0;
      commit(result);
    }

    /** Show a computed result: {state, surface, methods, traces, background}. */
    function commit(result) {
      const surfaceChanged = !current || current.surface.spec !== result.surface.spec ||
        String(current.surface.domain) !== String(result.surface.domain);
      current = result;
      for (const tr of result.traces) {
        const m = result.methods.find((mm) => mm.label === tr.label) || {};
        tr.style = TV.view.styleFor({ color: m.color || "#777777", dashed: m.dashed, repeat: m.repeat || 0,
                                      marker: m.marker });
        tr.display = displayName({ label: tr.label, name: m.name || tr.name, title: m.title || tr.label });
        tr.scales = TV.view.markScales(tr, result.surface.domain);
      }
      if (!playing) frame = result.state.steps;
      frame = Math.min(frame, result.state.steps);
      lossView.prepare(result.traces, result.surface.optimum);
      if (surfaceChanged) syncSurfaceControls();
      syncControls();
      render();
      scheduleHash();
      if (options.onChange) options.onChange(result);
    }

    function render() {
      if (!current) return;
      mapView.layout(current.surface.domain);
      mapView.setSurface(current.background, current.surface.spec, current.surface); // cached by surface, view, size
      const scene = { traces: current.traces, frame, starts: preview || current.state.start, minima: current.surface.minima || [],
                      story: true, dragging, steps: current.state.steps };
      mapView.draw(scene);
      lossView.draw(scene);
      ui.scrub.max = String(current.state.steps);
      ui.scrub.value = String(frame);
      ui.frameOut.textContent = `step ${frame} / ${current.state.steps}`;
    }

    // ---- controls that follow the state ------------------------------------------------------
    function syncSurfaceControls() {
      const s = current.surface;
      ui.surface.replaceChildren();
      for (const entry of config.surfaces) {
        ui.surface.append(h("option", { value: entry.key, text: entry.key }));
      }
      if (s.formula_surface) ui.surface.append(h("option", { value: "", text: "formula (typed below)" }));
      ui.surface.value = s.formula_surface ? "" : s.key;
      if (!s.formula_surface) ui.formula.value = "";
      else if (document.activeElement !== ui.formula) ui.formula.value = s.spec;
      ui.title.replaceChildren(h("b", { text: s.formula_surface ? "formula" : (s.title || s.key) }),
                               h("span", { text: `  f(x, y) = ${s.pretty || s.formula}` }),
                               ...(s.note ? [h("i", { text: `  (${s.note})` })] : []));
      ui.batchRow.hidden = !s.n_data;
    }

    function syncControls() {
      const st = current.state;
      ui.steps.value = String(st.steps);
      ui.stepsOut.textContent = String(st.steps);
      ui.noise.value = String(noiseToSlider(st.noise));
      ui.noiseOut.textContent = st.noise ? fmt(st.noise, 2) : "0 (off)";
      if (document.activeElement !== ui.seed) ui.seed.value = String(st.seed);
      if (current.surface.n_data) {
        const n = current.surface.n_data;
        ui.batch.replaceChildren(h("option", { value: "", text: `full (${n})` }),
          ...BATCH_CHOICES.filter((b) => b < n).map((b) => h("option", { value: String(b), text: String(b) })));
        if (st.batch_size && !BATCH_CHOICES.includes(st.batch_size)) {
          ui.batch.append(h("option", { value: String(st.batch_size), text: String(st.batch_size) }));
        }
        ui.batch.value = st.batch_size ? String(st.batch_size) : "";
      }
      ui.command.value = TV.state.command(st);
      syncMethods();
    }

    function syncMethods() {
      const methods = current.methods;
      const key = methods.map((m) => `${m.name}|${m.cls}|${controlsFor(m).join(",")}`).join(";");
      if (key !== structure) {
        structure = key;
        ui.methods.replaceChildren(...methods.map((m, k) => methodCard(m, k)));
        ui.addMethod.replaceChildren(h("option", { value: "", text: "+ add a method…" }),
          ...config.optimizers.map((o) => h("option", { value: o.name, text: `${o.title} — ${o.analogy}` })));
      }
      methods.forEach((m, k) => {
        const card = ui.methods.children[k];
        card.querySelector(".tv-spec").textContent = m.label;
        for (const name of controlsFor(m)) {
          const c = CONTROL[name], row = card.querySelector(`[data-key="${name}"]`);
          const v = c.get(m.hp);
          const input = row.querySelector("input");
          if (document.activeElement !== input) input.value = String(c.log ? Math.log10(v) : v);
          row.querySelector("output").textContent = fmt(v, c.log ? 3 : 4);
        }
      });
      ui.notes.replaceChildren(...(config.notes || []).map((n) => h("div", { text: n })));
    }

    function methodCard(m, k) {
      const color = TV.view.styleFor(m).color;
      const remove = h("button", { class: "tv-remove", title: "remove this method", text: "×",
                                   onclick: () => removeMethod(k) });
      const card = h("div", { class: "tv-card", style: { borderLeftColor: color } },
        h("div", { class: "tv-card-head" },
          h("span", { class: "tv-swatch", style: { background: color } }),
          h("b", { text: m.title || m.name }), h("span", { class: "tv-analogy", text: m.analogy || "" }), remove),
        h("div", { class: "tv-spec" }));
      const grid = h("div", { class: "tv-controls" });
      for (const name of controlsFor(m)) {
        const c = CONTROL[name];
        const input = h("input", { type: "range", min: String(c.min), max: String(c.max), step: String(c.step),
                                   "aria-label": `${m.label} ${name}` });
        input.addEventListener("input", () => setHyper(k, name, Number(input.value)));
        input.addEventListener("change", () => scheduleHash());
        grid.append(h("div", { class: "tv-control", "data-key": name }, h("label", { text: c.label }), input,
                      h("output", { class: "tv-value" })));
      }
      card.append(grid);
      return card;
    }

    function setHyper(k, name, sliderValue) {
      const c = CONTROL[name];
      const value = c.log ? 10 ** sliderValue : sliderValue;
      const m = current.methods[k];
      const [key, text] = c.put(value, m.hp);
      const opt = current.state.opt.slice();
      opt[k] = TV.state.withParam(opt[k], key, text);
      tryApply({ opt });
    }

    function tryApply(partial) {
      try {
        apply(partial);
        return true;
      } catch (e) {
        if (!(e instanceof TV.state.StateError)) throw e;
        showNotice([e.message]);
        return false;
      }
    }

    // ---- events -------------------------------------------------------------------------------
    function onSurfacePicked() {
      if (ui.surface.value) tryApply({ surface: ui.surface.value });
    }

    let formulaTimer = null;
    ui.formula.addEventListener("input", () => {
      clearTimeout(formulaTimer);
      formulaTimer = setTimeout(applyFormula, 350);
    });
    ui.formula.addEventListener("keydown", (e) => { if (e.key === "Enter") { clearTimeout(formulaTimer); applyFormula(); } });
    function applyFormula() {
      const text = ui.formula.value;
      if (!TV.formula.pyStrip(text)) { ui.formulaError.textContent = ""; return; }
      if (backend.kernel) { ui.formulaError.textContent = ""; apply({ surface: text }); return; }
      try {
        if (TV.state.isName(text) && !["x", "y"].includes(TV.state.splitSpec(text)[0].toLowerCase())) {
          catalog.surface(text, null, null);
        } else {
          TV.formula.compile(text);
        }
        ui.formulaError.textContent = "";
      } catch (e) {
        if (!(e instanceof TV.state.StateError) && !(e instanceof TV.formula.FormulaError)) throw e;
        ui.formulaError.textContent = e.message;
        return;
      }
      if (current && TV.formula.pyStrip(text) === current.state.surface) return;
      try { apply({ surface: text }); } catch (e) {
        if (!(e instanceof TV.state.StateError)) throw e;
        ui.formulaError.textContent = e.message;
      }
    }

    function onAddMethod() {
      const name = ui.addMethod.value;
      ui.addMethod.value = "";
      if (name) tryApply({ opt: [...current.state.opt, name] });
    }
    function removeMethod(k) {
      if (current.state.opt.length <= 1) { showNotice(["keep at least one method"]); return; }
      tryApply({ opt: current.state.opt.filter((_, i) => i !== k) });
    }

    ui.steps.addEventListener("input", () => tryApply({ steps: Number(ui.steps.value) }));
    ui.noise.addEventListener("input", () => tryApply({ noise: sliderToNoise(Number(ui.noise.value)) }));
    ui.seed.addEventListener("change", () => {
      const v = Number(ui.seed.value);
      if (!tryApply({ seed: v })) ui.seed.value = String(current.state.seed);
    });
    ui.batch.addEventListener("change", () => tryApply({ batch_size: ui.batch.value ? Number(ui.batch.value) : null }));
    for (const el of [ui.steps, ui.noise]) el.addEventListener("change", () => scheduleHash());

    function noiseToSlider(noise) { return noise > 0 ? Math.max(1, Math.min(100, Math.round(75 + 25 * Math.log10(noise)))) : 0; }
    function sliderToNoise(pos) { return pos > 0 ? Number((10 ** ((pos - 75) / 25)).toPrecision(2)) : 0; }

    // the starts: drag, add, remove (pointer events, so mouse, pen and touch all work)
    const HIT = 14;
    function roundedPoint(x, y) {
      const [[x0, x1], [y0, y1]] = current.surface.domain;
      const q = 10 ** Math.floor(Math.log10(Math.min(x1 - x0, y1 - y0)) - 3);
      const r = (v) => Number((Math.round(v / q) * q).toPrecision(12));
      return [r(x), r(y)];
    }
    function startAt(px, py) {
      let best = -1, dist = HIT;
      current.state.start.forEach(([x, y], i) => {
        const [sx, sy] = mapView.toPx(x, y);
        const d = Math.hypot(sx - px, sy - py);
        if (d <= dist) { best = i; dist = d; }
      });
      return best;
    }
    function localPoint(e) {
      const r = ui.map.getBoundingClientRect();
      return [e.clientX - r.left, e.clientY - r.top];
    }
    ui.map.addEventListener("pointerdown", (e) => {
      if (!current || e.button !== 0) return;
      const i = startAt(...localPoint(e));
      if (i < 0) return;
      dragging = i;
      ui.map.setPointerCapture(e.pointerId);
      ui.map.classList.add("tv-dragging");
      e.preventDefault();
    });
    ui.map.addEventListener("pointermove", (e) => {
      if (!current) return;
      const [px, py] = localPoint(e);
      if (dragging < 0) { ui.map.classList.toggle("tv-grab", startAt(px, py) >= 0); return; }
      const t0 = performance.now();
      const start = (preview || current.state.start).slice();
      start[dragging] = roundedPoint(...mapView.toData(px, py));
      if (backend.kernel) { preview = start; render(); return; } // the kernel re-runs on release
      tryApply({ start });
      if (bench.on) {
        // read one pixel back from each canvas: the drawing is then really done, not just queued
        mapView.ctx.getImageData(0, 0, 1, 1);
        lossView.ctx.getImageData(0, 0, 1, 1);
        const end = performance.now();
        bench.samples.push({ total: end - t0, run: bench.runMs, sinceEvent: end - e.timeStamp });
      }
    });
    const endDrag = (e) => {
      if (dragging < 0) return;
      dragging = -1;
      ui.map.classList.remove("tv-dragging");
      if (ui.map.hasPointerCapture(e.pointerId)) ui.map.releasePointerCapture(e.pointerId);
      if (preview) { apply({ start: preview }); preview = null; }
      render();
      scheduleHash();
    };
    ui.map.addEventListener("pointerup", endDrag);
    ui.map.addEventListener("pointercancel", endDrag);
    ui.map.addEventListener("dblclick", (e) => {
      if (!current) return;
      const [px, py] = localPoint(e);
      const i = startAt(px, py);
      if (i >= 0) removeStart(i);
      else addStart(roundedPoint(...mapView.toData(px, py)));
    });
    function addStart(point) {
      const st = current.state.start;
      if (st.length >= TV.state.MAX_STARTS) { showNotice([`at most ${TV.state.MAX_STARTS} starts`]); return; }
      if (!point) {
        const [[x0, x1], [y0, y1]] = current.surface.domain;
        const k = st.length;
        point = roundedPoint(x0 + (x1 - x0) * (0.2 + 0.6 * ((k * 0.618) % 1)), y0 + (y1 - y0) * (0.2 + 0.6 * ((k * 0.382 + 0.5) % 1)));
      }
      tryApply({ start: [...st, point] });
    }
    function removeStart(i) {
      const st = current.state.start;
      if (st.length <= 1) { showNotice(["keep at least one start"]); return; }
      tryApply({ start: st.filter((_, k) => k !== (i < 0 ? st.length - 1 : i)) });
    }

    // play, pause, step, scrub
    function setPlaying(on) {
      playing = on;
      ui.play.textContent = on ? "❚❚ Pause" : "▶ Play";
      if (on) {
        if (frame >= current.state.steps) frame = 0;
        playFrom = frame;
        playStart = performance.now();
        requestAnimationFrame(tick);
      }
    }
    function tick(now) {
      if (!playing || !current) return;
      const steps = current.state.steps;
      const f = playFrom + Math.floor(((now - playStart) / 1000 / PLAY_SECONDS) * steps);
      frame = Math.min(f, steps);
      render();
      if (frame >= steps) setPlaying(false);
      else requestAnimationFrame(tick);
    }
    ui.play.addEventListener("click", () => setPlaying(!playing));
    ui.step.addEventListener("click", () => stepBy(1));
    function stepBy(k) {
      setPlaying(false);
      frame = Math.max(0, Math.min(current.state.steps, frame + k));
      render();
    }
    ui.scrub.addEventListener("input", () => {
      setPlaying(false);
      frame = Number(ui.scrub.value);
      render();
    });
    root.addEventListener("keydown", (e) => {
      if (!current || e.target.tagName === "INPUT" || e.target.tagName === "SELECT") return;
      if (e.key === " ") { e.preventDefault(); setPlaying(!playing); }
      else if (e.key === "ArrowRight") stepBy(1);
      else if (e.key === "ArrowLeft") stepBy(-1);
    });

    // copy the command
    ui.copy.addEventListener("click", async () => {
      const text = ui.command.value;
      let done = false;
      try {
        if (navigator.clipboard && navigator.clipboard.writeText) { await navigator.clipboard.writeText(text); done = true; }
      } catch (e) { done = false; }
      if (!done) {
        ui.command.focus();
        ui.command.select();
        try { done = document.execCommand("copy"); } catch (e) { done = false; }
      }
      ui.status.textContent = done ? "copied" : "select the command and copy it";
      setTimeout(() => { ui.status.textContent = ""; }, 2500);
    });

    // ---- notices --------------------------------------------------------------------------------
    function showNotice(lines, title) {
      ui.notice.replaceChildren(
        h("button", { class: "tv-remove", text: "×", title: "dismiss", onclick: () => { ui.notice.hidden = true; } }),
        ...(title ? [h("b", { text: title })] : []),
        ...lines.map((line) => h("div", { text: line })));
      ui.notice.hidden = false;
    }

    // ---- the URL hash (page only) ----------------------------------------------------------------
    function scheduleHash() {
      if (!options.hash || !current) return;
      clearTimeout(hashTimer);
      hashTimer = setTimeout(writeHash, HASH_DELAY_MS);
    }
    function writeHash() {
      if (dragging >= 0) { scheduleHash(); return; }
      const text = "#" + TV.state.toHash(current.state);
      if (text === location.hash) return;
      lastHash = text;
      try { history.replaceState(null, "", text); } catch (e) { location.replace(text); }
    }
    function loadHash(hash) {
      const { fields, problems } = TV.state.fromHash(hash);
      const r = TV.state.loadFields(config.state, fields, catalog, problems);
      commit(backend.compute(r.state));
      if (problems.length) {
        showNotice(problems, "This link's setup could not be used as it is; the page's defaults stand in for:");
      }
    }

    // ---- start ---------------------------------------------------------------------------------
    function start() {
      if (config.notes && config.notes.length) ui.notes.hidden = false;
      if (options.hash && location.hash.length > 1) {
        loadHash(location.hash);
      } else if (backend.kernel) {
        if (options.result) commit(options.result); else apply(options.initial || config.state);
      } else {
        commit(backend.compute(options.initial || config.state));
      }
      if (options.hash) {
        window.addEventListener("hashchange", () => {
          if (location.hash === lastHash || location.hash === "#" + TV.state.toHash(current.state)) return;
          loadHash(location.hash);
        });
      }
      // redraw when the page's size changes (a window, or a notebook cell's width)
      let resizeTimer = null;
      new ResizeObserver(() => { clearTimeout(resizeTimer); resizeTimer = setTimeout(render, 60); }).observe(main);
    }

    const controller = {
      get state() { return current ? JSON.parse(JSON.stringify(current.state)) : null; },
      setState(partial) {
        if (partial === null || typeof partial !== "object" || Array.isArray(partial)) {
          throw new TypeError("setState takes an object such as {start: [[0, 1]]}");
        }
        apply(JSON.parse(JSON.stringify(partial)));
        return controller.state;
      },
      paths() {
        return current ? TV.engine.paths(current.traces) : {};
      },
      /** The viewport coordinates of the data point (x, y) on the map (for tests and the benchmark). */
      locate(x, y) {
        const r = ui.map.getBoundingClientRect();
        const [px, py] = mapView.toPx(x, y);
        return { x: r.left + px, y: r.top + py };
      },
      commit,
      showNotice,
      formulaError: (text) => { ui.formulaError.textContent = text; },
      bench,
      render,
    };
    start();
    return controller;
  }

  return { create, displayName, fromKernel };
})();
