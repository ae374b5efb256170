use super::*;
use pack::*;
const DEPTH: usize = 512;

/// Where the time of one thread's 1024³ product goes (run by hand:
/// `cargo test --release -p nabla --lib bf16::timing -- --ignored --nocapture`).
#[test]
#[ignore]
fn time_the_parts() {
    let n = 1024;
    let a: Vec<f32> = (0..n * n).map(|i| (i % 7) as f32).collect();
    let am = MatRef {
        ptr: a.as_ptr(),
        rs: n as isize,
        cs: 1,
    };
    let mut abuf = vec![0u16; n * DEPTH];
    let mut bbuf = vec![0u16; 32 * DEPTH];
    let t = std::time::Instant::now();
    for _ in 0..10 {
        unsafe { pack_a(am, n, 0, DEPTH, n / 16, &mut abuf) };
    }
    println!("pack_a 1024x512: {:?}", t.elapsed() / 10);
    let t = std::time::Instant::now();
    for _ in 0..10 {
        for j0 in (0..n).step_by(32) {
            unsafe { pack_b(am, 0, DEPTH, j0, 32, 2, &mut bbuf) };
        }
    }
    println!("pack_b 512x1024 (row-major): {:?}", t.elapsed() / 10);
    let bt = MatRef {
        ptr: a.as_ptr(),
        rs: 1,
        cs: n as isize,
    };
    let t = std::time::Instant::now();
    for _ in 0..10 {
        for j0 in (0..n).step_by(32) {
            unsafe { pack_b(bt, 0, DEPTH, j0, 32, 2, &mut bbuf) };
        }
    }
    println!("pack_b 512x1024 (col-major): {:?}", t.elapsed() / 10);
    let ldc: usize = std::env::var("LDC")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(n);
    let mut c = vec![0f32; n * ldc];
    for path in [Path::Amx, Path::Avx512Bf16] {
        if path == Path::Amx && detect() != Path::Amx {
            continue;
        }
        if path == Path::Amx {
            unsafe { amx::configure() };
        }
        let kts = DEPTH / KT;
        let t = std::time::Instant::now();
        for _ in 0..10 {
            for j0 in (0..n).step_by(32) {
                for i0 in (0..n).step_by(32) {
                    let ap = abuf[(i0 / 16) * kts * TILE..].as_ptr();
                    let cp = c[i0 * ldc + j0..].as_mut_ptr();
                    unsafe {
                        match path {
                            Path::Amx => amx::block(
                                ap,
                                kts * TILE,
                                bbuf.as_ptr(),
                                kts * TILE,
                                kts,
                                cp,
                                ldc * 4,
                                true,
                            ),
                            _ => avx512::block(
                                ap,
                                kts * TILE,
                                bbuf.as_ptr(),
                                kts * TILE,
                                kts,
                                cp,
                                ldc,
                                true,
                            ),
                        }
                    }
                }
            }
        }
        let el = t.elapsed() / 10;
        println!(
            "{path:?} kernels 1024x1024x512: {el:?} = {:.0} GFLOP/s",
            2.0 * (n * n * DEPTH) as f64 / el.as_secs_f64() / 1e9
        );
        if path == Path::Amx {
            unsafe { amx::release() };
        }
    }
}
