//! Mutated and random inputs: every reader returns `Ok` or `Err`, never panics.
//! (A cheap stand-in for the cargo-fuzz targets, run on every `cargo test`.)

use nabla::Rng;
use nabla_data::readers::{csv, idx};
use nabla_data::transforms::{HorizontalFlip, Normalize, PadCrop, RandomRotation, Transform};
use nabla_data::{Sample, Target};

fn mutate(rng: &mut Rng, base: &[u8]) -> Vec<u8> {
    let mut bytes = base.to_vec();
    for _ in 0..1 + rng.below(4) {
        let choice = rng.below(3);
        if bytes.is_empty() || choice == 0 {
            bytes.push(rng.below(256) as u8);
        } else if choice == 1 {
            let i = rng.below(bytes.len() as u64) as usize;
            bytes[i] = rng.below(256) as u8;
        } else {
            bytes.truncate(rng.below(bytes.len() as u64 + 1) as usize);
        }
    }
    bytes
}

#[test]
fn idx_parser_survives_mutated_headers() {
    let mut base = vec![0, 0, 0x08, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2];
    base.extend_from_slice(&[7; 8]);
    let mut rng = Rng::new(1);
    for _ in 0..5000 {
        let bytes = mutate(&mut rng, &base);
        let _ = idx::parse(&bytes[..], "fuzz");
    }
}

#[test]
fn csv_parser_survives_random_text() {
    let alphabet: Vec<char> = "0123456789.,-e\"\n ;xa".chars().collect();
    let mut rng = Rng::new(2);
    for _ in 0..3000 {
        let len = rng.below(40) as usize;
        let text: String = (0..len)
            .map(|_| alphabet[rng.below(alphabet.len() as u64) as usize])
            .collect();
        for task in [csv::CsvTask::Classification, csv::CsvTask::Regression] {
            let options = csv::CsvOptions {
                task,
                label_column: if rng.below(2) == 0 {
                    None
                } else {
                    Some(rng.below(4) as usize)
                },
                ..Default::default()
            };
            let _ = csv::parse(&text, "fuzz.csv", &options);
        }
    }
}

#[test]
fn transforms_survive_inconsistent_samples() {
    let transforms: Vec<Box<dyn Transform>> = vec![
        Box::new(Normalize::new(vec![0.5, 0.5], vec![0.2, 0.2]).unwrap()),
        Box::new(PadCrop::new(2, 3)),
        Box::new(HorizontalFlip::new(1.0).unwrap()),
        Box::new(RandomRotation::new(180.0).unwrap()),
    ];
    let mut rng = Rng::new(3);
    for _ in 0..2000 {
        let rank = rng.below(4) as usize;
        let shape: Vec<usize> = (0..rank).map(|_| rng.below(4) as usize).collect();
        let len = rng.below(20) as usize;
        for t in &transforms {
            let sample = Sample {
                input: vec![1.0; len],
                shape: shape.clone(),
                target: Target::Class(0),
            };
            let _ = t.apply(sample, &mut rng);
        }
    }
}
