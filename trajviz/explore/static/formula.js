// Formulas: the language of trajviz/surfaces/formula.py, parsed, differentiated and evaluated
// without eval or new Function.
//
// The accepted language is exactly the CLI's: Python expression syntax restricted to numbers,
// x, y, pi, e, + - * / ** (^ is read as **), unary minus and plus, parentheses and the
// whitelisted functions, at most 1000 characters and 400 Python syntax-tree nodes. The parser
// mirrors the parts of Python's tokenizer and grammar that the whitelist can reach (number
// literals with underscores, hex/octal/binary integers, NFKC identifiers, comments, line joins
// inside parentheses, at most 200 nested parentheses) and builds Python's syntax tree, so that
// node counts and rejections agree; tests compare the two on a corpus and on random strings.
//
// The tree is compiled as the CLI compiles it (constant sub-expressions folded with Python's
// float rules), then differentiated symbolically. Value and gradient become one small DAG
// (equal sub-expressions shared), flattened to a tape of instructions that a loop evaluates.
TV.formula = (function () {
  "use strict";

  const MAX_LENGTH = 1000;
  const MAX_NODES = 400;
  const MAX_PARENS = 200;
  // name -> operation, as in formula.py (the arc* names are aliases)
  const FUNCTIONS = {
    sin: "sin", cos: "cos", tan: "tan",
    asin: "asin", acos: "acos", atan: "atan",
    arcsin: "asin", arccos: "acos", arctan: "atan",
    sinh: "sinh", cosh: "cosh", tanh: "tanh",
    exp: "exp", log: "log", log1p: "log1p", expm1: "expm1",
    sqrt: "sqrt", abs: "abs", sigmoid: "sigmoid", sign: "sign",
  };
  const CONSTANTS = { pi: Math.PI, e: Math.E };
  const ALLOWED = "numbers, x, y, pi, e, + - * / ** (or ^), unary minus, parentheses and the functions " +
    Object.keys(FUNCTIONS).sort().join(", ");

  class FormulaError extends Error {}

  // ---- text -------------------------------------------------------------------------------
  // str.strip() and str.split() of Python: its whitespace, not JavaScript's
  const PY_SPACE = /[\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/;
  function pyStrip(s) {
    let a = 0, b = s.length;
    while (a < b && PY_SPACE.test(s[a])) a++;
    while (b > a && PY_SPACE.test(s[b - 1])) b--;
    return s.slice(a, b);
  }
  function oneLine(s) {
    return s.split(new RegExp(PY_SPACE.source + "+")).filter((w) => w).join(" ");
  }
  function codePoints(s) {
    let n = 0;
    for (const _ of s) n++; // eslint-disable-line no-unused-vars
    return n;
  }

  // ---- tokens -----------------------------------------------------------------------------
  const DIGITS = "[0-9](?:_?[0-9])*";
  const EXPONENT = `[eE][+-]?${DIGITS}`;
  const POINTFLOAT = `(?:(?:${DIGITS})?\\.${DIGITS}|${DIGITS}\\.)`;
  const FLOAT = `(?:${POINTFLOAT}(?:${EXPONENT})?|${DIGITS}${EXPONENT})`;
  const IMAG = new RegExp(`(?:${FLOAT}|${DIGITS})[jJ]`, "y");
  const FLOAT_RE = new RegExp(FLOAT, "y");
  const INT_RE = /(?:0[xX](?:_?[0-9a-fA-F])+|0[oO](?:_?[0-7])+|0[bB](?:_?[01])+|[1-9](?:_?[0-9])*|0+(?:_?0)*)/y;
  const NAME_RE = /[\p{ID_Start}_][\p{ID_Continue}]*/uy;
  const NAME_CHAR = /[\p{ID_Continue}]/u;
  const OPERATORS = ["**", "//", "*", "/", "+", "-", "%", "@", "~", "(", ")", ",", "="];

  function syntaxError(text, reason) {
    return new FormulaError(`formula '${oneLine(text)}' is not a valid expression: ${reason}`);
  }

  function tokenize(source, text) {
    const tokens = [];
    let i = 0, depth = 0, ended = false;
    const n = source.length;
    const push = (tok) => {
      if (ended) throw syntaxError(text, "invalid syntax");
      tokens.push(tok);
    };
    while (i < n) {
      const c = source[i];
      if (c === " " || c === "\t" || c === "\f") { i++; continue; }
      if (c === "\\") {
        if (source[i + 1] === "\n") { i += 2; continue; }
        if (source[i + 1] === "\r") { i += source[i + 2] === "\n" ? 3 : 2; continue; }
        throw syntaxError(text, "unexpected character after line continuation character");
      }
      if (c === "#") { while (i < n && source[i] !== "\n" && source[i] !== "\r") i++; continue; }
      if (c === "\n" || c === "\r") {
        if (depth === 0 && tokens.length) ended = true;
        i++;
        continue;
      }
      if (c === "\0") throw syntaxError(text, "source code string cannot contain null bytes");
      if (/[0-9]/.test(c) || (c === "." && /[0-9]/.test(source[i + 1] || ""))) {
        let m, kind;
        for (const [re, k] of [[IMAG, "imag"], [FLOAT_RE, "float"], [INT_RE, "int"]]) {
          re.lastIndex = i;
          m = re.exec(source);
          if (m) { kind = k; break; }
        }
        const end = i + m[0].length;
        if (end < n && (NAME_CHAR.test(source[end]) || source[end] === ".")) {
          throw syntaxError(text, "invalid decimal literal");
        }
        push({ t: "num", kind, text: m[0] });
        i = end;
        continue;
      }
      NAME_RE.lastIndex = i;
      const name = NAME_RE.exec(source);
      if (name) {
        push({ t: "name", text: name[0].normalize("NFKC") });
        i += name[0].length;
        continue;
      }
      const op = OPERATORS.find((o) => source.startsWith(o, i));
      if (!op) throw syntaxError(text, `invalid character '${c}'`);
      if (op === "(") {
        depth++;
        if (depth > MAX_PARENS) throw syntaxError(text, "too many nested parentheses");
      } else if (op === ")") {
        depth--;
        if (depth < 0) throw syntaxError(text, "unmatched ')'");
      }
      push({ t: "op", text: op });
      i += op.length;
    }
    if (depth > 0) throw syntaxError(text, "'(' was never closed");
    tokens.push({ t: "end", text: "" });
    return tokens;
  }

  // ---- Python's syntax tree for the reachable grammar --------------------------------------
  // expr: term (('+'|'-') term)*          term: factor (('*'|'/'|'//'|'%'|'@') factor)*
  // factor: ('+'|'-'|'~') factor | power  power: primary ['**' factor]
  // primary: atom ('(' [args] ')')*        atom: NAME | NUMBER | '(' expr ')'
  const BINOPS = { "+": "Add", "-": "Sub", "*": "Mult", "/": "Div", "**": "Pow", "//": "FloorDiv",
                   "%": "Mod", "@": "MatMult" };
  const UNARY = { "-": "USub", "+": "UAdd", "~": "Invert" };

  function parseTokens(tokens, text) {
    let k = 0;
    const peek = () => tokens[k];
    const isOp = (...ops) => peek().t === "op" && ops.includes(peek().text);
    const fail = () => {
      const tok = peek();
      throw syntaxError(text, tok.t === "end" ? "unexpected end of formula" : "invalid syntax");
    };
    const expect = (op) => { if (!isOp(op)) fail(); k++; };

    function expr() {
      let node = term();
      while (isOp("+", "-")) node = { type: "BinOp", op: BINOPS[tokens[k++].text], left: node, right: term() };
      return node;
    }
    function term() {
      let node = factor();
      while (isOp("*", "/", "//", "%", "@")) {
        node = { type: "BinOp", op: BINOPS[tokens[k++].text], left: node, right: factor() };
      }
      return node;
    }
    function factor() {
      if (isOp("-", "+", "~")) return { type: "UnaryOp", op: UNARY[tokens[k++].text], operand: factor() };
      return power();
    }
    function power() {
      const base = primary();
      if (isOp("**")) { k++; return { type: "BinOp", op: "Pow", left: base, right: factor() }; }
      return base;
    }
    function primary() {
      let node = atom();
      while (isOp("(")) {
        k++;
        const args = [], keywords = [];
        while (!isOp(")")) {
          if (peek().t === "name" && tokens[k + 1].t === "op" && tokens[k + 1].text === "=") {
            k += 2;
            keywords.push(expr());
          } else {
            if (keywords.length) throw syntaxError(text, "positional argument follows keyword argument");
            args.push(expr());
          }
          if (!isOp(",")) break;
          k++;
        }
        expect(")");
        node = { type: "Call", func: node, args, keywords };
      }
      return node;
    }
    function atom() {
      const tok = peek();
      if (tok.t === "num") { k++; return { type: "Constant", kind: tok.kind, text: tok.text }; }
      if (tok.t === "name") { k++; return { type: "Name", id: tok.text }; }
      if (isOp("(")) {
        k++;
        if (isOp(")")) throw syntaxError(text, "an empty tuple () is not a number");
        const inner = expr();
        if (isOp(",")) throw syntaxError(text, "a tuple is not a number");
        expect(")");
        return inner;
      }
      return fail();
    }
    const tree = expr();
    if (peek().t !== "end") fail();
    return tree;
  }

  // ast.walk's count: operators and the Load context of names are nodes too
  function countNodes(node) {
    switch (node.type) {
      case "Constant": return 1;
      case "Name": return 2;
      case "UnaryOp": return 2 + countNodes(node.operand);
      case "BinOp": return 2 + countNodes(node.left) + countNodes(node.right);
      case "Call": return 1 + countNodes(node.func) + node.args.reduce((s, a) => s + countNodes(a), 0) +
        node.keywords.reduce((s, a) => s + 1 + countNodes(a), 0);
      default: throw new Error("unknown node " + node.type);
    }
  }

  // ---- folding constants as formula.py does (Python float semantics) -----------------------
  function literalValue(node) {
    const raw = node.text.replace(/_/g, "");
    if (node.kind === "float") return Number(raw);
    return Number(BigInt(raw)); // rounds half to even, as float(int) does; huge ints become inf
  }
  function pyPow(a, b) { // math.pow, with formula.py's handling of its errors
    if (b === 0 || a === 1) return 1;
    if (Number.isNaN(a) || Number.isNaN(b)) return NaN;
    if (a === -1 && !Number.isFinite(b)) return 1;
    if (Number.isFinite(a) && Number.isFinite(b)) {
      if (a < 0 && !Number.isInteger(b)) return NaN; // ValueError
      if (a === 0 && b < 0) return NaN;               // ValueError
      const r = Math.pow(a, b);
      if (!Number.isFinite(r)) return Infinity;       // OverflowError
      return r;
    }
    return Math.pow(a, b);
  }
  function pyDiv(a, b) { // copysign(inf, a) if a else nan, for b == 0
    if (b !== 0) return a / b;
    if (a === 0) return NaN;
    return a < 0 ? -Infinity : Infinity;
  }
  function fold(op, a, b) {
    switch (op) {
      case "add": return a + b;
      case "sub": return a - b;
      case "mul": return a * b;
      case "div": return pyDiv(a, b);
      case "pow": return pyPow(a, b);
    }
    throw new Error(op);
  }

  // ---- the DAG: nodes shared by value, value and derivatives side by side -----------------
  // node: {op, a, b, v}. ops: c (constant v), x, y, neg, add, sub, mul, div, pow, the functions,
  // and two internal ones for the gradient of pow (torch's masks): pgb(a, b) = b a^(b-1) with 0
  // where b == 0, pge(a, b) = a^b log a with 0 where a == 0 and b >= 0.
  function cpow(a, b) { // C's pow where JavaScript's differs (pow(1, nan) = 1, pow(-1, inf) = 1)
    if (b === 0 || a === 1) return 1;
    if (a === -1 && (b === Infinity || b === -Infinity)) return 1;
    return Math.pow(a, b);
  }
  function powConst(a, c) { // torch.pow(tensor, scalar): the special cases of its CPU kernel
    if (c === 2) return a * a;
    if (c === 3) return a * a * a;
    if (c === 0.5) return Math.sqrt(a);
    if (c === -0.5) return 1 / Math.sqrt(a);
    if (c === -1) return 1 / a;
    if (c === -2) return 1 / (a * a);
    if (c === 1) return a;
    return cpow(a, c);
  }
  const UNARY_FN = {
    neg: (a) => -a, sin: Math.sin, cos: Math.cos, tan: Math.tan, asin: Math.asin, acos: Math.acos,
    atan: Math.atan, sinh: Math.sinh, cosh: Math.cosh, tanh: Math.tanh, exp: Math.exp, log: Math.log,
    log1p: Math.log1p, expm1: Math.expm1, sqrt: Math.sqrt, abs: Math.abs,
    sigmoid: (a) => 1 / (1 + Math.exp(-a)), sign: (a) => (0 < a) - (a < 0),
  };
  const BINARY_FN = {
    add: (a, b) => a + b, sub: (a, b) => a - b, mul: (a, b) => a * b, div: (a, b) => a / b,
    pow: cpow, powc: powConst,
    pgb: (a, b) => (b === 0 ? 0 : b * cpow(a, b - 1)),
    pge: (a, b) => (a === 0 && b >= 0 ? 0 : cpow(a, b) * Math.log(a)),
  };

  class Dag {
    constructor() { this.nodes = []; this.index = new Map(); }
    add(op, a = -1, b = -1, v = 0) {
      const key = op === "c" ? "c" + bitsOf(v) : `${op},${a},${b}`;
      let id = this.index.get(key);
      if (id === undefined) {
        id = this.nodes.length;
        this.nodes.push({ op, a, b, v });
        this.index.set(key, id);
      }
      return id;
    }
    isConst(id) { return this.nodes[id].op === "c"; }
    value(id) { return this.nodes[id].v; }
    c(v) { return this.add("c", -1, -1, v); }
    un(op, a) {
      if (this.isConst(a)) return this.c(UNARY_FN[op](this.value(a)));
      if (op === "neg" && this.nodes[a].op === "neg") return this.nodes[a].a;
      return this.add(op, a);
    }
    bin(op, a, b) {
      if (op === "pow" && this.isConst(b)) op = "powc";
      if (this.isConst(a) && this.isConst(b)) return this.c(BINARY_FN[op](this.value(a), this.value(b)));
      if (op === "mul" && this.isConst(a) && this.value(a) === 1) return b;
      if (op === "mul" && this.isConst(b) && this.value(b) === 1) return a;
      return this.add(op, a, b);
    }
  }
  const _bits = new Float64Array(1), _words = new Uint32Array(_bits.buffer);
  function bitsOf(v) { _bits[0] = v; return _words[0] + ":" + _words[1]; }

  // Python tree -> DAG node, as formula.py's compiler (constants folded, same errors)
  function compileTree(node, dag, text, uses) {
    const fail = (what) => new FormulaError(`formula '${oneLine(text)}': ${what} is not allowed; use ${ALLOWED}`);
    const rec = (nd) => {
      switch (nd.type) {
        case "Constant":
          if (nd.kind === "imag") throw fail(`the value ${nd.text.replace(/_/g, "")}`);
          return { c: literalValue(nd) };
        case "Name":
          if (nd.id === "x" || nd.id === "y") { uses.add(nd.id); return { n: dag.add(nd.id) }; }
          if (nd.id in CONSTANTS) return { c: CONSTANTS[nd.id] };
          throw fail(`the name '${nd.id}'`);
        case "UnaryOp": {
          if (nd.op === "Invert") throw fail("the operator Invert");
          const inner = rec(nd.operand);
          const sign = nd.op === "USub" ? -1 : 1;
          if ("c" in inner) return { c: sign * inner.c };
          return sign < 0 ? { n: dag.un("neg", inner.n) } : inner;
        }
        case "BinOp": {
          const op = { Add: "add", Sub: "sub", Mult: "mul", Div: "div", Pow: "pow" }[nd.op];
          if (!op) throw fail(`the operator ${nd.op}`);
          const l = rec(nd.left), r = rec(nd.right);
          if ("c" in l && "c" in r) return { c: fold(op, l.c, r.c) };
          const ln = "c" in l ? dag.c(l.c) : l.n, rn = "c" in r ? dag.c(r.c) : r.n;
          return { n: dag.bin(op, ln, rn) };
        }
        case "Call": {
          const f = nd.func;
          if (f.type !== "Name" || !(f.id in FUNCTIONS)) {
            throw fail(`the function '${f.type === "Name" ? f.id : "(a call)"}'`);
          }
          if (nd.args.length !== 1 || nd.keywords.length) {
            throw new FormulaError(`formula '${oneLine(text)}': ${f.id}() takes exactly one argument`);
          }
          const arg = rec(nd.args[0]);
          const a = "c" in arg ? dag.c(arg.c) : arg.n;
          return { n: dag.un(FUNCTIONS[f.id], a) };
        }
      }
      throw fail(`'${nd.type}'`);
    };
    const out = rec(node);
    return "c" in out ? dag.c(out.c) : out.n;
  }

  // ---- symbolic derivative (null = zero: no gradient flows, as in autograd) ----------------
  function derivative(dag, root, variable) {
    const memo = new Map();
    const d = (id) => {
      if (memo.has(id)) return memo.get(id);
      const nd = dag.nodes[id];
      const { op, a, b } = nd;
      const sum = (p, q) => (p === null ? q : q === null ? p : dag.bin("add", p, q));
      const times = (p, q) => (q === null ? null : dag.bin("mul", p, q));
      let out = null;
      switch (op) {
        case "c": out = null; break;
        case "x": case "y": out = op === variable ? dag.c(1) : null; break;
        case "neg": { const da = d(a); out = da === null ? null : dag.un("neg", da); break; }
        case "add": out = sum(d(a), d(b)); break;
        case "sub": { const db = d(b); out = sum(d(a), db === null ? null : dag.un("neg", db)); break; }
        case "mul": out = sum(times(b, d(a)), times(a, d(b))); break;
        case "div": {
          const db = d(b);
          // torch: grad / other, and -grad * ((self / other) / other)
          const tb = db === null ? null : dag.un("neg", dag.bin("mul", db, dag.bin("div", dag.bin("div", a, b), b)));
          const da = d(a);
          out = sum(da === null ? null : dag.bin("div", da, b), tb);
          break;
        }
        case "powc": {
          const c = dag.value(b);
          // torch's pow_backward: zero for exponent 0, else exponent * self^(exponent - 1)
          out = c === 0 ? null : times(dag.bin("mul", dag.c(c), dag.bin("pow", a, dag.c(c - 1))), d(a));
          break;
        }
        case "pow":
          out = sum(times(dag.bin("pgb", a, b), d(a)), times(dag.bin("pge", a, b), d(b)));
          break;
        default: {
          const da = d(a);
          if (da === null || op === "sign") { out = null; break; }
          out = dag.bin("mul", unaryDerivative(dag, op, a, id), da);
        }
      }
      memo.set(id, out);
      return out;
    };
    const out = d(root);
    return out === null ? dag.c(0) : out;
  }

  function unaryDerivative(dag, op, a, self) {
    const one = dag.c(1);
    const sq = (u) => dag.bin("mul", u, u);
    switch (op) {
      case "sin": return dag.un("cos", a);
      case "cos": return dag.un("neg", dag.un("sin", a));
      case "tan": return dag.bin("add", one, sq(self));
      case "asin": return dag.bin("div", one, dag.un("sqrt", dag.bin("sub", one, sq(a))));
      case "acos": return dag.un("neg", dag.bin("div", one, dag.un("sqrt", dag.bin("sub", one, sq(a)))));
      case "atan": return dag.bin("div", one, dag.bin("add", sq(a), one));
      case "sinh": return dag.un("cosh", a);
      case "cosh": return dag.un("sinh", a);
      case "tanh": return dag.bin("sub", one, sq(self));
      case "exp": return self;
      case "log": return dag.bin("div", one, a);
      case "log1p": return dag.bin("div", one, dag.bin("add", a, one));
      case "expm1": return dag.bin("add", self, one);
      case "sqrt": return dag.bin("div", one, dag.bin("mul", dag.c(2), self));
      case "abs": return dag.un("sign", a);
      case "sigmoid": return dag.bin("mul", self, dag.bin("sub", one, self));
    }
    throw new Error("no derivative for " + op);
  }

  // ---- the tape: the DAG's reachable nodes in order, evaluated by one loop -----------------
  const OPCODES = ["x", "y", "neg", "sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh",
    "exp", "log", "log1p", "expm1", "sqrt", "abs", "sigmoid", "sign", "add", "sub", "mul", "div", "pow",
    "powc", "pgb", "pge"];
  const CODE = Object.fromEntries(OPCODES.map((o, i) => [o, i]));

  class Tape {
    constructor(dag, roots) {
      const order = [], slot = new Map();
      const visit = (id) => {
        if (slot.has(id)) return;
        const nd = dag.nodes[id];
        if (nd.a >= 0) visit(nd.a);
        if (nd.b >= 0) visit(nd.b);
        slot.set(id, order.length);
        order.push(id);
      };
      roots.forEach(visit);
      this.regs = new Float64Array(order.length);
      const ins = order.filter((id) => dag.nodes[id].op !== "c");
      this.code = new Uint8Array(ins.length);
      this.dst = new Int32Array(ins.length);
      this.srcA = new Int32Array(ins.length);
      this.srcB = new Int32Array(ins.length);
      ins.forEach((id, i) => {
        const nd = dag.nodes[id];
        this.code[i] = CODE[nd.op];
        this.dst[i] = slot.get(id);
        this.srcA[i] = nd.a >= 0 ? slot.get(nd.a) : 0;
        this.srcB[i] = nd.b >= 0 ? slot.get(nd.b) : 0;
      });
      order.forEach((id, i) => { if (dag.nodes[id].op === "c") this.regs[i] = dag.nodes[id].v; });
      this.out = roots.map((id) => slot.get(id));
      this.size = ins.length;
    }

    run(x, y) {
      const r = this.regs, code = this.code, dst = this.dst, A = this.srcA, B = this.srcB;
      for (let i = 0, n = this.size; i < n; i++) {
        const a = r[A[i]], b = r[B[i]];
        let v;
        switch (code[i]) {
          case 0: v = x; break;
          case 1: v = y; break;
          case 2: v = -a; break;
          case 3: v = Math.sin(a); break;
          case 4: v = Math.cos(a); break;
          case 5: v = Math.tan(a); break;
          case 6: v = Math.asin(a); break;
          case 7: v = Math.acos(a); break;
          case 8: v = Math.atan(a); break;
          case 9: v = Math.sinh(a); break;
          case 10: v = Math.cosh(a); break;
          case 11: v = Math.tanh(a); break;
          case 12: v = Math.exp(a); break;
          case 13: v = Math.log(a); break;
          case 14: v = Math.log1p(a); break;
          case 15: v = Math.expm1(a); break;
          case 16: v = Math.sqrt(a); break;
          case 17: v = Math.abs(a); break;
          case 18: v = 1 / (1 + Math.exp(-a)); break;
          case 19: v = (0 < a) - (a < 0); break;
          case 20: v = a + b; break;
          case 21: v = a - b; break;
          case 22: v = a * b; break;
          case 23: v = a / b; break;
          case 24: v = cpow(a, b); break;
          case 25: v = powConst(a, b); break;
          case 26: v = BINARY_FN.pgb(a, b); break;
          case 27: v = BINARY_FN.pge(a, b); break;
        }
        r[dst[i]] = v;
      }
      return r;
    }
  }

  // ---- public ------------------------------------------------------------------------------
  /** Parse `text` as formula.py does; return Python's syntax tree (throws FormulaError). */
  function parse(text) {
    if (typeof text !== "string" || !pyStrip(text)) throw new FormulaError("empty formula");
    const length = codePoints(text);
    if (length > MAX_LENGTH) {
      throw new FormulaError(`formula is too long (${length} characters, at most ${MAX_LENGTH})`);
    }
    const source = pyStrip(text.replace(/\^/g, "**"));
    const tree = parseTokens(tokenize(source, text), text);
    const count = 1 + countNodes(tree); // + the Expression node
    if (count > MAX_NODES) throw new FormulaError(`formula is too large (${count} parts, at most ${MAX_NODES})`);
    return tree;
  }

  /**
   * Compile `text` into {value(x, y), valueGrad(x, y, out)}: out = [f, df/dx, df/dy].
   * Throws FormulaError with formula.py's message for anything outside the whitelist.
   */
  function compile(text) {
    const tree = parse(text);
    const dag = new Dag();
    const uses = new Set();
    const f = compileTree(tree, dag, text, uses);
    const fx = derivative(dag, f, "x");
    const fy = derivative(dag, f, "y");
    const valueTape = new Tape(dag, [f]);
    const gradTape = new Tape(dag, [f, fx, fy]);
    const [o0, o1, o2] = gradTape.out, v0 = valueTape.out[0];
    return {
      text,
      uses,
      nodes: dag.nodes.length,
      value(x, y) { return valueTape.run(x, y)[v0]; },
      valueGrad(x, y, out) {
        const r = gradTape.run(x, y);
        out[0] = r[o0]; out[1] = r[o1]; out[2] = r[o2];
        return out;
      },
    };
  }

  /** The error message for `text`, or "" if it compiles. */
  function check(text) {
    try { compile(text); return ""; } catch (e) { if (e instanceof FormulaError) return e.message; throw e; }
  }

  return { parse, compile, check, countNodes, FormulaError, FUNCTIONS, MAX_LENGTH, MAX_NODES, ALLOWED,
           pyStrip };
})();
