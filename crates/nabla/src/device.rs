//! Where a tensor's data lives.

/// A compute device. Only the CPU exists today; `Cuda(n)` arrives with the `cuda` feature.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Device {
    /// Host memory and the CPU kernels in `cpu/`.
    #[default]
    Cpu,
}
