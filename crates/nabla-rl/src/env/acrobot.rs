//! Acrobot-v1 (Sutton 1996), as Gymnasium defines it: two links hanging from a pivot, a
//! torque of −1, 0 or +1 on the joint between them (actions 0, 1, 2), the "book" equations
//! of motion integrated by one RK4 step of 0.2 s, −1 per step until the tip rises one link
//! length above the pivot, 500 steps at most.

use super::Dynamics;
use crate::{Action, Result, Space};
use nabla::Rng;
use std::f64::consts::PI;

const DT: f64 = 0.2;
const LINK_LENGTH_1: f64 = 1.0;
const LINK_MASS_1: f64 = 1.0;
const LINK_MASS_2: f64 = 1.0;
const LINK_COM_POS_1: f64 = 0.5;
const LINK_COM_POS_2: f64 = 0.5;
const LINK_MOI: f64 = 1.0;
const MAX_VEL_1: f64 = 4.0 * PI;
const MAX_VEL_2: f64 = 9.0 * PI;
const AVAIL_TORQUE: [f64; 3] = [-1.0, 0.0, 1.0];
const G: f64 = 9.8;

/// The state `[θ₁, θ₂, θ̇₁, θ̇₂]` (θ₁ from hanging down, θ₂ relative to the first link);
/// observations are `[cos θ₁, sin θ₁, cos θ₂, sin θ₂, θ̇₁, θ̇₂]`.
#[derive(Clone, Debug, Default)]
pub struct Acrobot {
    /// `[theta1, theta2, dtheta1, dtheta2]`.
    pub state: [f64; 4],
}

/// The time derivative of `[θ₁, θ₂, θ̇₁, θ̇₂]` under torque `a`. The operations run in
/// Gymnasium's order, so that both round alike.
fn dsdt(s: [f64; 4], a: f64) -> [f64; 4] {
    let (m1, m2, l1) = (LINK_MASS_1, LINK_MASS_2, LINK_LENGTH_1);
    let (lc1, lc2) = (LINK_COM_POS_1, LINK_COM_POS_2);
    let (i1, i2) = (LINK_MOI, LINK_MOI);
    let [theta1, theta2, dtheta1, dtheta2] = s;
    let d1 = m1 * lc1 * lc1 + m2 * (l1 * l1 + lc2 * lc2 + 2.0 * l1 * lc2 * theta2.cos()) + i1 + i2;
    let d2 = m2 * (lc2 * lc2 + l1 * lc2 * theta2.cos()) + i2;
    let phi2 = m2 * lc2 * G * (theta1 + theta2 - PI / 2.0).cos();
    let phi1 = -m2 * l1 * lc2 * (dtheta2 * dtheta2) * theta2.sin()
        - 2.0 * m2 * l1 * lc2 * dtheta2 * dtheta1 * theta2.sin()
        + (m1 * lc1 + m2 * l1) * G * (theta1 - PI / 2.0).cos()
        + phi2;
    let ddtheta2 = (a + d2 / d1 * phi1 - m2 * l1 * lc2 * (dtheta1 * dtheta1) * theta2.sin() - phi2)
        / (m2 * lc2 * lc2 + i2 - d2 * d2 / d1);
    let ddtheta1 = -(d2 * ddtheta2 + phi1) / d1;
    [dtheta1, dtheta2, ddtheta1, ddtheta2]
}

/// One classical Runge–Kutta step of length `dt`.
fn rk4(y0: [f64; 4], a: f64, dt: f64) -> [f64; 4] {
    let dt2 = dt / 2.0;
    let shifted = |k: [f64; 4], h: f64| std::array::from_fn(|i| y0[i] + h * k[i]);
    let k1 = dsdt(y0, a);
    let k2 = dsdt(shifted(k1, dt2), a);
    let k3 = dsdt(shifted(k2, dt2), a);
    let k4 = dsdt(shifted(k3, dt), a);
    std::array::from_fn(|i| y0[i] + dt / 6.0 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i]))
}

/// `x` shifted by multiples of `hi - lo` into `[lo, hi]`, as Gymnasium's `wrap`.
fn wrap(mut x: f64, lo: f64, hi: f64) -> f64 {
    let diff = hi - lo;
    while x > hi {
        x -= diff;
    }
    while x < lo {
        x += diff;
    }
    x
}

impl Acrobot {
    /// The positions of the joint and the tip, with the pivot at the origin and y up (for
    /// drawing).
    pub fn link_ends(&self) -> [(f64, f64); 2] {
        let [t1, t2, ..] = self.state;
        let p1 = (LINK_LENGTH_1 * t1.sin(), -LINK_LENGTH_1 * t1.cos());
        let p2 = (p1.0 + (t1 + t2).sin(), p1.1 - (t1 + t2).cos());
        [p1, p2]
    }
}

impl Dynamics for Acrobot {
    const NAME: &'static str = "acrobot";
    const MAX_EPISODE_STEPS: usize = 500;

    fn observation_space(&self) -> Space {
        let high = [1.0, 1.0, 1.0, 1.0, MAX_VEL_1 as f32, MAX_VEL_2 as f32];
        Space::Box {
            low: high.iter().map(|h| -h).collect(),
            high: high.to_vec(),
        }
    }

    fn action_space(&self) -> Space {
        Space::Discrete(3)
    }

    fn reset(&mut self, rng: &mut Rng) {
        // Gymnasium draws the start state in f64 and stores it as f32.
        for v in &mut self.state {
            *v = (-0.1 + 0.2 * rng.next_f64()) as f32 as f64;
        }
    }

    fn advance(&mut self, action: &Action, _rng: &mut Rng) -> (f64, bool) {
        let Action::Discrete(a) = *action else {
            unreachable!("the action was checked against Discrete(3)")
        };
        let ns = rk4(self.state, AVAIL_TORQUE[a], DT);
        self.state = [
            wrap(ns[0], -PI, PI),
            wrap(ns[1], -PI, PI),
            ns[2].clamp(-MAX_VEL_1, MAX_VEL_1),
            ns[3].clamp(-MAX_VEL_2, MAX_VEL_2),
        ];
        let [t1, t2, ..] = self.state;
        let terminated = -t1.cos() - (t2 + t1).cos() > 1.0;
        (if terminated { 0.0 } else { -1.0 }, terminated)
    }

    fn observe(&self) -> Vec<f32> {
        let [t1, t2, d1, d2] = self.state;
        [t1.cos(), t1.sin(), t2.cos(), t2.sin(), d1, d2]
            .iter()
            .map(|&v| v as f32)
            .collect()
    }

    fn state(&self) -> Vec<f64> {
        self.state.to_vec()
    }

    fn set_state(&mut self, state: &[f64]) -> Result<()> {
        self.state.copy_from_slice(state);
        Ok(())
    }

    fn state_len(&self) -> usize {
        4
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::testing::check_seeding;
    use crate::env::{Env, TimeLimited};

    #[test]
    fn acrobot_same_seed_gives_the_same_episode() {
        check_seeding(|| Box::new(TimeLimited::new(Acrobot::default())));
    }

    #[test]
    fn acrobot_at_rest_stays_at_rest_and_is_truncated_at_500() {
        let mut env = TimeLimited::new(Acrobot::default());
        env.reset_to_state(&[0.0; 4]).unwrap();
        for t in 1..=500 {
            let s = env.step(&Action::Discrete(1)).unwrap();
            // cos(−π/2) is 6e-17, not 0: rest drifts by that much.
            let rest = [1.0, 0.0, 1.0, 0.0, 0.0, 0.0];
            assert!(s.obs.iter().zip(rest).all(|(o, r)| (o - r).abs() < 1e-9));
            assert_eq!(
                (s.reward, s.terminated, s.truncated),
                (-1.0, false, t == 500)
            );
        }
    }

    #[test]
    fn acrobot_terminates_with_the_tip_above_the_line() {
        // Both links pointing up: the tip is 2 above the pivot.
        let mut env = TimeLimited::new(Acrobot::default());
        env.reset_to_state(&[PI - 0.01, 0.0, 0.0, 0.0]).unwrap();
        let s = env.step(&Action::Discrete(1)).unwrap();
        assert!(s.terminated && s.reward == 0.0);
    }

    #[test]
    fn rk4_integrates_a_free_fall_energy_preserving() {
        // Without torque the total energy (kinetic + potential) of the double pendulum is
        // conserved; one RK4 step of a small swing keeps it to 1e-4.
        let energy = |s: [f64; 4]| {
            let [t1, t2, d1, d2] = s;
            let y1 = -0.5 * t1.cos();
            let y2 = -t1.cos() - 0.5 * (t1 + t2).cos();
            // Mass-matrix kinetic energy 0.5·(d1·θ̇₁² + 2·d2·θ̇₁θ̇₂ + (lc2² + I2)·θ̇₂²).
            let dd1 = 0.25 + (1.0 + 0.25 + t2.cos()) + 2.0;
            let dd2 = 0.25 + 0.5 * t2.cos() + 1.0;
            0.5 * (dd1 * d1 * d1 + 2.0 * dd2 * d1 * d2 + 1.25 * d2 * d2) + G * (y1 + y2)
        };
        let s0 = [0.3, -0.2, 0.0, 0.0];
        let s1 = rk4(s0, 0.0, 0.01);
        assert!((energy(s0) - energy(s1)).abs() < 1e-4);
        assert_ne!(s0, s1);
    }

    #[test]
    fn wrap_moves_angles_into_range() {
        assert!((wrap(4.0, -PI, PI) - (4.0 - 2.0 * PI)).abs() < 1e-12);
        assert!((wrap(-4.0, -PI, PI) - (-4.0 + 2.0 * PI)).abs() < 1e-12);
        assert_eq!(wrap(1.0, -PI, PI), 1.0);
    }
}
