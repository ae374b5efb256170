//! `nabla zoo`: the models nabla can build, with their size and cost at their native input.

use super::counts::{short, thousands};
use crate::args::ZooArgs;
use anyhow::{Context, Result};
use nabla::{DType, Device, Tensor};
use nabla_nn::models::{self, ModelSpec};
use nabla_nn::VarStore;

/// `(model, parameters, multiply-accumulates)` at the native input, measured with
/// [`measure`] (`nabla zoo --measure` recomputes them; the test
/// `zoo_table_matches_measurements` checks the small models). Measuring all of them builds
/// and runs every model once at 224×224, about 40 s on 2 cores for the VGGs' 15–20 GMACs, so
/// `nabla zoo` prints this table instead.
pub const MEASURED: &[(&str, u64, u64)] = &[
    ("mlp", 535_818, 535_040),
    ("lenet5", 61_706, 416_520),
    ("lenet5_classic", 61_750, 416_520),
    ("alexnet", 61_100_840, 714_188_480),
    ("alexnet_paper", 60_965_224, 724_406_816),
    ("vgg11", 132_863_336, 7_609_090_048),
    ("vgg11_lrn", 132_863_336, 7_609_090_048),
    ("vgg13", 133_047_848, 11_308_466_176),
    ("vgg16_c", 133_638_952, 11_770_888_192),
    ("vgg16", 138_357_544, 15_470_264_320),
    ("vgg19", 143_667_240, 19_632_062_464),
    ("vgg11_bn", 132_868_840, 7_609_090_048),
    ("vgg13_bn", 133_053_736, 11_308_466_176),
    ("vgg16_bn", 138_365_992, 15_470_264_320),
    ("vgg19_bn", 143_678_248, 19_632_062_464),
    ("googlenet", 13_004_888, 1_498_376_192),
    ("googlenet_paper", 13_378_280, 1_582_671_872),
    ("resnet18", 11_689_512, 1_814_073_344),
    ("resnet34", 21_797_672, 3_663_761_408),
    ("resnet50", 25_557_032, 4_089_184_256),
    ("resnet101", 44_549_160, 7_801_405_440),
    ("resnet152", 60_192_808, 11_513_626_624),
    ("char-lstm", 876_929, 86_860_800),
    ("char-gru", 662_913, 65_561_600),
    ("char-rnn", 234_881, 22_963_200),
    ("row-lstm", 82_186, 2_237_696),
];

/// The shape of one native input ([`ModelSpec::native_input`]).
pub fn native_input(spec: &ModelSpec) -> Vec<usize> {
    spec.native_input(1)
}

/// Parameters and multiply-accumulates of `spec` at its native input (batch 1): the model
/// is built and run once on zeros, with [`nabla::count_macs`] counting.
pub fn measure(spec: &ModelSpec) -> Result<(u64, u64)> {
    // Counting is host work: the listing never runs on another device.
    let vs = VarStore::new(&Device::Cpu);
    let model = (spec.build)(&vs.root(), &spec.native)
        .with_context(|| format!("building {}", spec.name))?;
    let x = Tensor::zeros(&native_input(spec), DType::F32, &Device::Cpu);
    let (y, macs) = nabla::count_macs(|| nabla::no_grad(|| model.forward(&x)));
    y.with_context(|| format!("running {}", spec.name))?;
    Ok((vs.num_params() as u64, macs))
}

/// Prints every model with its native input, parameters, multiply-accumulates and paper.
pub fn run(args: &ZooArgs) -> Result<()> {
    println!(
        "{:<16} {:<10} {:>13} {:>8}  paper",
        "model", "input", "parameters", "MACs"
    );
    for spec in models::registry() {
        let n = spec.native;
        let known = MEASURED.iter().find(|(name, _, _)| *name == spec.name);
        let (p, m) = match known {
            Some(&(_, p, m)) if !args.measure => (p, m),
            _ => measure(&spec)?,
        };
        let (params, macs) = (thousands(p), short(m));
        println!(
            "{:<16} {:<10} {:>13} {:>8}  {}",
            spec.name,
            match native_input(&spec)[..] {
                [_, t] => format!("{t} chars"),
                _ => format!("{}x{}x{}", n.in_channels, n.image_size, n.image_size),
            },
            params,
            macs,
            spec.paper
        );
    }
    println!(
        "\nParameters and multiply-accumulates (MACs) are for one input of the native size and \
         {{10 MNIST, 1000 ImageNet}} classes.\nEach model: `nabla summary --model NAME` (layers) \
         or `--input CxHxW --classes K`; train with `nabla train --model NAME --data SPEC`."
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zoo_table_matches_measurements() -> Result<()> {
        let specs = models::registry();
        for spec in &specs {
            assert!(
                MEASURED.iter().any(|(n, _, _)| *n == spec.name),
                "{} is missing from MEASURED",
                spec.name
            );
        }
        // The small ones here; `nabla zoo --measure` checks the rest in ~40 s.
        for name in [
            "mlp",
            "lenet5",
            "lenet5_classic",
            "resnet18",
            "char-lstm",
            "row-lstm",
        ] {
            let spec = specs.iter().find(|s| s.name == name).expect("in the zoo");
            let &(_, p, m) = MEASURED
                .iter()
                .find(|(n, _, _)| *n == name)
                .expect("listed");
            assert_eq!(measure(spec)?, (p, m), "{name}");
        }
        Ok(())
    }
}
