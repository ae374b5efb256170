//! Autograd behaviour across ops: the chain rule example, accumulation, no_grad, detach,
//! errors, and deep graphs.

use nabla::{no_grad, DType, Device, Error, Result, Tensor};

fn scalar(v: f32) -> Result<Tensor> {
    Tensor::from_slice(&[v], &[1], &Device::Cpu)
}

#[test]
fn chain_rule_example_gives_the_course_numbers() -> Result<()> {
    let (x, y, z) = (
        scalar(-2.0)?.requires_grad(),
        scalar(5.0)?.requires_grad(),
        scalar(-4.0)?.requires_grad(),
    );
    let f = (&(&x + &y)? * &z)?;
    let g = f.backward()?;
    assert_eq!(f.to_scalar::<f32>()?, -12.0);
    assert_eq!(g.get(&x).unwrap().to_scalar::<f32>()?, -4.0);
    assert_eq!(g.get(&y).unwrap().to_scalar::<f32>()?, -4.0);
    assert_eq!(g.get(&z).unwrap().to_scalar::<f32>()?, 3.0);
    Ok(())
}

#[test]
fn gradients_of_a_tensor_used_twice_accumulate() -> Result<()> {
    // f = x·x + 3x → df/dx = 2x + 3 = 7 at x = 2
    let x = scalar(2.0)?.requires_grad();
    let f = x.mul(&x)?.add(&x.mul_scalar(3.0)?)?;
    assert_eq!(f.backward()?.get(&x).unwrap().to_scalar::<f32>()?, 7.0);
    Ok(())
}

#[test]
fn no_grad_records_nothing_and_detach_cuts_the_graph() -> Result<()> {
    let x = scalar(2.0)?.requires_grad();
    let y = no_grad(|| x.exp())?;
    assert!(!y.tracks_grad());
    assert!(matches!(y.sum_all()?.backward(), Err(Error::Backward(_))));
    // f = x · detach(x): only the first factor carries gradient → df/dx = detach(x) = 2
    let f = x.mul(&x.detach())?;
    assert_eq!(f.backward()?.get(&x).unwrap().to_scalar::<f32>()?, 2.0);
    // Recording resumes after no_grad.
    assert!(x.exp()?.tracks_grad());
    Ok(())
}

#[test]
fn backward_needs_a_scalar() -> Result<()> {
    let x = Tensor::ones(&[3], DType::F32, &Device::Cpu).requires_grad();
    let err = x.mul_scalar(2.0)?.backward().unwrap_err();
    assert!(err.to_string().contains("[3]"), "{err}");
    let g = x
        .mul_scalar(2.0)?
        .backward_with(&Tensor::ones(&[3], DType::F32, &Device::Cpu))?;
    assert_eq!(g.get(&x).unwrap().to_vec::<f32>()?, vec![2.0; 3]);
    Ok(())
}

#[test]
fn a_deep_graph_backpropagates_and_drops_without_overflowing_the_stack() -> Result<()> {
    // 100,000 chained ops, as an RNN unrolled over a long sequence would record.
    let x = scalar(1.0)?.requires_grad();
    let mut y = x.clone();
    for _ in 0..100_000 {
        y = y.add_scalar(1e-5)?;
    }
    let g = y.mul_scalar(2.0)?.backward()?;
    assert_eq!(g.get(&x).unwrap().to_scalar::<f32>()?, 2.0);
    drop(y);
    Ok(())
}

#[test]
fn integer_tensors_are_rejected_by_float_ops() -> Result<()> {
    let i = Tensor::from_slice(&[1i64, 2], &[2], &Device::Cpu)?;
    assert!(matches!(i.exp(), Err(Error::UnsupportedDType { .. })));
    Ok(())
}

#[test]
fn large_integers_survive_to_vec_exactly() -> Result<()> {
    // i64 values above 2^53 must not pass through f64 (RNG states are saved this way).
    let v = vec![i64::MAX, -7, 3_628_211_495_174_958_697];
    assert_eq!(
        Tensor::from_slice(&v, &[3], &Device::Cpu)?.to_vec::<i64>()?,
        v
    );
    Ok(())
}

#[test]
fn a_shape_whose_strides_overflow_is_an_error_even_when_empty() {
    let huge = 1usize << 40;
    assert!(Tensor::from_vec(Vec::<f32>::new(), &[0, huge, huge], &Device::Cpu).is_err());
}
