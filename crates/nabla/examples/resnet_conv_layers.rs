//! Times each distinct convolution of ResNet-18 on its own: forward, backward (input and
//! weight gradients; the weight gradient only for the stem, whose input needs none) and
//! forward without recording. The nabla side of `bench/pytorch/resnet_conv_layers.py`,
//! used to find which layers a ResNet-18 step or batch-1 latency loses on
//! (`bench/notes/06-resnet.md`).
//!
//! `cargo run --release -p nabla --example resnet_conv_layers -- [BATCH] [SIZE] [REPEAT]`
//! (defaults 8, 224, 7: the resnet18_step_224 workload). Runs on a 2-thread pool, as the
//! `nabla` command's compute does; `ONLY=text` keeps the layers whose name contains it, and
//! `INFER_ONLY=1` times only the forward without recording (for profiles of inference),
//! `COLD=N` with it cycles through `N` copies of each weight, so that their cached
//! transforms come from memory as in a whole network rather than from the caches.

use nabla::{Conv2dConfig, DType, Device, Result, Tensor};
use std::time::Instant;

/// One convolution of ResNet-18: input channels, input side divided by this, output
/// channels, kernel, stride, padding.
struct Layer {
    name: &'static str,
    cin: usize,
    size_div: usize,
    cout: usize,
    k: usize,
    stride: usize,
    pad: usize,
}

const fn layer(
    name: &'static str,
    cin: usize,
    size_div: usize,
    cout: usize,
    k: usize,
    stride: usize,
) -> Layer {
    Layer {
        name,
        cin,
        size_div,
        cout,
        k,
        stride,
        pad: k / 2,
    }
}

const LAYERS: [Layer; 12] = [
    layer("stem 7x7/2 3->64", 3, 1, 64, 7, 2),
    // The stem of the 32×32 variant (resnet18_step_32): 3×3, stride 1, no max-pool after it.
    layer("stem 3x3 3->64", 3, 1, 64, 3, 1),
    layer("3x3 64 @56", 64, 4, 64, 3, 1),
    layer("3x3/2 64->128", 64, 4, 128, 3, 2),
    layer("1x1/2 64->128", 64, 4, 128, 1, 2),
    layer("3x3 128 @28", 128, 8, 128, 3, 1),
    layer("3x3/2 128->256", 128, 8, 256, 3, 2),
    layer("1x1/2 128->256", 128, 8, 256, 1, 2),
    layer("3x3 256 @14", 256, 16, 256, 3, 1),
    layer("3x3/2 256->512", 256, 16, 512, 3, 2),
    layer("1x1/2 256->512", 256, 16, 512, 1, 2),
    layer("3x3 512 @7", 512, 32, 512, 3, 1),
];

fn median_ms(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2] * 1e3
}

fn time_layer(l: &Layer, batch: usize, size: usize, repeat: usize) -> Result<[f64; 3]> {
    let side = (size / l.size_div).max(1);
    let dev = Device::Cpu;
    let mut x = Tensor::randn(&[batch, l.cin, side, side], DType::F32, &dev)?;
    if l.size_div > 1 {
        x = x.requires_grad();
    }
    let w = Tensor::randn(&[l.cout, l.cin, l.k, l.k], DType::F32, &dev)?
        .mul_scalar(0.1)?
        .requires_grad();
    let cfg = Conv2dConfig {
        stride: l.stride,
        padding: l.pad,
        ..Default::default()
    };
    let g = Tensor::randn(x.conv2d(&w, None, cfg)?.dims(), DType::F32, &dev)?;
    let (mut fwd, mut bwd, mut infer) = (vec![], vec![], vec![]);
    let infer_only = std::env::var_os("INFER_ONLY").is_some();
    // COLD=N: inference cycles through N weights, so that each call finds its weight's
    // cached transform evicted from the caches as in a whole network.
    let cold: usize = std::env::var("COLD")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let weights = (0..cold.max(1))
        .map(|i| {
            if i == 0 {
                Ok(w.clone())
            } else {
                w.mul_scalar(1.0 + i as f64 * 0.01)
            }
        })
        .collect::<Result<Vec<_>>>()?;
    for rep in 0..repeat {
        if infer_only {
            let w = &weights[rep % weights.len()];
            let t = Instant::now();
            std::hint::black_box(nabla::no_grad(|| x.conv2d(w, None, cfg))?);
            infer.push(t.elapsed().as_secs_f64());
            (fwd, bwd) = (vec![0.0], vec![0.0]);
            continue;
        }
        let t0 = Instant::now();
        let y = x.conv2d(&w, None, cfg)?;
        let t1 = Instant::now();
        std::hint::black_box(y.backward_with(&g)?);
        bwd.push(t1.elapsed().as_secs_f64());
        fwd.push((t1 - t0).as_secs_f64());
        let t2 = Instant::now();
        std::hint::black_box(nabla::no_grad(|| x.conv2d(&w, None, cfg))?);
        infer.push(t2.elapsed().as_secs_f64());
    }
    Ok([median_ms(fwd), median_ms(bwd), median_ms(infer)])
}

fn main() -> std::result::Result<(), Box<dyn std::error::Error>> {
    let arg = |i: usize, default: usize| -> std::result::Result<usize, String> {
        std::env::args().nth(i).map_or(Ok(default), |s| {
            s.parse()
                .map_err(|e| format!("argument {i} ({s:?}): {e}; usage: [BATCH] [SIZE] [REPEAT]"))
        })
    };
    let (batch, size, repeat) = (arg(1, 8)?, arg(2, 224)?, arg(3, 7)?.max(1));
    let only = std::env::var("ONLY").ok();
    let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build()?;
    println!("ResNet-18 convolutions, batch {batch}, {size}×{size}, medians of {repeat} (ms):");
    pool.install(|| -> Result<()> {
        for l in LAYERS
            .iter()
            .filter(|l| only.as_deref().is_none_or(|o| l.name.contains(o)))
        {
            let [f, b, i] = time_layer(l, batch, size, repeat)?;
            println!(
                "{:18} forward {f:8.2}  backward {b:8.2}  no-grad forward {i:8.2}",
                l.name
            );
        }
        Ok(())
    })?;
    Ok(())
}
