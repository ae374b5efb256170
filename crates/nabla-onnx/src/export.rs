//! Exporting nabla modules to ONNX: the module writes its nodes through
//! [`nabla_nn::Module::export`] into an ONNX [`GraphBuilder`]; parameters become
//! initializers under their variable names, and the batch dimension stays free.

use crate::builder::GraphBuilder;
use crate::proto::{AttrValue, Attribute, Dim, ModelProto};
use crate::{Error, Result};
use nabla::{DType, Device, Tensor};
use nabla_nn::{Attr, GraphSink, Module, Traced, Var};
use std::collections::HashSet;

/// The opsets [`export`] writes: every operator it emits has the same form from 13 to 21.
pub const EXPORT_OPSETS: (i64, i64) = (13, 21);

/// The default opset of [`export`].
pub const DEFAULT_OPSET: i64 = 17;

struct OnnxSink {
    builder: GraphBuilder,
    stored: HashSet<String>,
}

fn attribute(name: &str, a: Attr) -> Attribute {
    Attribute {
        name: name.into(),
        value: match a {
            Attr::Int(v) => AttrValue::Int(v),
            Attr::Float(v) => AttrValue::Float(v),
            Attr::Ints(v) => AttrValue::Ints(v),
            Attr::Str(s) => AttrValue::String(s.into_bytes()),
            Attr::Strs(v) => AttrValue::Strings(v.into_iter().map(String::into_bytes).collect()),
        },
    }
}

impl GraphSink for OnnxSink {
    fn var(&mut self, var: &Var) -> nabla_nn::Result<String> {
        let name = var.name().to_string();
        if self.stored.insert(name.clone()) {
            let t = var.leaf().to_dtype(DType::F32)?;
            self.builder
                .weight(&name, &t)
                .map_err(nabla_nn::Error::from)?;
        }
        Ok(name)
    }

    fn ints(&mut self, data: &[i64]) -> String {
        self.builder.ints(&[data.len()], data)
    }

    fn constant(&mut self, t: &Tensor) -> nabla_nn::Result<String> {
        let name = self.builder.fresh("constant");
        let t = t.to_dtype(DType::F32)?;
        self.builder
            .weight(&name, &t)
            .map_err(nabla_nn::Error::from)?;
        Ok(name)
    }

    fn node(&mut self, op: &str, inputs: &[&str], attrs: Vec<(&str, Attr)>) -> String {
        let attrs = attrs.into_iter().map(|(n, a)| attribute(n, a)).collect();
        self.builder.node(op, inputs, attrs)
    }

    fn node_multi(
        &mut self,
        op: &str,
        inputs: &[&str],
        outputs: usize,
        attrs: Vec<(&str, Attr)>,
    ) -> Vec<String> {
        let names: Vec<String> = (0..outputs)
            .map(|i| self.builder.fresh(&format!("{}_out{i}", op.to_lowercase())))
            .collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let attrs = attrs.into_iter().map(|(n, a)| attribute(n, a)).collect();
        self.builder.node_with(op, inputs, &refs, attrs);
        names
    }
}

/// Exports `module` for inputs of `input_shape` (one example, without the batch dim) at
/// `opset`: a graph with input `input` `[batch, ..input_shape]` and output `output`.
///
/// # Errors
/// [`Error::Export`] for an opset outside [`EXPORT_OPSETS`] or a module with a layer that
/// has no graph form (named in the message).
pub fn export(module: &dyn Module, input_shape: &[usize], opset: i64) -> Result<ModelProto> {
    if !(EXPORT_OPSETS.0..=EXPORT_OPSETS.1).contains(&opset) {
        return Err(Error::Export(format!(
            "opset {opset} is not one nabla writes ({} to {})",
            EXPORT_OPSETS.0, EXPORT_OPSETS.1
        )));
    }
    let mut sink = OnnxSink {
        builder: GraphBuilder::new("nabla"),
        stored: HashSet::new(),
    };
    let mut dims = vec![Dim::Param("batch".into())];
    dims.extend(input_shape.iter().map(|&d| Dim::Value(d as i64)));
    let input = sink.builder.input("input", dims);
    let mut example_dims = vec![1];
    example_dims.extend_from_slice(input_shape);
    let x = Traced {
        name: input,
        // The example input only traces shapes for the graph: host memory is enough.
        example: Tensor::zeros(&example_dims, DType::F32, &Device::Cpu),
    };
    let y = nabla::no_grad(|| module.export(&mut sink, &x))
        .map_err(|e| Error::Export(e.to_string()))?;
    let mut out_dims = vec![Dim::Param("batch".into())];
    out_dims.extend(y.example.dims()[1..].iter().map(|&d| Dim::Value(d as i64)));
    sink.builder
        .node_with("Identity", &[&y.name], &["output"], vec![]);
    sink.builder.output("output", out_dims);
    Ok(sink.builder.finish(opset))
}
