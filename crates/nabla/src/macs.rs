//! Counting multiply-accumulates: what `nabla summary` and `nabla zoo` report as a model's cost.
//!
//! The ops that do nearly all the arithmetic of a network (`conv2d`, `conv1d`,
//! `conv_transpose2d`, `matmul`, `linear`) add their multiply-accumulate count to a
//! thread-local counter when one is active. Outside [`count_macs`] the counter is `None` and
//! an op pays one thread-local read; element-wise ops, pooling and normalization are not
//! counted (as torchinfo and most papers do).

use std::cell::Cell;

thread_local! {
    static MACS: Cell<Option<u64>> = const { Cell::new(None) };
}

/// Runs `f` and returns its result with the multiply-accumulates of the convolutions and
/// matrix products it ran on this thread.
///
/// The counts are: `n · c_out · h_out · w_out · (c_in / groups) · kh · kw` for a convolution
/// (`conv1d` is the `h = 1` case; a transposed convolution counts the convolution it is the
/// adjoint of, `n · c_in · h · w · (c_out / groups) · kh · kw`), `batch · m · k · n` for
/// `matmul` and `rows · in · out` for `linear`; biases are not counted. Every such op that
/// runs is counted, including the ones a `backward()` inside `f` runs, so count a forward
/// pass under [`crate::no_grad`]. Calls nest: an inner count is also added to the outer one.
///
/// # Examples
/// ```
/// # use nabla::{DType, Device, Tensor};
/// let x = Tensor::ones(&[2, 3], DType::F32, &Device::Cpu);
/// let w = Tensor::ones(&[4, 3], DType::F32, &Device::Cpu);
/// let (y, macs) = nabla::count_macs(|| x.linear(&w, None));
/// assert_eq!(y?.dims(), [2, 4]);
/// assert_eq!(macs, 2 * 3 * 4);
/// # Ok::<(), nabla::Error>(())
/// ```
pub fn count_macs<R>(f: impl FnOnce() -> R) -> (R, u64) {
    struct Restore(Option<u64>);
    impl Drop for Restore {
        fn drop(&mut self) {
            // Hand the inner count on to an enclosing `count_macs`, if any.
            let inner = MACS.with(|m| m.get()).unwrap_or(0);
            MACS.with(|m| m.set(self.0.map(|outer| outer + inner)));
        }
    }
    let restore = Restore(MACS.with(|m| m.replace(Some(0))));
    let r = f();
    let macs = MACS.with(|m| m.get()).unwrap_or(0);
    drop(restore);
    (r, macs)
}

/// Adds `macs` to the active counter (nothing when none is active).
#[inline]
pub(crate) fn add_macs(macs: usize) {
    MACS.with(|m| {
        if let Some(total) = m.get() {
            m.set(Some(total.saturating_add(macs as u64)));
        }
    });
}

#[cfg(test)]
mod tests {
    use super::count_macs;
    use crate::{Conv2dConfig, DType, Device, Result, Tensor};

    #[test]
    fn conv_and_linear_counts_match_hand_computed_values() -> Result<()> {
        let dev = Device::Cpu;
        // LeNet's C1 on one 28×28 image with padding 2: 6 maps of 28×28, each output a
        // 1×5×5 dot product: 6·28·28·25 = 117,600.
        let x = Tensor::zeros(&[1, 1, 28, 28], DType::F32, &dev);
        let w = Tensor::zeros(&[6, 1, 5, 5], DType::F32, &dev);
        let cfg = Conv2dConfig {
            padding: 2,
            ..Default::default()
        };
        let (y, macs) = count_macs(|| x.conv2d(&w, None, cfg));
        assert_eq!(y?.dims(), [1, 6, 28, 28]);
        assert_eq!(macs, 117_600);
        // Grouped, strided, batch 2: [2, 4, 8, 8] with 2 groups of 2 channels, 6 out, 3×3
        // stride 2 pad 1 → 4×4: 2·6·4·4·2·9 = 3,456.
        let x = Tensor::zeros(&[2, 4, 8, 8], DType::F32, &dev);
        let w = Tensor::zeros(&[6, 2, 3, 3], DType::F32, &dev);
        let cfg = Conv2dConfig {
            stride: 2,
            padding: 1,
            groups: 2,
            ..Default::default()
        };
        assert_eq!(count_macs(|| x.conv2d(&w, None, cfg)).1, 3_456);
        // LeNet's F6 on a batch of 3: 3·120·84 = 30,240; a batched matmul 2·(3×4)·(4×5) = 120.
        let h = Tensor::zeros(&[3, 120], DType::F32, &dev);
        let fc = Tensor::zeros(&[84, 120], DType::F32, &dev);
        assert_eq!(count_macs(|| h.linear(&fc, None)).1, 30_240);
        let a = Tensor::zeros(&[2, 3, 4], DType::F32, &dev);
        let b = Tensor::zeros(&[4, 5], DType::F32, &dev);
        assert_eq!(count_macs(|| a.matmul(&b)).1, 120);
        Ok(())
    }

    #[test]
    fn counting_is_off_outside_and_nests_inside() -> Result<()> {
        let a = Tensor::zeros(&[2, 2], DType::F32, &Device::Cpu);
        a.matmul(&a)?; // not counted anywhere
        let ((inner, _), outer) = count_macs(|| {
            let r = a.matmul(&a);
            (count_macs(|| a.matmul(&a)).1, r)
        });
        assert_eq!(inner, 8);
        assert_eq!(outer, 16);
        assert_eq!(count_macs(|| ()).1, 0);
        Ok(())
    }

    #[test]
    fn conv1d_and_transposed_conv_are_counted() -> Result<()> {
        let dev = Device::Cpu;
        // [1, 2, 10] * [3, 2, 3] → [1, 3, 8]: 3·8·2·3 = 144.
        let x = Tensor::zeros(&[1, 2, 10], DType::F32, &dev);
        let w = Tensor::zeros(&[3, 2, 3], DType::F32, &dev);
        assert_eq!(count_macs(|| x.conv1d(&w, None, Default::default())).1, 144);
        // Transposed [1, 2, 4, 4] with weight [2, 3, 3, 3]: each of the 2·16 inputs meets
        // 3·9 weights: 864.
        let x = Tensor::zeros(&[1, 2, 4, 4], DType::F32, &dev);
        let w = Tensor::zeros(&[2, 3, 3, 3], DType::F32, &dev);
        let (y, macs) = count_macs(|| x.conv_transpose2d(&w, None, Default::default()));
        assert_eq!(y?.dims(), [1, 3, 6, 6]);
        assert_eq!(macs, 864);
        Ok(())
    }
}
