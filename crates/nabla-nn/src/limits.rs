//! Sizes that come from a user (a flag, a file), checked against the machine before anything
//! is allocated: asking for more memory than the machine has must be an error that names the
//! request, not an abort in the allocator.

use crate::{Error, Result};
use nabla::DType;

/// The machine's physical memory in bytes (`MemTotal` of `/proc/meminfo`), or `None` where
/// it cannot be read.
pub fn physical_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// `bytes` as gigabytes with one decimal (`1344.0 GB`).
pub fn gigabytes(bytes: u128) -> String {
    format!("{:.1} GB", bytes as f64 / 1e9)
}

/// Bytes of a tensor of `dims` in `dtype`, without overflow.
pub fn tensor_bytes(dims: &[usize], dtype: DType) -> u128 {
    dims.iter().fold(dtype.size_in_bytes() as u128, |a, &d| {
        a.saturating_mul(d as u128)
    })
}

/// Checks that `bytes` for `what` fit in the machine's memory.
///
/// # Errors
/// [`Error::TooLarge`] naming `what`, the bytes asked for and the machine's memory.
pub fn check_bytes(what: impl Into<String>, bytes: u128) -> Result<()> {
    match physical_memory() {
        Some(memory) if bytes > memory as u128 => Err(Error::TooLarge {
            what: what.into(),
            bytes,
            memory,
        }),
        _ => Ok(()),
    }
}

/// Checks that a tensor of `dims` in `dtype` fits in the machine's memory.
///
/// # Errors
/// [`Error::TooLarge`] naming `what` with its shape.
pub fn check_tensor(what: &str, dims: &[usize], dtype: DType) -> Result<()> {
    check_bytes(
        format!("{what} of shape {dims:?} in {dtype:?}"),
        tensor_bytes(dims, dtype),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_terabyte_tensor_is_refused_with_its_name_and_size() {
        let Some(memory) = physical_memory() else {
            eprintln!("skipped: /proc/meminfo is not readable here");
            return;
        };
        let err = check_tensor("fc3.weight", &[4_000_000_000, 84], DType::F32).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("fc3.weight") && text.contains("1344.0 GB"),
            "{text}"
        );
        assert!(text.contains(&gigabytes(memory as u128)), "{text}");
        check_tensor("small", &[1000, 1000], DType::F32).unwrap();
    }

    #[test]
    fn sizes_that_overflow_usize_products_do_not_wrap() {
        assert_eq!(
            tensor_bytes(&[usize::MAX, usize::MAX], DType::F64),
            u128::MAX
        );
    }
}
