//! Kernel benchmarks of the engine, the nabla side of `bench/pytorch/ops.py` (same workload
//! names, shapes and iteration bodies).
//!
//! `cargo bench -p nabla --bench ops -- [--threads 2] [--repeat 10] [--json] [--only NAME]...`
//!
//! Each workload runs 2 warm-up iterations, then `--repeat` timed ones; it prints the median
//! and minimum seconds per iteration, GFLOP/s where defined, and the process's peak resident
//! memory so far. `peak_fma` measures the machine's f32 FMA throughput (the peak that GEMM
//! efficiency is quoted against): 12 independent FMA chains on every thread, AVX-512 (16
//! lanes) where the CPU has it, else AVX2 with FMA (8 lanes); its GFLOP/s count the lanes of
//! the path that ran, named in its output (`path` in the JSON). On a CPU with neither it runs
//! nothing and has no GFLOP/s.

use nabla::{Conv2dConfig, DType, Device, Result, Tensor};
use std::time::Instant;

struct Args {
    threads: usize,
    repeat: usize,
    json: bool,
    only: Vec<String>,
}

fn parse_args() -> std::result::Result<Args, String> {
    let mut args = Args {
        threads: 2,
        repeat: 10,
        json: false,
        only: vec![],
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match a.as_str() {
            "--threads" => {
                args.threads = value("--threads")?
                    .parse()
                    .map_err(|e| format!("--threads: {e}"))?
            }
            "--repeat" => {
                args.repeat = value("--repeat")?
                    .parse()
                    .map_err(|e| format!("--repeat: {e}"))?
            }
            "--only" => args.only.push(value("--only")?),
            "--json" => args.json = true,
            "--bench" => {} // passed by `cargo bench`
            other => {
                return Err(format!(
                    "unknown argument {other} (use --threads N --repeat N --json --only NAME)"
                ))
            }
        }
    }
    if args.threads == 0 || args.repeat == 0 {
        return Err("--threads and --repeat must be at least 1".into());
    }
    Ok(args)
}

/// Peak resident set size of this process in MiB (Linux `VmHWM`).
fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// The body of one timed iteration.
type Body = Box<dyn FnMut() -> Result<()>>;

struct Workload {
    name: &'static str,
    /// Floating point operations of one iteration (None: not meaningful, or not known).
    flops: Option<f64>,
    /// Which of the workload's code paths ran, where it picks one by CPU.
    path: Option<&'static str>,
    /// Prepares inputs and returns the iteration body.
    setup: fn() -> Result<Body>,
}

fn randn(shape: &[usize]) -> Result<Tensor> {
    Tensor::randn(shape, DType::F32, &Device::Cpu)
}

fn sgemm(n: usize) -> Result<Body> {
    let (a, b) = (randn(&[n, n])?, randn(&[n, n])?);
    Ok(Box::new(move || {
        std::hint::black_box(a.matmul(&b)?);
        Ok(())
    }))
}

/// [`sgemm`] in bf16 products with f32 sums ([`nabla::autocast`]), the work of PyTorch's
/// `torch.autocast("cpu", dtype=torch.bfloat16)` matmul.
fn bgemm(n: usize) -> Result<Body> {
    let (a, b) = (randn(&[n, n])?, randn(&[n, n])?);
    Ok(Box::new(move || {
        std::hint::black_box(nabla::autocast(DType::BF16, || a.matmul(&b))??);
        Ok(())
    }))
}

/// One conv2d forward + backward (input, weight and bias gradients) with a fixed upstream
/// gradient, as `y.backward(g)` in PyTorch.
fn conv(x: [usize; 4], w: [usize; 4], bias: bool, stride: usize, padding: usize) -> Result<Body> {
    let xt = randn(&x)?.requires_grad();
    let wt = randn(&w)?.mul_scalar(0.1)?.requires_grad();
    let bt = if bias {
        Some(randn(&[w[0]])?.requires_grad())
    } else {
        None
    };
    let cfg = Conv2dConfig {
        stride,
        padding,
        ..Default::default()
    };
    let y = xt.conv2d(&wt, bt.as_ref(), cfg)?;
    let g = randn(y.dims())?;
    Ok(Box::new(move || {
        let y = xt.conv2d(&wt, bt.as_ref(), cfg)?;
        std::hint::black_box(y.backward_with(&g)?);
        Ok(())
    }))
}

/// One max-pool forward + backward, as after LeNet's first convolution (batch 128).
fn maxpool() -> Result<Body> {
    let x = randn(&[128, 6, 28, 28])?.requires_grad();
    let g = randn(&[128, 6, 14, 14])?;
    Ok(Box::new(move || {
        let y = x.max_pool2d(nabla::Pool2dConfig::new(2))?;
        std::hint::black_box(y.backward_with(&g)?);
        Ok(())
    }))
}

/// LSTM sizes of the benchmark: batch, steps, input = hidden, layers.
const LSTM: (usize, usize, usize, usize) = (32, 100, 256, 2);

/// Forward and backward of a 2-layer LSTM (batch 32, 100 steps, 256 inputs and hidden
/// units), built from the ops `nabla_nn::layers::Recurrent` uses: one input projection per
/// layer over all steps, then `recurrent_scan`.
fn lstm() -> Result<Body> {
    let (b, t, h, layers) = LSTM;
    let k = 1.0 / (h as f64).sqrt();
    let u = |s: &[usize]| -> Result<Tensor> {
        Ok(Tensor::uniform(-k, k, s, DType::F32, &Device::Cpu)?.requires_grad())
    };
    let mut weights = Vec::new();
    for _ in 0..layers {
        weights.push((u(&[4 * h, h])?, u(&[4 * h, h])?, u(&[4 * h])?, u(&[4 * h])?));
    }
    let x = randn(&[t, b, h])?.requires_grad();
    let h0 = Tensor::zeros(&[b, h], DType::F32, &Device::Cpu);
    let g = randn(&[t, b, h])?;
    Ok(Box::new(move || {
        let mut input = x.clone();
        for (w_ih, w_hh, b_ih, b_hh) in &weights {
            let xg = input
                .reshape(&[t * b, h])?
                .linear(w_ih, Some(&b_ih.add(b_hh)?))?
                .reshape(&[t, b, 4 * h])?;
            let y = Tensor::recurrent_scan(
                nabla::ScanCell::Lstm,
                &xg,
                w_hh,
                None,
                &h0,
                Some(&h0),
                None,
                false,
            )?;
            input = y.narrow(2, 0, h)?;
        }
        std::hint::black_box(input.backward_with(&g)?);
        Ok(())
    }))
}

fn lstm_flops() -> Option<f64> {
    let (b, t, h, layers) = LSTM;
    // Per layer: input and hidden products, 2·(T·B)·H·4H each; backward twice the forward.
    Some(3.0 * layers as f64 * 2.0 * 2.0 * (t * b * h * 4 * h) as f64)
}

fn conv_flops(x: [usize; 4], w: [usize; 4], stride: usize, padding: usize) -> f64 {
    let oh = (x[2] + 2 * padding - w[2]) / stride + 1;
    let ow = (x[3] + 2 * padding - w[3]) / stride + 1;
    // forward, input gradient and weight gradient each cost one product of this size
    3.0 * 2.0 * (x[0] * w[0] * oh * ow * w[1] * w[2] * w[3]) as f64
}

/// The FMA chains `peak_fma` runs: the widest vector FMA this CPU has.
#[derive(Clone, Copy)]
enum FmaPath {
    Avx512,
    Avx2,
}

impl FmaPath {
    /// The widest path this CPU runs; None without AVX2 and FMA (or off x86-64).
    fn detect() -> Option<FmaPath> {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f") {
                return Some(FmaPath::Avx512);
            }
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                return Some(FmaPath::Avx2);
            }
        }
        None
    }

    /// The name written in the output (`report.py` reads it from the JSON).
    fn name(self) -> &'static str {
        match self {
            FmaPath::Avx512 => "AVX-512",
            FmaPath::Avx2 => "AVX2",
        }
    }

    /// f32 lanes of one FMA.
    fn lanes(self) -> usize {
        match self {
            FmaPath::Avx512 => 16,
            FmaPath::Avx2 => 8,
        }
    }

    /// Floating point operations of one `peak_fma` iteration on `threads` threads: every
    /// thread runs `ITERS` rounds of `CHAINS` FMAs of `lanes` lanes, 2 flops each.
    fn flops(self, threads: usize) -> f64 {
        (threads * fma::CHAINS * fma::ITERS * self.lanes() * 2) as f64
    }

    /// Runs the chains on this thread; returns a value so the work cannot be optimized away.
    #[cfg(target_arch = "x86_64")]
    fn run(self) -> f32 {
        // SAFETY: `detect` found the features each path is compiled for.
        unsafe {
            match self {
                FmaPath::Avx512 => fma::avx512_chains(),
                FmaPath::Avx2 => fma::avx2_chains(),
            }
        }
    }

    #[cfg(not(target_arch = "x86_64"))]
    fn run(self) -> f32 {
        unreachable!("detect finds no FMA path off x86-64")
    }
}

/// Independent FMA chains, as many as keep two FMA pipes of 4 to 6 cycles' latency busy.
mod fma {
    #[cfg(target_arch = "x86_64")]
    use std::arch::x86_64::*;

    pub const CHAINS: usize = 12;
    pub const ITERS: usize = 20_000_000;

    /// `ITERS` rounds of `CHAINS` independent 16-lane FMAs.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    pub unsafe fn avx512_chains() -> f32 {
        let mut acc = [_mm512_set1_ps(1.0); CHAINS];
        let a = _mm512_set1_ps(0.999_999);
        let b = _mm512_set1_ps(1e-7);
        for _ in 0..ITERS {
            for r in acc.iter_mut() {
                *r = _mm512_fmadd_ps(*r, a, b);
            }
        }
        let s = acc
            .into_iter()
            .fold(_mm512_setzero_ps(), |s, r| _mm512_add_ps(s, r));
        _mm512_reduce_add_ps(s)
    }

    /// `ITERS` rounds of `CHAINS` independent 8-lane FMAs.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn avx2_chains() -> f32 {
        let mut acc = [_mm256_set1_ps(1.0); CHAINS];
        let a = _mm256_set1_ps(0.999_999);
        let b = _mm256_set1_ps(1e-7);
        for _ in 0..ITERS {
            for r in acc.iter_mut() {
                *r = _mm256_fmadd_ps(*r, a, b);
            }
        }
        let s = acc
            .into_iter()
            .fold(_mm256_setzero_ps(), |s, r| _mm256_add_ps(s, r));
        let s = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps::<1>(s));
        let s = _mm_hadd_ps(s, s);
        _mm_cvtss_f32(_mm_hadd_ps(s, s))
    }
}

fn peak_fma() -> Result<Body> {
    let path = FmaPath::detect();
    Ok(Box::new(move || {
        if let Some(path) = path {
            let threads = nabla::num_threads();
            let sums: Vec<f32> = std::thread::scope(|s| {
                let handles: Vec<_> = (0..threads).map(|_| s.spawn(|| path.run())).collect();
                handles
                    .into_iter()
                    .map(|h| h.join().expect("fma thread"))
                    .collect()
            });
            std::hint::black_box(sums);
        }
        Ok(())
    }))
}

fn workloads(threads: usize) -> Vec<Workload> {
    let gemm_flops = |n: usize| Some(2.0 * (n * n * n) as f64);
    let fma_path = FmaPath::detect();
    vec![
        Workload {
            name: "peak_fma",
            flops: fma_path.map(|p| p.flops(threads)),
            path: fma_path.map(FmaPath::name),
            setup: peak_fma,
        },
        Workload {
            name: "sgemm_256",
            flops: gemm_flops(256),
            path: None,
            setup: || sgemm(256),
        },
        Workload {
            name: "sgemm_1024",
            flops: gemm_flops(1024),
            path: None,
            setup: || sgemm(1024),
        },
        Workload {
            name: "sgemm_1024_bf16",
            flops: gemm_flops(1024),
            path: None,
            setup: || bgemm(1024),
        },
        Workload {
            name: "sgemm_2048",
            flops: gemm_flops(2048),
            path: None,
            setup: || sgemm(2048),
        },
        Workload {
            name: "maxpool_lenet",
            flops: None,
            path: None,
            setup: maxpool,
        },
        Workload {
            name: "conv_lenet1",
            flops: Some(conv_flops([64, 1, 32, 32], [6, 1, 5, 5], 1, 0)),
            path: None,
            setup: || conv([64, 1, 32, 32], [6, 1, 5, 5], true, 1, 0),
        },
        Workload {
            name: "conv_lenet2",
            flops: Some(conv_flops([64, 6, 14, 14], [16, 6, 5, 5], 1, 0)),
            path: None,
            setup: || conv([64, 6, 14, 14], [16, 6, 5, 5], true, 1, 0),
        },
        Workload {
            name: "conv_resnet",
            flops: Some(conv_flops([8, 64, 56, 56], [64, 64, 3, 3], 1, 1)),
            path: None,
            setup: || conv([8, 64, 56, 56], [64, 64, 3, 3], false, 1, 1),
        },
        Workload {
            name: "lstm",
            flops: lstm_flops(),
            path: None,
            setup: lstm,
        },
        Workload {
            name: "conv_dcgan",
            flops: Some(conv_flops([128, 32, 14, 14], [64, 32, 4, 4], 2, 1)),
            path: None,
            setup: || conv([128, 32, 14, 14], [64, 32, 4, 4], false, 2, 1),
        },
        Workload {
            name: "conv_vgg",
            flops: Some(conv_flops([8, 256, 28, 28], [256, 256, 3, 3], 1, 1)),
            path: None,
            setup: || conv([8, 256, 28, 28], [256, 256, 3, 3], true, 1, 1),
        },
    ]
}

fn main() -> std::result::Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let args = parse_args()?;
    nabla::set_num_threads(args.threads)?;
    nabla::manual_seed(0);
    // On a thread of the kernels' pool, as `nabla` runs its commands (see nabla-cli's
    // `main`): a kernel then splits its work from inside the pool, waking one thread instead
    // of all of them while the caller sleeps.
    if args.threads >= 2 {
        rayon::scope(|_| run(&args))
    } else {
        run(&args)
    }
}

/// Runs the chosen workloads and prints one line each.
fn run(args: &Args) -> std::result::Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let all = workloads(args.threads);
    for name in &args.only {
        if !all.iter().any(|w| w.name == name) {
            let names: Vec<_> = all.iter().map(|w| w.name).collect();
            return Err(
                format!("unknown workload {name}; choose from {}", names.join(", ")).into(),
            );
        }
    }
    for w in all
        .iter()
        .filter(|w| args.only.is_empty() || args.only.iter().any(|o| o == w.name))
    {
        let mut body = (w.setup)()?;
        let (warmup, repeat) = if w.name == "peak_fma" {
            (0, args.repeat.min(3))
        } else {
            (2, args.repeat)
        };
        for _ in 0..warmup {
            body()?;
        }
        let mut times: Vec<f64> = (0..repeat)
            .map(|_| {
                let t = Instant::now();
                body().map(|_| t.elapsed().as_secs_f64())
            })
            .collect::<Result<_>>()?;
        times.sort_by(f64::total_cmp);
        let (median, min) = (times[times.len() / 2], times[0]);
        let gflops = w.flops.map(|f| f / median / 1e9);
        let rss = peak_rss_mb();
        if args.json {
            let g = gflops.map_or("null".to_string(), |g| format!("{g:.3}"));
            let r = rss.map_or("null".to_string(), |r| format!("{r:.1}"));
            let p = w
                .path
                .map_or(String::new(), |p| format!(r#", "path": "{p}""#));
            println!(
                r#"{{"workload": "{}", "median_s": {median:.6}, "min_s": {min:.6}, "gflops": {g}, "repeat": {repeat}, "threads": {}, "peak_rss_mb": {r}{p}}}"#,
                w.name, args.threads
            );
        } else {
            let g = gflops.map_or(String::new(), |g| format!("{g:8.1} GFLOP/s"));
            let p = w.path.map_or(String::new(), |p| format!("  ({p})"));
            println!(
                "{:<12} median {:9.3} ms  min {:9.3} ms {g}  peak RSS {:.0} MiB{p}",
                w.name,
                median * 1e3,
                min * 1e3,
                rss.unwrap_or(0.0)
            );
        }
    }
    Ok(())
}
