//! The thread pool nabla's kernels run on.

use crate::{Error, Result};

/// Sets the number of threads of the pool every kernel uses (rayon's global pool).
///
/// Call it once, before the first tensor op; later calls fail because the pool already
/// exists.
///
/// # Errors
/// [`Error::InvalidArgument`] when `n` is 0 or the pool was already started.
pub fn set_num_threads(n: usize) -> Result<()> {
    if n == 0 {
        return Err(Error::invalid(
            "set_num_threads",
            "the thread count must be at least 1",
        ));
    }
    rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .build_global()
        .map_err(|e| {
            Error::invalid(
                "set_num_threads",
                format!(
                    "{e} (the pool has {} threads; set it before any tensor op)",
                    rayon::current_num_threads()
                ),
            )
        })
}

/// The number of threads kernels use.
pub fn num_threads() -> usize {
    rayon::current_num_threads()
}
