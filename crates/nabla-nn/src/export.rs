//! Exporting a module as a computation graph, independent of the file format: a layer
//! writes its nodes into a [`GraphSink`] (the ONNX writer of `nabla-onnx` is one) through
//! [`crate::Module::export`]. Node and attribute names are ONNX's, the common vocabulary.

use crate::{Error, Module, Result, Var};
use nabla::Tensor;

/// An attribute value of an exported node.
#[derive(Debug, Clone, PartialEq)]
pub enum Attr {
    /// An integer.
    Int(i64),
    /// A float.
    Float(f32),
    /// Integers.
    Ints(Vec<i64>),
    /// A string.
    Str(String),
    /// Strings.
    Strs(Vec<String>),
}

/// Where an exported module writes its graph.
pub trait GraphSink {
    /// The value holding `var`, stored under the variable's name (once, however often it
    /// is asked for).
    ///
    /// # Errors
    /// When the variable's data cannot be read.
    fn var(&mut self, var: &Var) -> Result<String>;

    /// A constant integer vector (shapes, axes), under a fresh name.
    fn ints(&mut self, data: &[i64]) -> String;

    /// A constant float tensor that is no variable (a fixed input transform), under a
    /// fresh name.
    ///
    /// # Errors
    /// When the tensor's data cannot be read.
    fn constant(&mut self, t: &Tensor) -> Result<String>;

    /// Appends a node of operator `op` reading `inputs`; returns its output's name.
    fn node(&mut self, op: &str, inputs: &[&str], attrs: Vec<(&str, Attr)>) -> String;

    /// Appends a node with `outputs` outputs (`""` inputs are omitted optional ones).
    fn node_multi(
        &mut self,
        op: &str,
        inputs: &[&str],
        outputs: usize,
        attrs: Vec<(&str, Attr)>,
    ) -> Vec<String>;
}

/// A value of the graph being exported: its name and an example of it (computed by the
/// modules on an example input), from which a layer reads the shapes it needs.
#[derive(Debug, Clone)]
pub struct Traced {
    /// The value's name in the graph.
    pub name: String,
    /// An example value (evaluation mode, batch of the example input).
    pub example: Tensor,
}

impl Traced {
    /// The value a module gives for this one, named `name`: its example is the module's
    /// evaluation-mode output for this example.
    ///
    /// # Errors
    /// When the module's forward pass fails on the example.
    pub fn through(&self, module: &dyn Module, name: String) -> Result<Traced> {
        let example = nabla::no_grad(|| module.forward(&self.example))?;
        Ok(Traced { name, example })
    }
}

/// The error of a module that has no graph form.
pub fn not_exportable(what: &str) -> Error {
    Error::InvalidArgument {
        op: "export",
        msg: format!("{what} cannot be exported as a graph"),
    }
}

/// `[v, v]` as integer-list attribute.
pub fn pair(v: usize) -> Attr {
    Attr::Ints(vec![v as i64, v as i64])
}

/// `[v, v, v, v]` (ONNX's pads of both spatial axes).
pub fn pads4(v: usize) -> Attr {
    Attr::Ints(vec![v as i64; 4])
}
