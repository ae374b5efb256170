//! The fused optimizer updates on host memory: one pass over a parameter, its gradient and
//! its state buffers per step, vectorized, large parameters split across the pool.

use super::SharedOut;
use crate::ops::optimizer::UpdateRule;
use rayon::prelude::*;

/// Elements per task of the parallel update: below 2^16 the update takes less than the
/// fork of the rayon pool. Above, the update streams weights, gradient and buffers through
/// memory (12 to 20 bytes per element), which two cores' caches and ports do faster.
const PAR_CHUNK: usize = 1 << 16;

/// Applies `rule` to `w` from `g`, reading and writing the rule's buffers `state` (as many
/// as [`UpdateRule::buffers`] names, each as long as `w`).
pub(crate) fn update(rule: &UpdateRule, w: &mut [f32], g: &[f32], state: &mut [&mut [f32]]) {
    let n = w.len();
    debug_assert!(g.len() == n && state.iter().all(|s| s.len() == n));
    if n < 2 * PAR_CHUNK {
        return range(rule, w, g, state);
    }
    let wp = SharedOut::new(w);
    let sp: Vec<SharedOut<f32>> = state.iter_mut().map(|s| SharedOut::new(s)).collect();
    (0..n).into_par_iter().step_by(PAR_CHUNK).for_each(|start| {
        let len = PAR_CHUNK.min(n - start);
        // SAFETY: each task takes its own range of every buffer, all `n` long.
        let (w, mut s): (&mut [f32], Vec<&mut [f32]>) = unsafe {
            (
                wp.slice(start, len),
                sp.iter().map(|p| p.slice(start, len)).collect(),
            )
        };
        range(rule, w, &g[start..start + len], &mut s);
    });
}

/// [`update`] on one range, each rule's cases constants of its loop so that the loop has no
/// branch and vectorizes.
pub(crate) fn range(rule: &UpdateRule, w: &mut [f32], g: &[f32], s: &mut [&mut [f32]]) {
    match *rule {
        UpdateRule::Sgd { lr, weight_decay } => crate::cpu::simd::vectorized(
            #[inline(always)]
            || {
                for (w, &g) in w.iter_mut().zip(g) {
                    *w -= lr * (g + weight_decay * *w);
                }
            },
        ),
        UpdateRule::Momentum {
            first, nesterov, ..
        } => match (first, nesterov) {
            (true, true) => momentum::<true, true>(rule, w, g, s),
            (true, false) => momentum::<true, false>(rule, w, g, s),
            (false, true) => momentum::<false, true>(rule, w, g, s),
            (false, false) => momentum::<false, false>(rule, w, g, s),
        },
        UpdateRule::Adam { decoupled, .. } => match decoupled {
            true => adam::<true>(rule, w, g, s),
            false => adam::<false>(rule, w, g, s),
        },
        UpdateRule::RmsProp { momentum, .. } => match momentum > 0.0 {
            true => rmsprop::<true>(rule, w, g, s),
            false => rmsprop::<false>(rule, w, g, s),
        },
        UpdateRule::Adagrad {
            lr,
            eps,
            weight_decay,
        } => crate::cpu::simd::vectorized(
            #[inline(always)]
            || {
                for ((w, &g), s) in w.iter_mut().zip(g).zip(s[0].iter_mut()) {
                    let g = g + weight_decay * *w;
                    *s += g * g;
                    *w -= lr * g / (s.sqrt() + eps);
                }
            },
        ),
    }
}

/// `g ← g + λw`; `b ← μb + (1 − τ)g` (`b = g` on the first step); `w ← w − η(g + μb)`
/// (Nesterov) or `w ← w − ηb`.
fn momentum<const FIRST: bool, const NESTEROV: bool>(
    rule: &UpdateRule,
    w: &mut [f32],
    g: &[f32],
    s: &mut [&mut [f32]],
) {
    let UpdateRule::Momentum {
        lr,
        mu,
        dampening,
        weight_decay,
        ..
    } = *rule
    else {
        unreachable!("called for momentum rules")
    };
    crate::cpu::simd::vectorized(
        #[inline(always)]
        || {
            for ((w, &g), b) in w.iter_mut().zip(g).zip(s[0].iter_mut()) {
                let g = g + weight_decay * *w;
                *b = if FIRST {
                    g
                } else {
                    mu * *b + (1.0 - dampening) * g
                };
                let step = if NESTEROV { g + mu * *b } else { *b };
                *w -= lr * step;
            }
        },
    );
}

/// `m ← β₁m + (1 − β₁)g`, `v ← β₂v + (1 − β₂)g²`, `w ← w − s·m / (√v / c₂ + ε)` with weight
/// decay added to `g` (Adam) or applied as `w ← w(1 − ηλ)` first (AdamW, `DECOUPLED`).
fn adam<const DECOUPLED: bool>(rule: &UpdateRule, w: &mut [f32], g: &[f32], s: &mut [&mut [f32]]) {
    let UpdateRule::Adam {
        lr,
        beta1: b1,
        beta2: b2,
        eps,
        weight_decay: wd,
        step_size,
        bias_correction2_sqrt: bc2_sqrt,
        ..
    } = *rule
    else {
        unreachable!("called for Adam rules")
    };
    let [m, v] = s else {
        unreachable!("Adam has two buffers")
    };
    crate::cpu::simd::vectorized(
        #[inline(always)]
        || {
            let moments = m.iter_mut().zip(v.iter_mut());
            for ((w, &g), (m, v)) in w.iter_mut().zip(g).zip(moments) {
                let g = if DECOUPLED {
                    *w *= 1.0 - lr * wd;
                    g
                } else {
                    g + wd * *w
                };
                *m = b1 * *m + (1.0 - b1) * g;
                *v = b2 * *v + (1.0 - b2) * g * g;
                *w -= step_size * *m / (v.sqrt() / bc2_sqrt + eps);
            }
        },
    );
}

/// `g ← g + λw`, `v ← αv + (1 − α)g²`, `d = g / (√v + ε)`; with momentum `b ← μb + d`,
/// `w ← w − ηb`, else `w ← w − ηd`.
fn rmsprop<const MOMENTUM: bool>(
    rule: &UpdateRule,
    w: &mut [f32],
    g: &[f32],
    s: &mut [&mut [f32]],
) {
    let UpdateRule::RmsProp {
        lr,
        alpha: a,
        eps,
        momentum: mu,
        weight_decay: wd,
    } = *rule
    else {
        unreachable!("called for RMSprop rules")
    };
    let (v, b) = match s {
        [v, b] => (v, Some(b)),
        [v] => (v, None),
        _ => unreachable!("RMSprop has one or two buffers"),
    };
    match b {
        Some(b) if MOMENTUM => {
            for ((w, &g), (v, b)) in w.iter_mut().zip(g).zip(v.iter_mut().zip(b.iter_mut())) {
                let g = g + wd * *w;
                *v = a * *v + (1.0 - a) * g * g;
                *b = mu * *b + g / (v.sqrt() + eps);
                *w -= lr * *b;
            }
        }
        _ => {
            for ((w, &g), v) in w.iter_mut().zip(g).zip(v.iter_mut()) {
                let g = g + wd * *w;
                *v = a * *v + (1.0 - a) * g * g;
                *w -= lr * g / (v.sqrt() + eps);
            }
        }
    }
}
