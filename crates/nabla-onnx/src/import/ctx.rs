//! What an operator's implementation sees of its node: inputs, attributes, mode, and errors
//! that name the node.

use crate::proto::{AttrValue, NodeProto};
use crate::value::{IntTensor, Value};
use crate::{Error, Result};
use nabla::{Device, Tensor};

/// One node being run.
pub struct Ctx<'a> {
    /// The node.
    pub node: &'a NodeProto,
    /// The model's default-domain opset (attributes became inputs at some versions).
    pub opset: i64,
    /// The node's inputs; `None` for an omitted optional input (`""`).
    pub inputs: Vec<Option<Value>>,
    /// Training mode (dropout active, batch norm on batch statistics).
    pub train: bool,
    /// Where float tensors live.
    pub device: Device,
}

/// A readable name for a node: its name, or its first output when it has none.
pub fn node_label(node: &NodeProto) -> String {
    if !node.name.is_empty() {
        node.name.clone()
    } else {
        node.outputs.first().cloned().unwrap_or_default()
    }
}

impl Ctx<'_> {
    /// An error about this node.
    pub fn err(&self, msg: impl Into<String>) -> Error {
        Error::Node {
            node: node_label(self.node),
            op_type: self.node.op_type.clone(),
            msg: msg.into(),
        }
    }

    /// Input `i`, when given.
    pub fn opt(&self, i: usize) -> Option<&Value> {
        self.inputs.get(i).and_then(|v| v.as_ref())
    }

    /// Input `i`, which the operator requires.
    pub fn input(&self, i: usize) -> Result<&Value> {
        self.opt(i)
            .ok_or_else(|| self.err(format!("input {i} is required")))
    }

    /// Input `i` as a float tensor (integer values are converted).
    pub fn float(&self, i: usize) -> Result<Tensor> {
        to_float(self.input(i)?, &self.device)
    }

    /// Optional input `i` as a float tensor.
    pub fn opt_float(&self, i: usize) -> Result<Option<Tensor>> {
        self.opt(i).map(|v| to_float(v, &self.device)).transpose()
    }

    /// Input `i` as integers: it must be computable without the graph's float data (a
    /// constant, an initializer or a shape computation).
    pub fn ints(&self, i: usize) -> Result<IntTensor> {
        match self.input(i)? {
            Value::Int(t) => Ok(t.clone()),
            Value::Float(_) => Err(self.err(format!(
                "input {i} ('{}') must be an integer tensor",
                self.node.inputs[i]
            ))),
        }
    }

    /// Optional input `i` as integers.
    pub fn opt_ints(&self, i: usize) -> Result<Option<Vec<i64>>> {
        match self.opt(i) {
            None => Ok(None),
            Some(_) => Ok(Some(self.ints(i)?.data)),
        }
    }

    /// Optional input `i` as one float number (Clip's bounds, Pad's value).
    pub fn opt_scalar(&self, i: usize) -> Result<Option<f64>> {
        match self.opt(i) {
            None => Ok(None),
            Some(Value::Int(t)) if t.data.len() == 1 => Ok(Some(t.data[0] as f64)),
            Some(Value::Float(t)) if t.numel() == 1 => {
                Ok(Some(f64::from(t.reshape(&[1])?.to_vec::<f32>()?[0])))
            }
            Some(v) => Err(self.err(format!(
                "input {i} must hold one number, it has shape {:?}",
                v.dims()
            ))),
        }
    }

    /// An integer attribute, or `default`.
    pub fn attr_i(&self, name: &str, default: i64) -> Result<i64> {
        match self.node.attr(name) {
            None => Ok(default),
            Some(AttrValue::Int(v)) => Ok(*v),
            Some(_) => Err(self.err(format!("attribute {name} must be an integer"))),
        }
    }

    /// A float attribute, or `default`.
    pub fn attr_f(&self, name: &str, default: f32) -> Result<f32> {
        match self.node.attr(name) {
            None => Ok(default),
            Some(AttrValue::Float(v)) => Ok(*v),
            Some(AttrValue::Int(v)) => Ok(*v as f32),
            Some(_) => Err(self.err(format!("attribute {name} must be a float"))),
        }
    }

    /// An integer-list attribute, when present.
    pub fn attr_ints(&self, name: &str) -> Result<Option<Vec<i64>>> {
        match self.node.attr(name) {
            None => Ok(None),
            Some(AttrValue::Ints(v)) => Ok(Some(v.clone())),
            Some(AttrValue::Int(v)) => Ok(Some(vec![*v])),
            Some(_) => Err(self.err(format!("attribute {name} must be a list of integers"))),
        }
    }

    /// A string attribute, or `default`.
    pub fn attr_s(&self, name: &str, default: &str) -> Result<String> {
        match self.node.attr(name) {
            None => Ok(default.to_string()),
            Some(AttrValue::String(v)) => Ok(String::from_utf8_lossy(v).into_owned()),
            Some(_) => Err(self.err(format!("attribute {name} must be a string"))),
        }
    }

    /// Resolves a possibly negative axis against `rank`.
    pub fn axis(&self, axis: i64, rank: usize) -> Result<usize> {
        let r = rank as i64;
        if axis < -r || axis >= r {
            return Err(self.err(format!("axis {axis} is out of range for rank {rank}")));
        }
        Ok(if axis < 0 {
            (axis + r) as usize
        } else {
            axis as usize
        })
    }
}

/// A value as a float tensor.
pub fn to_float(v: &Value, device: &Device) -> Result<Tensor> {
    match v {
        Value::Float(t) => Ok(t.clone()),
        Value::Int(i) => i.to_float(device),
    }
}
