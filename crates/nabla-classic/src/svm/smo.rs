//! The binary C-SVC dual solved by sequential minimal optimization, as LIBSVM solves it:
//! second-order working-set selection (Fan, Chen and Lin, JMLR 2005), shrinking of bounded
//! variables with a gradient reconstruction before the final check, and a kernel row cache.
//!
//! The problem: minimise `½ αᵀQα - eᵀα` subject to `0 <= α_i <= C` and `yᵀα = 0`, with
//! `Q_ij = y_i y_j K(x_i, x_j)`. The decision function is `f(x) = Σ α_i y_i K(x_i, x) - ρ`.

use super::cache::KernelRows;
use crate::kernel::Kernel;
use crate::Result;

/// A small positive curvature used where `K_ii + K_jj - 2 K_ij <= 0` (non-PSD kernels).
const TAU: f64 = 1e-12;

/// Solver settings.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SmoParams {
    pub c: f64,
    pub kernel: Kernel,
    /// Stopping tolerance on the maximal KKT violation (LIBSVM's `-e`, 1e-3).
    pub eps: f64,
    pub shrinking: bool,
    pub cache_bytes: usize,
    pub max_iter: usize,
}

/// What the solver found.
#[derive(Clone, Debug)]
pub(crate) struct SmoSolution {
    /// `α`, one per example.
    pub alpha: Vec<f64>,
    /// The threshold `ρ`.
    pub rho: f64,
    pub iterations: usize,
    /// False when `max_iter` stopped the solver first.
    pub converged: bool,
    /// Kernel rows computed.
    pub rows_computed: usize,
}

struct State {
    y: Vec<f64>,
    alpha: Vec<f64>,
    /// Gradient of the dual objective, `Qα - e`.
    g: Vec<f64>,
    /// `Σ_{j at the upper bound} C Q_ij`, to rebuild gradients of shrunk variables.
    g_bar: Vec<f64>,
    qd: Vec<f64>,
    c: f64,
    active: Vec<usize>,
    is_active: Vec<bool>,
}

impl State {
    fn upper(&self, i: usize) -> bool {
        self.alpha[i] >= self.c
    }
    fn lower(&self, i: usize) -> bool {
        self.alpha[i] <= 0.0
    }
    /// In `I_up`: `α_i` can move so that `y_i α_i` grows.
    fn in_up(&self, i: usize) -> bool {
        if self.y[i] > 0.0 {
            !self.upper(i)
        } else {
            !self.lower(i)
        }
    }
    fn in_low(&self, i: usize) -> bool {
        if self.y[i] > 0.0 {
            !self.lower(i)
        } else {
            !self.upper(i)
        }
    }

    /// `max{-y_i G_i : i ∈ I_up}` and `max{y_i G_i : i ∈ I_low}` over the active set.
    fn violations(&self) -> (f64, f64) {
        let (mut up, mut low) = (f64::NEG_INFINITY, f64::NEG_INFINITY);
        for &t in &self.active {
            let yg = self.y[t] * self.g[t];
            if self.in_up(t) {
                up = up.max(-yg);
            }
            if self.in_low(t) {
                low = low.max(yg);
            }
        }
        (up, low)
    }
}

/// Solves the binary problem on the `n = y.len()` rows of `x` (`d` features each);
/// `y[i]` is `+1.0` or `-1.0`.
pub(crate) fn solve(x: &[f32], d: usize, y: &[f64], p: &SmoParams) -> Result<SmoSolution> {
    let n = y.len();
    let mut rows = KernelRows::new(p.kernel, x, d, p.cache_bytes)?;
    let qd = (0..n)
        .map(|i| {
            let xi = &x[i * d..(i + 1) * d];
            p.kernel.eval(xi, xi) as f64
        })
        .collect();
    let mut s = State {
        y: y.to_vec(),
        alpha: vec![0.0; n],
        g: vec![-1.0; n],
        g_bar: vec![0.0; n],
        qd,
        c: p.c,
        active: (0..n).collect(),
        is_active: vec![true; n],
    };
    let mut unshrunk = false;
    let mut counter = n.min(1000) + 1;
    let mut iterations = 0;
    let mut converged = false;
    while iterations < p.max_iter {
        counter -= 1;
        if counter == 0 {
            counter = n.min(1000);
            if p.shrinking {
                shrink(&mut s, &mut rows, p.eps, &mut unshrunk);
            }
        }
        let pair = match select(&s, &mut rows, p.eps) {
            Some(pair) => pair,
            None => {
                // Optimal on the active set: check again on all variables.
                reconstruct_gradient(&mut s, &mut rows);
                match select(&s, &mut rows, p.eps) {
                    Some(pair) => {
                        counter = 1;
                        pair
                    }
                    None => {
                        converged = true;
                        break;
                    }
                }
            }
        };
        iterations += 1;
        step(&mut s, &mut rows, pair);
    }
    if !converged {
        reconstruct_gradient(&mut s, &mut rows);
    }
    Ok(SmoSolution {
        rho: rho(&s),
        alpha: s.alpha,
        iterations,
        converged,
        rows_computed: rows.computed,
    })
}

/// The working set `(i, j)` by second-order selection, or `None` when the maximal
/// violation is below `eps`.
fn select(s: &State, rows: &mut KernelRows, eps: f64) -> Option<(usize, usize)> {
    let (mut g_max, mut i) = (f64::NEG_INFINITY, usize::MAX);
    for &t in &s.active {
        let v = -s.y[t] * s.g[t];
        if s.in_up(t) && v >= g_max {
            g_max = v;
            i = t;
        }
    }
    if i == usize::MAX {
        return None;
    }
    let k_i = rows.row(i);
    let (mut g_max2, mut j, mut best) = (f64::NEG_INFINITY, usize::MAX, f64::INFINITY);
    for &t in &s.active {
        if !s.in_low(t) {
            continue;
        }
        let yg = s.y[t] * s.g[t];
        g_max2 = g_max2.max(yg);
        let grad_diff = g_max + yg;
        if grad_diff > 0.0 {
            let quad = s.qd[i] + s.qd[t] - 2.0 * k_i[t] as f64;
            let obj = -(grad_diff * grad_diff) / if quad > 0.0 { quad } else { TAU };
            if obj <= best {
                best = obj;
                j = t;
            }
        }
    }
    if g_max + g_max2 < eps || j == usize::MAX {
        return None;
    }
    Some((i, j))
}

/// Optimizes `α_i`, `α_j` analytically and updates the gradients.
fn step(s: &mut State, rows: &mut KernelRows, (i, j): (usize, usize)) {
    let (k_i, k_j) = rows.pair(i, j);
    let (yi, yj, c) = (s.y[i], s.y[j], s.c);
    let (old_i, old_j) = (s.alpha[i], s.alpha[j]);
    let kij = k_i[j] as f64;
    let quad = s.qd[i] + s.qd[j] - 2.0 * kij;
    let quad = if quad > 0.0 { quad } else { TAU };
    let (mut ai, mut aj) = (old_i, old_j);
    if yi != yj {
        let delta = (-s.g[i] - s.g[j]) / quad;
        let diff = ai - aj;
        ai += delta;
        aj += delta;
        if diff > 0.0 {
            if aj < 0.0 {
                aj = 0.0;
                ai = diff;
            }
        } else if ai < 0.0 {
            ai = 0.0;
            aj = -diff;
        }
        if diff > 0.0 {
            if ai > c {
                ai = c;
                aj = c - diff;
            }
        } else if aj > c {
            aj = c;
            ai = c + diff;
        }
    } else {
        let delta = (s.g[i] - s.g[j]) / quad;
        let sum = ai + aj;
        ai -= delta;
        aj += delta;
        if sum > c {
            if ai > c {
                ai = c;
                aj = sum - c;
            }
        } else if aj < 0.0 {
            aj = 0.0;
            ai = sum;
        }
        if sum > c {
            if aj > c {
                aj = c;
                ai = sum - c;
            }
        } else if ai < 0.0 {
            ai = 0.0;
            aj = sum;
        }
    }
    let (was_upper_i, was_upper_j) = (s.upper(i), s.upper(j));
    s.alpha[i] = ai;
    s.alpha[j] = aj;
    // G_k += Q_ki Δα_i + Q_kj Δα_j, with Q_ki = y_k y_i K_ki.
    let (di, dj) = ((ai - old_i) * yi, (aj - old_j) * yj);
    for &t in &s.active {
        s.g[t] += s.y[t] * (k_i[t] as f64 * di + k_j[t] as f64 * dj);
    }
    for (idx, was_upper, k) in [(i, was_upper_i, k_i), (j, was_upper_j, k_j)] {
        let now_upper = s.upper(idx);
        if was_upper != now_upper {
            let sign = if now_upper { c } else { -c } * s.y[idx];
            for (t, gb) in s.g_bar.iter_mut().enumerate() {
                *gb += sign * s.y[t] * k[t] as f64;
            }
        }
    }
}

/// Removes from the active set the bounded variables that cannot move at the current
/// violation levels; the first time the violation drops below `10 eps`, first restores the
/// whole set (LIBSVM's unshrinking) so that early mistakes are undone.
fn shrink(s: &mut State, rows: &mut KernelRows, eps: f64, unshrunk: &mut bool) {
    let (up, low) = s.violations();
    if !*unshrunk && up + low <= eps * 10.0 {
        *unshrunk = true;
        reconstruct_gradient(s, rows);
    }
    let shrunk = |s: &State, t: usize| {
        let g = s.g[t];
        if s.upper(t) {
            if s.y[t] > 0.0 {
                -g > up
            } else {
                -g > low
            }
        } else if s.lower(t) {
            if s.y[t] > 0.0 {
                g > low
            } else {
                g > up
            }
        } else {
            false
        }
    };
    let keep: Vec<usize> = s
        .active
        .iter()
        .copied()
        .filter(|&t| !shrunk(s, t))
        .collect();
    for &t in &s.active {
        s.is_active[t] = false;
    }
    for &t in &keep {
        s.is_active[t] = true;
    }
    s.active = keep;
}

/// Recomputes the gradient of the shrunk variables and makes every variable active again.
fn reconstruct_gradient(s: &mut State, rows: &mut KernelRows) {
    let n = s.y.len();
    if s.active.len() == n {
        return;
    }
    let inactive: Vec<usize> = (0..n).filter(|&t| !s.is_active[t]).collect();
    for &t in &inactive {
        s.g[t] = s.g_bar[t] - 1.0;
    }
    // Only free variables are missing from G_bar (bounded-above ones are in it, zeros add
    // nothing), and shrunk variables are never free.
    for i in 0..n {
        if s.is_active[i] && !s.upper(i) && !s.lower(i) {
            let (k, ya) = (rows.row(i), s.y[i] * s.alpha[i]);
            for &t in &inactive {
                s.g[t] += s.y[t] * ya * k[t] as f64;
            }
        }
    }
    s.active = (0..n).collect();
    s.is_active.fill(true);
}

/// `ρ`: the mean of `y_i G_i` over free variables, or the middle of the feasible interval
/// when none is free.
fn rho(s: &State) -> f64 {
    let (mut ub, mut lb, mut sum, mut free) = (f64::INFINITY, f64::NEG_INFINITY, 0.0, 0usize);
    for i in 0..s.y.len() {
        let yg = s.y[i] * s.g[i];
        let pos = s.y[i] > 0.0;
        if s.upper(i) {
            if pos {
                lb = lb.max(yg);
            } else {
                ub = ub.min(yg);
            }
        } else if s.lower(i) {
            if pos {
                ub = ub.min(yg);
            } else {
                lb = lb.max(yg);
            }
        } else {
            free += 1;
            sum += yg;
        }
    }
    if free > 0 {
        sum / free as f64
    } else {
        (ub + lb) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(c: f64, kernel: Kernel, shrinking: bool, cache_bytes: usize) -> SmoParams {
        SmoParams {
            c,
            kernel,
            eps: 1e-4,
            shrinking,
            cache_bytes,
            max_iter: 100_000,
        }
    }

    fn decision(x: &[f32], d: usize, y: &[f64], sol: &SmoSolution, k: &Kernel, z: &[f32]) -> f64 {
        (0..y.len())
            .map(|i| sol.alpha[i] * y[i] * k.eval(&x[i * d..(i + 1) * d], z) as f64)
            .sum::<f64>()
            - sol.rho
    }

    #[test]
    fn two_points_give_the_hand_computed_hard_margin() -> Result<()> {
        // x1 = (1, 1) with y = +1, x2 = (-1, -1) with y = -1, linear kernel, large C.
        // The maximal margin separator is w = (1/2, 1/2), b = 0: w·x1 = 1. The dual has
        // α1 = α2 = α and maximises 2α - ½ α² |x1 - x2|² = 2α - 4α², so α = 1/4.
        let x = [1.0f32, 1.0, -1.0, -1.0];
        let y = [1.0, -1.0];
        let sol = solve(&x, 2, &y, &params(100.0, Kernel::Linear, true, 1 << 20))?;
        assert!(sol.converged);
        assert!((sol.alpha[0] - 0.25).abs() < 1e-9 && (sol.alpha[1] - 0.25).abs() < 1e-9);
        assert!(sol.rho.abs() < 1e-9);
        Ok(())
    }

    /// Two noisy rings: class +1 inside radius 1, class -1 outside radius 2.
    fn rings(n: usize) -> (Vec<f32>, Vec<f64>) {
        let mut rng = nabla::Rng::new(3);
        let (mut x, mut y) = (Vec::new(), Vec::new());
        for i in 0..n {
            let inner = i % 2 == 0;
            let r = if inner { 1.2 } else { 1.8 } * rng.next_f32();
            let r = if inner { r } else { r + 1.2 };
            let a = rng.next_f32() * std::f32::consts::TAU;
            x.extend([r * a.cos(), r * a.sin()]);
            y.push(if inner { 1.0 } else { -1.0 });
        }
        (x, y)
    }

    #[test]
    fn rbf_solution_satisfies_the_kkt_conditions() -> Result<()> {
        let (x, y) = rings(200);
        let k = Kernel::Rbf { gamma: 1.0 };
        let sol = solve(&x, 2, &y, &params(2.0, k, true, 1 << 20))?;
        assert!(sol.converged);
        let sum: f64 = sol.alpha.iter().zip(&y).map(|(a, y)| a * y).sum();
        assert!(sum.abs() < 1e-9, "yᵀα = {sum}");
        for i in 0..y.len() {
            let margin = y[i] * decision(&x, 2, &y, &sol, &k, &x[i * 2..i * 2 + 2]);
            let a = sol.alpha[i];
            // α = 0: margin >= 1; 0 < α < C: margin = 1; α = C: margin <= 1 (within tolerance).
            if a <= 0.0 {
                assert!(margin > 1.0 - 1e-3, "{i}: α = 0, margin {margin}");
            } else if a >= 2.0 {
                assert!(margin < 1.0 + 1e-3, "{i}: α = C, margin {margin}");
            } else {
                assert!((margin - 1.0).abs() < 1e-3, "{i}: free, margin {margin}");
            }
        }
        Ok(())
    }

    #[test]
    fn shrinking_and_a_small_cache_give_the_same_solution() -> Result<()> {
        let (x, y) = rings(300);
        let k = Kernel::Rbf { gamma: 0.5 };
        let reference = solve(&x, 2, &y, &params(1.0, k, false, 1 << 24))?;
        let small = solve(&x, 2, &y, &params(1.0, k, true, 20 * 300 * 4))?;
        assert!(
            small.rows_computed > 20,
            "the cache of 20 rows had to evict"
        );
        assert!((reference.rho - small.rho).abs() < 1e-2);
        for z in [[0.0f32, 0.0], [1.5, 0.0], [0.3, -2.5]] {
            let a = decision(&x, 2, &y, &reference, &k, &z);
            let b = decision(&x, 2, &y, &small, &k, &z);
            assert!((a - b).abs() < 1e-2, "{z:?}: {a} vs {b}");
        }
        Ok(())
    }
}
