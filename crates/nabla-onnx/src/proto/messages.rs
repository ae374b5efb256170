//! ONNX's `ModelProto`, `GraphProto`, `NodeProto`, `AttributeProto`, `TensorProto` and
//! `ValueInfoProto`: decoding from and encoding to protobuf bytes.

use super::wire::{Reader, Writer};
use crate::{Error, Result};

/// A whole `.onnx` file.
#[derive(Debug, Clone, Default)]
pub struct ModelProto {
    /// The IR (file format) version.
    pub ir_version: i64,
    /// The tool that wrote the file.
    pub producer_name: String,
    /// Operator sets the graph uses, with their versions.
    pub opset_import: Vec<OpsetId>,
    /// The computation.
    pub graph: GraphProto,
}

/// An operator set and its version; the default domain is `""` (or `"ai.onnx"`).
#[derive(Debug, Clone, Default)]
pub struct OpsetId {
    /// `""` for ONNX's own operators.
    pub domain: String,
    /// The opset version.
    pub version: i64,
}

/// A graph: nodes in topological order, constant tensors, inputs and outputs.
#[derive(Debug, Clone, Default)]
pub struct GraphProto {
    /// The graph's name.
    pub name: String,
    /// The operators, each after the producers of its inputs.
    pub nodes: Vec<NodeProto>,
    /// Named constant tensors (the weights).
    pub initializers: Vec<TensorProto>,
    /// The graph's inputs (may include initializers in old files).
    pub inputs: Vec<ValueInfo>,
    /// The graph's outputs.
    pub outputs: Vec<ValueInfo>,
}

/// One operator application.
#[derive(Debug, Clone, Default)]
pub struct NodeProto {
    /// Input value names; `""` marks an omitted optional input.
    pub inputs: Vec<String>,
    /// Output value names.
    pub outputs: Vec<String>,
    /// The node's name (may be empty).
    pub name: String,
    /// The operator, e.g. `"Conv"`.
    pub op_type: String,
    /// The operator's domain; `""` is ONNX's.
    pub domain: String,
    /// The operator's attributes.
    pub attributes: Vec<Attribute>,
}

/// A named attribute of a node.
#[derive(Debug, Clone)]
pub struct Attribute {
    /// The attribute's name, e.g. `"kernel_shape"`.
    pub name: String,
    /// Its value.
    pub value: AttrValue,
}

/// The value of an attribute.
#[derive(Debug, Clone)]
pub enum AttrValue {
    /// A float.
    Float(f32),
    /// An integer.
    Int(i64),
    /// A byte string.
    String(Vec<u8>),
    /// A tensor.
    Tensor(TensorProto),
    /// A sub-graph (control flow): kept undecoded, since no supported operator takes one.
    Graph,
    /// Floats.
    Floats(Vec<f32>),
    /// Integers.
    Ints(Vec<i64>),
    /// Byte strings.
    Strings(Vec<Vec<u8>>),
}

/// A tensor stored in the file: dims, element type and data in one of several fields.
#[derive(Debug, Clone, Default)]
pub struct TensorProto {
    /// Dimensions (row-major).
    pub dims: Vec<i64>,
    /// `TensorProto.DataType`: 1 float, 7 int64, 6 int32, 11 double, ...
    pub data_type: i32,
    /// The tensor's name (initializers).
    pub name: String,
    /// Values in `float_data`.
    pub float_data: Vec<f32>,
    /// Values in `int32_data` (also int8/uint8/int16/bool/float16 bits).
    pub int32_data: Vec<i64>,
    /// Values in `int64_data`.
    pub int64_data: Vec<i64>,
    /// Values in `double_data`.
    pub double_data: Vec<f64>,
    /// Little-endian packed values.
    pub raw_data: Vec<u8>,
    /// Whether the data lives in an external file (not supported).
    pub external: bool,
}

/// A graph input's or output's name, element type and shape.
#[derive(Debug, Clone, Default)]
pub struct ValueInfo {
    /// The value's name.
    pub name: String,
    /// `TensorProto.DataType` of its elements (0 when not given).
    pub elem_type: i32,
    /// Its dims, when given.
    pub shape: Option<Vec<Dim>>,
}

/// One dimension of a [`ValueInfo`]'s shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dim {
    /// A fixed size.
    Value(i64),
    /// A named, free size (e.g. `"batch"`).
    Param(String),
    /// Neither given.
    Unknown,
}

/// The element types nabla reads.
pub mod data_type {
    /// 32-bit float.
    pub const FLOAT: i32 = 1;
    /// Unsigned byte.
    pub const UINT8: i32 = 2;
    /// Signed byte.
    pub const INT8: i32 = 3;
    /// 16-bit signed.
    pub const INT16: i32 = 5;
    /// 32-bit signed.
    pub const INT32: i32 = 6;
    /// 64-bit signed.
    pub const INT64: i32 = 7;
    /// Boolean.
    pub const BOOL: i32 = 9;
    /// 64-bit float.
    pub const DOUBLE: i32 = 11;
}

impl ModelProto {
    /// Decodes a model from the bytes of a `.onnx` file.
    ///
    /// # Errors
    /// [`Error::Corrupt`] naming the message and byte offset for malformed or truncated input.
    pub fn decode(buf: &[u8]) -> Result<Self> {
        let mut m = ModelProto::default();
        let mut r = Reader::new(buf, "ModelProto");
        let mut has_graph = false;
        while let Some((n, f)) = r.next_field()? {
            match n {
                1 => m.ir_version = f.as_i64("ModelProto.ir_version")?,
                2 => m.producer_name = f.as_string("ModelProto.producer_name")?,
                7 => {
                    m.graph = GraphProto::decode(f.as_bytes("ModelProto.graph")?)?;
                    has_graph = true;
                }
                8 => m
                    .opset_import
                    .push(OpsetId::decode(f.as_bytes("opset_import")?)?),
                _ => {}
            }
        }
        if !has_graph {
            return Err(Error::Corrupt {
                what: "ModelProto",
                offset: buf.len(),
                msg: "no graph: this is not an ONNX model file (or it is empty)".into(),
            });
        }
        Ok(m)
    }

    /// Encodes the model as protobuf bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.int(1, self.ir_version);
        w.bytes(2, self.producer_name.as_bytes());
        w.message(7, |w| self.graph.encode(w));
        for o in &self.opset_import {
            w.message(8, |w| {
                w.bytes(1, o.domain.as_bytes());
                w.int(2, o.version);
            });
        }
        w.buf
    }

    /// The version of ONNX's default operator set that the graph imports (0 when none is).
    pub fn default_opset(&self) -> i64 {
        self.opset_import
            .iter()
            .filter(|o| o.domain.is_empty() || o.domain == "ai.onnx")
            .map(|o| o.version)
            .max()
            .unwrap_or(0)
    }
}

impl OpsetId {
    fn decode(buf: &[u8]) -> Result<Self> {
        let mut o = OpsetId::default();
        let mut r = Reader::new(buf, "OperatorSetIdProto");
        while let Some((n, f)) = r.next_field()? {
            match n {
                1 => o.domain = f.as_string("OperatorSetIdProto.domain")?,
                2 => o.version = f.as_i64("OperatorSetIdProto.version")?,
                _ => {}
            }
        }
        Ok(o)
    }
}

impl GraphProto {
    fn decode(buf: &[u8]) -> Result<Self> {
        let mut g = GraphProto::default();
        let mut r = Reader::new(buf, "GraphProto");
        while let Some((n, f)) = r.next_field()? {
            match n {
                1 => g
                    .nodes
                    .push(NodeProto::decode(f.as_bytes("GraphProto.node")?)?),
                2 => g.name = f.as_string("GraphProto.name")?,
                5 => g
                    .initializers
                    .push(TensorProto::decode(f.as_bytes("initializer")?)?),
                11 => g.inputs.push(ValueInfo::decode(f.as_bytes("input")?)?),
                12 => g.outputs.push(ValueInfo::decode(f.as_bytes("output")?)?),
                _ => {}
            }
        }
        Ok(g)
    }

    fn encode(&self, w: &mut Writer) {
        for node in &self.nodes {
            w.message(1, |w| node.encode(w));
        }
        w.bytes(2, self.name.as_bytes());
        for t in &self.initializers {
            w.message(5, |w| t.encode(w));
        }
        for v in &self.inputs {
            w.message(11, |w| v.encode(w));
        }
        for v in &self.outputs {
            w.message(12, |w| v.encode(w));
        }
    }
}

impl NodeProto {
    fn decode(buf: &[u8]) -> Result<Self> {
        let mut node = NodeProto::default();
        let mut r = Reader::new(buf, "NodeProto");
        while let Some((n, f)) = r.next_field()? {
            match n {
                1 => node.inputs.push(f.as_string("NodeProto.input")?),
                2 => node.outputs.push(f.as_string("NodeProto.output")?),
                3 => node.name = f.as_string("NodeProto.name")?,
                4 => node.op_type = f.as_string("NodeProto.op_type")?,
                5 => node
                    .attributes
                    .push(Attribute::decode(f.as_bytes("NodeProto.attribute")?)?),
                7 => node.domain = f.as_string("NodeProto.domain")?,
                _ => {}
            }
        }
        Ok(node)
    }

    fn encode(&self, w: &mut Writer) {
        for i in &self.inputs {
            w.bytes(1, i.as_bytes());
        }
        for o in &self.outputs {
            w.bytes(2, o.as_bytes());
        }
        w.bytes(3, self.name.as_bytes());
        w.bytes(4, self.op_type.as_bytes());
        for a in &self.attributes {
            w.message(5, |w| a.encode(w));
        }
        if !self.domain.is_empty() {
            w.bytes(7, self.domain.as_bytes());
        }
    }

    /// The attribute called `name`, if the node has it.
    pub fn attr(&self, name: &str) -> Option<&AttrValue> {
        self.attributes
            .iter()
            .find(|a| a.name == name)
            .map(|a| &a.value)
    }
}

impl Attribute {
    fn decode(buf: &[u8]) -> Result<Self> {
        let what = "AttributeProto";
        let mut name = String::new();
        let mut ty = 0i64;
        let (mut f32v, mut i64v, mut s, mut t, mut g) = (None, None, None, None, false);
        let (mut floats, mut ints, mut strings) = (vec![], vec![], vec![]);
        let mut r = Reader::new(buf, what);
        while let Some((n, f)) = r.next_field()? {
            match n {
                1 => name = f.as_string("AttributeProto.name")?,
                2 => f32v = Some(f.as_f32("AttributeProto.f")?),
                3 => i64v = Some(f.as_i64("AttributeProto.i")?),
                4 => s = Some(f.as_bytes("AttributeProto.s")?.to_vec()),
                5 => t = Some(TensorProto::decode(f.as_bytes("AttributeProto.t")?)?),
                6 | 11 => g = true,
                7 => f.push_f32s(&mut floats, "AttributeProto.floats")?,
                8 => f.push_i64s(&mut ints, "AttributeProto.ints")?,
                9 => strings.push(f.as_bytes("AttributeProto.strings")?.to_vec()),
                20 => ty = f.as_i64("AttributeProto.type")?,
                _ => {}
            }
        }
        // `type` (AttributeType) says which field holds the value; files from before it
        // existed are told apart by which field is set.
        let value = match ty {
            1 => AttrValue::Float(f32v.unwrap_or(0.0)),
            2 => AttrValue::Int(i64v.unwrap_or(0)),
            3 => AttrValue::String(s.unwrap_or_default()),
            4 => AttrValue::Tensor(t.unwrap_or_default()),
            5 | 10 => AttrValue::Graph,
            6 => AttrValue::Floats(floats),
            7 => AttrValue::Ints(ints),
            8 => AttrValue::Strings(strings),
            _ => {
                if let Some(v) = f32v {
                    AttrValue::Float(v)
                } else if let Some(v) = i64v {
                    AttrValue::Int(v)
                } else if let Some(v) = s {
                    AttrValue::String(v)
                } else if let Some(v) = t {
                    AttrValue::Tensor(v)
                } else if g {
                    AttrValue::Graph
                } else if !floats.is_empty() {
                    AttrValue::Floats(floats)
                } else if !strings.is_empty() {
                    AttrValue::Strings(strings)
                } else {
                    AttrValue::Ints(ints)
                }
            }
        };
        Ok(Attribute { name, value })
    }

    fn encode(&self, w: &mut Writer) {
        w.bytes(1, self.name.as_bytes());
        let ty = match &self.value {
            AttrValue::Float(v) => {
                w.float(2, *v);
                1
            }
            AttrValue::Int(v) => {
                w.int(3, *v);
                2
            }
            AttrValue::String(v) => {
                w.bytes(4, v);
                3
            }
            AttrValue::Tensor(t) => {
                w.message(5, |w| t.encode(w));
                4
            }
            AttrValue::Graph => 5,
            AttrValue::Floats(v) => {
                w.packed_floats(7, v);
                6
            }
            AttrValue::Ints(v) => {
                w.packed_ints(8, v);
                7
            }
            AttrValue::Strings(v) => {
                for s in v {
                    w.bytes(9, s);
                }
                8
            }
        };
        w.int(20, ty);
    }
}

impl TensorProto {
    fn decode(buf: &[u8]) -> Result<Self> {
        let mut t = TensorProto::default();
        let mut r = Reader::new(buf, "TensorProto");
        while let Some((n, f)) = r.next_field()? {
            match n {
                1 => f.push_i64s(&mut t.dims, "TensorProto.dims")?,
                2 => t.data_type = f.as_i64("TensorProto.data_type")? as i32,
                4 => f.push_f32s(&mut t.float_data, "TensorProto.float_data")?,
                5 => f.push_i64s(&mut t.int32_data, "TensorProto.int32_data")?,
                7 => f.push_i64s(&mut t.int64_data, "TensorProto.int64_data")?,
                8 => t.name = f.as_string("TensorProto.name")?,
                9 => t.raw_data = f.as_bytes("TensorProto.raw_data")?.to_vec(),
                10 => f.push_f64s(&mut t.double_data, "TensorProto.double_data")?,
                13 => t.external = true,
                14 => t.external = f.as_i64("TensorProto.data_location")? == 1,
                _ => {}
            }
        }
        Ok(t)
    }

    fn encode(&self, w: &mut Writer) {
        w.packed_ints(1, &self.dims);
        w.int(2, i64::from(self.data_type));
        if !self.float_data.is_empty() {
            w.packed_floats(4, &self.float_data);
        }
        if !self.int64_data.is_empty() {
            w.packed_ints(7, &self.int64_data);
        }
        w.bytes(8, self.name.as_bytes());
        if !self.raw_data.is_empty() {
            w.bytes(9, &self.raw_data);
        }
    }
}

impl ValueInfo {
    fn decode(buf: &[u8]) -> Result<Self> {
        let mut v = ValueInfo::default();
        let mut r = Reader::new(buf, "ValueInfoProto");
        while let Some((n, f)) = r.next_field()? {
            match n {
                1 => v.name = f.as_string("ValueInfoProto.name")?,
                2 => {
                    // TypeProto: field 1 is tensor_type { elem_type = 1; shape = 2 }.
                    let mut tr = Reader::new(f.as_bytes("TypeProto")?, "TypeProto");
                    while let Some((n, f)) = tr.next_field()? {
                        if n != 1 {
                            continue;
                        }
                        let mut rr = Reader::new(f.as_bytes("TypeProto.tensor_type")?, "Tensor");
                        while let Some((n, f)) = rr.next_field()? {
                            match n {
                                1 => v.elem_type = f.as_i64("elem_type")? as i32,
                                2 => v.shape = Some(decode_shape(f.as_bytes("shape")?)?),
                                _ => {}
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(v)
    }

    fn encode(&self, w: &mut Writer) {
        w.bytes(1, self.name.as_bytes());
        w.message(2, |w| {
            w.message(1, |w| {
                w.int(1, i64::from(self.elem_type));
                if let Some(dims) = &self.shape {
                    w.message(2, |w| {
                        for d in dims {
                            w.message(1, |w| match d {
                                Dim::Value(v) => w.int(1, *v),
                                Dim::Param(p) => w.bytes(2, p.as_bytes()),
                                Dim::Unknown => {}
                            });
                        }
                    });
                }
            });
        });
    }
}

/// `TensorShapeProto`: repeated `Dimension { dim_value = 1; dim_param = 2 }`.
fn decode_shape(buf: &[u8]) -> Result<Vec<Dim>> {
    let mut dims = vec![];
    let mut r = Reader::new(buf, "TensorShapeProto");
    while let Some((n, f)) = r.next_field()? {
        if n != 1 {
            continue;
        }
        let mut dim = Dim::Unknown;
        let mut dr = Reader::new(f.as_bytes("Dimension")?, "Dimension");
        while let Some((n, f)) = dr.next_field()? {
            match n {
                1 => dim = Dim::Value(f.as_i64("dim_value")?),
                2 => dim = Dim::Param(f.as_string("dim_param")?),
                _ => {}
            }
        }
        dims.push(dim);
    }
    Ok(dims)
}
