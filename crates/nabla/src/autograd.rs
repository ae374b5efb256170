//! Define-by-run reverse-mode automatic differentiation: recording, `backward()`, `Grads`,
//! `no_grad`.
//!
//! Every op whose inputs require gradients attaches a [`Node`] to its output: the inputs and
//! a [`Backward`] rule. `backward()` orders the graph topologically from the loss, walks it in
//! reverse, and hands each rule the gradient of its output. A rule returns one gradient per
//! input written as if shapes matched; the engine sums each back to its input's shape
//! ([`Tensor::sum_to`]) and accumulates gradients of tensors used more than once.
//!
//! The graph lives exactly as long as the tensors that refer to it: dropping the loss (and
//! the intermediate tensors) frees it, so a training loop does not grow memory.

use crate::tensor::{TensorId, TensorInner};
use crate::{Error, Result, Tensor};
use std::cell::Cell;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// The gradient rule of one op.
pub trait Backward: Send + Sync {
    /// Given the op's `inputs`, its output `y` and `grad` = dLoss/dy (shape of `y`), returns
    /// dLoss/dinput for each input (`None` where an input takes no gradient).
    fn backward(&self, inputs: &[Tensor], y: &Tensor, grad: &Tensor)
        -> Result<Vec<Option<Tensor>>>;

    /// The op's name, shown by `Display` as `grad_fn=<...>`.
    fn name(&self) -> &'static str {
        let full = std::any::type_name::<Self>();
        full.rsplit("::").next().unwrap_or(full)
    }
}

/// How a tensor takes part in autograd.
#[derive(Default)]
pub(crate) enum GradInfo {
    /// Not tracked: no gradient flows to or through it.
    #[default]
    None,
    /// A leaf the user marked with `requires_grad()`: its gradient is reported in `Grads`.
    Leaf,
    /// The output of a recorded op.
    Op(Node),
}

/// A recorded op: its inputs and its gradient rule.
pub(crate) struct Node {
    pub(crate) inputs: Vec<Tensor>,
    pub(crate) rule: Box<dyn Backward>,
}

thread_local! {
    static GRAD_ENABLED: Cell<bool> = const { Cell::new(true) };
}

/// Runs `f` without recording any op for autograd (inference, optimizer updates), as
/// `torch.no_grad()`. Nests; the previous mode is restored even if `f` panics.
///
/// # Examples
/// ```
/// # use nabla::{Device, DType, Tensor};
/// let w = Tensor::ones(&[2], DType::F32, &Device::Cpu).requires_grad();
/// let y = nabla::no_grad(|| w.mul_scalar(2.0))?;
/// assert!(!y.tracks_grad());
/// # Ok::<(), nabla::Error>(())
/// ```
pub fn no_grad<R>(f: impl FnOnce() -> R) -> R {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            GRAD_ENABLED.with(|g| g.set(self.0));
        }
    }
    let _restore = Restore(GRAD_ENABLED.with(|g| g.replace(false)));
    f()
}

/// Whether ops are currently being recorded on this thread.
pub fn is_grad_enabled() -> bool {
    GRAD_ENABLED.with(|g| g.get())
}

/// Whether an op on `inputs` will be recorded ([`Tensor::record`]): recording is on and some
/// input tracks gradients. Ops that can skip work only a gradient needs ask this first.
pub(crate) fn records(inputs: &[&Tensor]) -> bool {
    is_grad_enabled() && inputs.iter().any(|t| t.tracks_grad())
}

impl Tensor {
    /// Marks this tensor as a leaf whose gradient `backward()` reports. Returns a new handle
    /// (with a new [`TensorId`]) sharing the data.
    pub fn requires_grad(self) -> Tensor {
        let inner = &self.0;
        let t = Tensor::from_storage(
            inner.storage.clone(),
            inner.layout.clone(),
            inner.dtype,
            inner.device,
        );
        t.with_grad(GradInfo::Leaf)
    }

    /// Whether gradients flow to this tensor (a marked leaf or the output of a recorded op).
    pub fn tracks_grad(&self) -> bool {
        !matches!(self.0.grad, GradInfo::None)
    }

    /// Whether this is a leaf marked with `requires_grad()`.
    pub fn is_leaf_variable(&self) -> bool {
        matches!(self.0.grad, GradInfo::Leaf)
    }

    /// A handle sharing the data but cut from the graph: no gradient flows through it.
    pub fn detach(&self) -> Tensor {
        self.view_with(self.0.layout.clone())
    }

    /// The name of the op that produced this tensor, if it was recorded.
    pub fn grad_fn_name(&self) -> Option<&'static str> {
        match &self.0.grad {
            GradInfo::Op(node) => Some(node.rule.name()),
            _ => None,
        }
    }

    fn with_grad(self, grad: GradInfo) -> Tensor {
        match Arc::try_unwrap(self.0) {
            Ok(mut inner) => {
                inner.grad = grad;
                Tensor(Arc::new(inner))
            }
            Err(shared) => {
                let t = Tensor::from_storage(
                    shared.storage.clone(),
                    shared.layout.clone(),
                    shared.dtype,
                    shared.device,
                );
                t.with_grad(grad)
            }
        }
    }

    /// Attaches the gradient rule `rule` with `inputs` to the freshly computed output `self`,
    /// when recording is on and some input tracks gradients; otherwise returns `self` as is.
    pub(crate) fn record(self, rule: impl Backward + 'static, inputs: &[&Tensor]) -> Tensor {
        if !records(inputs) {
            return self;
        }
        let node = Node {
            inputs: inputs.iter().map(|&t| t.clone()).collect(),
            rule: Box::new(rule),
        };
        self.with_grad(GradInfo::Op(node))
    }

    /// Computes the gradient of this scalar with respect to every leaf it depends on.
    ///
    /// # Errors
    /// [`Error::Backward`] when the tensor has more than one element or does not depend on
    /// any tensor that requires a gradient; any error a gradient rule returns.
    ///
    /// # Examples
    /// ```
    /// # use nabla::{Device, Tensor};
    /// let x = Tensor::from_slice(&[3.0f32], &[1], &Device::Cpu)?.requires_grad();
    /// let y = x.mul(&x)?; // y = x², dy/dx = 2x = 6
    /// assert_eq!(y.backward()?.get(&x).unwrap().to_vec::<f32>()?, vec![6.0]);
    /// # Ok::<(), nabla::Error>(())
    /// ```
    pub fn backward(&self) -> Result<Grads> {
        if self.numel() != 1 {
            return Err(Error::Backward(format!(
                "the output has shape {}; backward() needs a single value (reduce it, e.g. with mean_all)",
                self.shape()
            )));
        }
        self.backward_with(&self.ones_like())
    }

    /// Backpropagates `grad` (dLoss/dself, the shape of `self`) through the graph.
    ///
    /// # Errors
    /// As [`Tensor::backward`], plus [`Error::ShapeMismatch`] when `grad` has another shape.
    pub fn backward_with(&self, grad: &Tensor) -> Result<Grads> {
        if !self.tracks_grad() {
            return Err(Error::Backward(
                "the tensor does not depend on any tensor that requires a gradient (call requires_grad() on the parameters)"
                    .into(),
            ));
        }
        if grad.shape() != self.shape() {
            return Err(Error::ShapeMismatch {
                op: "backward",
                lhs: self.shape().clone(),
                rhs: grad.shape().clone(),
            });
        }
        no_grad(|| run_backward(self, grad))
    }
}

/// Tensors reachable from `root` through recorded ops, in post-order (inputs before users).
fn topological_order(root: &Tensor) -> Vec<Tensor> {
    let mut order = Vec::new();
    let mut visited: HashSet<TensorId> = HashSet::new();
    // Iterative DFS (graphs of unrolled RNNs are deep): (tensor, inputs already pushed).
    let mut stack: Vec<(Tensor, bool)> = vec![(root.clone(), false)];
    while let Some((t, expanded)) = stack.pop() {
        if expanded {
            order.push(t);
            continue;
        }
        if !visited.insert(t.id()) {
            continue;
        }
        let children: Vec<Tensor> = match &t.0.grad {
            GradInfo::Op(node) => node
                .inputs
                .iter()
                .filter(|c| c.tracks_grad() && !visited.contains(&c.id()))
                .cloned()
                .collect(),
            _ => Vec::new(),
        };
        stack.push((t, true));
        stack.extend(children.into_iter().map(|c| (c, false)));
    }
    order
}

fn run_backward(root: &Tensor, seed: &Tensor) -> Result<Grads> {
    let order = topological_order(root);
    let mut pending: HashMap<TensorId, Tensor> = HashMap::new();
    pending.insert(root.id(), seed.clone());
    let mut grads = Grads::default();
    for t in order.iter().rev() {
        let Some(grad) = pending.remove(&t.id()) else {
            continue;
        };
        match &t.0.grad {
            GradInfo::Leaf => grads.accumulate(t.id(), grad)?,
            GradInfo::Op(node) => {
                let input_grads = node.rule.backward(&node.inputs, t, &grad)?;
                drop(grad);
                for (input, g) in node.inputs.iter().zip(input_grads) {
                    let Some(g) = g else { continue };
                    if !input.tracks_grad() {
                        continue;
                    }
                    let g = g.sum_to(input.shape())?;
                    let g = if g.dtype() != input.dtype() {
                        g.to_dtype(input.dtype())?
                    } else {
                        g
                    };
                    match pending.remove(&input.id()) {
                        Some(prev) => pending.insert(input.id(), prev.add(&g)?),
                        None => pending.insert(input.id(), g),
                    };
                }
            }
            GradInfo::None => {}
        }
    }
    Ok(grads)
}

/// Gradients of a scalar with respect to the leaves it depends on, keyed by tensor identity.
#[derive(Default, Clone)]
pub struct Grads(HashMap<TensorId, Tensor>);

impl std::fmt::Debug for Grads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(self.0.iter().map(|(k, v)| (k, v.shape())))
            .finish()
    }
}

impl Grads {
    /// The gradient of `t`, if `t` is a leaf the loss depends on.
    pub fn get(&self, t: &Tensor) -> Option<&Tensor> {
        self.0.get(&t.id())
    }
    /// The gradient stored under an id.
    pub fn get_id(&self, id: TensorId) -> Option<&Tensor> {
        self.0.get(&id)
    }
    /// Replaces the gradient of `t` (for gradient clipping or averaging across processes).
    pub fn insert(&mut self, t: &Tensor, grad: Tensor) {
        self.0.insert(t.id(), grad);
    }
    /// Removes and returns the gradient of `t`.
    pub fn remove(&mut self, t: &Tensor) -> Option<Tensor> {
        self.0.remove(&t.id())
    }
    /// Number of gradients held.
    pub fn len(&self) -> usize {
        self.0.len()
    }
    /// Whether no gradient is held.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// All (id, gradient) pairs, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&TensorId, &Tensor)> {
        self.0.iter()
    }
    fn accumulate(&mut self, id: TensorId, g: Tensor) -> Result<()> {
        let g = match self.0.remove(&id) {
            Some(prev) => prev.add(&g)?,
            None => g,
        };
        self.0.insert(id, g);
        Ok(())
    }
}

impl Drop for TensorInner {
    /// Frees long graphs iteratively: the default recursive drop of a chain of 100,000 nodes
    /// (an RNN unrolled over a long sequence) would overflow the stack.
    fn drop(&mut self) {
        crate::tensor::tensor_dropped();
        let GradInfo::Op(node) = std::mem::take(&mut self.grad) else {
            return;
        };
        let mut stack = node.inputs;
        while let Some(t) = stack.pop() {
            if let Ok(mut inner) = Arc::try_unwrap(t.0) {
                if let GradInfo::Op(n) = std::mem::take(&mut inner.grad) {
                    stack.extend(n.inputs);
                }
            }
        }
    }
}
