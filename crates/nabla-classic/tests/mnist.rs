//! The issue's accuracy targets on the bundled MNIST. The small runs are ordinary tests; the
//! full-size ones are `#[ignore]`d (minutes on 2 cores) and their numbers are recorded in
//! BENCHMARKS.md:
//!
//! ```sh
//! cargo test --release -p nabla-classic --test mnist -- --ignored --nocapture --test-threads 1
//! ```

use nabla_classic::forest::{Forest, ForestParams};
use nabla_classic::matrix::{accuracy, Labelled};
use nabla_classic::svm::{Svc, SvcParams};
use nabla_classic::Result;
use std::time::Instant;

fn mnist(train: usize, test: usize) -> Result<(Labelled, Labelled)> {
    let tr = nabla_data::mnist::bundled_train()?;
    let te = nabla_data::mnist::bundled_test()?;
    Ok((
        Labelled::from_dataset(&tr, Some(train))?,
        Labelled::from_dataset(&te, Some(test))?,
    ))
}

fn svm_run(train: usize, test: usize) -> Result<f64> {
    let (tr, te) = mnist(train, test)?;
    let t0 = Instant::now();
    let m = Svc::fit(
        &tr,
        &SvcParams {
            c: 10.0,
            ..SvcParams::default()
        },
    )?;
    let fit = t0.elapsed().as_secs_f64();
    let t0 = Instant::now();
    let acc = accuracy(&m.predict(&te.x)?, &te.y);
    println!(
        "svm rbf C=10 gamma=scale train={train} test={test}: fit {fit:.1} s, predict {:.1} s, {} support vectors, {:?}, accuracy {:.2}%",
        t0.elapsed().as_secs_f64(),
        m.num_support(),
        m.stats,
        100.0 * acc
    );
    Ok(acc)
}

/// scikit-learn's `SVC(C=10, gamma="scale")` on the same 2,000 + 2,000 images: 90.40%
/// with 1,227 support vectors; nabla gets the same (the first test images are the harder
/// half of the test set).
#[test]
fn rbf_svm_on_2000_mnist_digits_matches_scikit_learn() -> Result<()> {
    assert!(svm_run(2000, 2000)? > 0.9);
    Ok(())
}

#[test]
#[ignore = "5-20 s on 2 cores; the issue's 10,000-image target"]
fn rbf_svm_on_10000_mnist_digits_reaches_96_5_percent() -> Result<()> {
    assert!(svm_run(10_000, 10_000)? >= 0.965);
    Ok(())
}

#[test]
#[ignore = "2-4 minutes on 2 cores; the issue's 60,000-image target"]
fn rbf_svm_on_all_mnist_reaches_98_percent() -> Result<()> {
    assert!(svm_run(60_000, 10_000)? >= 0.98);
    Ok(())
}

fn forest_run(train: usize, trees: usize) -> Result<f64> {
    let (tr, te) = mnist(train, 10_000)?;
    let t0 = Instant::now();
    let p = ForestParams {
        trees,
        ..ForestParams::default()
    };
    let f = Forest::fit(&tr, &p)?;
    let fit = t0.elapsed().as_secs_f64();
    let t0 = Instant::now();
    let acc = accuracy(&f.predict(&te.x)?, &te.y);
    let nodes: usize = f.trees.iter().map(|t| t.nodes.len()).sum();
    println!(
        "forest gini trees={trees} train={train}: fit {fit:.1} s, predict {:.1} s, {nodes} nodes, oob {:.2}%, accuracy {:.2}%",
        t0.elapsed().as_secs_f64(),
        100.0 * f.oob_accuracy.unwrap_or(0.0),
        100.0 * acc
    );
    Ok(acc)
}

#[test]
fn forest_of_20_trees_on_2000_mnist_digits_beats_88_percent() -> Result<()> {
    assert!(forest_run(2000, 20)? > 0.88);
    Ok(())
}

#[test]
#[ignore = "about a minute on 2 cores; the issue's 60,000-image forest target"]
fn forest_of_100_trees_on_all_mnist_reaches_96_5_percent() -> Result<()> {
    assert!(forest_run(60_000, 100)? >= 0.965);
    Ok(())
}

#[test]
#[ignore = "seconds; the 10,000-image forest for the comparison with scikit-learn"]
fn forest_of_100_trees_on_10000_mnist_digits() -> Result<()> {
    assert!(forest_run(10_000, 100)? >= 0.94);
    Ok(())
}
