// The seeded streams of trajviz/sampling.py (its docstring is the spec): every random number is
// a pure function of (seed, stream, counter, index) through 32-bit integer hashing, so the
// words and minibatch orders here equal numpy's bit for bit.
TV.streams = (function () {
  "use strict";

  const NOISE = 1, BATCHES = 2;
  const GOLDEN = 0x9e3779b9;

  // lowbias32 (Chris Wellons) on unsigned 32-bit words
  function mix32(x) {
    x >>>= 0;
    x ^= x >>> 16;
    x = Math.imul(x, 0x7feb352d);
    x ^= x >>> 15;
    x = Math.imul(x, 0x846ca68b);
    x ^= x >>> 16;
    return x >>> 0;
  }

  /** The part of the hash that depends on the seed and stream only (seed: 0 <= seed < 2**53). */
  function prefix(seed, stream) {
    const lo = seed % 4294967296, hi = Math.floor(seed / 4294967296);
    let h = mix32((stream ^ GOLDEN) >>> 0);
    h = mix32(h ^ lo);
    return mix32(h ^ hi);
  }

  function word(seed, stream, counter, index) {
    return mix32(mix32(prefix(seed, stream) ^ counter) ^ index);
  }

  function uniform(seed, stream, counter, index) {
    return (word(seed, stream, counter, index) + 0.5) / 4294967296;
  }

  /** Standard normal noise (n, 2) at gradient evaluation `step`: out[2i], out[2i+1] for start i. */
  function gaussianNoise(seed, step, n, out = new Float64Array(2 * n)) {
    const h = mix32(prefix(seed, NOISE) ^ step);
    for (let i = 0; i < n; i++) {
      const u1 = (mix32(h ^ (2 * i)) + 0.5) / 4294967296;
      const u2 = (mix32(h ^ (2 * i + 1)) + 0.5) / 4294967296;
      const r = Math.sqrt(-2.0 * Math.log(u1));
      const theta = 2.0 * Math.PI * u2;
      out[2 * i] = r * Math.cos(theta);
      out[2 * i + 1] = r * Math.sin(theta);
    }
    return out;
  }

  /** The order in which epoch `epoch` visits rows 0..n-1 (sorted by hash word, ties by row). */
  function epochPermutation(seed, epoch, n) {
    const h = mix32(prefix(seed, BATCHES) ^ epoch);
    const keys = new Float64Array(n);
    for (let i = 0; i < n; i++) keys[i] = mix32(h ^ i);
    const order = Array.from({ length: n }, (_, i) => i);
    order.sort((a, b) => keys[a] - keys[b] || a - b);
    return Int32Array.from(order);
  }

  function batchesPerEpoch(n, batchSize) {
    return Math.ceil(n / batchSize);
  }

  /** Minibatch rows per gradient evaluation, with the current epoch's permutation cached. */
  class Batches {
    constructor(seed, n, batchSize) {
      this.seed = seed; this.n = n; this.batchSize = batchSize;
      this.per = batchesPerEpoch(n, batchSize);
      this.epoch = -1; this.perm = null;
    }
    rows(step) {
      const epoch = Math.floor(step / this.per), k = step % this.per;
      if (epoch !== this.epoch) {
        this.perm = epochPermutation(this.seed, epoch, this.n);
        this.epoch = epoch;
      }
      return this.perm.subarray(k * this.batchSize, Math.min((k + 1) * this.batchSize, this.n));
    }
  }

  function batchRows(seed, step, n, batchSize) {
    return new Batches(seed, n, batchSize).rows(step);
  }

  return { mix32, word, uniform, gaussianNoise, epochPermutation, batchesPerEpoch, batchRows, Batches,
           NOISE, BATCHES };
})();
