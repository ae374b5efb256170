//! f32 → bf16 rounding, the one conversion the bf16 products need.
//!
//! bf16 is the top 16 bits of an f32 (sign, the same 8 exponent bits, 7 of the 23 mantissa
//! bits), so rounding to it is integer arithmetic on the f32's bits: add half of the
//! dropped part, plus one when the kept part is odd (round to nearest, ties to even), and
//! keep the top half. NaNs keep their sign and stay NaNs (a quiet bit is set, as rounding
//! could otherwise carry a NaN's payload into the exponent and make it infinite).
//!
//! The packing loops that call it are compiled for AVX-512, where the compiler vectorizes it.

/// `x` rounded to the nearest bf16 (ties to even), as its bit pattern.
#[inline(always)]
pub(crate) fn to_bf16(x: f32) -> u16 {
    let bits = x.to_bits();
    let rounded = bits.wrapping_add(0x7fff + ((bits >> 16) & 1)) >> 16;
    if x.is_nan() {
        ((bits >> 16) | 0x0040) as u16
    } else {
        rounded as u16
    }
}

/// The f32 that a bf16 bit pattern stands for (exact).
#[inline(always)]
pub(crate) fn from_bf16(b: u16) -> f32 {
    f32::from_bits(u32::from(b) << 16)
}

/// `x` rounded to bf16 and back: the value a bf16 product sees.
#[inline(always)]
pub(crate) fn round_to_bf16(x: f32) -> f32 {
    from_bf16(to_bf16(x))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_is_to_nearest_with_ties_to_even_and_agrees_with_the_half_crate() {
        // 1 + 2^-8 is halfway between two bf16s (1 and 1 + 2^-7): ties go to the even one, 1.
        assert_eq!(round_to_bf16(1.0 + 2f32.powi(-8)), 1.0);
        // 1 + 3·2^-8 is halfway between 1 + 2^-7 and 1 + 2^-6: to the even one, 1 + 2^-6.
        assert_eq!(
            round_to_bf16(1.0 + 3.0 * 2f32.powi(-8)),
            1.0 + 2f32.powi(-6)
        );
        assert_eq!(round_to_bf16(f32::INFINITY), f32::INFINITY);
        assert_eq!(round_to_bf16(-0.0).to_bits(), (-0.0f32).to_bits());
        assert!(round_to_bf16(f32::NAN).is_nan());
        assert!(round_to_bf16(f32::from_bits(0x7f80_0001)).is_nan());
        // The largest finite f32 rounds up to infinity, as IEEE rounding does.
        assert_eq!(round_to_bf16(f32::MAX), f32::INFINITY);
        let mut state = 0x2545_f491_u32;
        for _ in 0..100_000 {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let x = f32::from_bits(state);
            if x.is_nan() {
                continue;
            }
            assert_eq!(to_bf16(x), half::bf16::from_f32(x).to_bits(), "{x:e}");
        }
    }
}
