//! Markov models of real text: the bundled Shakespeare tragedies as a sequence of letters.
//!
//! A character Markov chain (its stationary distribution is the letter frequency; samples
//! look like English letter pairs), then a two-state hidden Markov model trained by
//! Baum-Welch, which finds by itself that letters split into vowels and consonants (as Cave
//! and Neuwirth found in 1980).
//!
//! Run with `cargo run --release -p nabla-classic --example shakespeare` (about 2 s).

use nabla_classic::hmm::Hmm;
use nabla_classic::markov::MarkovChain;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../data/shakespeare/tragedies.txt"
    );
    let text = nabla_data::readers::text::read_file(path)?;
    // Lowercase letters and one space between words: 27 symbols.
    let alphabet: Vec<char> = " abcdefghijklmnopqrstuvwxyz".chars().collect();
    let mut codes = Vec::new();
    for c in text.chars().flat_map(char::to_lowercase) {
        let code = alphabet.iter().position(|&a| a == c).unwrap_or(0);
        if !(code == 0 && codes.last() == Some(&0)) {
            codes.push(code);
        }
    }
    let (train, test) = codes.split_at(codes.len() * 9 / 10);
    let seqs: Vec<Vec<usize>> = train.chunks(2000).map(|c| c.to_vec()).collect();
    let show = |s: &[usize]| s.iter().map(|&c| alphabet[c]).collect::<String>();

    let chain = MarkovChain::fit(&seqs, alphabet.len(), 0.5)?;
    let pi = chain.stationary();
    let mut order: Vec<usize> = (0..alphabet.len()).collect();
    order.sort_by(|&a, &b| pi[b].total_cmp(&pi[a]));
    println!(
        "{} letters and spaces ({} held out)",
        codes.len(),
        test.len()
    );
    print!("stationary distribution of the chain, top 8:");
    for &c in &order[..8] {
        print!(" {:?} {:.3}", alphabet[c], pi[c]);
    }
    println!();
    let sample = chain.sample(120, Some(0), &mut nabla::Rng::new(1));
    println!("a sample of the chain: {}", show(&sample));

    let mut hmm = Hmm::random(2, alphabet.len(), 3)?;
    let history = hmm.baum_welch(&seqs, 200, 0.5)?;
    let bits = |ll: f64| -ll / test.len() as f64 / std::f64::consts::LN_2;
    println!(
        "held-out bits per symbol: uniform {:.3}, two-state HMM {:.3} ({} Baum-Welch steps), Markov chain {:.3}",
        (alphabet.len() as f64).log2(),
        bits(hmm.log_likelihood(test)?),
        history.len() - 1,
        bits(chain.log_likelihood(test))
    );
    for s in 0..2 {
        // Letters this state emits more often than the other state does.
        let letters: String = (1..alphabet.len())
            .filter(|&c| hmm.emission[s * hmm.m + c] > hmm.emission[(1 - s) * hmm.m + c])
            .map(|c| alphabet[c])
            .collect();
        let space = hmm.emission[s * hmm.m];
        println!("state {s} prefers: {letters:<22} (P(space) = {space:.2})");
    }
    let line = &test[..60];
    let (states, _) = hmm.viterbi(line)?;
    println!("text:   {}", show(line));
    println!(
        "states: {}",
        states.iter().map(|s| s.to_string()).collect::<String>()
    );
    Ok(())
}
