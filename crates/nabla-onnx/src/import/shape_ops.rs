//! Nodes that move data without arithmetic (reshape, transpose, concat, split, slice,
//! gather, squeeze, pad, ...) and the constant makers. Each works on float tensors and on
//! host integers (shape computations), which take the same code through [`IntTensor`]
//! helpers.

use super::ctx::Ctx;
use crate::proto::AttrValue;
use crate::value::{checked_numel, decode_tensor, IntTensor, Value};
use crate::Result;
use nabla::{DType, Tensor};

/// Resolved axes of an axes list for `rank`, sorted, without duplicates.
fn axes(c: &Ctx, list: &[i64], rank: usize) -> Result<Vec<usize>> {
    let mut out: Vec<usize> = list
        .iter()
        .map(|&a| c.axis(a, rank))
        .collect::<Result<_>>()?;
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// A value reshaped to `dims` (same element count).
fn reshaped(v: &Value, dims: &[usize]) -> Result<Value> {
    Ok(match v {
        Value::Float(t) => Value::Float(t.reshape(dims)?),
        Value::Int(i) => Value::Int(IntTensor {
            dims: dims.to_vec(),
            data: i.data.clone(),
        }),
    })
}

/// Identity (and Cast between float types).
pub fn identity(c: &Ctx) -> Result<Vec<Value>> {
    Ok(vec![c.input(0)?.clone()])
}

/// Cast: to float (1, 10, 11, 16) or to an integer type (6, 7, 9 bool, ...).
pub fn cast(c: &Ctx) -> Result<Vec<Value>> {
    let to = c.attr_i("to", 0)?;
    let v = c.input(0)?;
    Ok(vec![match (to, v) {
        (1 | 10 | 11 | 16, _) => Value::Float(c.float(0)?),
        (2..=7 | 12 | 13, Value::Int(i)) => Value::Int(i.clone()),
        (9, Value::Int(i)) => Value::Int(IntTensor {
            dims: i.dims.clone(),
            data: i.data.iter().map(|&x| i64::from(x != 0)).collect(),
        }),
        (2..=7 | 9 | 12 | 13, Value::Float(t)) => Value::Int(IntTensor::from_float(t, to == 9)?),
        (to, _) => return Err(c.err(format!("cast to element type {to} is not supported"))),
    }])
}

/// Flatten to `[prod(dims[..axis]), prod(dims[axis..])]`.
pub fn flatten(c: &Ctx) -> Result<Vec<Value>> {
    let v = c.input(0)?;
    let dims = v.dims();
    let axis = c.attr_i("axis", 1)?;
    let r = dims.len() as i64;
    if axis < -r || axis > r {
        return Err(c.err(format!("axis {axis} is out of range for rank {r}")));
    }
    let axis = if axis < 0 { axis + r } else { axis } as usize;
    let outer: usize = dims[..axis].iter().product();
    let inner: usize = dims[axis..].iter().product();
    Ok(vec![reshaped(v, &[outer, inner])?])
}

/// Reshape: 0 copies the input's dim (unless `allowzero`), -1 is inferred.
pub fn reshape(c: &Ctx) -> Result<Vec<Value>> {
    let v = c.input(0)?;
    let dims = v.dims();
    let target = c.ints(1)?.data;
    let allow_zero = c.attr_i("allowzero", 0)? != 0;
    let mut out = Vec::with_capacity(target.len());
    let mut infer = None;
    for (i, &d) in target.iter().enumerate() {
        match d {
            -1 if infer.is_none() => {
                infer = Some(i);
                out.push(1);
            }
            0 if !allow_zero => out.push(*dims.get(i).ok_or_else(|| {
                c.err(format!(
                    "shape {target:?} copies dim {i}, which the input {dims:?} lacks"
                ))
            })?),
            d if d >= 0 => out.push(d as usize),
            _ => return Err(c.err(format!("invalid target shape {target:?}"))),
        }
    }
    let total: usize = dims.iter().product();
    if let Some(i) = infer {
        // The target's sizes come from the file: their product may overflow.
        let known = checked_numel(&out)
            .filter(|&k| k > 0 && total.is_multiple_of(k))
            .ok_or_else(|| c.err(format!("cannot reshape {dims:?} to {target:?}")))?;
        out[i] = total / known;
    }
    if checked_numel(&out) != Some(total) {
        return Err(c.err(format!(
            "cannot reshape {dims:?} ({total} elements) to {target:?}"
        )));
    }
    Ok(vec![reshaped(v, &out)?])
}

/// Transpose by `perm` (default: reversed dims).
pub fn transpose(c: &Ctx) -> Result<Vec<Value>> {
    let v = c.input(0)?;
    let rank = v.dims().len();
    let perm: Vec<usize> = match c.attr_ints("perm")? {
        Some(p) => p.iter().map(|&a| c.axis(a, rank)).collect::<Result<_>>()?,
        None => (0..rank).rev().collect(),
    };
    let mut seen = perm.clone();
    seen.sort_unstable();
    if seen != (0..rank).collect::<Vec<_>>() {
        return Err(c.err(format!("perm {perm:?} is not a permutation of 0..{rank}")));
    }
    Ok(vec![match v {
        Value::Float(t) => Value::Float(t.permute(&perm)?.contiguous()?),
        Value::Int(i) => {
            // As i64 (through f32, values past 2^24 would change).
            // Shape arithmetic runs on host integers (the importer's design); the result starts there.
            let t = Tensor::from_vec(i.data.clone(), &i.dims, &nabla::Device::Cpu)?
                .permute(&perm)?
                .contiguous()?;
            Value::Int(IntTensor {
                dims: t.dims().to_vec(),
                data: t.to_vec::<i64>()?,
            })
        }
    }])
}

/// Concat along `axis`.
pub fn concat(c: &Ctx) -> Result<Vec<Value>> {
    let values: Vec<&Value> = (0..c.inputs.len()).filter_map(|i| c.opt(i)).collect();
    let first = values.first().ok_or_else(|| c.err("no inputs"))?;
    let rank = first.dims().len();
    if rank == 0 {
        return Err(c.err("cannot concatenate scalars (rank 0)"));
    }
    let axis = c.axis(c.attr_i("axis", 0)?, rank)?;
    if values.iter().all(|v| matches!(v, Value::Int(_))) {
        let ints: Vec<&IntTensor> = values
            .iter()
            .map(|v| match v {
                Value::Int(i) => i,
                Value::Float(_) => unreachable!("all were checked to be integers"),
            })
            .collect();
        return Ok(vec![Value::Int(concat_ints(c, &ints, axis)?)]);
    }
    let floats: Vec<Tensor> = values
        .iter()
        .map(|v| crate::import::ctx::to_float(v, &c.device))
        .collect::<Result<_>>()?;
    let refs: Vec<&Tensor> = floats.iter().collect();
    Ok(vec![Value::Float(Tensor::cat(&refs, axis)?)])
}

fn concat_ints(c: &Ctx, parts: &[&IntTensor], axis: usize) -> Result<IntTensor> {
    let dims0 = &parts[0].dims;
    let outer: usize = dims0[..axis].iter().product();
    let mut dims = dims0.clone();
    dims[axis] = 0;
    for p in parts {
        if p.dims.len() != dims0.len()
            || p.dims[..axis] != dims0[..axis]
            || p.dims[axis + 1..] != dims0[axis + 1..]
        {
            return Err(c.err(format!("cannot concatenate {:?} with {:?}", dims0, p.dims)));
        }
        dims[axis] += p.dims[axis];
    }
    let mut data = Vec::new();
    for o in 0..outer {
        for p in parts {
            let row: usize = p.dims[axis..].iter().product();
            data.extend_from_slice(&p.data[o * row..(o + 1) * row]);
        }
    }
    Ok(IntTensor { dims, data })
}

/// Values taken at `indices` along `axis` (indices already in range); the axis keeps its
/// place with `indices.len()` entries.
fn take(c: &Ctx, v: &Value, axis: usize, indices: &[usize]) -> Result<Value> {
    let dims = v.dims();
    Ok(match v {
        Value::Float(t) => {
            let contiguous_run = indices.windows(2).all(|w| w[1] == w[0] + 1);
            if contiguous_run && !indices.is_empty() {
                Value::Float(t.narrow(axis, indices[0], indices.len())?)
            } else {
                let idx: Vec<i64> = indices.iter().map(|&i| i as i64).collect();
                let idx = Tensor::from_vec(idx, &[indices.len()], &c.device)?;
                Value::Float(t.index_select(axis, &idx)?)
            }
        }
        Value::Int(i) => {
            let outer: usize = dims[..axis].iter().product();
            let inner: usize = dims[axis + 1..].iter().product();
            let mut data = Vec::with_capacity(outer * indices.len() * inner);
            for o in 0..outer {
                for &k in indices {
                    let start = (o * dims[axis] + k) * inner;
                    data.extend_from_slice(&i.data[start..start + inner]);
                }
            }
            let mut out = dims.clone();
            out[axis] = indices.len();
            Value::Int(IntTensor { dims: out, data })
        }
    })
}

/// Gather along `axis`: the output is `dims[..axis] ++ indices.dims ++ dims[axis + 1..]`.
pub fn gather(c: &Ctx) -> Result<Vec<Value>> {
    let v = c.input(0)?;
    let dims = v.dims();
    let axis = c.axis(c.attr_i("axis", 0)?, dims.len())?;
    let idx = c.ints(1)?;
    let size = dims[axis] as i64;
    let flat: Vec<usize> = idx
        .data
        .iter()
        .map(|&i| {
            let j = if i < 0 { i + size } else { i };
            (0..size).contains(&j).then_some(j as usize).ok_or_else(|| {
                c.err(format!(
                    "index {i} is out of range for axis {axis} of size {size}"
                ))
            })
        })
        .collect::<Result<_>>()?;
    let taken = take(c, v, axis, &flat)?;
    let mut out = dims[..axis].to_vec();
    out.extend_from_slice(&idx.dims);
    out.extend_from_slice(&dims[axis + 1..]);
    Ok(vec![reshaped(&taken, &out)?])
}

/// Slice with starts, ends, axes and steps as inputs (opset ≥ 10) or attributes (before).
pub fn slice(c: &Ctx) -> Result<Vec<Value>> {
    let v = c.input(0)?;
    let dims = v.dims();
    let (starts, ends, ax, steps) = if c.opset >= 10 {
        (
            c.ints(1)?.data,
            c.ints(2)?.data,
            c.opt_ints(3)?,
            c.opt_ints(4)?,
        )
    } else {
        let req = |n: &str| {
            c.attr_ints(n)?
                .ok_or_else(|| c.err(format!("{n} is required")))
        };
        (req("starts")?, req("ends")?, c.attr_ints("axes")?, None)
    };
    let ax = ax.unwrap_or_else(|| (0..starts.len() as i64).collect());
    let steps = steps.unwrap_or_else(|| vec![1; starts.len()]);
    if ends.len() != starts.len() || ax.len() != starts.len() || steps.len() != starts.len() {
        return Err(c.err("starts, ends, axes and steps must have the same length"));
    }
    let mut out = v.clone();
    for k in 0..starts.len() {
        let axis = c.axis(ax[k], dims.len())?;
        let n = dims[axis] as i64;
        let step = steps[k];
        if step == 0 {
            return Err(c.err("a step of 0"));
        }
        let norm = |x: i64| if x < 0 { x.saturating_add(n) } else { x };
        let (mut i, end) = if step > 0 {
            (norm(starts[k]).clamp(0, n), norm(ends[k]).clamp(0, n))
        } else {
            (
                norm(starts[k]).clamp(0, n - 1),
                norm(ends[k]).clamp(-1, n - 1),
            )
        };
        let mut indices = Vec::new();
        while (step > 0 && i < end) || (step < 0 && i > end) {
            indices.push(i as usize);
            i += step;
        }
        out = take(c, &out, axis, &indices)?;
    }
    Ok(vec![out])
}

/// Split along `axis` into given sizes (attribute before opset 13, input from it on) or
/// into equal parts, one per output (`num_outputs` from opset 18).
pub fn split(c: &Ctx) -> Result<Vec<Value>> {
    let v = c.input(0)?;
    let dims = v.dims();
    let axis = c.axis(c.attr_i("axis", 0)?, dims.len())?;
    let size = dims[axis];
    let given = if c.opset >= 13 {
        c.opt_ints(1)?
    } else {
        c.attr_ints("split")?
    };
    let sizes: Vec<usize> = match given {
        Some(s) => s
            .iter()
            .map(|&x| usize::try_from(x).map_err(|_| c.err(format!("negative split size {x}"))))
            .collect::<Result<_>>()?,
        None => {
            let n = c.node.outputs.len().max(1);
            let part = size.div_ceil(n);
            (0..n)
                .map(|i| part.min(size.saturating_sub(i * part)))
                .collect()
        }
    };
    if sizes.iter().sum::<usize>() != size {
        return Err(c.err(format!("sizes {sizes:?} do not add up to {size}")));
    }
    let mut start = 0;
    let mut parts = Vec::with_capacity(sizes.len());
    for s in sizes {
        let idx: Vec<usize> = (start..start + s).collect();
        parts.push(take(c, v, axis, &idx)?);
        start += s;
    }
    Ok(parts)
}

/// Squeeze the given axes (all size-1 dims when none are given).
pub fn squeeze(c: &Ctx) -> Result<Vec<Value>> {
    let v = c.input(0)?;
    let dims = v.dims();
    let list = if c.opset >= 13 {
        c.opt_ints(1)?
    } else {
        c.attr_ints("axes")?
    };
    let drop = match list {
        Some(l) => axes(c, &l, dims.len())?,
        None => (0..dims.len()).filter(|&i| dims[i] == 1).collect(),
    };
    if let Some(&a) = drop.iter().find(|&&a| dims[a] != 1) {
        return Err(c.err(format!(
            "cannot squeeze axis {a} of size {} in {dims:?}",
            dims[a]
        )));
    }
    let out: Vec<usize> = (0..dims.len())
        .filter(|i| !drop.contains(i))
        .map(|i| dims[i])
        .collect();
    Ok(vec![reshaped(v, &out)?])
}

/// Unsqueeze: insert size-1 dims at the given axes of the output.
pub fn unsqueeze(c: &Ctx) -> Result<Vec<Value>> {
    let v = c.input(0)?;
    let dims = v.dims();
    let list = if c.opset >= 13 {
        c.ints(1)?.data
    } else {
        c.attr_ints("axes")?
            .ok_or_else(|| c.err("axes is required"))?
    };
    let rank = dims.len() + list.len();
    let at = axes(c, &list, rank)?;
    if at.len() != list.len() {
        return Err(c.err(format!("repeated axes in {list:?}")));
    }
    let mut rest = dims.iter();
    let out: Vec<usize> = (0..rank)
        .map(|i| {
            if at.contains(&i) {
                1
            } else {
                *rest.next().expect("rank counts dims")
            }
        })
        .collect();
    Ok(vec![reshaped(v, &out)?])
}

/// Pad with a constant (mode "constant"); pads are `[x1_begin, x2_begin, ..., x1_end, ...]`.
pub fn pad(c: &Ctx) -> Result<Vec<Value>> {
    let x = c.float(0)?;
    let mode = c.attr_s("mode", "constant")?;
    if mode != "constant" {
        return Err(c.err(format!("mode {mode} is not supported (constant is)")));
    }
    let rank = x.rank();
    let (pads, value, ax) = if c.opset >= 11 {
        (
            c.ints(1)?.data,
            c.opt_scalar(2)?.unwrap_or(0.0),
            c.opt_ints(3)?,
        )
    } else {
        let p = c
            .attr_ints("pads")?
            .ok_or_else(|| c.err("pads is required"))?;
        (p, f64::from(c.attr_f("value", 0.0)?), None)
    };
    let ax: Vec<usize> = match ax {
        Some(a) => a.iter().map(|&d| c.axis(d, rank)).collect::<Result<_>>()?,
        None => (0..rank).collect(),
    };
    if pads.len() != 2 * ax.len() {
        return Err(c.err(format!("{} pads for {} axes", pads.len(), ax.len())));
    }
    let mut per_dim = vec![(0usize, 0usize); rank];
    for (k, &a) in ax.iter().enumerate() {
        let (b, e) = (pads[k], pads[k + ax.len()]);
        if b < 0 || e < 0 || b > 1 << 20 || e > 1 << 20 {
            return Err(c.err(format!(
                "pads {pads:?}: negative or huge pads are not supported"
            )));
        }
        per_dim[a] = (b as usize, e as usize);
    }
    let mut grown = x.dims().to_vec();
    for (d, (b, e)) in grown.iter_mut().zip(&per_dim) {
        *d += b + e;
    }
    if checked_numel(&grown).is_none() {
        return Err(c.err(format!("padding to {grown:?} is too large")));
    }
    Ok(vec![Value::Float(x.pad(&per_dim, value)?)])
}

/// Shape of the input (dims `start..end`, opset 15).
pub fn shape(c: &Ctx) -> Result<Vec<Value>> {
    let dims = c.input(0)?.dims();
    let r = dims.len() as i64;
    let clampi = |x: i64| (if x < 0 { x + r } else { x }).clamp(0, r) as usize;
    let start = clampi(c.attr_i("start", 0)?);
    let end = clampi(c.attr_i("end", r)?);
    let data: Vec<i64> = dims[start..end.max(start)]
        .iter()
        .map(|&d| d as i64)
        .collect();
    Ok(vec![Value::Int(IntTensor::vector(data))])
}

/// Constant from one of its value attributes.
pub fn constant(c: &Ctx) -> Result<Vec<Value>> {
    let attr = c
        .node
        .attributes
        .first()
        .ok_or_else(|| c.err("no value attribute"))?;
    Ok(vec![match (attr.name.as_str(), &attr.value) {
        ("value", AttrValue::Tensor(t)) => decode_tensor(t, &c.device)?,
        ("value_float", AttrValue::Float(v)) => {
            Value::Float(Tensor::from_vec(vec![*v], &[], &c.device)?)
        }
        ("value_floats", AttrValue::Floats(v)) => {
            Value::Float(Tensor::from_vec(v.clone(), &[v.len()], &c.device)?)
        }
        ("value_int", AttrValue::Int(v)) => Value::Int(IntTensor {
            dims: vec![],
            data: vec![*v],
        }),
        ("value_ints", AttrValue::Ints(v)) => Value::Int(IntTensor::vector(v.clone())),
        (name, _) => return Err(c.err(format!("value attribute {name} is not supported"))),
    }])
}

/// ConstantOfShape: a tensor of the given shape filled with `value` (float 0 by default).
pub fn constant_of_shape(c: &Ctx) -> Result<Vec<Value>> {
    let shape = c.ints(0)?.data;
    let dims: Vec<usize> = shape
        .iter()
        .map(|&d| usize::try_from(d).map_err(|_| c.err(format!("negative dim in {shape:?}"))))
        .collect::<Result<_>>()?;
    let n = checked_numel(&dims).ok_or_else(|| c.err(format!("shape {dims:?} is too large")))?;
    let fill = match c.node.attr("value") {
        Some(AttrValue::Tensor(t)) => decode_tensor(t, &c.device)?,
        _ => Value::Float(Tensor::zeros(&[1], DType::F32, &c.device)),
    };
    Ok(vec![match fill {
        Value::Float(t) => {
            let v = f64::from(t.reshape(&[1])?.to_vec::<f32>()?[0]);
            Value::Float(Tensor::full(v, &dims, DType::F32, &c.device))
        }
        Value::Int(i) => Value::Int(IntTensor {
            dims,
            data: vec![i.data.first().copied().unwrap_or(0); n],
        }),
    }])
}

/// Expand: broadcast to a shape (NumPy's rule, in both directions).
pub fn expand(c: &Ctx) -> Result<Vec<Value>> {
    let x = c.float(0)?;
    let target: Vec<usize> = c
        .ints(1)?
        .data
        .iter()
        .map(|&d| usize::try_from(d).map_err(|_| c.err("negative dim")))
        .collect::<Result<_>>()?;
    let shape =
        nabla::broadcast_shape(x.shape(), &nabla::Shape::from(target.as_slice()), "Expand")?;
    if checked_numel(shape.dims()).is_none() {
        return Err(c.err(format!("shape {shape} is too large")));
    }
    Ok(vec![Value::Float(
        x.broadcast_to(shape.dims())?.contiguous()?,
    )])
}
