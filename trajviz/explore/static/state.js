// The page's state in the CLI's own terms, checked as the CLI checks it; the URL hash; the
// equivalent command line.
//
// state = {surface, opt: [spec, ...], start: [[x, y], ...], steps, noise, seed,
//          batch_size (surfaces with data only), xlim, ylim (only when set)}
// Specs are parsed as trajviz/specs.py parses them and resolved as trajviz.optimizers.resolve
// does (labels, curated learning rates, torch's own validation messages).
TV.state = (function () {
  "use strict";

  const MAX_STARTS = 20;
  const MAX_STEPS = 5000;
  const MAX_SEED = Number.MAX_SAFE_INTEGER;
  const HASH_VERSION = "1";
  const KEYS = ["surface", "opt", "start", "steps", "noise", "seed", "batch_size", "xlim", "ylim"];

  class StateError extends Error {}
  const fail = (msg) => { throw new StateError(msg); };

  // ---- trajviz/specs.py ---------------------------------------------------------------------
  const SPEC_NAME = /^[A-Za-z_][\w.]*(:[A-Za-z_]\w*)?$/;
  const PY_FLOAT = /^[+-]?(?:(?:\d(?:_?\d)*)?\.\d(?:_?\d)*|\d(?:_?\d)*\.?)(?:[eE][+-]?\d(?:_?\d)*)?$/;

  function splitSpec(text) {
    text = TV.formula.pyStrip(text);
    if (!text) fail("empty name");
    const colon = text.indexOf(":");
    if (colon < 0) return [text, ""];
    const head = text.slice(0, colon), rest = text.slice(colon + 1);
    const colon2 = rest.indexOf(":");
    const cls = TV.formula.pyStrip(colon2 < 0 ? rest : rest.slice(0, colon2));
    if (cls && !cls.includes("=") && (head.includes(".") || /^[A-Z]/.test(cls))) {
      return [`${head}:${cls}`, colon2 < 0 ? "" : rest.slice(colon2 + 1)];
    }
    return [head, rest];
  }

  function parseValue(key, raw) {
    raw = TV.formula.pyStrip(raw);
    const low = raw.toLowerCase();
    if (low === "true" || low === "false") return low === "true";
    if (low === "none" || low === "null") return null;
    if (raw.includes("/")) return raw.split("/").map((part) => parseValue(key, part));
    if (!PY_FLOAT.test(raw)) fail(`bad value for '${key}': '${raw}' is not a number`);
    return Number(raw.replace(/_/g, ""));
  }

  function parseParams(text) {
    const params = {};
    if (!TV.formula.pyStrip(text)) return params;
    for (const item of text.split(",")) {
      const eq = item.indexOf("=");
      const key = TV.formula.pyStrip(eq < 0 ? item : item.slice(0, eq));
      const raw = eq < 0 ? "" : item.slice(eq + 1);
      if (eq < 0 || !key || !TV.formula.pyStrip(raw)) {
        fail(`malformed parameter '${TV.formula.pyStrip(item)}': expected key=value`);
      }
      if (!/^[A-Za-z_]\w*$/.test(key)) fail(`malformed parameter name '${key}'`);
      params[key] = parseValue(key, raw);
    }
    return params;
  }

  function isName(text) {
    if (!TV.formula.pyStrip(text)) return false;
    return SPEC_NAME.test(splitSpec(text)[0]);
  }

  /** `name:k=v,...` with `key` set to `value` (text), other keys kept in their order. */
  function withParam(spec, key, value) {
    const [name, rest] = splitSpec(spec);
    const items = TV.formula.pyStrip(rest) ? rest.split(",").map((s) => TV.formula.pyStrip(s)) : [];
    const at = items.findIndex((item) => TV.formula.pyStrip(item.split("=")[0]) === key);
    const entry = `${key}=${value}`;
    if (at >= 0) items[at] = entry; else items.push(entry);
    return `${name}:${items.join(",")}`;
  }

  // ---- numbers as the page writes them ---------------------------------------------------------
  function fmt(v, digits = 4) {
    if (!Number.isFinite(v)) return String(v);
    return String(Number(v.toPrecision(digits)));
  }

  // ---- torch.optim's constructor checks (same messages) ------------------------------------
  function validate(cls, hp, label) {
    const bad = (msg) => fail(`bad hyperparameters for ${label}: ${msg}`);
    const lr = hp.lr;
    if (typeof lr !== "number" || !Number.isFinite(lr) || lr <= 0) {
      fail(`bad learning rate for ${label}: ${lr} (must be a number > 0)`);
    }
    const nonNeg = (key, what) => {
      if (key in hp && !(hp[key] >= 0)) bad(`Invalid ${what} value: ${hp[key]}`);
    };
    nonNeg("weight_decay", "weight_decay");
    nonNeg("eps", "epsilon");
    if (cls === "SGD") {
      nonNeg("momentum", "momentum");
      if (hp.nesterov && (hp.momentum <= 0 || hp.dampening !== 0)) {
        bad("Nesterov momentum requires a momentum and zero dampening");
      }
    } else if (cls === "Adagrad") {
      nonNeg("lr_decay", "lr_decay");
      nonNeg("initial_accumulator_value", "initial_accumulator_value");
    } else if (cls === "Adadelta") {
      if (!(hp.rho >= 0 && hp.rho <= 1)) bad(`Invalid rho value: ${hp.rho}`);
    } else if (cls === "RMSprop") {
      nonNeg("momentum", "momentum");
      nonNeg("alpha", "alpha");
    } else {
      const b = hp.betas;
      if (!Array.isArray(b) || b.length !== 2 || b.some((v) => typeof v !== "number")) {
        bad("betas must be two numbers, e.g. betas=0.9/0.999");
      }
      b.forEach((v, i) => { if (!(v >= 0 && v < 1)) bad(`Invalid beta parameter at index ${i}: ${v}`); });
      if (cls === "NAdam") nonNeg("momentum_decay", "momentum_decay");
    }
  }

  // ---- the catalog: what this page holds ----------------------------------------------------
  class Catalog {
    constructor(config) {
      this.config = config;
      this.optimizers = new Map(config.optimizers.map((o) => [o.name, o]));
      this.surfaces = new Map();
      for (const s of config.surfaces) for (const key of [s.key, ...(s.aliases || [])]) this.surfaces.set(key, s);
      this.compiled = new Map();
    }

    /** The surface for `spec` (a key of this page or a formula), on the view xlim/ylim. */
    surface(spec, xlim, ylim) {
      if (typeof spec !== "string") fail("the surface must be a name or a formula");
      const text = TV.formula.pyStrip(spec);
      let entry = this.surfaces.get(text);
      if (!entry && isName(text) && !["x", "y"].includes(splitSpec(text)[0].toLowerCase())) {
        entry = this.findByParams(text);
        if (!entry) {
          const names = this.config.surfaces.map((s) => s.key).join(", ");
          fail(`surface '${text}' is not in this page (it has: ${names}); ` +
               `'trajviz explore ${text}' writes a page with it`);
        }
      }
      if (!entry) entry = this.formulaSurface(text);
      const fn = this.compile(entry.expression);
      let domain = entry.domain, start = entry.start;
      if (xlim || ylim) {
        const [x0, x1] = xlim ? checkLim(xlim, "xlim") : domain[0];
        const [y0, y1] = ylim ? checkLim(ylim, "ylim") : domain[1];
        domain = [[x0, x1], [y0, y1]];
        const corner = [x0 + 0.15 * (x1 - x0), y1 - 0.15 * (y1 - y0)];
        if (entry.formula_surface || !(x0 <= start[0] && start[0] <= x1 && y0 <= start[1] && start[1] <= y1)) {
          start = corner;
        }
      }
      const nData = entry.data ? this.config.data[entry.data].f.length : null;
      return { ...entry, spec: entry.formula_surface ? spec : entry.key, fn, domain, start, n_data: nData };
    }

    /** A built-in named with parameters (`rosenbrock:b=100`): the entry whose parameters match. */
    findByParams(text) {
      const [name, rest] = splitSpec(text);
      const given = parseParams(rest);
      return this.config.surfaces.find((s) => {
        if (s.formula_surface || s.name !== name.toLowerCase()) return false;
        const defaults = s.param_defaults || {};
        if (Object.keys(given).some((k) => !(k in defaults))) return false;
        return Object.keys(defaults).every((k) => (k in given ? given[k] : defaults[k]) === s.params[k]);
      });
    }

    formulaSurface(text) {
      const d = this.config.formula_defaults;
      return { key: text, name: text, title: text, formula: text, expression: text, formula_surface: true,
               domain: d.domain, start: d.start, steps: d.steps, minima: [], optimum: null, log_levels: false,
               lrs: this.config.generic_lrs, data: null, note: "" };
    }

    compile(expression) {
      if (!this.compiled.has(expression)) {
        try {
          this.compiled.set(expression, TV.formula.compile(expression));
        } catch (e) {
          if (e instanceof TV.formula.FormulaError) fail(e.message);
          throw e;
        }
      }
      return this.compiled.get(expression);
    }

    /** Resolve spec strings as trajviz.optimizers.resolve does, for `surface`'s learning rates. */
    methods(specs, surface) {
      if (!Array.isArray(specs) || specs.length === 0) fail("no optimizer selected");
      const out = [];
      for (const item of specs) {
        if (typeof item !== "string") fail(`an optimizer spec is text, such as "adam:lr=0.05"`);
        const [name, rest] = splitSpec(item);
        const key = name.toLowerCase();
        if (key === "all") {
          if (TV.formula.pyStrip(rest)) fail("'all' takes no parameters; set each method's lr instead");
          for (const n of this.config.classic) out.push(this.method(n, n, {}, surface));
          continue;
        }
        if (name.includes(":") || name.includes(".")) {
          fail(`${name} is not a built-in optimizer: this page runs the built-in update rules only ` +
               "(trajviz run and the notebook's kernel mode run any torch.optim class)");
        }
        const kwargs = parseParams(rest);
        out.push(this.method(key, Object.keys(kwargs).length ? TV.formula.pyStrip(item) : key, kwargs, surface, item));
      }
      const seen = new Map();
      for (const m of out) {
        const k = (seen.get(m.label) || 0) + 1;
        seen.set(m.label, k);
        if (k > 1) m.label = `${m.label}#${k}`;
        m.repeat = k - 1;
      }
      return out;
    }

    method(key, label, kwargs, surface, spec = key) {
      const entry = this.optimizers.get(key);
      if (!entry) {
        const names = [...this.optimizers.keys(), "all"].sort().join(", ");
        fail(`unknown optimizer '${key}' (choose from: ${names})`);
      }
      const cls = this.config.classes[entry.cls];
      for (const k of Object.keys(kwargs)) {
        if (!cls.keys.includes(k)) fail(`unknown key '${k}' for optimizer ${key} (valid keys: ${cls.keys.join(", ")})`);
        if (cls.kernel_only.includes(k) && kwargs[k]) {
          fail(`${k}=${kwargs[k]} for ${label} runs only in trajviz run and the notebook's kernel mode`);
        }
      }
      const hp = { ...cls.defaults, ...entry.defaults, ...kwargs };
      if (!("lr" in kwargs)) {
        const rate = surface.lrs[key];
        if (rate !== undefined && rate !== null) hp.lr = rate;
      }
      for (const k of cls.flags) if (k in kwargs && typeof kwargs[k] !== "boolean" && typeof kwargs[k] !== "number") {
        fail(`bad hyperparameters for ${label}: ${k} must be true or false`);
      }
      for (const k of cls.numbers) if (k in kwargs && typeof kwargs[k] !== "number") {
        fail(`bad hyperparameters for ${label}: ${k} must be a number`);
      }
      validate(entry.cls, hp, label);
      return { spec: TV.formula.pyStrip(spec), name: key, label, cls: entry.cls, hp, kwargs,
               title: entry.title, analogy: entry.analogy, color: entry.color, dashed: entry.dashed,
               marker: entry.marker };
    }
  }

  function checkLim(lim, what) {
    if (!Array.isArray(lim) || lim.length !== 2 || !lim.every(Number.isFinite) || !(lim[0] < lim[1])) {
      fail(`bad ${what} ${lim}: need two finite numbers with A < B`);
    }
    return lim;
  }

  function checkInt(v, what, lo, hi) {
    if (!Number.isInteger(v) || v < lo || v > hi) fail(`bad ${what}: ${v} (must be a whole number from ${lo} to ${hi})`);
    return v;
  }

  function checkStarts(start) {
    if (!Array.isArray(start) || start.length === 0 || start.length > MAX_STARTS ||
        !start.every((p) => Array.isArray(p) && p.length === 2 && p.every(Number.isFinite))) {
      fail(`malformed start: expected 1 to ${MAX_STARTS} points [x, y] with finite coordinates`);
    }
    return start.map(([x, y]) => [x, y]);
  }

  /**
   * Check a full state; return {state, surface, methods}. `state` is a plain copy in the CLI's
   * terms; throws StateError naming the first problem.
   */
  function resolve(raw, catalog) {
    for (const k of Object.keys(raw)) if (!KEYS.includes(k)) fail(`unknown setting '${k}'`);
    const surface = catalog.surface(raw.surface, raw.xlim || null, raw.ylim || null);
    const state = { surface: surface.spec };
    const methods = catalog.methods(raw.opt, surface);
    if (raw.opt.length > 40) fail("at most 40 optimizers");
    state.opt = methods.map((m) => m.spec);
    state.start = checkStarts(raw.start);
    state.steps = checkInt(raw.steps, "steps", 1, MAX_STEPS);
    if (typeof raw.noise !== "number" || !Number.isFinite(raw.noise) || raw.noise < 0) {
      fail(`bad noise: ${raw.noise} (must be a finite number >= 0)`);
    }
    state.noise = raw.noise;
    state.seed = checkInt(raw.seed, "seed", 0, MAX_SEED);
    if (surface.data) {
      const n = catalog.config.data[surface.data].f.length;
      const b = raw.batch_size === undefined ? null : raw.batch_size;
      state.batch_size = b === null ? null : checkInt(b, "batch size", 1, n);
    } else if (raw.batch_size !== undefined && raw.batch_size !== null) {
      fail(`batch size needs a surface with data (regression), not '${surface.name}'`);
    }
    if (raw.xlim) state.xlim = [...raw.xlim];
    if (raw.ylim) state.ylim = [...raw.ylim];
    return { state, surface, methods };
  }

  /**
   * The state after `partial`: a new surface brings its own default start, steps and view
   * unless the partial sets them (a start on another surface's domain means nothing).
   */
  function merge(current, partial, catalog) {
    const next = { ...current, ...partial };
    if ("surface" in partial && partial.surface !== current.surface) {
      if (!("xlim" in partial)) delete next.xlim;
      if (!("ylim" in partial)) delete next.ylim;
      if (!("batch_size" in partial)) delete next.batch_size;
      const s = catalog.surface(partial.surface, next.xlim || null, next.ylim || null);
      if (!("start" in partial)) next.start = [s.start];
      if (!("steps" in partial)) next.steps = s.steps;
      if (s.data && !("batch_size" in next)) next.batch_size = null;
    }
    for (const k of Object.keys(next)) if (next[k] === undefined) delete next[k];
    return next;
  }

  // ---- the URL hash -------------------------------------------------------------------------
  const SAFE = /[A-Za-z0-9_.~,:/*=!-]/;
  function enc(text) {
    let out = "";
    for (const ch of String(text)) out += SAFE.test(ch) ? ch : encodeURIComponent(ch);
    return out;
  }

  function toHash(state) {
    const parts = [`v=${HASH_VERSION}`, `surface=${enc(state.surface)}`];
    for (const o of state.opt) parts.push(`opt=${enc(o)}`);
    for (const [x, y] of state.start) parts.push(`start=${enc(`${x},${y}`)}`);
    parts.push(`steps=${state.steps}`, `noise=${enc(state.noise)}`, `seed=${state.seed}`);
    if (state.batch_size !== undefined && state.batch_size !== null) parts.push(`batch_size=${state.batch_size}`);
    if (state.xlim) parts.push(`xlim=${enc(state.xlim.join(","))}`);
    if (state.ylim) parts.push(`ylim=${enc(state.ylim.join(","))}`);
    return parts.join("&");
  }

  const number = (key) => (text) => {
    if (!PY_FLOAT.test(text)) fail(`bad ${key} '${text}': not a number`);
    return Number(text.replace(/_/g, ""));
  };
  const pair = (key) => (text) => {
    const parts = text.split(",");
    if (parts.length !== 2) fail(`malformed ${key} '${text}': expected two numbers A,B`);
    return parts.map(number(key));
  };

  /**
   * Read a hash into field values: {fields: {key: value}, problems: [text]}. Values are only
   * parsed here (text to numbers); resolve() checks them.
   */
  function fromHash(hash) {
    const fields = {}, problems = [];
    const text = hash.replace(/^#/, "");
    if (!text) return { fields, problems };
    const opt = [], start = [];
    let version = null;
    for (const part of text.split("&")) {
      if (!part) continue;
      const eq = part.indexOf("=");
      let key, value;
      try {
        key = decodeURIComponent(eq < 0 ? part : part.slice(0, eq));
        value = eq < 0 ? "" : decodeURIComponent(part.slice(eq + 1));
      } catch (e) {
        problems.push("a part of the link is not valid URL text");
        continue;
      }
      try {
        if (key === "v") version = value;
        else if (key === "opt") opt.push(value);
        else if (key === "start") start.push(pair("start")(value));
        else if (key === "surface") fields.surface = value;
        else if (key === "steps" || key === "seed") fields[key] = number(key)(value);
        else if (key === "noise") fields.noise = number(key)(value);
        else if (key === "batch_size") fields.batch_size = value === "" || value === "full" ? null : number(key)(value);
        else if (key === "xlim" || key === "ylim") fields[key] = pair(key)(value);
        else problems.push(`unknown setting '${key}' ignored`);
      } catch (e) {
        if (!(e instanceof StateError)) throw e;
        problems.push(e.message);
      }
    }
    if (version !== HASH_VERSION) {
      problems.push(version === null ? "the link has no version (v=1)" : `the link is for page version ${version}, this is ${HASH_VERSION}`);
    }
    if (opt.length) fields.opt = opt;
    if (start.length) fields.start = start;
    return { fields, problems };
  }

  /**
   * Apply hash fields on top of `defaults` one at a time, keeping each that checks and
   * reporting each that does not: {resolved, problems}.
   */
  function loadFields(defaults, fields, catalog, problems) {
    let current = resolve(defaults, catalog).state;
    const tryPartial = (partial, what) => {
      try {
        const next = resolve(merge(current, partial, catalog), catalog).state;
        current = next;
        return true;
      } catch (e) {
        if (!(e instanceof StateError)) throw e;
        problems.push(`${what}: ${e.message}`);
        return false;
      }
    };
    const view = {};
    if ("xlim" in fields) view.xlim = fields.xlim;
    if ("ylim" in fields) view.ylim = fields.ylim;
    if ("surface" in fields) tryPartial({ surface: fields.surface, ...view }, "surface");
    else if (Object.keys(view).length) tryPartial(view, "view");
    if ("opt" in fields) {
      const good = fields.opt.filter((spec) => {
        try { catalog.methods([spec], catalog.surface(current.surface, current.xlim, current.ylim)); return true; }
        catch (e) { if (!(e instanceof StateError)) throw e; problems.push(`optimizer '${spec}': ${e.message}`); return false; }
      });
      if (good.length) tryPartial({ opt: good }, "optimizers");
    }
    for (const key of ["start", "steps", "noise", "seed", "batch_size"]) {
      if (key in fields) tryPartial({ [key]: fields[key] }, key.replace("_", " "));
    }
    return resolve(current, catalog);
  }

  // ---- the equivalent command ------------------------------------------------------------------
  function shellQuote(s) {
    s = String(s);
    return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, "'\\''")}'`;
  }

  function command(state, verb = "animate") {
    const args = [];
    for (const o of state.opt) args.push("--opt", shellQuote(o));
    for (const [x, y] of state.start) args.push(`--start=${x},${y}`);
    args.push("--steps", String(state.steps));
    if (state.noise) args.push("--noise", String(state.noise));
    if (state.noise || state.batch_size) args.push("--seed", String(state.seed));
    if (state.batch_size) args.push("--batch-size", String(state.batch_size));
    if (state.xlim) args.push(`--xlim=${state.xlim.join(",")}`);
    if (state.ylim) args.push(`--ylim=${state.ylim.join(",")}`);
    const surface = shellQuote(state.surface);
    // a formula starting with '-' would read as an option: put it after '--'
    if (state.surface.trimStart().startsWith("-")) return ["trajviz", verb, ...args, "--", surface].join(" ");
    return ["trajviz", verb, surface, ...args].join(" ");
  }

  return { StateError, Catalog, resolve, merge, toHash, fromHash, loadFields, command, splitSpec, parseParams,
           isName, withParam, fmt, shellQuote, KEYS, MAX_STARTS, MAX_STEPS };
})();
