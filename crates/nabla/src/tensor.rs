//! The `Tensor` handle: its internals, accessors and raw data access (no math; ops live in
//! `ops/`). The public constructors are in `tensor/constructors.rs`.

mod constructors;

use crate::autograd::GradInfo;
use crate::cpu::copy::{gather_strided, visit_strided};
use crate::dtype::{with_any, Element};
use crate::layout::Layout;
use crate::storage::{CpuStorage, Storage};
use crate::{DType, Device, Error, Result, Shape};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// A unique identity for a tensor handle, the key of [`crate::Grads`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TensorId(u64);

impl TensorId {
    fn fresh() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        TensorId(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

/// An n-dimensional array with reverse-mode automatic differentiation.
///
/// `Tensor` is a cheap handle (an `Arc`): cloning it shares the data and the graph. Views
/// (reshape, transpose, narrow, broadcast) share storage with the tensor they come from.
#[derive(Clone)]
pub struct Tensor(pub(crate) Arc<TensorInner>);

pub(crate) struct TensorInner {
    pub(crate) id: TensorId,
    pub(crate) storage: Arc<RwLock<Storage>>,
    pub(crate) layout: Layout,
    pub(crate) dtype: DType,
    pub(crate) device: Device,
    pub(crate) grad: GradInfo,
}

/// Number of tensor handles alive in the process (all threads).
static LIVE_TENSORS: AtomicUsize = AtomicUsize::new(0);

/// How many tensors (distinct handles, views included) are alive: a leak check for training
/// loops — after a step, only the parameters and optimizer state should remain.
pub fn live_tensors() -> usize {
    LIVE_TENSORS.load(Ordering::Relaxed)
}

pub(crate) fn tensor_dropped() {
    LIVE_TENSORS.fetch_sub(1, Ordering::Relaxed);
}

impl Tensor {
    // ---------------------------------------------------------------- construction (internal)

    /// A tensor over existing storage with the given layout, not tracked by autograd.
    pub(crate) fn from_storage(
        storage: Arc<RwLock<Storage>>,
        layout: Layout,
        dtype: DType,
        device: Device,
    ) -> Tensor {
        LIVE_TENSORS.fetch_add(1, Ordering::Relaxed);
        Tensor(Arc::new(TensorInner {
            id: TensorId::fresh(),
            storage,
            layout,
            dtype,
            device,
            grad: GradInfo::None,
        }))
    }

    /// A contiguous tensor owning `data` (whose length must equal the shape's element count).
    pub(crate) fn from_data<T: Element>(data: Vec<T>, shape: Shape) -> Tensor {
        debug_assert_eq!(data.len(), shape.numel(), "data length and shape disagree");
        let storage = Storage::Cpu(CpuStorage::from_vec(data));
        let device = storage.device();
        Tensor::from_storage(
            Arc::new(RwLock::new(storage)),
            Layout::contiguous(shape),
            T::DTYPE,
            device,
        )
    }

    /// A view of this tensor's storage with another layout (not tracked).
    pub(crate) fn view_with(&self, layout: Layout) -> Tensor {
        Tensor::from_storage(self.0.storage.clone(), layout, self.0.dtype, self.0.device)
    }

    // ---------------------------------------------------------------- accessors

    /// The identity of this handle (the key of its gradient in [`crate::Grads`]).
    pub fn id(&self) -> TensorId {
        self.0.id
    }
    /// The shape.
    pub fn shape(&self) -> &Shape {
        self.0.layout.shape()
    }
    /// The sizes of the dimensions.
    pub fn dims(&self) -> &[usize] {
        self.0.layout.dims()
    }
    /// The size of one dimension (negative counts from the back).
    ///
    /// # Errors
    /// [`Error::DimOutOfRange`] for a dimension the tensor does not have.
    pub fn dim<D: crate::Dim>(&self, d: D) -> Result<usize> {
        Ok(self.dims()[d.resolve(self.rank(), "dim")?])
    }
    /// Number of dimensions.
    pub fn rank(&self) -> usize {
        self.dims().len()
    }
    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.0.layout.numel()
    }
    /// The element type.
    pub fn dtype(&self) -> DType {
        self.0.dtype
    }
    /// The device holding the data.
    pub fn device(&self) -> Device {
        self.0.device
    }

    /// This tensor on `device`: itself when it is there already, otherwise a copy there.
    ///
    /// # Errors
    /// [`Error::DeviceUnavailable`] for a device this build cannot hold tensors on.
    pub fn to_device(&self, device: &Device) -> Result<Tensor> {
        match (self.device(), *device) {
            (Device::Cpu, Device::Cpu) => Ok(self.clone()),
            #[cfg(feature = "cuda")]
            (from, to) => {
                from.check_available("to_device")?;
                to.check_available("to_device")?;
                Err(Error::DeviceUnavailable {
                    op: "to_device",
                    device: to,
                    why: "no copy between these devices is built in",
                })
            }
        }
    }

    /// Checks that `other` lives on this tensor's device.
    ///
    /// # Errors
    /// [`Error::DeviceMismatch`] naming `op` and both devices.
    #[inline(always)]
    pub(crate) fn check_same_device(&self, other: &Tensor, op: &'static str) -> Result<()> {
        if self.0.device == other.0.device {
            Ok(())
        } else {
            Err(Error::DeviceMismatch {
                op,
                lhs: self.0.device,
                rhs: other.0.device,
            })
        }
    }
    /// Shape, strides and offset.
    pub fn layout(&self) -> &Layout {
        &self.0.layout
    }
    /// Whether the data is row-major without gaps.
    pub fn is_contiguous(&self) -> bool {
        self.0.layout.is_contiguous()
    }
    /// Whether two handles view the same storage buffer.
    pub fn same_storage(&self, other: &Tensor) -> bool {
        Arc::ptr_eq(&self.0.storage, &other.0.storage)
    }

    // ---------------------------------------------------------------- data out

    /// The elements in row-major order, converted to `T`.
    ///
    /// # Examples
    /// ```
    /// # use nabla::{Device, Tensor};
    /// let t = Tensor::from_slice(&[1.0f32, 2.0, 3.0, 4.0], &[2, 2], &Device::Cpu)?;
    /// assert_eq!(t.t()?.to_vec::<f32>()?, vec![1.0, 3.0, 2.0, 4.0]);
    /// # Ok::<(), nabla::Error>(())
    /// ```
    pub fn to_vec<T: Element>(&self) -> Result<Vec<T>> {
        let storage = self.read_storage();
        if T::DTYPE == self.dtype() {
            // Same type: copy exactly (going through f64 would round large i64 values).
            let data = storage
                .host_slice::<T>()
                .expect("storage dtype matches the tensor's dtype");
            let mut out = Vec::with_capacity(self.numel());
            visit_strided(data, &self.0.layout, |x: T| out.push(x));
            return Ok(out);
        }
        with_any!(self.dtype(), S => {
            let data = storage.host_slice::<S>().expect("storage dtype matches the tensor's dtype");
            let mut out = Vec::with_capacity(self.numel());
            let l = &self.0.layout;
            visit_strided(data, l, |x: S| out.push(T::from_f64(x.to_f64())));
            Ok(out)
        })
    }

    /// The single value of a one-element tensor, converted to `T`.
    ///
    /// # Errors
    /// [`Error::UnexpectedShape`] when the tensor has more or fewer than one element.
    pub fn to_scalar<T: Element>(&self) -> Result<T> {
        if self.numel() != 1 {
            return Err(Error::UnexpectedShape {
                op: "to_scalar",
                expected: "a tensor with one element".into(),
                got: self.shape().clone(),
            });
        }
        Ok(self.to_vec::<T>()?[0])
    }

    /// The value at a multi-index, converted to `f64`.
    ///
    /// # Errors
    /// [`Error::IndexOutOfRange`] or [`Error::UnexpectedShape`] for a bad index.
    pub fn get(&self, index: &[usize]) -> Result<f64> {
        if index.len() != self.rank() {
            return Err(Error::UnexpectedShape {
                op: "get",
                expected: format!("an index of rank {}", index.len()),
                got: self.shape().clone(),
            });
        }
        let l = &self.0.layout;
        let mut off = l.offset();
        for (i, (&ix, &d)) in index.iter().zip(l.dims()).enumerate() {
            if ix >= d {
                return Err(Error::IndexOutOfRange {
                    op: "get",
                    index: ix as i64,
                    size: d,
                });
            }
            off += ix * l.strides()[i];
        }
        let storage = self.read_storage();
        with_any!(self.dtype(), S => Ok(storage.host_slice::<S>().expect("dtype matches")[off].to_f64()))
    }

    // ---------------------------------------------------------------- raw access for kernels

    pub(crate) fn read_storage(&self) -> RwLockReadGuard<'_, Storage> {
        self.0.storage.read().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn write_storage(&self) -> RwLockWriteGuard<'_, Storage> {
        self.0.storage.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Checks that the tensor holds `T`s.
    ///
    /// # Errors
    /// [`Error::DType`] when `T` is not the tensor's dtype.
    fn check_dtype<T: Element>(&self, op: &'static str) -> Result<()> {
        if self.dtype() != T::DTYPE {
            return Err(Error::DType {
                op,
                expected: T::DTYPE,
                got: self.dtype(),
            });
        }
        Ok(())
    }

    /// Calls `f` with the elements in row-major order as one slice: borrowed when the tensor
    /// is contiguous, copied otherwise.
    ///
    /// # Errors
    /// [`Error::DType`] when `T` is not the tensor's dtype; [`Error::DeviceUnavailable`] when
    /// the data is not in host memory.
    pub fn with_contiguous<T: Element, R>(
        &self,
        op: &'static str,
        f: impl FnOnce(&[T]) -> R,
    ) -> Result<R> {
        self.check_dtype::<T>(op)?;
        let storage = self.read_storage();
        let data = host_data::<T>(&storage, op)?;
        let l = &self.0.layout;
        if l.is_contiguous() {
            let start = l.offset();
            Ok(f(&data[start..start + l.numel()]))
        } else {
            let copy = gather_strided(data, l);
            drop(storage);
            let r = f(&copy);
            crate::storage::recycle(copy);
            Ok(r)
        }
    }

    /// Calls `f` with the storage's elements and the tensor's layout, for kernels that read
    /// strided views in place (broadcasting, transposed operands).
    ///
    /// # Errors
    /// [`Error::DType`] when `T` is not the tensor's dtype; [`Error::DeviceUnavailable`] when
    /// the data is not in host memory.
    pub(crate) fn with_strided<T: Element, R>(
        &self,
        op: &'static str,
        f: impl FnOnce(&[T], &Layout) -> R,
    ) -> Result<R> {
        self.check_dtype::<T>(op)?;
        let storage = self.read_storage();
        Ok(f(host_data::<T>(&storage, op)?, &self.0.layout))
    }

    /// The elements in row-major order as a new (pooled) vector.
    ///
    /// # Errors
    /// As [`Tensor::with_strided`].
    pub(crate) fn contiguous_vec<T: Element>(&self, op: &'static str) -> Result<Vec<T>> {
        self.check_dtype::<T>(op)?;
        let storage = self.read_storage();
        Ok(gather_strided(
            host_data::<T>(&storage, op)?,
            &self.0.layout,
        ))
    }

    /// Runs `f` on the tensor's storage slice, mutably, in place. Only for contiguous tensors
    /// that are not tracked by autograd (optimizer updates, running statistics).
    ///
    /// # Errors
    /// [`Error::DType`] when `T` is not the tensor's dtype; [`Error::InvalidArgument`] when the
    /// tensor is not contiguous; [`Error::DeviceUnavailable`] when the data is not in host
    /// memory.
    pub fn update_data<T: Element>(&self, f: impl FnOnce(&mut [T])) -> Result<()> {
        self.check_dtype::<T>("update_data")?;
        let l = &self.0.layout;
        if !l.is_contiguous() {
            return Err(Error::invalid(
                "update_data",
                "the tensor must be contiguous",
            ));
        }
        let mut storage = self.write_storage();
        let device = storage.device();
        let data = storage
            .host_slice_mut::<T>()
            .ok_or_else(|| needs_host("update_data", device))?;
        crate::storage::note_write();
        f(&mut data[l.offset()..l.offset() + l.numel()]);
        Ok(())
    }

    /// Overwrites this tensor's elements with those of `src` (same shape), in place, without
    /// recording anything for autograd. Every handle sharing the storage sees the new values.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] or [`Error::DType`] when `src` does not match.
    pub fn copy_from(&self, src: &Tensor) -> Result<()> {
        if src.shape() != self.shape() {
            return Err(Error::ShapeMismatch {
                op: "copy_from",
                lhs: self.shape().clone(),
                rhs: src.shape().clone(),
            });
        }
        with_any!(self.dtype(), T => {
            let src = src.to_dtype_untracked(self.dtype())?;
            src.with_contiguous::<T, _>("copy_from", |values| self.update_data::<T>(|d| d.copy_from_slice(values)))?
        })
    }
}

/// The storage's elements as a host slice of `T`, for the CPU kernels behind `op`.
///
/// The caller has checked the dtype, so `host_slice` failing means the data lives on another
/// device: an error for the caller, not a broken invariant. `Storage` has only its host
/// variant so far, which is why no test reaches this error; a test tensor labelled with
/// another device (`from_storage`) still holds host memory and passes.
///
/// # Errors
/// [`Error::DeviceUnavailable`] naming `op` and the storage's device.
fn host_data<'a, T: Element>(storage: &'a Storage, op: &'static str) -> Result<&'a [T]> {
    storage
        .host_slice::<T>()
        .ok_or_else(|| needs_host(op, storage.device()))
}

/// The error of an op whose kernel reads host memory, called on data held by `device`.
fn needs_host(op: &'static str, device: Device) -> Error {
    Error::DeviceUnavailable {
        op,
        device,
        why: "this op's kernel reads host memory; move the tensor with to_device(&Device::Cpu)",
    }
}

impl std::fmt::Debug for Tensor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Tensor[{}, {:?}, id={}]",
            self.shape(),
            self.dtype(),
            self.0.id.0
        )
    }
}

#[cfg(test)]
mod device_tests {
    #[cfg(feature = "cuda")]
    use crate::{DType, Error};
    use crate::{Device, Tensor};

    #[test]
    fn constructors_and_to_device_honour_the_device() -> crate::Result<()> {
        let t = Tensor::from_slice(&[1.0f32, 2.0], &[2], &Device::Cpu)?;
        assert_eq!(t.device(), Device::Cpu);
        assert!(t.to_device(&Device::Cpu)?.same_storage(&t));
        assert_eq!(t.0.storage.read().unwrap().device(), Device::Cpu);
        Ok(())
    }

    #[cfg(feature = "cuda")]
    #[test]
    fn cuda_is_a_clear_error_not_a_panic() {
        let cuda = Device::Cuda(0);
        let t = Tensor::ones(&[2], DType::F32, &Device::Cpu);
        for err in [
            t.to_device(&cuda).unwrap_err(),
            Tensor::from_vec(vec![1.0f32], &[1], &cuda).unwrap_err(),
            Tensor::randn(&[2], DType::F32, &cuda).unwrap_err(),
        ] {
            assert!(matches!(err, Error::DeviceUnavailable { .. }), "{err}");
            assert!(
                err.to_string().contains("CUDA backend is not built"),
                "{err}"
            );
        }
    }

    #[cfg(feature = "cuda")]
    #[test]
    fn ops_on_two_devices_are_a_device_mismatch() {
        // A host buffer labelled as another device: only the labels matter to the check.
        let a = Tensor::ones(&[2, 2], DType::F32, &Device::Cpu);
        let b = Tensor::from_storage(
            a.0.storage.clone(),
            a.layout().clone(),
            a.dtype(),
            Device::Cuda(1),
        );
        let cfg = crate::Conv2dConfig::default();
        let x4 = a.reshape(&[1, 1, 2, 2]).unwrap();
        let w4 = b.reshape(&[1, 1, 2, 2]).unwrap();
        for err in [
            a.add(&b).unwrap_err(),
            a.matmul(&b).unwrap_err(),
            a.linear(&b, None).unwrap_err(),
            x4.conv2d(&w4, None, cfg).unwrap_err(),
        ] {
            assert!(
                matches!(
                    err,
                    Error::DeviceMismatch {
                        lhs: Device::Cpu,
                        rhs: Device::Cuda(1),
                        ..
                    }
                ),
                "{err}"
            );
            assert!(err.to_string().contains("cpu and cuda:1"), "{err}");
        }
    }
}
