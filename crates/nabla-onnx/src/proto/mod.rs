//! The ONNX messages nabla reads and writes, over a hand-written protobuf layer.
//!
//! The field numbers are those of the official `onnx/onnx.proto` (Apache-2.0, © ONNX Project
//! Contributors); no code of it is copied or generated. Only the fields nabla uses are kept;
//! others are skipped, as protobuf readers do with unknown fields. See docs/onnx.md for why
//! this layer is hand-written rather than generated.

pub mod messages;
pub mod wire;

pub use messages::{
    AttrValue, Attribute, Dim, GraphProto, ModelProto, NodeProto, OpsetId, TensorProto, ValueInfo,
};
