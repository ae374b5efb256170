//! CIFAR batch bytes through `nabla_data::readers::cifar::parse_batch`. The first byte picks
//! the kind (CIFAR-10, CIFAR-100 fine or coarse); the rest is the file.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nabla_data::readers::cifar::{self, CifarKind};
use nabla_data::Dataset;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, bytes)) = data.split_first() else {
        return;
    };
    let kind = match pick % 3 {
        0 => CifarKind::Cifar10,
        1 => CifarKind::Cifar100Fine,
        _ => CifarKind::Cifar100Coarse,
    };
    if let Ok(ds) = cifar::parse_batch(bytes, kind, "fuzz.bin") {
        assert_eq!(ds.len(), bytes.len() / kind.record_bytes());
        for i in 0..ds.len() {
            ds.get(i).expect("a parsed record reads back");
        }
    }
});
