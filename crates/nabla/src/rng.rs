//! Seedable random numbers: xoshiro256++ with a default generator per thread.
//!
//! `manual_seed(s)` makes every later `rand`/`randn`/dropout mask reproducible, as
//! `torch.manual_seed` does. The generator's state can be read and restored, so a training
//! checkpoint can carry it and a resumed run draws the same numbers.

use std::cell::RefCell;

/// A xoshiro256++ generator (Blackman & Vigna), seeded through splitmix64.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rng {
    s: [u64; 4],
    /// The second value of the last Box–Muller pair, not yet returned.
    spare_normal: Option<u64>,
}

fn splitmix64(x: &mut u64) -> u64 {
    *x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *x;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Rng {
    /// A generator whose whole sequence is determined by `seed`.
    pub fn new(seed: u64) -> Self {
        let mut x = seed;
        let s = [
            splitmix64(&mut x),
            splitmix64(&mut x),
            splitmix64(&mut x),
            splitmix64(&mut x),
        ];
        Rng {
            s,
            spare_normal: None,
        }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Uniform in `[0, 1)` with 53 random bits.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in `[0, 1)` as `f32` with 24 random bits.
    pub fn next_f32(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 * (1.0 / (1u64 << 24) as f32)
    }

    /// Uniform integer in `0..n` (`n > 0`), without modulo bias.
    pub fn below(&mut self, n: u64) -> u64 {
        let zone = u64::MAX - (u64::MAX % n);
        loop {
            let v = self.next_u64();
            if v < zone {
                return v % n;
            }
        }
    }

    /// A standard normal sample (Box–Muller; pairs are used in turn).
    pub fn normal(&mut self) -> f64 {
        if let Some(bits) = self.spare_normal.take() {
            return f64::from_bits(bits);
        }
        let u1 = 1.0 - self.next_f64(); // (0, 1]: log is finite
        let u2 = self.next_f64();
        let r = (-2.0 * u1.ln()).sqrt();
        let theta = 2.0 * std::f64::consts::PI * u2;
        self.spare_normal = Some((r * theta.sin()).to_bits());
        r * theta.cos()
    }

    /// Shuffles a slice in place (Fisher–Yates).
    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            v.swap(i, j);
        }
    }

    /// The full state, to be saved in a checkpoint.
    pub fn state(&self) -> [u64; 5] {
        // Word 4 holds the pending Box–Muller value's bits, or u64::MAX (a NaN that
        // Box–Muller never produces) when there is none.
        let spare = self.spare_normal.unwrap_or(u64::MAX);
        [self.s[0], self.s[1], self.s[2], self.s[3], spare]
    }

    /// Restores a state saved by [`Rng::state`].
    pub fn from_state(state: [u64; 5]) -> Self {
        let spare = if state[4] == u64::MAX {
            None
        } else {
            Some(state[4])
        };
        Rng {
            s: [state[0], state[1], state[2], state[3]],
            spare_normal: spare,
        }
    }
}

thread_local! {
    static GLOBAL: RefCell<Rng> = RefCell::new(Rng::new(DEFAULT_SEED));
}

/// Default seed of the default generator before any `manual_seed`.
pub const DEFAULT_SEED: u64 = 0x5EED;

/// Runs `f` with this thread's default generator.
///
/// The default generator is per thread: a training loop draws its dropout masks and
/// initial weights on its own thread, so other threads (tests running in parallel, data
/// loader workers) cannot perturb its sequence.
pub fn with_global_rng<R>(f: impl FnOnce(&mut Rng) -> R) -> R {
    GLOBAL.with(|g| f(&mut g.borrow_mut()))
}

/// Seeds this thread's default generator (as `torch.manual_seed`).
pub fn manual_seed(seed: u64) {
    with_global_rng(|r| *r = Rng::new(seed));
}

/// The default generator's state (for checkpoints).
pub fn global_rng_state() -> [u64; 5] {
    with_global_rng(|r| r.state())
}

/// Restores the default generator's state.
pub fn set_global_rng_state(state: [u64; 5]) {
    with_global_rng(|r| *r = Rng::from_state(state));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_gives_same_sequence() {
        let mut a = Rng::new(42);
        let mut b = Rng::new(42);
        for _ in 0..10 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
        assert_ne!(Rng::new(1).next_u64(), Rng::new(2).next_u64());
    }

    #[test]
    fn state_round_trips_mid_normal_pair() {
        let mut a = Rng::new(7);
        a.normal();
        let mut b = Rng::from_state(a.state());
        assert_eq!(a.normal(), b.normal());
        assert_eq!(a.next_u64(), b.next_u64());
    }

    #[test]
    fn normal_samples_have_unit_variance() {
        let mut r = Rng::new(3);
        let n = 100_000;
        let xs: Vec<f64> = (0..n).map(|_| r.normal()).collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        assert!(mean.abs() < 0.02, "mean {mean}");
        assert!((var - 1.0).abs() < 0.02, "var {var}");
    }
}
