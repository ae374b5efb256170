//! Memory behaviour of training loops: the graph is freed every step, and a steady step
//! takes its large buffers from the pool instead of the allocator.
//!
//! One test function only: the counters are process-wide, so tests running in parallel
//! would disturb each other.

use nabla::storage::pool_stats;
use nabla::{
    live_tensors, manual_seed, no_grad, Conv2dConfig, DType, Device, Pool2dConfig, Result, Tensor,
};

/// One SGD step of a small conv net on a fixed batch; returns the loss.
fn step(w1: &Tensor, w2: &Tensor, b2: &Tensor, x: &Tensor, y: &Tensor) -> Result<f32> {
    let h = x
        .conv2d(
            w1,
            None,
            Conv2dConfig {
                padding: 1,
                ..Default::default()
            },
        )?
        .relu()?
        .max_pool2d(Pool2dConfig::new(2))?;
    let logits = h.flatten(1, -1)?.linear(w2, Some(b2))?;
    let loss = logits.cross_entropy(y, 0.0)?;
    let grads = loss.backward()?;
    no_grad(|| -> Result<()> {
        for p in [w1, w2, b2] {
            p.copy_from(&p.sub(&grads.get(p).expect("gradient").mul_scalar(0.05)?)?)?;
        }
        Ok(())
    })?;
    loss.to_scalar::<f32>()
}

#[test]
fn training_steps_free_their_graph_and_reuse_buffers() -> Result<()> {
    manual_seed(0);
    let dev = Device::Cpu;
    let w1 = Tensor::randn(&[8, 1, 3, 3], DType::F32, &dev)?
        .mul_scalar(0.3)?
        .requires_grad();
    let w2 = Tensor::randn(&[4, 8 * 8 * 8], DType::F32, &dev)?
        .mul_scalar(0.02)?
        .requires_grad();
    let b2 = Tensor::zeros(&[4], DType::F32, &dev).requires_grad();
    let x = Tensor::randn(&[16, 1, 16, 16], DType::F32, &dev)?;
    let y = Tensor::from_vec((0..16).map(|i| (i % 4) as i64).collect(), &[16], &dev)?;

    let first = step(&w1, &w2, &b2, &x, &y)?;
    let live = live_tensors();
    let (_, misses_after_warmup, _) = pool_stats();
    let mut last = first;
    for _ in 0..10_000 {
        last = step(&w1, &w2, &b2, &x, &y)?;
        assert_eq!(live_tensors(), live, "tensors leak across steps");
    }
    let (hits, misses, bytes) = pool_stats();
    // Some lengths may first appear in step 2 (pool buffers are returned after step 1 ends);
    // after that every large buffer is a pool hit.
    assert!(
        misses - misses_after_warmup < 20,
        "{} new allocations in 10,000 steps",
        misses - misses_after_warmup
    );
    assert!(hits > 10_000, "pool hits {hits}");
    assert!(bytes < 64 << 20, "pool holds {bytes} bytes");
    assert!(last < first * 0.5, "loss did not fall: {first} → {last}");
    Ok(())
}
