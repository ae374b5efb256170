//! `VarStore`: the named parameters and buffers of a model, with PyTorch-style dotted names
//! (`features.0.weight`), freezing by name prefix, and checkpoints (see `checkpoint.rs`).

use crate::init::Init;
use crate::{Error, Result};
use nabla::rng::with_global_rng;
use nabla::{DType, Device, Tensor};
use std::collections::HashMap;
use std::fmt::Display;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Whether a variable is learned or only tracked (running statistics).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VarKind {
    /// A learnable parameter: optimizers update it from its gradient.
    Parameter,
    /// State saved with the model but not learned (BatchNorm's running mean and variance).
    Buffer,
}

struct VarInner {
    name: String,
    leaf: Tensor,
    kind: VarKind,
    trainable: AtomicBool,
}

/// One named tensor of a model. Cloning shares it; an optimizer's update is seen by every
/// layer that holds it.
#[derive(Clone)]
pub struct Var(Arc<VarInner>);

impl Var {
    /// The dotted name, e.g. `features.0.weight`.
    pub fn name(&self) -> &str {
        &self.0.name
    }
    /// Parameter or buffer.
    pub fn kind(&self) -> VarKind {
        self.0.kind
    }
    /// The tensor to compute with: the gradient-tracking leaf for a trainable parameter, a
    /// detached view otherwise (so frozen layers cost no backward work).
    pub fn tensor(&self) -> Tensor {
        if self.is_trainable() {
            self.0.leaf.clone()
        } else {
            self.0.leaf.detach()
        }
    }
    /// The leaf handle, whose gradient [`nabla::Grads::get`] returns.
    pub fn leaf(&self) -> &Tensor {
        &self.0.leaf
    }
    /// Whether an optimizer should update it (a parameter that is not frozen).
    pub fn is_trainable(&self) -> bool {
        self.0.kind == VarKind::Parameter && self.0.trainable.load(Ordering::Relaxed)
    }
    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.0.leaf.numel()
    }
    /// Overwrites the values in place (same shape).
    ///
    /// # Errors
    /// Shape or dtype mismatch.
    pub fn set(&self, value: &Tensor) -> Result<()> {
        Ok(self.0.leaf.copy_from(value)?)
    }
}

impl std::fmt::Debug for Var {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Var({}, {}, {:?})",
            self.name(),
            self.0.leaf.shape(),
            self.kind()
        )
    }
}

#[derive(Default)]
struct StoreInner {
    vars: Vec<Var>,
    by_name: HashMap<String, usize>,
}

/// The variables of a model, in creation order, by name.
#[derive(Clone)]
pub struct VarStore {
    inner: Arc<Mutex<StoreInner>>,
    device: Device,
    dtype: DType,
}

impl VarStore {
    /// An empty store on `device`.
    pub fn new(device: &Device) -> Self {
        VarStore::with_dtype(device, DType::F32)
    }

    /// An empty store whose parameters are created in `dtype` (F64 for finite-difference
    /// gradient checks of whole layers).
    pub fn with_dtype(device: &Device, dtype: DType) -> Self {
        VarStore {
            inner: Arc::new(Mutex::new(StoreInner::default())),
            device: *device,
            dtype,
        }
    }

    /// The device variables are created on.
    pub fn device(&self) -> Device {
        self.device
    }

    /// The root path; layers create their variables under sub-paths of it.
    pub fn root(&self) -> Path {
        Path {
            store: self.clone(),
            prefix: String::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, StoreInner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Every variable, in creation order.
    pub fn vars(&self) -> Vec<Var> {
        self.lock().vars.clone()
    }

    /// The parameters an optimizer should update now (not frozen, not buffers).
    pub fn trainable(&self) -> Vec<Var> {
        self.vars().into_iter().filter(Var::is_trainable).collect()
    }

    /// The variable with this exact name.
    pub fn get(&self, name: &str) -> Option<Var> {
        let inner = self.lock();
        inner.by_name.get(name).map(|&i| inner.vars[i].clone())
    }

    /// Number of parameter elements (buffers excluded).
    pub fn num_params(&self) -> usize {
        self.vars()
            .iter()
            .filter(|v| v.kind() == VarKind::Parameter)
            .map(Var::numel)
            .sum()
    }

    /// Number of trainable parameter elements.
    pub fn num_trainable(&self) -> usize {
        self.trainable().iter().map(Var::numel).sum()
    }

    /// Freezes every parameter whose name is `prefix` or starts with `prefix.` (an empty
    /// prefix freezes all). Returns how many parameters were frozen.
    pub fn freeze(&self, prefix: &str) -> usize {
        self.set_trainable(prefix, false)
    }

    /// Unfreezes parameters under `prefix` (see [`VarStore::freeze`]).
    pub fn unfreeze(&self, prefix: &str) -> usize {
        self.set_trainable(prefix, true)
    }

    fn set_trainable(&self, prefix: &str, on: bool) -> usize {
        let mut n = 0;
        for v in self
            .vars()
            .iter()
            .filter(|v| v.kind() == VarKind::Parameter && under_prefix(v.name(), prefix))
        {
            v.0.trainable.store(on, Ordering::Relaxed);
            n += 1;
        }
        n
    }

    /// Registers a tensor under a full name.
    fn add(&self, name: String, leaf: Tensor, kind: VarKind) -> Result<Var> {
        let mut inner = self.lock();
        if inner.by_name.contains_key(&name) {
            return Err(Error::DuplicateName(name));
        }
        let leaf = match kind {
            VarKind::Parameter => leaf.detach().requires_grad(),
            VarKind::Buffer => leaf.detach(),
        };
        let var = Var(Arc::new(VarInner {
            name: name.clone(),
            leaf,
            kind,
            trainable: AtomicBool::new(true),
        }));
        let index = inner.vars.len();
        inner.vars.push(var.clone());
        inner.by_name.insert(name, index);
        Ok(var)
    }
}

/// Whether `name` is `prefix` or lies under it (`features` covers `features.0.weight`, not
/// `features2.weight`).
pub fn under_prefix(name: &str, prefix: &str) -> bool {
    prefix.is_empty()
        || name == prefix
        || (name.starts_with(prefix) && name.as_bytes().get(prefix.len()) == Some(&b'.'))
}

/// A position in the name hierarchy of a [`VarStore`]: `vs.root().sub("features").sub(0)`
/// creates names starting `features.0.`.
#[derive(Clone)]
pub struct Path {
    store: VarStore,
    prefix: String,
}

impl Path {
    /// The path one level down.
    pub fn sub(&self, name: impl Display) -> Path {
        Path {
            store: self.store.clone(),
            prefix: self.full_name(&name.to_string()),
        }
    }

    /// The dotted name of `name` under this path.
    pub fn full_name(&self, name: &str) -> String {
        if self.prefix.is_empty() {
            name.to_string()
        } else {
            format!("{}.{name}", self.prefix)
        }
    }

    /// The store this path belongs to.
    pub fn store(&self) -> &VarStore {
        &self.store
    }

    /// The device of the store.
    pub fn device(&self) -> Device {
        self.store.device
    }

    /// Creates a learnable parameter, drawn with `init` from the process-wide generator
    /// (seed it with [`nabla::manual_seed`] for reproducible models).
    ///
    /// # Errors
    /// [`Error::DuplicateName`] when the name exists; [`Error::TooLarge`] when the parameter
    /// would not fit in the machine's memory (sizes come from users: `--num-classes`, inputs).
    pub fn param(&self, name: &str, shape: &[usize], init: Init) -> Result<Var> {
        crate::limits::check_tensor(
            &format!("parameter {}", self.full_name(name)),
            shape,
            self.store.dtype,
        )?;
        let mut t = with_global_rng(|rng| init.tensor(shape, rng, &self.store.device))?;
        if self.store.dtype != t.dtype() {
            t = t.to_dtype(self.store.dtype)?;
        }
        self.store.add(self.full_name(name), t, VarKind::Parameter)
    }

    /// Registers a buffer (saved, not learned) holding `value`.
    ///
    /// # Errors
    /// [`Error::DuplicateName`] when the name exists.
    pub fn buffer(&self, name: &str, value: Tensor) -> Result<Var> {
        self.store.add(self.full_name(name), value, VarKind::Buffer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_dotted_and_unique() -> Result<()> {
        let vs = VarStore::new(&Device::Cpu);
        let p = vs.root().sub("features").sub(0);
        let w = p.param("weight", &[2, 3], Init::Constant(1.0))?;
        assert_eq!(w.name(), "features.0.weight");
        assert!(matches!(
            p.param("weight", &[1], Init::Constant(0.0)),
            Err(Error::DuplicateName(_))
        ));
        vs.root()
            .sub("classifier")
            .param("bias", &[4], Init::Constant(0.0))?;
        vs.root().sub("bn").buffer(
            "running_mean",
            Tensor::zeros(&[4], nabla::DType::F32, &Device::Cpu),
        )?;
        assert_eq!(vs.num_params(), 10);
        assert_eq!(vs.get("features.0.weight").map(|v| v.numel()), Some(6));
        Ok(())
    }

    #[test]
    fn freezing_is_by_name_prefix() -> Result<()> {
        let vs = VarStore::new(&Device::Cpu);
        let a = vs
            .root()
            .sub("features")
            .param("w", &[2], Init::Constant(1.0))?;
        let b = vs
            .root()
            .sub("features2")
            .param("w", &[3], Init::Constant(1.0))?;
        assert_eq!(vs.freeze("features"), 1);
        assert!(!a.is_trainable() && b.is_trainable());
        assert_eq!(vs.num_trainable(), 3);
        assert!(!a.tensor().tracks_grad());
        vs.unfreeze("");
        assert_eq!(vs.num_trainable(), 5);
        assert!(a.tensor().tracks_grad());
        Ok(())
    }
}
