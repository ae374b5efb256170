//! Rows of a kernel matrix for the SMO solver: all of them precomputed with the engine's
//! matrix product when they fit the cache, otherwise computed on demand and kept in a
//! least-recently-used cache of a fixed size in bytes (as LIBSVM does).

use crate::kernel::{cross, dot, squared_norms, transposed, Kernel};
use crate::Result;

/// Rows `K[i, ..]` of the kernel matrix of `n` examples (each row `n` values).
pub(crate) struct KernelRows<'a> {
    n: usize,
    store: Store<'a>,
    /// Rows computed so far (the misses), for reports and tests.
    pub computed: usize,
}

enum Store<'a> {
    /// The whole `n × n` matrix.
    Full(Vec<f32>),
    /// Rows on demand.
    Lru(Lru<'a>),
}

/// A least-recently-used cache of rows in one slab of `capacity` rows.
struct Lru<'a> {
    kernel: Kernel,
    x: &'a [f32],
    d: usize,
    sq: Vec<f32>,
    slab: Vec<f32>,
    /// The slot holding row `i`, if cached.
    slot_of: Vec<Option<u32>>,
    /// The row in each slot and when it was last used.
    owner: Vec<(usize, u64)>,
    clock: u64,
}

/// Rows per block when the whole matrix is computed (bounds the temporary `[block, n]`).
const BLOCK: usize = 256;

/// The whole symmetric `n × n` kernel matrix: the upper triangle in blocks of rows with the
/// engine's matrix product, then mirrored (half the products and half the `exp`s).
fn full_matrix(kernel: &Kernel, x: &[f32], d: usize, sq: &[f32]) -> Result<Vec<f32>> {
    let n = sq.len();
    let xt = transposed(x, d)?;
    let mut full = vec![0f32; n * n];
    for start in (0..n).step_by(BLOCK) {
        let end = (start + BLOCK).min(n);
        let cols = xt.narrow(1, start, n - start)?;
        let block = cross(
            kernel,
            &x[start * d..end * d],
            &sq[start..end],
            &cols,
            &sq[start..],
        )?;
        for (r, row) in block.chunks_exact(n - start).enumerate() {
            let at = (start + r) * n + start;
            full[at..at + row.len()].copy_from_slice(row);
        }
    }
    // Lower triangle from the upper one, in tiles so that both sides stay in cache.
    const TILE: usize = 64;
    for i0 in (0..n).step_by(TILE) {
        for j0 in (i0..n).step_by(TILE) {
            for i in i0..(i0 + TILE).min(n) {
                for j in j0.max(i + 1)..(j0 + TILE).min(n) {
                    full[j * n + i] = full[i * n + j];
                }
            }
        }
    }
    Ok(full)
}

impl<'a> KernelRows<'a> {
    /// Rows of `kernel` over the `n = x.len() / d` examples of `x`, using at most
    /// `cache_bytes` (but always at least two rows).
    pub fn new(kernel: Kernel, x: &'a [f32], d: usize, cache_bytes: usize) -> Result<Self> {
        let n = x.len() / d;
        let sq = squared_norms(x, d);
        let row_bytes = n * std::mem::size_of::<f32>();
        if n * row_bytes <= cache_bytes {
            return Ok(KernelRows {
                n,
                store: Store::Full(full_matrix(&kernel, x, d, &sq)?),
                computed: n,
            });
        }
        let capacity = (cache_bytes / row_bytes.max(1)).clamp(2, n);
        Ok(KernelRows {
            n,
            store: Store::Lru(Lru {
                kernel,
                x,
                d,
                sq,
                slab: vec![0.0; capacity * n],
                slot_of: vec![None; n],
                owner: Vec::with_capacity(capacity),
                clock: 0,
            }),
            computed: 0,
        })
    }

    /// Whether the whole matrix is held.
    #[cfg(test)]
    pub fn is_full(&self) -> bool {
        matches!(self.store, Store::Full(_))
    }

    /// Row `i`.
    pub fn row(&mut self, i: usize) -> &[f32] {
        let start = self.fetch(i) * self.n;
        match &self.store {
            Store::Full(m) => &m[start..start + self.n],
            Store::Lru(l) => &l.slab[start..start + self.n],
        }
    }

    /// Rows `i` and `j` together (fetching `j` never evicts `i`: it was used last).
    pub fn pair(&mut self, i: usize, j: usize) -> (&[f32], &[f32]) {
        let si = self.fetch(i) * self.n;
        let sj = self.fetch(j) * self.n;
        let si = match &self.store {
            Store::Lru(l) => {
                l.slot_of[i].expect("row i stays cached while j is fetched") as usize * self.n
            }
            Store::Full(_) => si,
        };
        let m = match &self.store {
            Store::Full(m) => m,
            Store::Lru(l) => &l.slab,
        };
        (&m[si..si + self.n], &m[sj..sj + self.n])
    }

    /// The slot (row of the backing matrix) holding row `i`, computing it on a miss.
    fn fetch(&mut self, i: usize) -> usize {
        let l = match &mut self.store {
            Store::Full(_) => return i,
            Store::Lru(l) => l,
        };
        l.clock += 1;
        if let Some(s) = l.slot_of[i] {
            l.owner[s as usize].1 = l.clock;
            return s as usize;
        }
        let slot = if l.owner.len() * self.n < l.slab.len() {
            l.owner.push((i, l.clock));
            l.owner.len() - 1
        } else {
            let (slot, &(old, _)) = l
                .owner
                .iter()
                .enumerate()
                .min_by_key(|(_, (_, t))| *t)
                .expect("the cache has at least two slots");
            l.slot_of[old] = None;
            l.owner[slot] = (i, l.clock);
            slot
        };
        l.slot_of[i] = Some(slot as u32);
        let (d, n) = (l.d, self.n);
        let xi = &l.x[i * d..(i + 1) * d];
        let sq_i = l.sq[i];
        let row = &mut l.slab[slot * n..(slot + 1) * n];
        for (j, v) in row.iter_mut().enumerate() {
            *v = l
                .kernel
                .from_dot(dot(xi, &l.x[j * d..(j + 1) * d]), sq_i, l.sq[j]);
        }
        self.computed += 1;
        slot
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data() -> (Vec<f32>, usize) {
        ((0..40).map(|i| (i as f32 * 0.37).sin()).collect(), 4)
    }

    #[test]
    fn full_and_lru_rows_agree_with_the_kernel() -> Result<()> {
        let (x, d) = data();
        let k = Kernel::Rbf { gamma: 0.5 };
        let mut full = KernelRows::new(k, &x, d, 1 << 20)?;
        let mut lru = KernelRows::new(k, &x, d, 3 * 10 * 4)?; // three rows of 10
        assert!(full.is_full() && !lru.is_full());
        for i in [0, 3, 7, 3, 9, 0, 5] {
            let want: Vec<f32> = (0..10)
                .map(|j| k.eval(&x[i * d..(i + 1) * d], &x[j * d..(j + 1) * d]))
                .collect();
            for (a, b) in full.row(i).iter().zip(&want) {
                assert!((a - b).abs() < 1e-5);
            }
            for (a, b) in lru.row(i).iter().zip(&want) {
                assert!((a - b).abs() < 1e-6);
            }
        }
        // 0, 3, 7 fill the cache; 3 hits; 9 evicts 0; 0 evicts 7; 5 evicts 3.
        assert_eq!(lru.computed, 6);
        Ok(())
    }

    #[test]
    fn full_matrix_over_several_blocks_is_the_symmetric_kernel() -> Result<()> {
        let (n, d) = (BLOCK * 2 + 37, 3);
        let x: Vec<f32> = (0..n * d).map(|i| (i as f32 * 0.173).sin()).collect();
        let k = Kernel::Rbf { gamma: 0.8 };
        let mut rows = KernelRows::new(k, &x, d, n * n * 4)?;
        assert!(rows.is_full());
        for i in [0, 1, BLOCK - 1, BLOCK, BLOCK + 5, n - 1] {
            let row = rows.row(i).to_vec();
            for j in (0..n).step_by(7).chain([n - 1]) {
                let want = k.eval(&x[i * d..(i + 1) * d], &x[j * d..(j + 1) * d]);
                assert!(
                    (row[j] - want).abs() < 1e-5,
                    "({i}, {j}): {} vs {want}",
                    row[j]
                );
            }
        }
        Ok(())
    }

    #[test]
    fn pair_keeps_both_rows() -> Result<()> {
        let (x, d) = data();
        let k = Kernel::Linear;
        let mut lru = KernelRows::new(k, &x, d, 2 * 10 * 4)?;
        lru.row(1);
        lru.row(2);
        let (a, b) = lru.pair(4, 5);
        assert_eq!(a[4], dot(&x[16..20], &x[16..20]));
        assert_eq!(b[4], dot(&x[20..24], &x[16..20]));
        Ok(())
    }
}
