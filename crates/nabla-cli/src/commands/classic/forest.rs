//! `nabla classic forest`.

use super::args::{CriterionArg, ForestArgs};
use super::{load, output_path, report};
use anyhow::{bail, Result};
use nabla_classic::forest::{Criterion, Forest, ForestParams, MaxFeatures};
use std::time::Instant;

fn max_features(s: &str) -> Result<MaxFeatures> {
    Ok(match s {
        "sqrt" => MaxFeatures::Sqrt,
        "log2" => MaxFeatures::Log2,
        "all" => MaxFeatures::All,
        v => match v.parse::<usize>() {
            Ok(n) if n > 0 => MaxFeatures::Count(n),
            _ => bail!("--max-features '{v}': use sqrt, log2, all or a positive number"),
        },
    })
}

/// Runs `nabla classic forest`.
pub fn run(a: &ForestArgs) -> Result<()> {
    let p = ForestParams {
        trees: a.trees,
        criterion: match a.criterion {
            CriterionArg::Gini => Criterion::Gini,
            CriterionArg::Entropy => Criterion::Entropy,
        },
        max_depth: a.max_depth,
        min_samples_split: a.min_samples_split,
        min_samples_leaf: a.min_samples_leaf,
        max_features: max_features(&a.max_features)?,
        bootstrap: !a.no_bootstrap,
        seed: a.data.seed,
    };
    let split = load(&a.data)?;
    let path = output_path(&a.data.output, "forest")?;
    let t0 = Instant::now();
    let f = Forest::fit(&split.train, &p)?;
    let fit = t0.elapsed().as_secs_f64();
    let nodes: usize = f.trees.iter().map(|t| t.nodes.len()).sum();
    println!("{} trees, {nodes} nodes", f.trees.len());
    if let Some(oob) = f.oob_accuracy {
        println!("out-of-bag accuracy {:.2}%", 100.0 * oob);
    }
    let mut order: Vec<usize> = (0..f.importances.len()).collect();
    order.sort_by(|&x, &y| f.importances[y].total_cmp(&f.importances[x]));
    let top: Vec<String> = order
        .iter()
        .take(a.top_features)
        .map(|&i| format!("{i}: {:.4}", f.importances[i]))
        .collect();
    println!(
        "most important features (index: mean impurity decrease): {}",
        top.join(", ")
    );
    let t1 = Instant::now();
    let predicted = f.predict(&split.test.x)?;
    report(&predicted, &split, fit, t1);
    f.save(&path)?;
    println!("model saved to {}", path.display());
    Ok(())
}
