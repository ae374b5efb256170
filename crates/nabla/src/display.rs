//! `Display` for tensors, formatted like PyTorch's `print(tensor)`.

use crate::{DType, Tensor};
use std::fmt;

/// Tensors with more elements than this are summarized with `...`.
const SUMMARIZE_ABOVE: usize = 1000;
/// Elements shown at each end of a summarized dim.
const EDGE: usize = 3;

/// How every element of one tensor is written (one style for all, so columns align).
struct Style {
    integral: bool,
    scientific: bool,
    int_dtype: bool,
    width: usize,
}

impl Style {
    fn new(values: &[f64], dtype: DType) -> Style {
        let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
        let int_dtype = dtype == DType::I64;
        let integral = int_dtype || finite.iter().all(|v| v.fract() == 0.0);
        let max = finite.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let min = finite
            .iter()
            .filter(|v| **v != 0.0)
            .fold(f64::INFINITY, |m, v| m.min(v.abs()));
        let scientific = !int_dtype
            && (max >= 1e8
                || (!integral && min < 1e-4)
                || (min.is_finite() && max / min > 1e3 && !integral));
        let mut style = Style {
            integral,
            scientific,
            int_dtype,
            width: 0,
        };
        style.width = values
            .iter()
            .map(|&v| style.format(v).len())
            .max()
            .unwrap_or(0);
        style
    }

    fn format(&self, v: f64) -> String {
        if v.is_nan() {
            "nan".into()
        } else if v.is_infinite() {
            if v > 0.0 {
                "inf".into()
            } else {
                "-inf".into()
            }
        } else if self.int_dtype {
            format!("{}", v as i64)
        } else if self.scientific {
            // PyTorch writes exponents with a sign and two digits: 1.0000e-06.
            let text = format!("{v:.4e}");
            let (mantissa, exp) = text.split_once('e').expect("{:e} output has an exponent");
            let exp: i32 = exp.parse().expect("{:e} exponent is an integer");
            format!(
                "{mantissa}e{}{:02}",
                if exp < 0 { '-' } else { '+' },
                exp.abs()
            )
        } else if self.integral {
            format!("{v:.0}.")
        } else {
            format!("{v:.4}")
        }
    }
}

fn write_dim(
    f: &mut fmt::Formatter<'_>,
    t: &Tensor,
    style: &Style,
    index: &mut Vec<usize>,
    indent: usize,
    summarize: bool,
) -> fmt::Result {
    let dims = t.dims();
    let d = index.len();
    if d == dims.len() {
        let v = t.get(index).map_err(|_| fmt::Error)?;
        return write!(f, "{:>w$}", style.format(v), w = style.width);
    }
    let n = dims[d];
    let shown: Vec<Option<usize>> = if summarize && n > 2 * EDGE {
        (0..EDGE)
            .map(Some)
            .chain(std::iter::once(None))
            .chain((n - EDGE..n).map(Some))
            .collect()
    } else {
        (0..n).map(Some).collect()
    };
    write!(f, "[")?;
    for (k, i) in shown.iter().enumerate() {
        if k > 0 {
            if d + 1 == dims.len() {
                write!(f, ", ")?;
            } else {
                write!(
                    f,
                    ",{}{}",
                    "\n".repeat(dims.len() - d - 1),
                    " ".repeat(indent + 1)
                )?;
            }
        }
        match i {
            Some(i) => {
                index.push(*i);
                write_dim(f, t, style, index, indent + 1, summarize)?;
                index.pop();
            }
            None => write!(f, "...")?,
        }
    }
    write!(f, "]")
}

impl fmt::Display for Tensor {
    /// ```
    /// # use nabla::{Device, Tensor};
    /// let t = Tensor::from_slice(&[1.0f32, -2.5, 3.0, 4.0], &[2, 2], &Device::Cpu)?;
    /// assert_eq!(t.to_string(), "tensor([[ 1.0000, -2.5000],\n        [ 3.0000,  4.0000]])");
    /// # Ok::<(), nabla::Error>(())
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let values = self.to_vec::<f64>().map_err(|_| fmt::Error)?;
        let summarize = self.numel() > SUMMARIZE_ABOVE;
        let style = Style::new(&values, self.dtype());
        write!(f, "tensor(")?;
        if self.rank() == 0 {
            write!(f, "{}", style.format(values[0]))?;
        } else {
            write_dim(f, self, &style, &mut Vec::new(), "tensor(".len(), summarize)?;
        }
        if self.dtype() != DType::F32 {
            write!(f, ", dtype={}", self.dtype())?;
        }
        if self.is_leaf_variable() {
            write!(f, ", requires_grad=True")?;
        } else if let Some(name) = self.grad_fn_name() {
            write!(f, ", grad_fn=<{name}>")?;
        }
        write!(f, ")")
    }
}

#[cfg(test)]
mod tests {
    use crate::{DType, Device, Tensor};

    #[test]
    fn prints_like_pytorch() {
        let dev = Device::Cpu;
        let t = Tensor::from_slice(&[1.0f32, 2.0, 3.0], &[3], &dev).unwrap();
        assert_eq!(t.to_string(), "tensor([1., 2., 3.])");
        let s = Tensor::scalar(0.5, DType::F64, &dev);
        assert_eq!(s.to_string(), "tensor(0.5000, dtype=f64)");
        let x = Tensor::from_slice(&[-2.0f32], &[1], &dev)
            .unwrap()
            .requires_grad();
        assert_eq!(x.to_string(), "tensor([-2.], requires_grad=True)");
        let y = x.mul_scalar(2.0).unwrap();
        assert_eq!(y.to_string(), "tensor([-4.], grad_fn=<MulBackward>)");
        let big = Tensor::zeros(&[2000], DType::F32, &dev);
        assert_eq!(big.to_string(), "tensor([0., 0., 0., ..., 0., 0., 0.])");
        let i = Tensor::from_slice(&[3i64, 1], &[2], &dev).unwrap();
        assert_eq!(i.to_string(), "tensor([3, 1], dtype=i64)");
        // PyTorch prints bf16(0.1) as 0.1001 too: the value shown is the value stored.
        let b = Tensor::from_slice(&[0.1f32, 2.0], &[2], &dev)
            .unwrap()
            .to_dtype(DType::BF16)
            .unwrap();
        assert_eq!(b.to_string(), "tensor([0.1001, 2.0000], dtype=bf16)");
        let h = Tensor::full(1.5, &[2], DType::F16, &dev);
        assert_eq!(h.to_string(), "tensor([1.5000, 1.5000], dtype=f16)");
        let e = Tensor::from_slice(&[1e-6f32, 1.0], &[2], &dev).unwrap();
        assert_eq!(e.to_string(), "tensor([1.0000e-06, 1.0000e+00])");
        let m = Tensor::from_slice(
            &[1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0],
            &[2, 2, 2],
            &dev,
        )
        .unwrap();
        assert_eq!(
            m.to_string(),
            "tensor([[[1., 2.],\n         [3., 4.]],\n\n        [[5., 6.],\n         [7., 8.]]])"
        );
    }
}
