//! An ONNX graph as a nabla [`Module`]: its nodes run in order with nabla's tensor ops, its
//! float initializers are named variables of a [`VarStore`].

mod ctx;
mod math;
mod nn;
mod recurrent;
mod shape_ops;

use crate::proto::{Dim, ModelProto, NodeProto, ValueInfo};
use crate::value::{decode_tensor, IntTensor, Value};
use crate::{Error, Result};
use ctx::{node_label, Ctx};
use nabla::{Device, Tensor};
use nabla_nn::{Init, Module, Var, VarStore};
use std::collections::{BTreeMap, HashMap};

/// An operator implementation: the node's outputs from its inputs and attributes.
type OpFn = fn(&Ctx) -> Result<Vec<Value>>;

/// The operators of ONNX's default domain that nabla runs, with their implementations.
const OPS: &[(&str, OpFn)] = &[
    ("Abs", math::unary),
    ("Add", math::binary),
    ("AveragePool", nn::pool),
    ("BatchNormalization", nn::batch_norm),
    ("Cast", shape_ops::cast),
    ("Clip", math::clip),
    ("Concat", shape_ops::concat),
    ("Constant", shape_ops::constant),
    ("ConstantOfShape", shape_ops::constant_of_shape),
    ("Conv", nn::conv),
    ("ConvTranspose", nn::conv_transpose),
    ("Div", math::binary),
    ("Dropout", nn::dropout),
    ("Elu", math::unary),
    ("Erf", math::unary),
    ("Exp", math::unary),
    ("Expand", shape_ops::expand),
    ("Flatten", shape_ops::flatten),
    ("Gather", shape_ops::gather),
    ("Gemm", math::gemm),
    ("GlobalAveragePool", nn::global_pool),
    ("GlobalMaxPool", nn::global_pool),
    ("GRU", recurrent::gru),
    ("HardSigmoid", math::unary),
    ("HardSwish", math::unary),
    ("Identity", shape_ops::identity),
    ("LeakyRelu", math::unary),
    ("Log", math::unary),
    ("LogSoftmax", math::softmax),
    ("LRN", nn::lrn),
    ("LSTM", recurrent::lstm),
    ("MatMul", math::matmul),
    ("MaxPool", nn::pool),
    ("Mul", math::binary),
    ("Neg", math::unary),
    ("Pad", shape_ops::pad),
    ("Reciprocal", math::unary),
    ("ReduceMean", math::reduce),
    ("ReduceSum", math::reduce),
    ("Relu", math::unary),
    ("Reshape", shape_ops::reshape),
    ("RNN", recurrent::rnn),
    ("Shape", shape_ops::shape),
    ("Sigmoid", math::unary),
    ("Slice", shape_ops::slice),
    ("Softmax", math::softmax),
    ("Softplus", math::unary),
    ("Split", shape_ops::split),
    ("Sqrt", math::unary),
    ("Squeeze", shape_ops::squeeze),
    ("Sub", math::binary),
    ("Sum", math::sum),
    ("Tanh", math::unary),
    ("Transpose", shape_ops::transpose),
    ("Unsqueeze", shape_ops::unsqueeze),
];

/// The operator types nabla imports, sorted.
pub fn supported_ops() -> Vec<&'static str> {
    let mut v: Vec<&str> = OPS.iter().map(|(name, _)| *name).collect();
    v.sort_unstable();
    v
}

/// Lowest and highest default-domain opset versions nabla reads.
pub const OPSETS: (i64, i64) = (7, 21);

fn op_fn(node: &NodeProto) -> Option<OpFn> {
    if !(node.domain.is_empty() || node.domain == "ai.onnx") {
        return None;
    }
    OPS.iter()
        .find(|(name, _)| *name == node.op_type)
        .map(|(_, f)| *f)
}

/// An imported ONNX graph: a [`Module`] whose float initializers are variables of the
/// [`VarStore`] it was loaded into (trainable parameters, except batch norm statistics,
/// which are buffers), named as in the file.
pub struct OnnxModel {
    nodes: Vec<NodeProto>,
    /// For each node, the values no later node or output reads: dropped after it runs.
    last_use: Vec<Vec<String>>,
    opset: i64,
    vars: HashMap<String, Var>,
    constants: HashMap<String, Value>,
    inputs: Vec<(String, Option<Vec<Dim>>)>,
    /// Per input, its integer element type (`TensorProto.DataType`: 2 to 7, 9 bool, 12,
    /// 13), when it is one: such an input is fed to the graph as host integers.
    int_inputs: Vec<Option<i32>>,
    outputs: Vec<String>,
    device: Device,
}

impl OnnxModel {
    /// Reads an `.onnx` file into `vs` (see [`OnnxModel::from_bytes`]).
    ///
    /// # Errors
    /// [`Error::Io`] when the file cannot be read, and those of [`OnnxModel::from_bytes`].
    pub fn load(path: impl AsRef<std::path::Path>, vs: &VarStore) -> Result<Self> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| Error::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_bytes(&bytes, vs)
    }

    /// Decodes a model from bytes and imports it into `vs`.
    ///
    /// # Errors
    /// [`Error::Corrupt`] for malformed bytes, [`Error::Unsupported`] listing every
    /// unsupported operator type with its nodes, [`Error::Graph`] for a graph whose values
    /// do not connect, and [`nabla_nn::Error::DuplicateName`] (as [`Error::Nn`]) when `vs`
    /// already holds an initializer's name.
    pub fn from_bytes(bytes: &[u8], vs: &VarStore) -> Result<Self> {
        Self::from_proto(ModelProto::decode(bytes)?, vs)
    }

    /// Imports a decoded model into `vs`.
    ///
    /// # Errors
    /// As [`OnnxModel::from_bytes`], less the decoding errors.
    pub fn from_proto(model: ModelProto, vs: &VarStore) -> Result<Self> {
        let opset = model.default_opset();
        check_supported(&model.graph.nodes, opset)?;
        let device = vs.device();
        let graph = model.graph;
        let buffers = statistics_inputs(&graph.nodes);
        let mut vars = HashMap::new();
        let mut constants = HashMap::new();
        for init in &graph.initializers {
            if init.name.is_empty() {
                return Err(Error::Graph("an initializer has no name".into()));
            }
            match decode_tensor(init, &device)? {
                Value::Float(t) => {
                    let var = if buffers.contains(&init.name.as_str()) {
                        vs.root().buffer(&init.name, t)?
                    } else {
                        let v = vs.root().param(&init.name, t.dims(), Init::Constant(0.0))?;
                        v.set(&t)?;
                        v
                    };
                    vars.insert(init.name.clone(), var);
                }
                int => {
                    constants.insert(init.name.clone(), int);
                }
            }
        }
        let fed: Vec<&ValueInfo> = graph
            .inputs
            .iter()
            .filter(|v| !vars.contains_key(&v.name) && !constants.contains_key(&v.name))
            .collect();
        let inputs: Vec<(String, Option<Vec<Dim>>)> = fed
            .iter()
            .map(|v| (v.name.clone(), v.shape.clone()))
            .collect();
        let int_inputs = fed
            .iter()
            .map(|v| matches!(v.elem_type, 2..=7 | 9 | 12 | 13).then_some(v.elem_type))
            .collect();
        let outputs: Vec<String> = graph.outputs.iter().map(|v| v.name.clone()).collect();
        if outputs.is_empty() {
            return Err(Error::Graph("the graph has no outputs".into()));
        }
        let last_use = check_connected(&graph.nodes, &inputs, &vars, &constants, &outputs)?;
        Ok(OnnxModel {
            nodes: graph.nodes,
            last_use,
            opset,
            vars,
            constants,
            inputs,
            int_inputs,
            outputs,
            device,
        })
    }

    /// The default-domain opset version the model imports.
    pub fn opset(&self) -> i64 {
        self.opset
    }

    /// The graph's inputs (not counting initializers) with their declared dims.
    pub fn inputs(&self) -> &[(String, Option<Vec<Dim>>)] {
        &self.inputs
    }

    /// The graph's output names.
    pub fn outputs(&self) -> &[String] {
        &self.outputs
    }

    /// Runs the graph on its inputs, in order; returns every graph output.
    ///
    /// # Errors
    /// [`Error::Graph`] when the number of inputs differs from the graph's;
    /// [`Error::Node`] naming the node whose inputs or attributes do not fit.
    pub fn run(&self, xs: &[Tensor], train: bool) -> Result<Vec<Value>> {
        if xs.len() != self.inputs.len() {
            return Err(Error::Graph(format!(
                "the graph takes {} input(s) ({}), {} given",
                self.inputs.len(),
                self.inputs
                    .iter()
                    .map(|(n, _)| n.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                xs.len()
            )));
        }
        let mut env: HashMap<&str, Value> = HashMap::new();
        for (((name, _), x), int) in self.inputs.iter().zip(xs).zip(&self.int_inputs) {
            let v = match int {
                // Codes and indices arrive as float tensors (nabla's batches are float).
                Some(ty) => Value::Int(IntTensor::from_float(x, *ty == 9)?),
                None => Value::Float(x.clone()),
            };
            env.insert(name, v);
        }
        for (node, dead) in self.nodes.iter().zip(&self.last_use) {
            let inputs = node
                .inputs
                .iter()
                .map(|name| self.lookup(&env, name))
                .collect();
            let ctx = Ctx {
                node,
                opset: self.opset,
                inputs,
                train,
                device: self.device,
            };
            let f = op_fn(node).expect("operators were checked at import");
            let outs = f(&ctx)?;
            for (name, v) in node.outputs.iter().zip(outs) {
                if !name.is_empty() {
                    env.insert(name, v);
                }
            }
            for name in dead {
                env.remove(name.as_str());
            }
        }
        self.outputs
            .iter()
            .map(|name| {
                self.lookup(&env, name)
                    .ok_or_else(|| Error::Graph(format!("output '{name}' was not computed")))
            })
            .collect()
    }

    fn lookup(&self, env: &HashMap<&str, Value>, name: &str) -> Option<Value> {
        if name.is_empty() {
            return None;
        }
        if let Some(v) = env.get(name) {
            return Some(v.clone());
        }
        if let Some(var) = self.vars.get(name) {
            return Some(Value::Float(var.tensor()));
        }
        self.constants.get(name).cloned()
    }
}

impl Module for OnnxModel {
    /// The graph's first output for `x` as its one input.
    fn forward_t(&self, x: &Tensor, train: bool) -> nabla_nn::Result<Tensor> {
        let out = self.run(std::slice::from_ref(x), train)?;
        match out.into_iter().next() {
            Some(Value::Float(t)) => Ok(t),
            Some(Value::Int(i)) => Ok(i.to_float(&self.device)?),
            None => Err(Error::Graph("the graph has no outputs".into()).into()),
        }
    }
}

/// Refuses a graph with operators nabla does not run, listing each type once with its
/// nodes (the first few names of each) and the opset.
fn check_supported(nodes: &[NodeProto], opset: i64) -> Result<()> {
    let mut missing: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for node in nodes {
        if op_fn(node).is_none() {
            let ty = if node.domain.is_empty() {
                node.op_type.clone()
            } else {
                format!("{}::{}", node.domain, node.op_type)
            };
            missing.entry(ty).or_default().push(node_label(node));
        }
    }
    let mut list: Vec<String> = missing
        .into_iter()
        .map(|(ty, names)| {
            let shown: Vec<&str> = names.iter().take(5).map(String::as_str).collect();
            let more = if names.len() > 5 {
                format!(" and {} more", names.len() - 5)
            } else {
                String::new()
            };
            format!("  {ty} (opset {opset}): node(s) {}{more}", shown.join(", "))
        })
        .collect();
    if !(OPSETS.0..=OPSETS.1).contains(&opset) {
        list.push(format!(
            "  opset {opset} itself: nabla reads opsets {} to {}",
            OPSETS.0, OPSETS.1
        ));
    }
    if list.is_empty() {
        Ok(())
    } else {
        Err(Error::Unsupported { opset, list })
    }
}

/// Names of initializers that batch norm nodes read as running statistics (inputs 3 and
/// 4): they are buffers, not trained by gradient.
fn statistics_inputs(nodes: &[NodeProto]) -> Vec<&str> {
    nodes
        .iter()
        .filter(|n| n.op_type == "BatchNormalization")
        .flat_map(|n| n.inputs.iter().skip(3).take(2).map(String::as_str))
        .collect()
}

/// Checks that every node input is produced before it is read and that every output is
/// produced; returns, per node, the values that are read for the last time there.
fn check_connected(
    nodes: &[NodeProto],
    inputs: &[(String, Option<Vec<Dim>>)],
    vars: &HashMap<String, Var>,
    constants: &HashMap<String, Value>,
    outputs: &[String],
) -> Result<Vec<Vec<String>>> {
    let mut produced: HashMap<&str, usize> = HashMap::new();
    for (name, _) in inputs {
        produced.insert(name, usize::MAX);
    }
    let mut last: HashMap<&str, usize> = HashMap::new();
    for (i, node) in nodes.iter().enumerate() {
        for name in node.inputs.iter().filter(|n| !n.is_empty()) {
            let known = produced.contains_key(name.as_str())
                || vars.contains_key(name)
                || constants.contains_key(name);
            if !known {
                return Err(Error::Graph(format!(
                    "node '{}' ({}) reads '{name}', which no earlier node, input or initializer provides",
                    node_label(node),
                    node.op_type
                )));
            }
            last.insert(name, i);
        }
        for name in &node.outputs {
            produced.insert(name, i);
        }
    }
    for name in outputs {
        if !produced.contains_key(name.as_str())
            && !vars.contains_key(name)
            && !constants.contains_key(name)
        {
            return Err(Error::Graph(format!(
                "no node produces the output '{name}'"
            )));
        }
        last.remove(name.as_str());
    }
    let mut dead = vec![Vec::new(); nodes.len()];
    for (name, i) in last {
        if produced.get(name).is_some_and(|&p| p != usize::MAX)
            || inputs.iter().any(|(n, _)| n == name)
        {
            dead[i].push(name.to_string());
        }
    }
    Ok(dead)
}
