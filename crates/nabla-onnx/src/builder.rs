//! Building ONNX graphs from code: the exporter writes models with it, and tests build
//! small graphs with it.

use crate::proto::messages::data_type;
use crate::proto::{
    AttrValue, Attribute, Dim, GraphProto, ModelProto, NodeProto, OpsetId, ValueInfo,
};
use crate::value::{encode_float, encode_int};
use crate::Result;
use nabla::Tensor;

/// A graph under construction: nodes are appended in order, each producing fresh output
/// names (`"{op}_{n}"`) unless named.
#[derive(Default)]
pub struct GraphBuilder {
    graph: GraphProto,
    count: usize,
}

/// An integer attribute.
pub fn attr_i(name: &str, v: i64) -> Attribute {
    Attribute {
        name: name.into(),
        value: AttrValue::Int(v),
    }
}

/// A float attribute.
pub fn attr_f(name: &str, v: f32) -> Attribute {
    Attribute {
        name: name.into(),
        value: AttrValue::Float(v),
    }
}

/// An integer-list attribute.
pub fn attr_ints(name: &str, v: &[i64]) -> Attribute {
    Attribute {
        name: name.into(),
        value: AttrValue::Ints(v.to_vec()),
    }
}

/// A string attribute.
pub fn attr_s(name: &str, v: &str) -> Attribute {
    Attribute {
        name: name.into(),
        value: AttrValue::String(v.as_bytes().to_vec()),
    }
}

impl GraphBuilder {
    /// An empty graph called `name`.
    pub fn new(name: &str) -> Self {
        let mut b = GraphBuilder::default();
        b.graph.name = name.into();
        b
    }

    /// Declares a float graph input with dims (`Dim::Param("batch")` for a free batch size).
    pub fn input(&mut self, name: &str, dims: Vec<Dim>) -> String {
        self.graph.inputs.push(ValueInfo {
            name: name.into(),
            elem_type: data_type::FLOAT,
            shape: Some(dims),
        });
        name.into()
    }

    /// Declares `name` a float graph output with dims.
    pub fn output(&mut self, name: &str, dims: Vec<Dim>) {
        self.graph.outputs.push(ValueInfo {
            name: name.into(),
            elem_type: data_type::FLOAT,
            shape: Some(dims),
        });
    }

    /// Adds a float initializer (a weight) called `name`.
    ///
    /// # Errors
    /// When the tensor's data cannot be read.
    pub fn weight(&mut self, name: &str, t: &Tensor) -> Result<String> {
        self.graph.initializers.push(encode_float(name, t)?);
        Ok(name.into())
    }

    /// Adds an int64 initializer (shapes, axes) with a fresh name.
    pub fn ints(&mut self, dims: &[usize], data: &[i64]) -> String {
        self.count += 1;
        let name = format!("const_{}", self.count);
        self.graph.initializers.push(encode_int(&name, dims, data));
        name
    }

    /// A fresh value name starting with `prefix`.
    pub fn fresh(&mut self, prefix: &str) -> String {
        self.count += 1;
        format!("{prefix}_{}", self.count)
    }

    /// Appends a node with one output, named after the op; returns the output's name.
    pub fn node(&mut self, op: &str, inputs: &[&str], attributes: Vec<Attribute>) -> String {
        self.count += 1;
        let out = format!("{}_{}", op.to_lowercase(), self.count);
        self.node_with(op, inputs, &[&out], attributes);
        out
    }

    /// Appends a node with given output names (`""` for an omitted one).
    pub fn node_with(
        &mut self,
        op: &str,
        inputs: &[&str],
        outputs: &[&str],
        attributes: Vec<Attribute>,
    ) {
        self.count += 1;
        self.graph.nodes.push(NodeProto {
            inputs: inputs.iter().map(|s| s.to_string()).collect(),
            outputs: outputs.iter().map(|s| s.to_string()).collect(),
            name: format!("{op}_{}", self.count),
            op_type: op.into(),
            domain: String::new(),
            attributes,
        });
    }

    /// The model: this graph with ONNX's default operator set at version `opset`.
    pub fn finish(self, opset: i64) -> ModelProto {
        ModelProto {
            // IR version 8 goes with opsets up to 18, 9 with 19-20, 10 with 21.
            ir_version: match opset {
                ..=18 => 8,
                19 | 20 => 9,
                _ => 10,
            },
            producer_name: "nabla".into(),
            opset_import: vec![OpsetId {
                domain: String::new(),
                version: opset,
            }],
            graph: self.graph,
        }
    }
}
