// The update rules of torch.optim 2.13, single-tensor code path (foreach=False, the CPU
// default), op for op in float64: each line below names the torch call it mirrors. The
// parity tests run these against torch.optim for every class and option.
//
// Each rule updates the flat parameter array p (x0, y0, x1, y1, ...) in place from the
// gradient g, and writes what the pictures draw for the step it just took:
//   velocity: the displacement per step that the momentum carries (where there is momentum);
//   box: the per-axis step lr / (sqrt(second moment) + eps), as the step used it, so that
//        box * (moment it multiplies) is the real displacement.
TV.optim = (function () {
  "use strict";

  // torch.lerp's CPU formula (two branches, for accuracy near both ends)
  function lerp(self, end, w) {
    return Math.abs(w) < 0.5 ? self + w * (end - self) : end - (end - self) * (1 - w);
  }
  // the gradient after maximize and (coupled) weight decay: grad.add(param, alpha=wd)
  function effectiveGrad(h, gi, pi) {
    let d = h.maximize ? -gi : gi;
    if (h.weight_decay !== 0 && !h.decoupled) d = d + h.weight_decay * pi;
    return d;
  }

  const SGD = {
    marks: (h) => ({ velocity: h.momentum !== 0, box: false }),
    init: (h, n) => ({ t: 0, buf: new Float64Array(n) }),
    step(h, s, p, g, vel) {
      const { lr, momentum, dampening, nesterov } = h;
      for (let i = 0; i < p.length; i++) {
        let d = effectiveGrad(h, g[i], p[i]);
        if (momentum !== 0) {
          if (s.t === 0) s.buf[i] = d;                                  // buf = grad.clone()
          else s.buf[i] = s.buf[i] * momentum + (1 - dampening) * d;    // mul_(momentum).add_(grad, alpha=1-dampening)
          d = nesterov ? d + momentum * s.buf[i] : s.buf[i];            // grad.add(buf, alpha=momentum)
          vel[i] = -lr * s.buf[i];
        }
        p[i] = p[i] + -lr * d;                                         // param.add_(grad, alpha=-lr)
      }
      s.t += 1;
    },
  };

  const Adagrad = {
    marks: () => ({ velocity: false, box: true }),
    init: (h, n) => ({ t: 0, sum: new Float64Array(n).fill(h.initial_accumulator_value) }),
    step(h, s, p, g, vel, box) {
      s.t += 1;
      const clr = h.lr / (1 + (s.t - 1) * h.lr_decay);
      for (let i = 0; i < p.length; i++) {
        const d = effectiveGrad(h, g[i], p[i]);
        s.sum[i] = s.sum[i] + 1 * d * d;                                // state_sum.addcmul_(grad, grad, value=1)
        const std = Math.sqrt(s.sum[i]) + h.eps;                        // state_sum.sqrt().add_(eps)
        p[i] = p[i] + (-clr * d) / std;                                 // param.addcdiv_(grad, std, value=-clr)
        box[i] = clr / std;
      }
    },
  };

  const Adadelta = {
    marks: () => ({ velocity: false, box: true }),
    init: (h, n) => ({ t: 0, sq: new Float64Array(n), acc: new Float64Array(n) }),
    step(h, s, p, g, vel, box) {
      const { lr, rho, eps } = h;
      s.t += 1;
      for (let i = 0; i < p.length; i++) {
        const d = effectiveGrad(h, g[i], p[i]);
        s.sq[i] = s.sq[i] * rho + (1 - rho) * d * d;                   // square_avg.mul_(rho).addcmul_(grad, grad, value=1-rho)
        const std = Math.sqrt(s.sq[i] + eps);                           // square_avg.add(eps).sqrt_()
        const ratio = Math.sqrt(s.acc[i] + eps) / std;                  // acc_delta.add(eps).sqrt_().div_(std)
        const delta = ratio * d;                                        //   .mul_(grad)
        s.acc[i] = s.acc[i] * rho + (1 - rho) * delta * delta;          // acc_delta.mul_(rho).addcmul_(delta, delta, value=1-rho)
        p[i] = p[i] + -lr * delta;                                      // param.add_(delta, alpha=-lr)
        box[i] = lr * ratio;
      }
    },
  };

  const RMSprop = {
    marks: (h) => ({ velocity: h.momentum > 0, box: true }),
    init: (h, n) => ({ t: 0, sq: new Float64Array(n), avg: new Float64Array(n), buf: new Float64Array(n) }),
    step(h, s, p, g, vel, box) {
      const { lr, alpha, eps, momentum, centered } = h;
      s.t += 1;
      for (let i = 0; i < p.length; i++) {
        const d = effectiveGrad(h, g[i], p[i]);
        s.sq[i] = s.sq[i] * alpha + (1 - alpha) * d * d;                // square_avg.mul_(alpha).addcmul_(grad, grad, value=1-alpha)
        let avg;
        if (centered) {
          s.avg[i] = lerp(s.avg[i], d, 1 - alpha);                      // grad_avg.lerp_(grad, 1-alpha)
          avg = Math.sqrt(s.sq[i] + -1 * s.avg[i] * s.avg[i]);          // square_avg.addcmul(grad_avg, grad_avg, value=-1).sqrt_()
        } else {
          avg = Math.sqrt(s.sq[i]);                                     // square_avg.sqrt()
        }
        avg = avg + eps;                                                // avg.add_(eps)
        if (momentum > 0) {
          s.buf[i] = s.buf[i] * momentum + (1 * d) / avg;               // buf.mul_(momentum).addcdiv_(grad, avg)
          p[i] = p[i] + -lr * s.buf[i];                                 // param.add_(buf, alpha=-lr)
          vel[i] = -lr * s.buf[i];
        } else {
          p[i] = p[i] + (-lr * d) / avg;                                // param.addcdiv_(grad, avg, value=-lr)
        }
        box[i] = lr / avg;
      }
    },
  };

  // Adam and AdamW (AdamW is Adam with decoupled weight decay)
  const Adam = {
    marks: () => ({ velocity: true, box: true }),
    init: (h, n) => ({ t: 0, m: new Float64Array(n), v: new Float64Array(n), vmax: new Float64Array(n) }),
    step(h, s, p, g, vel, box) {
      const { lr, eps, amsgrad, weight_decay } = h;
      const [beta1, beta2] = h.betas;
      s.t += 1;
      const bc1 = 1 - beta1 ** s.t, bc2 = 1 - beta2 ** s.t;
      const stepSize = lr / bc1;
      const bc2Sqrt = bc2 ** 0.5;
      for (let i = 0; i < p.length; i++) {
        if (weight_decay !== 0 && h.decoupled) p[i] = p[i] * (1 - lr * weight_decay); // param.mul_(1 - lr*wd)
        const d = effectiveGrad(h, g[i], p[i]);
        s.m[i] = lerp(s.m[i], d, 1 - beta1);                            // exp_avg.lerp_(grad, 1-beta1)
        s.v[i] = s.v[i] * beta2 + (1 - beta2) * d * d;                  // exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1-beta2)
        let second = s.v[i];
        if (amsgrad) second = s.vmax[i] = Math.max(s.vmax[i], s.v[i]);  // torch.maximum(max_exp_avg_sq, exp_avg_sq)
        const denom = Math.sqrt(second) / bc2Sqrt + eps;                // (sq.sqrt() / bias_correction2_sqrt).add_(eps)
        p[i] = p[i] + (-stepSize * s.m[i]) / denom;                     // param.addcdiv_(exp_avg, denom, value=-step_size)
        box[i] = lr / denom;
        vel[i] = (-box[i] * s.m[i]) / bc1;
      }
    },
  };

  const Adamax = {
    marks: () => ({ velocity: true, box: true }),
    init: (h, n) => ({ t: 0, m: new Float64Array(n), u: new Float64Array(n) }),
    step(h, s, p, g, vel, box) {
      const { lr, eps } = h;
      const [beta1, beta2] = h.betas;
      s.t += 1;
      const bc1 = 1 - beta1 ** s.t;
      const clr = lr / bc1;
      for (let i = 0; i < p.length; i++) {
        const d = effectiveGrad(h, g[i], p[i]);
        s.m[i] = lerp(s.m[i], d, 1 - beta1);                            // exp_avg.lerp_(grad, 1-beta1)
        s.u[i] = Math.max(s.u[i] * beta2, Math.abs(d) + eps);           // torch.maximum(exp_inf.mul_(beta2), grad.abs().add_(eps))
        p[i] = p[i] + (-clr * s.m[i]) / s.u[i];                         // param.addcdiv_(exp_avg, exp_inf, value=-clr)
        box[i] = lr / s.u[i];
        vel[i] = (-box[i] * s.m[i]) / bc1;
      }
    },
  };

  const NAdam = {
    marks: () => ({ velocity: true, box: true }),
    // mu_product is a float32 tensor in torch (its scalar dtype when the default dtype is float32)
    init: (h, n) => ({ t: 0, muProduct: 1, m: new Float64Array(n), v: new Float64Array(n) }),
    step(h, s, p, g, vel, box) {
      const { lr, eps, weight_decay, momentum_decay } = h;
      const [beta1, beta2] = h.betas;
      s.t += 1;
      const t = s.t;
      const bc2 = 1 - beta2 ** t;
      const mu = beta1 * (1.0 - 0.5 * 0.96 ** (t * momentum_decay));
      const muNext = beta1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * momentum_decay));
      s.muProduct = Math.fround(s.muProduct * Math.fround(mu));         // mu_product *= mu (float32)
      const muProductNext = s.muProduct * muNext;
      const gradCoef = (-lr * (1.0 - mu)) / (1.0 - s.muProduct);
      const momentumCoef = (-lr * muNext) / (1.0 - muProductNext);
      for (let i = 0; i < p.length; i++) {
        if (weight_decay !== 0 && h.decoupled) p[i] = p[i] * (1 - lr * weight_decay);
        const d = effectiveGrad(h, g[i], p[i]);
        s.m[i] = lerp(s.m[i], d, 1 - beta1);                            // exp_avg.lerp_(grad, 1-beta1)
        s.v[i] = s.v[i] * beta2 + (1 - beta2) * d * d;                  // exp_avg_sq.mul_(beta2).addcmul_(...)
        const denom = Math.sqrt(s.v[i] / bc2) + eps;                    // exp_avg_sq.div(bc2).sqrt().add_(eps)
        p[i] = p[i] + (gradCoef * d) / denom;                           // param.addcdiv_(grad, denom, value=...)
        p[i] = p[i] + (momentumCoef * s.m[i]) / denom;                  // param.addcdiv_(exp_avg, denom, value=...)
        box[i] = lr / denom;
        vel[i] = (momentumCoef * s.m[i]) / denom;                       // the part the momentum carries
      }
    },
  };

  const RAdam = {
    marks: () => ({ velocity: true, box: true }),
    init: (h, n) => ({ t: 0, m: new Float64Array(n), v: new Float64Array(n) }),
    step(h, s, p, g, vel, box) {
      const { lr, eps, weight_decay } = h;
      const [beta1, beta2] = h.betas;
      s.t += 1;
      const t = s.t;
      const bc1 = 1 - beta1 ** t, bc2 = 1 - beta2 ** t;
      const rhoInf = 2 / (1 - beta2) - 1;
      const rhoT = rhoInf - (2 * t * beta2 ** t) / bc2;
      const rect = rhoT > 5.0
        ? (((rhoT - 4) * (rhoT - 2) * rhoInf) / ((rhoInf - 4) * (rhoInf - 2) * rhoT)) ** 0.5 : 0;
      for (let i = 0; i < p.length; i++) {
        if (weight_decay !== 0 && h.decoupled) p[i] = p[i] * (1 - lr * weight_decay);
        const d = effectiveGrad(h, g[i], p[i]);
        s.m[i] = lerp(s.m[i], d, 1 - beta1);                            // exp_avg.lerp_(grad, 1-beta1)
        s.v[i] = s.v[i] * beta2 + (1 - beta2) * d * d;                  // exp_avg_sq.mul_(beta2).addcmul_(...)
        const corrected = s.m[i] / bc1;                                 // exp_avg / bias_correction1
        if (rhoT > 5.0) {
          const adaptive = bc2 ** 0.5 / (Math.sqrt(s.v[i]) + eps);      // (bc2**0.5) / exp_avg_sq.sqrt().add_(eps)
          p[i] = p[i] + -1.0 * (corrected * lr * adaptive * rect);      // param.add_(m^ * lr * adaptive * rect, alpha=-1)
          box[i] = lr * adaptive * rect;
        } else {
          p[i] = p[i] + -1.0 * (corrected * lr);                        // param.add_(m^ * lr, alpha=-1)
          box[i] = lr;                                                  // plain momentum SGD while v is unreliable
        }
        vel[i] = -box[i] * corrected;
      }
    },
  };

  const CLASSES = { SGD, Adagrad, Adadelta, RMSprop, Adam, AdamW: Adam, Adamax, NAdam, RAdam };

  /** Hyperparameters as the rules read them: `decoupled` folds AdamW's class and the flag. */
  function prepare(cls, hp) {
    const h = { ...hp };
    h.decoupled = cls === "AdamW" || Boolean(hp.decoupled_weight_decay);
    for (const k of ["maximize", "nesterov", "centered", "amsgrad"]) h[k] = Boolean(hp[k]);
    if (h.weight_decay === undefined) h.weight_decay = 0;
    return h;
  }

  /** An optimizer instance over `size` numbers: {step(p, g, vel, box), marks}. */
  function create(cls, hp, size) {
    const rule = CLASSES[cls];
    if (!rule) throw new Error(`the page has no update rule for ${cls}`);
    const h = prepare(cls, hp);
    const state = rule.init(h, size);
    return {
      marks: rule.marks(h),
      step: (p, g, vel, box) => rule.step(h, state, p, g, vel, box),
    };
  }

  return { create, CLASSES: Object.keys(CLASSES), lerp };
})();
