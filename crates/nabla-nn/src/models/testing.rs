//! Test helpers of the zoo: torchvision's state_dict layouts (recorded by
//! `tools/torchvision_state_dicts.py`) and parameter counting.

use crate::{Path, Result, VarStore};
use nabla::Device;

/// Every torchvision model's parameter count and state_dict entries.
const TORCHVISION: &str = include_str!("../../testdata/torchvision_state_dicts.txt");

/// torchvision's parameter count and `(name, shape)` entries, in state_dict order, of `model`.
pub(crate) fn torchvision(model: &str) -> (usize, Vec<(String, Vec<usize>)>) {
    let mut lines = TORCHVISION.lines().skip_while(|l| {
        let mut w = l.split_whitespace();
        !(w.next() == Some("model") && w.next() == Some(model))
    });
    let header: Vec<&str> = lines
        .next()
        .unwrap_or_else(|| panic!("{model} is not in torchvision_state_dicts.txt"))
        .split_whitespace()
        .collect();
    let params = header[2].parse().expect("parameter count");
    let entries: usize = header[3].parse().expect("entry count");
    let keys = lines
        .take(entries)
        .map(|l| {
            let (name, shape) = l.split_once(' ').expect("name and shape");
            let dims = match shape {
                "-" => vec![],
                s => s.split(',').map(|d| d.parse().expect("dim")).collect(),
            };
            (name.to_string(), dims)
        })
        .collect();
    (params, keys)
}

/// Asserts that `vs` holds exactly torchvision's state_dict of `model`: the same names, in
/// the same order, with the same shapes, and the same number of parameters.
pub(crate) fn assert_torchvision_layout(vs: &VarStore, model: &str) {
    let (params, want) = torchvision(model);
    let got: Vec<(String, Vec<usize>)> = vs
        .vars()
        .iter()
        .map(|v| (v.name().to_string(), v.leaf().dims().to_vec()))
        .collect();
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(g, w, "{model}: entry {i} differs from torchvision's");
    }
    assert_eq!(
        got.len(),
        want.len(),
        "{model}: number of state_dict entries"
    );
    assert_eq!(vs.num_params(), params, "{model}: number of parameters");
}

/// Builds a model in a fresh store; returns its parameter count and variable names (the
/// model itself is dropped, which frees a large one at once).
pub(crate) fn count<M>(build: impl FnOnce(&Path) -> Result<M>) -> Result<(usize, Vec<String>)> {
    let vs = VarStore::new(&Device::Cpu);
    drop(build(&vs.root())?);
    let names = vs.vars().iter().map(|v| v.name().to_string()).collect();
    Ok((vs.num_params(), names))
}
