//! The public constructors: tensors from host data, filled, ranges, the identity, and
//! random draws.

use crate::dtype::{with_any, Element};
use crate::ops::kernels::random::Distribution;
use crate::rng::{with_global_rng, Rng};
use crate::storage::alloc;
use crate::{DType, Device, Error, Result, Shape, Tensor};

impl Tensor {
    /// A tensor holding a copy of `data` with the given shape.
    ///
    /// # Errors
    /// [`Error::DataLength`] when `data.len()` is not the shape's element count.
    ///
    /// # Examples
    /// ```
    /// # use nabla::{Device, Tensor};
    /// let t = Tensor::from_slice(&[1.0f32, 2.0, 3.0, 4.0], &[2, 2], &Device::Cpu)?;
    /// assert_eq!(t.dims(), &[2, 2]);
    /// # Ok::<(), nabla::Error>(())
    /// ```
    pub fn from_slice<T: Element>(data: &[T], shape: &[usize], device: &Device) -> Result<Tensor> {
        Tensor::from_vec(data.to_vec(), shape, device)
    }

    /// A tensor taking ownership of `data` with the given shape.
    ///
    /// # Errors
    /// [`Error::DataLength`] when `data.len()` is not the shape's element count;
    /// [`Error::DeviceUnavailable`] for a device this build cannot hold tensors on.
    pub fn from_vec<T: Element>(data: Vec<T>, shape: &[usize], device: &Device) -> Result<Tensor> {
        device.check_available("from_vec")?;
        let shape = Shape::from(shape);
        if Shape::checked_numel(shape.dims()).is_none() {
            return Err(Error::invalid(
                "from_vec",
                format!("shape {shape} is too large"),
            ));
        }
        if data.len() != shape.numel() {
            return Err(Error::DataLength {
                op: "from_vec",
                len: data.len(),
                numel: shape.numel(),
                shape,
            });
        }
        Ok(Tensor::from_data(data, shape))
    }

    /// A rank-0 tensor holding one value converted to `dtype`.
    pub fn scalar(value: f64, dtype: DType, device: &Device) -> Tensor {
        Tensor::full(value, &[], dtype, device)
    }

    /// A tensor of the given shape filled with `value`.
    pub fn full(value: f64, shape: &[usize], dtype: DType, _device: &Device) -> Tensor {
        let shape = Shape::from(shape);
        with_any!(dtype, T => {
            let mut v = alloc::<T>(shape.numel());
            v.fill(T::from_f64(value));
            Tensor::from_data(v, shape)
        })
    }

    /// A tensor of zeros.
    pub fn zeros(shape: &[usize], dtype: DType, device: &Device) -> Tensor {
        Tensor::full(0.0, shape, dtype, device)
    }

    /// A tensor of ones.
    pub fn ones(shape: &[usize], dtype: DType, device: &Device) -> Tensor {
        Tensor::full(1.0, shape, dtype, device)
    }

    /// Zeros with the shape, dtype and device of `self`.
    pub fn zeros_like(&self) -> Tensor {
        Tensor::zeros(self.dims(), self.dtype(), &self.device())
    }

    /// Ones with the shape, dtype and device of `self`.
    pub fn ones_like(&self) -> Tensor {
        Tensor::ones(self.dims(), self.dtype(), &self.device())
    }

    /// The 1-D tensor `[start, start + step, ...]` up to but excluding `end`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when `step` is zero or has the wrong sign for the range.
    pub fn arange(
        start: f64,
        end: f64,
        step: f64,
        dtype: DType,
        device: &Device,
    ) -> Result<Tensor> {
        device.check_available("arange")?;
        if step == 0.0 || !step.is_finite() || (end - start) / step < 0.0 {
            return Err(Error::invalid(
                "arange",
                format!("cannot step from {start} to {end} by {step}"),
            ));
        }
        let n = ((end - start) / step).ceil() as usize;
        with_any!(dtype, T => {
            let v: Vec<T> = (0..n).map(|i| T::from_f64(start + i as f64 * step)).collect();
            Ok(Tensor::from_data(v, Shape(vec![n])))
        })
    }

    /// The `n × n` identity matrix.
    pub fn eye(n: usize, dtype: DType, _device: &Device) -> Tensor {
        with_any!(dtype, T => {
            let mut v = vec![T::from_f64(0.0); n * n];
            for i in 0..n {
                v[i * n + i] = T::from_f64(1.0);
            }
            Tensor::from_data(v, Shape(vec![n, n]))
        })
    }

    /// Uniform samples in `[low, high)` drawn from `rng`.
    pub fn uniform_with(
        rng: &mut Rng,
        low: f64,
        high: f64,
        shape: &[usize],
        dtype: DType,
        device: &Device,
    ) -> Result<Tensor> {
        let dist = Distribution::Uniform { low, high };
        Tensor::random_with(rng, dist, shape, dtype, device, "uniform")
    }

    /// Normal samples with the given mean and standard deviation drawn from `rng`.
    pub fn normal_with(
        rng: &mut Rng,
        mean: f64,
        std: f64,
        shape: &[usize],
        dtype: DType,
        device: &Device,
    ) -> Result<Tensor> {
        let dist = Distribution::Normal { mean, std };
        Tensor::random_with(rng, dist, shape, dtype, device, "normal")
    }

    /// Samples of `dist` drawn from `rng`; 16-bit dtypes are drawn in f32 and rounded, so a
    /// seed gives them its f32 draws, rounded.
    fn random_with(
        rng: &mut Rng,
        dist: Distribution,
        shape: &[usize],
        dtype: DType,
        device: &Device,
        op: &'static str,
    ) -> Result<Tensor> {
        device.check_available("random")?;
        if dtype.is_half() {
            return Tensor::random_with(rng, dist, shape, DType::F32, device, op)?
                .to_dtype_untracked(dtype);
        }
        crate::ops::kernels::random::fill(rng, dist, Shape::from(shape), dtype, op)
    }

    /// Uniform samples in `[low, high)` from the process-wide generator (see [`crate::manual_seed`]).
    pub fn uniform(
        low: f64,
        high: f64,
        shape: &[usize],
        dtype: DType,
        device: &Device,
    ) -> Result<Tensor> {
        with_global_rng(|r| Tensor::uniform_with(r, low, high, shape, dtype, device))
    }

    /// Uniform samples in `[0, 1)` from the process-wide generator.
    pub fn rand(shape: &[usize], dtype: DType, device: &Device) -> Result<Tensor> {
        Tensor::uniform(0.0, 1.0, shape, dtype, device)
    }

    /// Standard normal samples from the process-wide generator.
    pub fn randn(shape: &[usize], dtype: DType, device: &Device) -> Result<Tensor> {
        with_global_rng(|r| Tensor::normal_with(r, 0.0, 1.0, shape, dtype, device))
    }
}
