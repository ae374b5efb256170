//! `nabla classic hmm`: a hidden Markov model of a text's characters, trained by Baum-Welch,
//! against a character Markov chain on held-out text.

use super::args::HmmArgs;
use super::output_path;
use anyhow::{bail, Context, Result};
use nabla_classic::hmm::Hmm;
use nabla_classic::markov::MarkovChain;
use std::time::Instant;

/// Runs `nabla classic hmm`.
pub fn run(a: &HmmArgs) -> Result<()> {
    if a.states == 0 || a.seq_len == 0 || a.train_size == 0 {
        bail!("--states, --seq-len and --train-size must be at least 1");
    }
    let file = a.data.strip_prefix("text:").unwrap_or(&a.data);
    let text = nabla_data::readers::text::read_file(file)
        .with_context(|| format!("reading the text '{file}'"))?;
    let chars: Vec<char> = text.chars().collect();
    let train_end = a.train_size.min(chars.len());
    let test_end = (train_end + a.test_size).min(chars.len());
    let mut vocab: Vec<char> = chars[..test_end].to_vec();
    vocab.sort_unstable();
    vocab.dedup();
    let code = |c: &char| vocab.binary_search(c).expect("vocab holds every character");
    let train: Vec<usize> = chars[..train_end].iter().map(code).collect();
    let test: Vec<usize> = chars[train_end..test_end].iter().map(code).collect();
    let seqs: Vec<Vec<usize>> = train.chunks(a.seq_len).map(|c| c.to_vec()).collect();
    println!(
        "{} training and {} test characters, {} symbols, {} sequences of up to {}",
        train.len(),
        test.len(),
        vocab.len(),
        seqs.len(),
        a.seq_len
    );
    let t0 = Instant::now();
    let mut hmm = Hmm::random(a.states, vocab.len(), a.seed)?;
    let history = hmm.baum_welch(&seqs, a.iterations, a.tol)?;
    let secs = t0.elapsed().as_secs_f64();
    let per_char = |ll: f64, n: usize| -ll / n.max(1) as f64 / std::f64::consts::LN_2;
    println!(
        "Baum-Welch: {} iterations in {secs:.1} s, training log-likelihood {:.0} -> {:.0} nats",
        history.len() - 1,
        history[0],
        history[history.len() - 1]
    );
    let chain = MarkovChain::fit(&seqs, vocab.len(), 0.5)?;
    let chain_test: f64 = chain.log_likelihood(&test);
    if !test.is_empty() {
        println!(
            "held-out bits per character: HMM ({} states) {:.3}, character Markov chain {:.3}, uniform {:.3}",
            a.states,
            per_char(hmm.log_likelihood(&test)?, test.len()),
            per_char(chain_test, test.len()),
            (vocab.len() as f64).log2()
        );
    }
    print_states(&hmm, &vocab, &test)?;
    let out = output_path(&a.output, "hmm")?;
    let model = serde_json::json!({
        "symbols": vocab.iter().collect::<String>(),
        "hmm": hmm,
        "markov_chain": chain,
    });
    nabla::io::write_atomic(&out, model.to_string().as_bytes())?;
    println!("model saved to {}", out.display());
    Ok(())
}

/// Each state's most likely characters, then the Viterbi states of the first 60 test
/// characters under them.
fn print_states(hmm: &Hmm, vocab: &[char], test: &[usize]) -> Result<()> {
    for s in 0..hmm.n {
        let row = &hmm.emission[s * hmm.m..(s + 1) * hmm.m];
        let mut order: Vec<usize> = (0..hmm.m).collect();
        order.sort_by(|&x, &y| row[y].total_cmp(&row[x]));
        let top: String = order
            .iter()
            .take(12)
            .map(|&o| format!("{:?} {:.2}  ", vocab[o], row[o]))
            .collect();
        println!("state {s} emits: {top}");
    }
    let sample: Vec<usize> = test.iter().take(60).copied().collect();
    if !sample.is_empty() {
        let (path, _) = hmm.viterbi(&sample)?;
        let shown: String = sample
            .iter()
            .map(|&o| if vocab[o] == '\n' { '/' } else { vocab[o] })
            .collect();
        println!("text:   {shown}");
        println!(
            "states: {}",
            path.iter()
                .map(|s| char::from(b'0' + (*s % 10) as u8))
                .collect::<String>()
        );
    }
    Ok(())
}
