//! Tensor buffers and the buffer pool that lets a steady training step reuse memory.
//!
//! Every kernel allocates its output through [`alloc`]; when a `CpuStorage` is dropped its
//! vector goes back to a pool keyed by (dtype, length). Training repeats the same shapes every
//! step, so after the first step nearly every allocation is a pool hit: no `malloc`, no page
//! faults on fresh `mmap`ed memory. The pool is bounded in bytes and only keeps buffers of at
//! least [`MIN_POOLED_LEN`] elements (small vectors are cheap for the allocator).

use crate::dtype::Element;
use crate::{DType, Device};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// How many times any tensor's data has been written in place ([`crate::Tensor::update_data`]
/// is the only such path): values derived from tensor data and cached (the Winograd weights
/// of inference) are valid while it has not moved.
static WRITES: AtomicU64 = AtomicU64::new(0);

/// Counts one in-place write; called before the data changes.
pub(crate) fn note_write() {
    WRITES.fetch_add(1, Ordering::SeqCst);
}

/// The in-place write count now; read it before reading the data a cached value is made of.
pub(crate) fn write_epoch() -> u64 {
    WRITES.load(Ordering::SeqCst)
}

/// The data behind a tensor, on the device that holds it: one variant per backend.
///
/// An enum rather than a backend trait object: the set of backends is closed and known at
/// build time (a variant per cargo feature), a kernel family dispatches with one `match`
/// the compiler can see through (with one backend it folds away), and no `dyn` call or
/// downcast sits between an op and its kernel. See DESIGN.md, "Storage, devices and dtypes".
#[derive(Debug)]
pub enum Storage {
    /// Host memory, computed on by the kernels in `cpu/`.
    Cpu(CpuStorage),
}

impl Storage {
    /// The device holding the data.
    pub fn device(&self) -> Device {
        match self {
            Storage::Cpu(_) => Device::Cpu,
        }
    }
    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            Storage::Cpu(s) => s.len(),
        }
    }
    /// Whether there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The elements as a host slice of `T`: `None` when the storage holds another dtype or
    /// lives off the host. Only CPU kernels call this.
    #[inline(always)]
    pub(crate) fn host_slice<T: Element>(&self) -> Option<&[T]> {
        match self {
            Storage::Cpu(s) => s.as_slice(),
        }
    }
    /// [`Storage::host_slice`], mutably.
    #[inline(always)]
    pub(crate) fn host_slice_mut<T: Element>(&mut self) -> Option<&mut [T]> {
        match self {
            Storage::Cpu(s) => s.as_mut_slice(),
        }
    }
}

/// The data behind a tensor, in host memory.
#[derive(Debug)]
pub enum CpuStorage {
    /// 32-bit floats.
    F32(Vec<f32>),
    /// 64-bit floats.
    F64(Vec<f64>),
    /// 64-bit integers.
    I64(Vec<i64>),
    /// bfloat16.
    BF16(Vec<half::bf16>),
    /// IEEE half precision.
    F16(Vec<half::f16>),
}

impl CpuStorage {
    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            CpuStorage::F32(v) => v.len(),
            CpuStorage::F64(v) => v.len(),
            CpuStorage::I64(v) => v.len(),
            CpuStorage::BF16(v) => v.len(),
            CpuStorage::F16(v) => v.len(),
        }
    }
    /// Whether there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The element type held.
    pub fn dtype(&self) -> DType {
        match self {
            CpuStorage::F32(_) => DType::F32,
            CpuStorage::F64(_) => DType::F64,
            CpuStorage::I64(_) => DType::I64,
            CpuStorage::BF16(_) => DType::BF16,
            CpuStorage::F16(_) => DType::F16,
        }
    }
    /// Wraps a vector (the variant is `T`'s dtype).
    #[inline(always)]
    pub fn from_vec<T: Element>(v: Vec<T>) -> CpuStorage {
        match T::DTYPE {
            DType::F32 => CpuStorage::F32(cast_vec(v)),
            DType::F64 => CpuStorage::F64(cast_vec(v)),
            DType::I64 => CpuStorage::I64(cast_vec(v)),
            DType::BF16 => CpuStorage::BF16(cast_vec(v)),
            DType::F16 => CpuStorage::F16(cast_vec(v)),
        }
    }
    /// The elements as a slice of `T`, if the storage holds `T`.
    #[inline(always)]
    pub fn as_slice<T: Element>(&self) -> Option<&[T]> {
        match self {
            CpuStorage::F32(v) => same_type_slice(v),
            CpuStorage::F64(v) => same_type_slice(v),
            CpuStorage::I64(v) => same_type_slice(v),
            CpuStorage::BF16(v) => same_type_slice(v),
            CpuStorage::F16(v) => same_type_slice(v),
        }
    }
    /// The elements as a mutable slice of `T`, if the storage holds `T`.
    #[inline(always)]
    pub fn as_mut_slice<T: Element>(&mut self) -> Option<&mut [T]> {
        match self {
            CpuStorage::F32(v) => same_type_slice_mut(v),
            CpuStorage::F64(v) => same_type_slice_mut(v),
            CpuStorage::I64(v) => same_type_slice_mut(v),
            CpuStorage::BF16(v) => same_type_slice_mut(v),
            CpuStorage::F16(v) => same_type_slice_mut(v),
        }
    }
}

/// Buffers shorter than this are not pooled.
pub const MIN_POOLED_LEN: usize = 1024;
/// The most bytes the pool keeps alive.
const MAX_POOLED_BYTES: usize = 2 << 30;
/// The most buffers kept per (dtype, length).
const MAX_PER_KEY: usize = 16;

#[derive(Default)]
struct Pool {
    f32: HashMap<usize, Vec<Vec<f32>>>,
    f64: HashMap<usize, Vec<Vec<f64>>>,
    bytes: usize,
    hits: u64,
    misses: u64,
}

static POOL: Mutex<Option<Pool>> = Mutex::new(None);

fn with_pool<R>(f: impl FnOnce(&mut Pool) -> R) -> R {
    let mut guard = POOL.lock().unwrap_or_else(|e| e.into_inner());
    f(guard.get_or_insert_with(Pool::default))
}

/// Statistics of the buffer pool: `(hits, misses, bytes held)`.
pub fn pool_stats() -> (u64, u64, usize) {
    with_pool(|p| (p.hits, p.misses, p.bytes))
}

/// Drops every pooled buffer (returns memory to the system).
pub fn clear_pool() {
    with_pool(|p| {
        p.f32.clear();
        p.f64.clear();
        p.bytes = 0;
    })
}

trait Pooled: Element + Default {
    fn bucket(p: &mut Pool) -> Option<&mut HashMap<usize, Vec<Vec<Self>>>>;
}
impl Pooled for f32 {
    fn bucket(p: &mut Pool) -> Option<&mut HashMap<usize, Vec<Vec<f32>>>> {
        Some(&mut p.f32)
    }
}
impl Pooled for f64 {
    fn bucket(p: &mut Pool) -> Option<&mut HashMap<usize, Vec<Vec<f64>>>> {
        Some(&mut p.f64)
    }
}
impl Pooled for i64 {
    fn bucket(_: &mut Pool) -> Option<&mut HashMap<usize, Vec<Vec<i64>>>> {
        None
    }
}

/// A vector of `len` elements whose contents are unspecified (but initialized: old values
/// from a pooled buffer, or zeros). Callers overwrite every element.
pub(crate) fn alloc<T: Element>(len: usize) -> Vec<T> {
    if len >= MIN_POOLED_LEN {
        if let Some(v) = take_pooled::<T>(len) {
            return v;
        }
    }
    zeroed(len)
}

/// A vector of `len` zeros, from the pool when possible.
pub(crate) fn alloc_zeroed<T: Element>(len: usize) -> Vec<T> {
    alloc_filled(len, T::from_f64(0.0))
}

/// A vector of `len` copies of `value`, from the pool when possible.
pub(crate) fn alloc_filled<T: Element>(len: usize, value: T) -> Vec<T> {
    let mut v = alloc::<T>(len);
    v.fill(value);
    v
}

/// Returns a buffer to the pool (or frees it when it is small or the pool is full).
pub(crate) fn recycle<T: Element>(v: Vec<T>) {
    drop(CpuStorage::from_vec(v));
}

fn zeroed<T: Element>(len: usize) -> Vec<T> {
    vec![T::from_f64(0.0); len]
}

fn take_pooled<T: Element>(len: usize) -> Option<Vec<T>> {
    // Dispatch through the dtype tag (Element's types are exactly the DType variants'); the
    // 16-bit types are not pooled: their buffers are converted copies, not a training loop's.
    match T::DTYPE {
        DType::F32 => take_typed::<f32>(len).map(cast_vec),
        DType::F64 => take_typed::<f64>(len).map(cast_vec),
        DType::I64 | DType::BF16 | DType::F16 => None,
    }
}

fn take_typed<T: Pooled>(len: usize) -> Option<Vec<T>> {
    with_pool(|p| {
        let bucket = T::bucket(p)?.get_mut(&len);
        let v = bucket.and_then(|b| b.pop());
        match v {
            Some(v) => {
                p.hits += 1;
                p.bytes -= len * std::mem::size_of::<T>();
                Some(v)
            }
            None => {
                p.misses += 1;
                None
            }
        }
    })
}

fn give_back<T: Pooled>(v: Vec<T>) {
    let len = v.len();
    let bytes = len * std::mem::size_of::<T>();
    with_pool(|p| {
        if p.bytes + bytes > MAX_POOLED_BYTES {
            return;
        }
        let Some(map) = T::bucket(p) else { return };
        let bucket = map.entry(len).or_default();
        if bucket.len() < MAX_PER_KEY {
            bucket.push(v);
            p.bytes += bytes;
        }
    })
}

/// `s` as a `&[B]` when `A` and `B` are the same type (generic kernels calling a kernel
/// written for one element type). The test compares two constants: it folds away.
#[inline(always)]
pub(crate) fn same_type_slice<A: 'static, B: 'static>(s: &[A]) -> Option<&[B]> {
    (std::any::TypeId::of::<A>() == std::any::TypeId::of::<B>())
        // SAFETY: A and B are the same type.
        .then(|| unsafe { std::slice::from_raw_parts(s.as_ptr() as *const B, s.len()) })
}

/// [`same_type_slice`] for a mutable slice.
#[inline(always)]
pub(crate) fn same_type_slice_mut<A: 'static, B: 'static>(s: &mut [A]) -> Option<&mut [B]> {
    (std::any::TypeId::of::<A>() == std::any::TypeId::of::<B>())
        // SAFETY: A and B are the same type.
        .then(|| unsafe { std::slice::from_raw_parts_mut(s.as_mut_ptr() as *mut B, s.len()) })
}

/// Reinterprets a `Vec<A>` as `Vec<B>` when `A` and `B` are the same type.
#[inline(always)]
pub(crate) fn cast_vec<A: 'static, B: 'static>(v: Vec<A>) -> Vec<B> {
    assert_eq!(
        std::any::TypeId::of::<A>(),
        std::any::TypeId::of::<B>(),
        "cast_vec between different types"
    );
    let mut v = std::mem::ManuallyDrop::new(v);
    // SAFETY: A and B are the same type (checked above), so layout and drop are identical.
    unsafe { Vec::from_raw_parts(v.as_mut_ptr() as *mut B, v.len(), v.capacity()) }
}

impl Drop for CpuStorage {
    fn drop(&mut self) {
        match self {
            CpuStorage::F32(v) if v.len() >= MIN_POOLED_LEN => give_back(std::mem::take(v)),
            CpuStorage::F64(v) if v.len() >= MIN_POOLED_LEN => give_back(std::mem::take(v)),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropped_buffers_are_reused() {
        let len = 4096 + 17; // a length no other test uses
        let v = alloc::<f32>(len);
        let ptr = v.as_ptr();
        drop(CpuStorage::F32(v));
        let w = alloc::<f32>(len);
        assert_eq!(w.as_ptr(), ptr);
        assert_eq!(w.len(), len);
    }

    #[test]
    fn small_buffers_are_not_pooled() {
        let v = alloc_zeroed::<f64>(7);
        assert_eq!(v, vec![0.0; 7]);
    }
}
