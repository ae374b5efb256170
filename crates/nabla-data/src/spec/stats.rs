//! The per-channel statistics a model normalizes its inputs with.

use crate::{Dataset, Result};

/// Per-channel mean and standard deviation over (up to 10,000 evenly spaced of) a dataset's
/// images; empty for non-image inputs (feature vectors), which are used as they are.
pub(super) fn channel_stats(ds: &dyn Dataset) -> Result<(Vec<f32>, Vec<f32>)> {
    let shape = ds.input_shape().to_vec();
    if shape.len() < 3 {
        return Ok((vec![], vec![]));
    }
    let c = shape[0];
    let per_channel: usize = shape[1..].iter().product();
    let (mut sum, mut sq, mut n) = (vec![0f64; c], vec![0f64; c], 0f64);
    let take = ds.len().min(10_000);
    let step = (ds.len() / take.max(1)).max(1);
    for i in (0..ds.len()).step_by(step).take(take) {
        let s = ds.get(i)?;
        for ch in 0..c {
            for &v in &s.input[ch * per_channel..(ch + 1) * per_channel] {
                sum[ch] += v as f64;
                sq[ch] += (v as f64) * (v as f64);
            }
        }
        n += per_channel as f64;
    }
    let mean: Vec<f32> = sum.iter().map(|s| (s / n.max(1.0)) as f32).collect();
    let std: Vec<f32> = sq
        .iter()
        .zip(&mean)
        .map(|(q, &m)| ((q / n.max(1.0) - (m as f64).powi(2)).max(1e-12).sqrt() as f32).max(1e-6))
        .collect();
    Ok((mean, std))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{InMemoryDataset, Targets};

    #[test]
    fn statistics_are_per_channel_and_empty_for_features() -> Result<()> {
        // Two 2-channel 1x2 images: channel 0 holds 0,2 / 2,4; channel 1 holds 1s.
        let inputs = vec![0.0, 2.0, 1.0, 1.0, 2.0, 4.0, 1.0, 1.0];
        let labels = Targets::Classes {
            labels: vec![0, 1],
            num_classes: 2,
        };
        let ds = InMemoryDataset::new(inputs, &[2, 1, 2], labels)?;
        let (mean, std) = channel_stats(&ds)?;
        assert_eq!(mean, vec![2.0, 1.0]);
        assert!(
            (std[0] - 2f32.sqrt()).abs() < 1e-6 && std[1] == 1e-6,
            "{std:?}"
        );
        let flat = crate::toy::generate(crate::toy::Toy::Spiral, 10, 0.0, 0)?;
        assert_eq!(channel_stats(&flat)?, (vec![], vec![]));
        Ok(())
    }
}
