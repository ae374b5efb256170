//! Per-sample transforms and augmentation: normalize, pad + random crop, flip, rotation.
//!
//! A transform maps one [`Sample`] to another, drawing any randomness from the `Rng` it is
//! given. The [`DataLoader`](crate::DataLoader) seeds that generator from (seed, epoch,
//! sample index), so augmented batches are the same on every run whatever the thread timing.
//! Images are `[c, h, w]`, row-major, as every reader returns them.

use crate::{Error, Result, Sample};
use nabla::Rng;

/// A per-sample transform.
pub trait Transform: Send + Sync {
    /// Transforms one sample; random transforms draw from `rng`.
    ///
    /// # Errors
    /// [`Error::SampleMismatch`] when the sample's shape does not suit the transform.
    fn apply(&self, sample: Sample, rng: &mut Rng) -> Result<Sample>;
}

/// `(c, h, w)` of an image of `len` values, or an error naming the transform.
fn image_dims(op: &'static str, shape: &[usize], len: usize) -> Result<(usize, usize, usize)> {
    match *shape {
        [c, h, w] if c.checked_mul(h).and_then(|ch| ch.checked_mul(w)) == Some(len) => {
            Ok((c, h, w))
        }
        _ => Err(Error::SampleMismatch {
            op,
            msg: format!("expected an image of shape [c, h, w], got {shape:?} with {len} values"),
        }),
    }
}

/// Applies transforms in order (torchvision's `Compose`).
pub struct Compose(pub Vec<Box<dyn Transform>>);

impl Transform for Compose {
    fn apply(&self, mut sample: Sample, rng: &mut Rng) -> Result<Sample> {
        for t in &self.0 {
            sample = t.apply(sample, rng)?;
        }
        Ok(sample)
    }
}

/// `(x - mean[c]) / std[c]` for each channel `c` (the first axis of the input: the colour
/// channel of a `[c, h, w]` image, the feature of a `[d]` vector). One mean and std apply
/// to every channel.
#[derive(Clone, Debug, PartialEq)]
pub struct Normalize {
    mean: Vec<f32>,
    std: Vec<f32>,
}

impl Normalize {
    /// Per-channel means and standard deviations, both of the same length (1 = all channels).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for empty or unequal lists; [`Error::OutOfRange`] for a std
    /// that is not positive.
    pub fn new(mean: Vec<f32>, std: Vec<f32>) -> Result<Self> {
        if mean.is_empty() || mean.len() != std.len() {
            return Err(Error::invalid(
                "Normalize",
                format!("{} means and {} stds given", mean.len(), std.len()),
            ));
        }
        if let Some(s) = std.iter().find(|s| !(s.is_finite() && **s > 0.0)) {
            return Err(Error::out_of_range(
                "Normalize",
                "a standard deviation",
                "positive",
                s,
            ));
        }
        Ok(Normalize { mean, std })
    }

    /// MNIST's training-set mean and std, 0.1307 and 0.3081.
    pub fn mnist() -> Self {
        Normalize {
            mean: vec![0.1307],
            std: vec![0.3081],
        }
    }
}

impl Transform for Normalize {
    fn apply(&self, mut sample: Sample, _rng: &mut Rng) -> Result<Sample> {
        let numel = sample
            .shape
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d));
        if numel != Some(sample.input.len()) {
            return Err(Error::SampleMismatch {
                op: "Normalize",
                msg: format!("{} values for shape {:?}", sample.input.len(), sample.shape),
            });
        }
        let channels = sample.shape.first().copied().unwrap_or(1);
        if self.mean.len() != 1 && self.mean.len() != channels {
            return Err(Error::SampleMismatch {
                op: "Normalize",
                msg: format!(
                    "{} means for an input of shape {:?} ({channels} channels)",
                    self.mean.len(),
                    sample.shape
                ),
            });
        }
        // The input is `channels` planes of `plane` values each (checked above).
        let plane = sample.input.len() / channels.max(1);
        for (c, chunk) in sample.input.chunks_mut(plane.max(1)).enumerate() {
            let k = if self.mean.len() == 1 { 0 } else { c };
            let (m, inv) = (self.mean[k], 1.0 / self.std[k]);
            chunk.iter_mut().for_each(|x| *x = (*x - m) * inv);
        }
        Ok(sample)
    }
}

/// Zero-pads an image by `pad` on each side, then crops a random `size` window
/// (`[c, h, w]` -> `[c, size[0], size[1]]`): the CIFAR augmentation `RandomCrop(32, 4)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PadCrop {
    /// Zeros added on each side.
    pub pad: usize,
    /// Output `[height, width]`.
    pub size: [usize; 2],
}

impl PadCrop {
    /// A square crop of side `size` after padding by `pad`.
    pub fn new(pad: usize, size: usize) -> Self {
        PadCrop {
            pad,
            size: [size, size],
        }
    }
}

impl Transform for PadCrop {
    fn apply(&self, sample: Sample, rng: &mut Rng) -> Result<Sample> {
        let (c, h, w) = image_dims("PadCrop", &sample.shape, sample.input.len())?;
        let [oh, ow] = self.size;
        let (ph, pw) = (h + 2 * self.pad, w + 2 * self.pad);
        if oh > ph || ow > pw {
            return Err(Error::SampleMismatch {
                op: "PadCrop",
                msg: format!(
                    "a {oh}x{ow} crop does not fit a {h}x{w} image padded by {}",
                    self.pad
                ),
            });
        }
        let top = rng.below((ph - oh + 1) as u64) as usize;
        let left = rng.below((pw - ow + 1) as u64) as usize;
        let mut out = vec![0.0f32; c * oh * ow];
        for ch in 0..c {
            for y in 0..oh {
                // Source row in the unpadded image; rows in the padding stay zero.
                let Some(sy) = (y + top).checked_sub(self.pad).filter(|&sy| sy < h) else {
                    continue;
                };
                for x in 0..ow {
                    if let Some(sx) = (x + left).checked_sub(self.pad).filter(|&sx| sx < w) {
                        out[(ch * oh + y) * ow + x] = sample.input[(ch * h + sy) * w + sx];
                    }
                }
            }
        }
        Ok(Sample {
            input: out,
            shape: vec![c, oh, ow],
            target: sample.target,
        })
    }
}

/// Mirrors an image left-right with probability `p`.
#[derive(Clone, Debug, PartialEq)]
pub struct HorizontalFlip {
    p: f64,
}

impl HorizontalFlip {
    /// Flips with probability `p` (0.5 is the usual choice).
    ///
    /// # Errors
    /// [`Error::OutOfRange`] when `p` is not in `[0, 1]`.
    pub fn new(p: f64) -> Result<Self> {
        if !(0.0..=1.0).contains(&p) {
            return Err(Error::out_of_range("HorizontalFlip", "p", "in [0, 1]", p));
        }
        Ok(HorizontalFlip { p })
    }
}

impl Transform for HorizontalFlip {
    fn apply(&self, mut sample: Sample, rng: &mut Rng) -> Result<Sample> {
        let (_, _, w) = image_dims("HorizontalFlip", &sample.shape, sample.input.len())?;
        if rng.next_f64() < self.p && w > 0 {
            sample.input.chunks_mut(w).for_each(<[f32]>::reverse);
        }
        Ok(sample)
    }
}

/// Rotates an image about its centre by an angle drawn uniformly from
/// `[-degrees, degrees]`, with bilinear interpolation and zeros outside the source.
#[derive(Clone, Debug, PartialEq)]
pub struct RandomRotation {
    degrees: f64,
}

impl RandomRotation {
    /// Rotations up to `degrees` either way (180 for full rotation invariance).
    ///
    /// # Errors
    /// [`Error::OutOfRange`] when `degrees` is negative or not finite.
    pub fn new(degrees: f64) -> Result<Self> {
        if !(degrees.is_finite() && degrees >= 0.0) {
            return Err(Error::out_of_range(
                "RandomRotation",
                "degrees",
                "finite and non-negative",
                degrees,
            ));
        }
        Ok(RandomRotation { degrees })
    }
}

impl Transform for RandomRotation {
    fn apply(&self, sample: Sample, rng: &mut Rng) -> Result<Sample> {
        let angle = (2.0 * rng.next_f64() - 1.0) * self.degrees;
        let input = rotate(&sample.input, &sample.shape, angle)?;
        Ok(Sample { input, ..sample })
    }
}

/// Rotates a `[c, h, w]` image by `degrees` counter-clockwise (as seen with row 0 at the
/// top) about its centre; each output pixel samples the source bilinearly, zero outside.
///
/// # Errors
/// [`Error::SampleMismatch`] when `shape` is not `[c, h, w]` or does not match `input`.
pub fn rotate(input: &[f32], shape: &[usize], degrees: f64) -> Result<Vec<f32>> {
    let (c, h, w) = image_dims("rotate", shape, input.len())?;
    let (sin, cos) = degrees.to_radians().sin_cos();
    let (cy, cx) = ((h as f64 - 1.0) / 2.0, (w as f64 - 1.0) / 2.0);
    let (hi, wi) = (h as i64, w as i64);
    let plane = h * w;
    let mut out = vec![0.0f32; input.len()];
    for y in 0..h {
        let dy = y as f64 - cy;
        for x in 0..w {
            // Inverse map: the source point that lands on (x, y). With y pointing down, a
            // counter-clockwise turn by a maps (dx, dy) to (dx cos a + dy sin a,
            // -dx sin a + dy cos a); its inverse turns by -a.
            let dx = x as f64 - cx;
            let sx = cx + dx * cos - dy * sin;
            let sy = cy + dx * sin + dy * cos;
            if sx <= -1.0 || sy <= -1.0 || sx >= w as f64 || sy >= h as f64 {
                continue; // all four taps outside: stays zero
            }
            // floor() by truncation of a positive number: `f64::floor` is a libm call on
            // baseline x86-64 and dominated the loop.
            let (x0, y0) = ((sx + 1.0) as i64 - 1, (sy + 1.0) as i64 - 1);
            let (fx, fy) = ((sx - x0 as f64) as f32, (sy - y0 as f64) as f32);
            let (xu, yu) = (x0 as usize, y0 as usize);
            if x0 >= 0 && y0 >= 0 && xu + 1 < w && yu + 1 < h {
                // Interior: all four taps inside, no per-tap checks.
                let (w00, w01) = ((1.0 - fy) * (1.0 - fx), (1.0 - fy) * fx);
                let (w10, w11) = (fy * (1.0 - fx), fy * fx);
                for ch in 0..c {
                    let p = &input[ch * plane..(ch + 1) * plane];
                    let i = yu * w + xu;
                    out[ch * plane + y * w + x] =
                        w00 * p[i] + w01 * p[i + 1] + w10 * p[i + w] + w11 * p[i + w + 1];
                }
                continue;
            }
            let taps = [
                (y0, x0, (1.0 - fy) * (1.0 - fx)),
                (y0, x0 + 1, (1.0 - fy) * fx),
                (y0 + 1, x0, fy * (1.0 - fx)),
                (y0 + 1, x0 + 1, fy * fx),
            ];
            for (ty, tx, weight) in taps {
                if ty < 0 || tx < 0 || ty >= hi || tx >= wi {
                    continue;
                }
                let src = ty as usize * w + tx as usize;
                for ch in 0..c {
                    out[ch * plane + y * w + x] += weight * input[ch * plane + src];
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Target;

    fn image(c: usize, h: usize, w: usize) -> Sample {
        Sample {
            input: (0..c * h * w).map(|v| v as f32 + 1.0).collect(),
            shape: vec![c, h, w],
            target: Target::Class(0),
        }
    }

    #[test]
    fn normalize_uses_each_channels_statistics() -> Result<()> {
        let n = Normalize::new(vec![1.0, 5.0], vec![2.0, 0.5])?;
        let s = n.apply(image(2, 1, 2), &mut Rng::new(0))?;
        // channel 0: (1 - 1) / 2, (2 - 1) / 2; channel 1: (3 - 5) / 0.5, (4 - 5) / 0.5
        assert_eq!(s.input, vec![0.0, 0.5, -4.0, -2.0]);
        assert!(n.apply(image(3, 1, 1), &mut Rng::new(0)).is_err());
        assert!(Normalize::new(vec![0.0], vec![0.0]).is_err());
        assert!(Normalize::new(vec![0.0, 1.0], vec![1.0]).is_err());
        Ok(())
    }

    #[test]
    fn pad_crop_with_no_pad_and_full_size_is_identity() -> Result<()> {
        let s = PadCrop::new(0, 3).apply(image(2, 3, 3), &mut Rng::new(1))?;
        assert_eq!(s, image(2, 3, 3));
        Ok(())
    }

    #[test]
    fn pad_crop_keeps_a_shifted_window_with_zeros_from_the_padding() -> Result<()> {
        // Padding a 1x2x2 image by 1 gives a 4x4 canvas; every 2x2 window of it holds each
        // image pixel at most once and zeros elsewhere, and over many draws some window
        // includes padding.
        let mut saw_padding = false;
        for seed in 0..20 {
            let s = PadCrop::new(1, 2).apply(image(1, 2, 2), &mut Rng::new(seed))?;
            assert_eq!(s.shape, vec![1, 2, 2]);
            assert!(s.input.iter().all(|&v| (0.0..=4.0).contains(&v)));
            saw_padding |= s.input.contains(&0.0);
        }
        assert!(saw_padding);
        let err = PadCrop::new(0, 5).apply(image(1, 2, 2), &mut Rng::new(0));
        assert!(matches!(err, Err(Error::SampleMismatch { .. })));
        Ok(())
    }

    #[test]
    fn horizontal_flip_mirrors_rows_when_p_is_one() -> Result<()> {
        let flip = HorizontalFlip::new(1.0)?;
        let s = flip.apply(image(1, 2, 3), &mut Rng::new(0))?;
        assert_eq!(s.input, vec![3.0, 2.0, 1.0, 6.0, 5.0, 4.0]);
        let keep = HorizontalFlip::new(0.0)?.apply(image(1, 2, 3), &mut Rng::new(0))?;
        assert_eq!(keep, image(1, 2, 3));
        assert!(HorizontalFlip::new(1.5).is_err());
        Ok(())
    }

    #[test]
    fn rotate_by_quarter_turn_moves_corners() -> Result<()> {
        // 1 2 3        3 6 9
        // 4 5 6  -90?  2 5 8   (counter-clockwise by 90: the top-right corner goes top-left)
        // 7 8 9        1 4 7
        let input: Vec<f32> = (1..=9).map(|v| v as f32).collect();
        let out = rotate(&input, &[1, 3, 3], 90.0)?;
        let want = [3.0, 6.0, 9.0, 2.0, 5.0, 8.0, 1.0, 4.0, 7.0];
        for (o, w) in out.iter().zip(want) {
            assert!((o - w).abs() < 1e-5, "{out:?}");
        }
        assert_eq!(rotate(&input, &[1, 3, 3], 0.0)?, input);
        Ok(())
    }

    #[test]
    fn rotate_by_half_a_pixel_interpolates_and_fills_zeros() -> Result<()> {
        // A 45-degree turn of a 2x2 image puts each output pixel's source at distance
        // sqrt(0.5) from the centre on an axis, so values mix and corners of the frame
        // fall partly outside (summing weights below one).
        let out = rotate(&[1.0; 4], &[1, 2, 2], 45.0)?;
        assert!(out.iter().all(|&v| v > 0.0 && v < 1.0), "{out:?}");
        assert!(RandomRotation::new(-1.0).is_err());
        Ok(())
    }

    #[test]
    fn compose_applies_in_order() -> Result<()> {
        let t = Compose(vec![
            Box::new(HorizontalFlip::new(1.0)?),
            Box::new(Normalize::new(vec![1.0], vec![1.0])?),
        ]);
        let s = t.apply(image(1, 1, 3), &mut Rng::new(0))?;
        assert_eq!(s.input, vec![2.0, 1.0, 0.0]);
        Ok(())
    }
}
