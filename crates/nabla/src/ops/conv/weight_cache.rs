//! Weight transforms kept between inference calls.
//!
//! A forward convolution that records no gradient (evaluation, serving) reuses the
//! Winograd transform of its weight (16/9 or 36/9 of the weight's size), the weight cut
//! into panels or blocks, or its bf16 tiles ([`TransformKind`]), for as long as no tensor
//! data has been written
//! in place ([`crate::storage::write_epoch`]): a model's
//! weights change only through `update_data` (optimizer steps, loading a checkpoint), and
//! any such write makes every entry stale. Entries are found by the weight's storage (held
//! weakly, so a dropped model frees its entries on the next lookup), offset, shape and
//! transform (one weight may serve inputs of several sizes, in F(2×2) and F(4×4)), and
//! the least recently used go first once the cache holds [`MAX_BYTES`].

use crate::cpu::conv::{TransformKind, Transforms};
use crate::storage::{write_epoch, Storage};
use crate::Tensor;
use std::any::Any;
use std::sync::{Arc, Mutex, RwLock, Weak};

/// Bytes of transformed weights kept at most (ResNet-18 needs 67 MiB, VGG-16 105 MiB).
const MAX_BYTES: usize = 256 << 20;

struct Entry {
    storage: Weak<RwLock<Storage>>,
    offset: usize,
    dims: Vec<usize>,
    kind: TransformKind,
    epoch: u64,
    last_use: u64,
    bytes: usize,
    /// An `Arc<V>` of the kind's value type (`Vec<T>` of the weight's element type for
    /// the transforms).
    data: Arc<dyn Any + Send + Sync>,
}

#[derive(Default)]
struct Cache {
    entries: Vec<Entry>,
    clock: u64,
}

impl Cache {
    /// Entries of freed weights and entries made before a write go.
    fn drop_stale(&mut self, epoch: u64) {
        self.entries
            .retain(|e| e.epoch == epoch && e.storage.strong_count() > 0);
    }
}

static CACHE: Mutex<Option<Cache>> = Mutex::new(None);

fn with_cache<R>(f: impl FnOnce(&mut Cache) -> R) -> R {
    let mut guard = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    f(guard.get_or_insert_with(Cache::default))
}

/// Frees the entries that can no longer be used: called by recorded convolutions, so that
/// transforms made for an evaluation pass do not stay in memory through the training that
/// follows it.
pub(super) fn drop_stale() {
    let epoch = write_epoch();
    with_cache(|c| c.drop_stale(epoch));
}

/// The value `kind` made from the contiguous weight `w` by `make`, of `bytes` bytes: from
/// the cache when an entry for the same data and kind is there, else made and stored.
fn cached<V: Any + Send + Sync>(
    w: &Tensor,
    kind: TransformKind,
    bytes: impl FnOnce(&V) -> usize,
    make: impl FnOnce() -> V,
) -> Arc<V> {
    let epoch = write_epoch();
    let storage = &w.0.storage;
    let offset = w.layout().offset();
    let same = |e: &Entry| {
        e.offset == offset
            && e.dims == w.dims()
            && e.kind == kind
            && Weak::as_ptr(&e.storage) == Arc::as_ptr(storage)
    };
    let hit = with_cache(|c| {
        c.clock += 1;
        let now = c.clock;
        c.drop_stale(epoch);
        let e = c.entries.iter_mut().find(|e| same(e))?;
        e.last_use = now;
        Arc::clone(&e.data).downcast::<V>().ok()
    });
    if let Some(u) = hit {
        return u;
    }
    let u = Arc::new(make());
    let bytes = bytes(&u);
    if bytes <= MAX_BYTES {
        with_cache(|c| {
            c.clock += 1;
            // Another thread may have stored the same transform meanwhile: replace it.
            c.entries.retain(|e| !same(e));
            let total: usize = c.entries.iter().map(|e| e.bytes).sum();
            let mut over = (total + bytes).saturating_sub(MAX_BYTES);
            while over > 0 {
                let Some(oldest) = (0..c.entries.len()).min_by_key(|&i| c.entries[i].last_use)
                else {
                    break;
                };
                over = over.saturating_sub(c.entries.swap_remove(oldest).bytes);
            }
            c.entries.push(Entry {
                storage: Arc::downgrade(storage),
                offset,
                dims: w.dims().to_vec(),
                kind,
                epoch,
                last_use: c.clock,
                bytes,
                data: Arc::clone(&u) as Arc<dyn Any + Send + Sync>,
            });
        });
    }
    u
}

/// The transforms of one weight tensor: from the cache when it is contiguous, made afresh
/// for a view (whose storage may hold other data at the same offset later).
pub(super) struct CachedWeight<'a>(pub &'a Tensor);

impl Transforms for CachedWeight<'_> {
    fn get<V: Any + Send + Sync>(
        &self,
        kind: TransformKind,
        bytes: impl FnOnce(&V) -> usize,
        make: impl FnOnce() -> V,
    ) -> Arc<V> {
        if self.0.is_contiguous() {
            cached(self.0, kind, bytes, make)
        } else {
            Arc::new(make())
        }
    }
}
