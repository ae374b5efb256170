//! Scalar special functions that `std` lacks, and branch-free f32 `exp`/`tanh` that the
//! compiler vectorizes (libm's are scalar calls: in an LSTM they took a third of the time).

/// The error function, to about 1e-15 relative error.
///
/// W. J. Cody's rational Chebyshev approximations (Math. Comp. 1969), in the three ranges
/// |x| < 0.5, 0.5 ≤ |x| < 4 and |x| ≥ 4.
pub fn erf(x: f64) -> f64 {
    let ax = x.abs();
    if ax < 0.5 {
        const P: [f64; 5] = [
            3.209_377_589_138_469_4e3,
            3.774_852_376_853_020_2e2,
            1.138_641_541_510_501_6e2,
            3.161_123_743_870_565_6,
            1.857_777_061_846_031_5e-1,
        ];
        const Q: [f64; 5] = [
            2.844_236_833_439_170_6e3,
            1.282_616_526_077_372_3e3,
            2.440_246_379_344_441_7e2,
            2.360_129_095_234_412_1e1,
            1.0,
        ];
        let z = x * x;
        let num = P[0] + z * (P[1] + z * (P[2] + z * (P[3] + z * P[4])));
        let den = Q[0] + z * (Q[1] + z * (Q[2] + z * (Q[3] + z * Q[4])));
        return x * num / den;
    }
    let erfc = if ax < 4.0 {
        const P: [f64; 9] = [
            1.230_339_354_797_997_2e3,
            2.051_078_377_826_071_5e3,
            1.712_047_612_634_070_6e3,
            8.819_522_212_417_690_9e2,
            2.986_351_381_974_001_3e2,
            6.611_919_063_714_163e1,
            8.883_149_794_388_376e0,
            5.641_884_969_886_700_9e-1,
            2.153_115_354_744_038_3e-8,
        ];
        const Q: [f64; 9] = [
            1.230_339_354_803_749_4e3,
            3.439_367_674_143_721_6e3,
            4.362_619_090_143_247e3,
            3.290_799_235_733_459_7e3,
            1.621_389_574_566_690_2e3,
            5.371_811_018_620_098_6e2,
            1.176_939_508_913_125e2,
            1.574_492_611_070_983_4e1,
            1.0,
        ];
        let num = P.iter().rev().fold(0.0, |acc, &p| acc * ax + p);
        let den = Q.iter().rev().fold(0.0, |acc, &q| acc * ax + q);
        (-ax * ax).exp() * num / den
    } else {
        const P: [f64; 6] = [
            -6.587_491_615_298_378e-4,
            -1.608_378_514_874_227_5e-2,
            -1.257_817_261_112_292_6e-1,
            -3.603_448_999_498_044_5e-1,
            -3.053_266_349_612_323_4e-1,
            -1.631_538_713_730_709_6e-2,
        ];
        const Q: [f64; 6] = [
            2.335_204_976_268_691_8e-3,
            6.051_834_131_244_132e-2,
            5.279_051_029_514_284e-1,
            1.872_952_849_923_460_4,
            2.568_520_192_289_822_4,
            1.0,
        ];
        let z = 1.0 / (ax * ax);
        let num = P.iter().rev().fold(0.0, |acc, &p| acc * z + p);
        let den = Q.iter().rev().fold(0.0, |acc, &q| acc * z + q);
        let frac_1_sqrt_pi = 0.564_189_583_547_756_3;
        (-ax * ax).exp() / ax * (frac_1_sqrt_pi + z * num / den)
    };
    if x > 0.0 {
        1.0 - erfc
    } else {
        erfc - 1.0
    }
}

#[cfg(test)]
mod tests {
    use super::erf;

    #[test]
    fn erf_matches_tabulated_values() {
        // Abramowitz & Stegun table 7.1 / high-precision references.
        let cases = [
            (0.0, 0.0),
            (0.1, 0.112_462_916_018_284_9),
            (0.5, 0.520_499_877_813_046_5),
            (1.0, 0.842_700_792_949_714_9),
            (2.0, 0.995_322_265_018_952_7),
            (3.5, 0.999_999_256_901_627_7),
            (5.0, 0.999_999_999_998_462_5),
        ];
        for (x, want) in cases {
            assert!(
                (erf(x) - want).abs() < 1e-13,
                "erf({x}) = {} != {want}",
                erf(x)
            );
            assert!((erf(-x) + want).abs() < 1e-13);
        }
    }
}

/// e^x for f32 without branches or calls, so loops over it vectorize: `x = n·ln 2 + r` with
/// `|r| ≤ ln 2 / 2`, e^r by a degree-6 minimax polynomial, then `2^n` put into the exponent
/// bits. Inputs are clamped to `[-87.3, 88.3]` (so that `2^n` stays a normal f32) (the normal range; below it the result is
/// about 1e-38 instead of a subnormal or 0, above it about 2e38 instead of infinity).
/// Relative error below 2e-7 (tested against `f64::exp` over the whole range).
#[inline(always)]
pub fn exp_f32(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    // ln 2 split in two so that n·LN2_HI is exact.
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    let x = x.clamp(-87.3, 88.3);
    // Round to nearest by adding and subtracting 1.5·2²³ (the fraction bits fall off),
    // which vectorizes where `round()` would be a libm call on baseline x86-64.
    const ROUNDER: f32 = 12_582_912.0;
    let shifted = x * LOG2E + ROUNDER;
    let n = shifted - ROUNDER;
    let r = x - n * LN2_HI - n * LN2_LO;
    let p = 1.987_569_1e-4_f32;
    let p = p * r + 1.398_2e-3;
    let p = p * r + 8.333_452e-3;
    let p = p * r + 4.166_579_6e-2;
    let p = p * r + 1.666_666_5e-1;
    let p = p * r + 5.000_000_1e-1;
    let er = p * r * r + r + 1.0;
    // 2^n from the integer n sitting in the low bits of `shifted` (its bits are those of
    // 1.5·2²³ plus n): integer arithmetic on the bits, because `n as i32` saturates and
    // compiles to a scalar conversion per lane.
    const ROUNDER_BITS: u32 = 0x4B40_0000;
    er * f32::from_bits(shifted.to_bits().wrapping_sub(ROUNDER_BITS - 127) << 23)
}

/// tanh for f32 from [`exp_f32`]: `sign(x)·(1 - 2 / (e^{2|x|} + 1))`, and for `|x| < 0.1`
/// the Taylor series `x - x³/3 + 2x⁵/15 - 17x⁷/315` (where the first form cancels).
/// Absolute error below 3e-7 (tested).
#[inline(always)]
pub fn tanh_f32(x: f32) -> f32 {
    let a = x.abs();
    let big = 1.0 - 2.0 / (exp_f32(2.0 * a) + 1.0);
    let x2 = x * x;
    let small = x * (1.0 + x2 * (-1.0 / 3.0 + x2 * (2.0 / 15.0 - x2 * (17.0 / 315.0))));
    if a < 0.1 {
        small
    } else {
        big.copysign(x)
    }
}

/// ln(1 + x) for f32 without branches or calls, so loops over it vectorize (libm's
/// `log1pf` is a scalar call: in the binary cross-entropy of a VAE's 784 logits per image it
/// took a tenth of the training time). `u = 1 + x` is split into `2^e · m` with
/// `m ∈ [√½, √2)` by its bits, `ln m` is Cephes' `logf` polynomial in `m − 1`, and
/// `(x − (u − 1)) / u` adds back what rounding `1 + x` lost (so that tiny `x` gives `x`).
/// For `x > −1` and finite; relative error below 3e-7 (tested against `f64::ln_1p`).
#[inline(always)]
pub fn ln_1p_f32(x: f32) -> f32 {
    const SQRT_HALF: f32 = std::f32::consts::FRAC_1_SQRT_2;
    let u = 1.0 + x;
    let correction = (x - (u - 1.0)) / u;
    let bits = u.to_bits();
    // Mantissa in [1, 2), then halved (and the exponent raised) when it is above √2, by
    // comparing it with √2: `m ∈ [√½, √2)`.
    let m1 = f32::from_bits((bits & 0x007f_ffff) | 0x3f80_0000);
    let e1 = ((bits >> 23) & 0xff) as i32 - 127;
    let high = m1 > 2.0 * SQRT_HALF;
    let m = if high { m1 * 0.5 } else { m1 };
    let e = (e1 + high as i32) as f32;
    let f = m - 1.0;
    let z = f * f;
    let p = 7.037_683_6e-2_f32;
    let p = p * f - 1.151_461e-1;
    let p = p * f + 1.167_699_9e-1;
    let p = p * f - 1.242_014_1e-1;
    let p = p * f + 1.424_932_3e-1;
    let p = p * f - 1.666_805_8e-1;
    let p = p * f + 2.000_071_5e-1;
    let p = p * f - 2.499_999_4e-1;
    let p = p * f + 3.333_333_1e-1;
    // ln 2 split as in `exp_f32`, so that e·LN2_HI is exact.
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    let ln_m = f + (f * z * p + e * LN2_LO - 0.5 * z);
    ln_m + e * LN2_HI + correction
}

#[cfg(test)]
mod fast_tests {
    use super::{exp_f32, ln_1p_f32, tanh_f32};

    #[test]
    fn exp_f32_is_accurate_over_its_range() {
        let mut worst = 0.0f64;
        let mut x = -87.0f32;
        while x < 88.3 {
            let want = (x as f64).exp();
            worst = worst.max(((exp_f32(x) as f64) - want).abs() / want);
            x += 0.0137;
        }
        assert!(worst < 2e-7, "worst relative error {worst}");
        assert!(exp_f32(-1000.0) < 1e-37 && exp_f32(-1000.0) >= 0.0);
        assert!(exp_f32(1000.0).is_finite());
    }

    #[test]
    fn tanh_f32_is_accurate_everywhere() {
        let mut worst = 0.0f64;
        let mut x = -20.0f32;
        while x < 20.0 {
            worst = worst.max(((tanh_f32(x) as f64) - (x as f64).tanh()).abs());
            x += 0.000_731;
        }
        assert!(worst < 3e-7, "worst absolute error {worst}");
        assert_eq!(tanh_f32(0.0), 0.0);
        assert_eq!(tanh_f32(100.0), 1.0);
        assert_eq!(tanh_f32(-100.0), -1.0);
    }

    #[test]
    fn ln_1p_f32_is_accurate_from_near_minus_one_to_large_values() {
        let mut worst = 0.0f64;
        let mut check = |x: f32| {
            let want = (x as f64).ln_1p();
            let got = ln_1p_f32(x) as f64;
            let err = if want == 0.0 {
                got.abs()
            } else {
                ((got - want) / want).abs()
            };
            worst = worst.max(err);
        };
        // The BCE's range (x = e^-|logit| in (0, 1]) densely, then wide and tiny values.
        let mut x = 0.0f32;
        while x <= 1.0 {
            check(x);
            x += 1.0 / 4099.0;
        }
        let mut x = -0.999f32;
        while x < 1e30 {
            check(x);
            check(-x.abs().min(0.999));
            x = if x < 0.0 { x + 0.0371 } else { x * 1.37 + 1e-3 };
        }
        for tiny in [1e-30f32, 1e-20, 1e-10, -1e-10, 1e-7, 3e-5] {
            check(tiny);
        }
        assert!(worst < 3e-7, "worst relative error {worst}");
        assert_eq!(ln_1p_f32(0.0), 0.0);
        assert!(ln_1p_f32(f32::NAN).is_nan());
    }
}
