//! `nabla zoo`: the models nabla can build.

use anyhow::Result;

/// Prints every model with its description and native input.
pub fn run() -> Result<()> {
    println!("{:<16} {:<14} description", "model", "native input");
    for spec in nabla_nn::models::registry() {
        let n = spec.native;
        println!(
            "{:<16} {:<14} {}",
            spec.name,
            format!("{}x{}x{}", n.in_channels, n.image_size, n.image_size),
            spec.description
        );
    }
    println!("\nTrain one with `nabla train --model NAME --data SPEC`; `nabla summary --model NAME` shows its parameters.");
    Ok(())
}
