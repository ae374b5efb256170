//! Values flowing through an imported graph: float tensors (nabla tensors, differentiable)
//! and integer tensors kept on the host (shapes, indices, axes), and their decoding from
//! `TensorProto`.

use crate::proto::messages::data_type as dt;
use crate::proto::TensorProto;
use crate::{Error, Result};
use nabla::{DType, Device, Tensor};

/// The most elements one tensor of a file, or one tensor that a graph asks to create
/// (`ConstantOfShape`, `Expand`, `Pad`), may hold: 2^28 (1 GiB of f32; VGG's largest
/// weight has 103 M).
pub const MAX_ELEMENTS: usize = 1 << 28;

/// An integer tensor on the host: ONNX's int64/int32/bool values, used for shapes, axes and
/// indices, which no gradient flows through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntTensor {
    /// Dimensions (empty for a scalar).
    pub dims: Vec<usize>,
    /// Row-major values.
    pub data: Vec<i64>,
}

impl IntTensor {
    /// A 1-D tensor of `data`.
    pub fn vector(data: Vec<i64>) -> Self {
        IntTensor {
            dims: vec![data.len()],
            data,
        }
    }

    /// The values of a float tensor truncated toward zero (`bool`: whether each is non-zero),
    /// as ONNX's `Cast` to an integer type does.
    ///
    /// # Errors
    /// When the tensor's data cannot be read.
    pub fn from_float(t: &Tensor, bool: bool) -> Result<Self> {
        let data = t
            .to_dtype(nabla::DType::F64)?
            .to_vec::<f64>()?
            .into_iter()
            .map(|x| if bool { i64::from(x != 0.0) } else { x as i64 })
            .collect();
        Ok(IntTensor {
            dims: t.dims().to_vec(),
            data,
        })
    }

    /// As an f32 nabla tensor.
    pub fn to_float(&self, device: &Device) -> Result<Tensor> {
        let v: Vec<f32> = self.data.iter().map(|&x| x as f32).collect();
        Ok(Tensor::from_vec(v, &self.dims, device)?)
    }
}

/// A value of the graph.
#[derive(Debug, Clone)]
pub enum Value {
    /// A float tensor (f32), possibly tracking gradients.
    Float(Tensor),
    /// An integer tensor on the host.
    Int(IntTensor),
}

impl Value {
    /// The value's dims.
    pub fn dims(&self) -> Vec<usize> {
        match self {
            Value::Float(t) => t.dims().to_vec(),
            Value::Int(i) => i.dims.clone(),
        }
    }
}

/// The element count of `dims`, or `None` when it overflows or exceeds [`MAX_ELEMENTS`]
/// (counting the non-zero sizes too, so that an empty shape cannot hide an overflowing one).
pub fn checked_numel(dims: &[usize]) -> Option<usize> {
    let mut n = 1usize;
    let mut nonzero = 1usize;
    for &d in dims {
        n = n.checked_mul(d)?;
        nonzero = nonzero.checked_mul(d.max(1))?;
    }
    (nonzero <= MAX_ELEMENTS).then_some(n)
}

fn bad(name: &str, msg: String) -> Error {
    Error::Graph(format!("tensor '{name}': {msg}"))
}

/// Decodes a `TensorProto` into a [`Value`]: float and double become f32 tensors, integer
/// and boolean types become an [`IntTensor`].
///
/// # Errors
/// [`Error::Graph`] naming the tensor for negative or too large dims, data that does not
/// match the dims, external data, or an element type nabla does not read.
pub fn decode_tensor(t: &TensorProto, device: &Device) -> Result<Value> {
    let name = if t.name.is_empty() {
        "<unnamed>"
    } else {
        &t.name
    };
    let mut dims = Vec::with_capacity(t.dims.len());
    for &d in &t.dims {
        let d = usize::try_from(d).map_err(|_| bad(name, format!("negative dim {d}")))?;
        dims.push(d);
    }
    let numel =
        checked_numel(&dims).ok_or_else(|| bad(name, format!("shape {dims:?} is too large")))?;
    if t.external {
        return Err(bad(
            name,
            "its data is in an external file, which nabla does not read (save the model with all tensors inside the .onnx file)".into(),
        ));
    }
    let count_err = |got: usize| {
        bad(
            name,
            format!("shape {dims:?} needs {numel} values, the file holds {got}"),
        )
    };
    let raw = !t.raw_data.is_empty() || numel == 0;
    match t.data_type {
        dt::FLOAT | dt::DOUBLE => {
            let values: Vec<f32> = if raw && t.data_type == dt::FLOAT {
                if t.raw_data.len() != numel * 4 {
                    return Err(count_err(t.raw_data.len() / 4));
                }
                t.raw_data
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
                    .collect()
            } else if raw {
                if t.raw_data.len() != numel * 8 {
                    return Err(count_err(t.raw_data.len() / 8));
                }
                t.raw_data
                    .chunks_exact(8)
                    .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")) as f32)
                    .collect()
            } else if t.data_type == dt::FLOAT {
                t.float_data.clone()
            } else {
                t.double_data.iter().map(|&v| v as f32).collect()
            };
            if values.len() != numel {
                return Err(count_err(values.len()));
            }
            Ok(Value::Float(Tensor::from_vec(values, &dims, device)?))
        }
        dt::INT64 | dt::INT32 | dt::INT16 | dt::INT8 | dt::UINT8 | dt::BOOL => {
            let width = match t.data_type {
                dt::INT64 => 8,
                dt::INT32 => 4,
                dt::INT16 => 2,
                _ => 1,
            };
            let data: Vec<i64> = if raw {
                if t.raw_data.len() != numel * width {
                    return Err(count_err(t.raw_data.len() / width));
                }
                t.raw_data
                    .chunks_exact(width)
                    .map(|c| match (t.data_type, width) {
                        (_, 8) => i64::from_le_bytes(c.try_into().expect("8 bytes")),
                        (_, 4) => i64::from(i32::from_le_bytes(c.try_into().expect("4 bytes"))),
                        (_, 2) => i64::from(i16::from_le_bytes(c.try_into().expect("2 bytes"))),
                        (dt::INT8, _) => i64::from(c[0] as i8),
                        _ => i64::from(c[0]),
                    })
                    .collect()
            } else if t.data_type == dt::INT64 {
                t.int64_data.clone()
            } else {
                t.int32_data.clone()
            };
            if data.len() != numel {
                return Err(count_err(data.len()));
            }
            Ok(Value::Int(IntTensor { dims, data }))
        }
        other => Err(bad(
            name,
            format!(
                "element type {other} ({}) is not supported (float, double and integer types are)",
                type_name(other)
            ),
        )),
    }
}

/// The name of a `TensorProto.DataType`.
pub fn type_name(t: i32) -> &'static str {
    match t {
        1 => "float",
        2 => "uint8",
        3 => "int8",
        4 => "uint16",
        5 => "int16",
        6 => "int32",
        7 => "int64",
        8 => "string",
        9 => "bool",
        10 => "float16",
        11 => "double",
        12 => "uint32",
        13 => "uint64",
        16 => "bfloat16",
        _ => "other",
    }
}

/// Encodes an f32 tensor as a `TensorProto` named `name` (raw little-endian data).
pub fn encode_float(name: &str, t: &Tensor) -> Result<TensorProto> {
    let values = t.to_dtype(DType::F32)?.to_vec::<f32>()?;
    Ok(TensorProto {
        dims: t.dims().iter().map(|&d| d as i64).collect(),
        data_type: dt::FLOAT,
        name: name.to_string(),
        raw_data: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        ..Default::default()
    })
}

/// Encodes an int64 tensor as a `TensorProto` named `name`.
pub fn encode_int(name: &str, dims: &[usize], data: &[i64]) -> TensorProto {
    TensorProto {
        dims: dims.iter().map(|&d| d as i64).collect(),
        data_type: dt::INT64,
        name: name.to_string(),
        raw_data: data.iter().flat_map(|v| v.to_le_bytes()).collect(),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_tensors_round_trip_through_raw_data() -> Result<()> {
        let t = Tensor::from_vec(
            vec![1.0f32, -2.5, 3.0, 0.0, 5.0, 6.0],
            &[2, 3],
            &Device::Cpu,
        )?;
        let Value::Float(back) = decode_tensor(&encode_float("w", &t)?, &Device::Cpu)? else {
            panic!("expected a float tensor");
        };
        assert_eq!(back.dims(), &[2, 3]);
        assert_eq!(back.to_vec::<f32>()?, t.to_vec::<f32>()?);
        Ok(())
    }

    #[test]
    fn data_shorter_than_the_dims_is_an_error_naming_the_tensor() {
        let mut p = encode_int("shape", &[3], &[1, 2, 3]);
        p.raw_data.truncate(16);
        let err = decode_tensor(&p, &Device::Cpu).unwrap_err().to_string();
        assert!(
            err.contains("'shape'") && err.contains("needs 3 values"),
            "{err}"
        );
    }

    #[test]
    fn absurd_dims_are_refused_before_allocating() {
        let p = TensorProto {
            dims: vec![0, 1 << 40, 1 << 40],
            data_type: dt::FLOAT,
            name: "big".into(),
            ..Default::default()
        };
        let err = decode_tensor(&p, &Device::Cpu).unwrap_err().to_string();
        assert!(err.contains("too large"), "{err}");
    }
}
