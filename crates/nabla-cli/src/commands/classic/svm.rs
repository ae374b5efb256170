//! `nabla classic svm`.

use super::args::{KernelArg, LossArg, SolverArg, SvmArgs};
use super::{load, output_path, report, Split};
use anyhow::{bail, Result};
use nabla_classic::linear::{LinearParams, LinearSvm, Loss};
use nabla_classic::svm::{Gamma, KernelKind, Svc, SvcParams};
use std::path::Path;
use std::time::Instant;

fn gamma(s: &str) -> Result<Gamma> {
    Ok(match s {
        "scale" => Gamma::Scale,
        "auto" => Gamma::Auto,
        v => match v.parse::<f64>() {
            Ok(g) if g > 0.0 && g.is_finite() => Gamma::Value(g),
            _ => bail!("--gamma '{v}': use scale, auto or a positive number"),
        },
    })
}

/// Runs `nabla classic svm`.
pub fn run(a: &SvmArgs) -> Result<()> {
    let gamma = gamma(&a.gamma)?;
    if a.solver == SolverArg::Dcd && a.kernel != KernelArg::Linear {
        bail!("--solver dcd trains linear SVMs only; add --kernel linear (or use --solver smo)");
    }
    let split = load(&a.data)?;
    let path = output_path(&a.data.output, "svm")?;
    println!(
        "{} training examples, {} test examples, {} features, {} classes",
        split.train.len(),
        split.test.len(),
        split.train.d,
        split.names.len()
    );
    let (predicted, fit_secs, predict_start) = if a.solver == SolverArg::Dcd {
        fit_linear(a, &split, &path)?
    } else {
        fit_kernel(a, &split, &path, gamma)?
    };
    report(&predicted, &split, fit_secs, predict_start);
    println!("model saved to {}", path.display());
    Ok(())
}

/// What a fit gives the report: the test predictions, the fit's seconds, and when the
/// prediction started.
type Fitted = (Vec<usize>, f64, Instant);

/// A linear SVM by dual coordinate descent (`--solver dcd`), saved to `path`.
fn fit_linear(a: &SvmArgs, split: &Split, path: &Path) -> Result<Fitted> {
    let t0 = Instant::now();
    let p = LinearParams {
        c: a.c,
        loss: match a.loss {
            LossArg::Hinge => Loss::Hinge,
            LossArg::SquaredHinge => Loss::SquaredHinge,
        },
        tol: a.tol.unwrap_or(0.1),
        seed: a.data.seed,
        ..LinearParams::default()
    };
    let m = LinearSvm::fit(&split.train, &p)?;
    let fit = t0.elapsed().as_secs_f64();
    println!(
        "linear SVM (dual coordinate descent), epochs per class {:?}",
        m.epochs
    );
    let t1 = Instant::now();
    let pred = m.predict(&split.test.x)?;
    m.save(path)?;
    Ok((pred, fit, t1))
}

/// A kernel SVM by SMO, one-vs-one, saved to `path`.
fn fit_kernel(a: &SvmArgs, split: &Split, path: &Path, gamma: Gamma) -> Result<Fitted> {
    let t0 = Instant::now();
    let p = SvcParams {
        c: a.c,
        kernel: match a.kernel {
            KernelArg::Linear => KernelKind::Linear,
            KernelArg::Poly => KernelKind::Poly,
            KernelArg::Rbf => KernelKind::Rbf,
            KernelArg::Sigmoid => KernelKind::Sigmoid,
        },
        gamma,
        coef0: a.coef0,
        degree: a.degree,
        tol: a.tol.unwrap_or(1e-3),
        shrinking: !a.no_shrinking,
        cache_mb: a.cache_mb,
        max_iter: None,
    };
    let m = Svc::fit(&split.train, &p)?;
    let fit = t0.elapsed().as_secs_f64();
    println!(
        "kernel {:?}, C {}: {} binary problems, {} support vectors, {} SMO iterations{}",
        m.kernel,
        m.c,
        m.pairs.len(),
        m.num_support(),
        m.stats.iterations,
        if m.stats.unconverged > 0 {
            format!(
                " ({} problems hit the iteration limit)",
                m.stats.unconverged
            )
        } else {
            String::new()
        }
    );
    let t1 = Instant::now();
    let pred = m.predict(&split.test.x)?;
    m.save(path)?;
    Ok((pred, fit, t1))
}
