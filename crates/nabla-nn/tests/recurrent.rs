//! Recurrent layers: gradient checks of every cell and of unrolled stacks, padding, layouts,
//! state carrying, and PyTorch's outputs for PyTorch's weights.

use nabla::{DType, Device, Tensor};
use nabla_nn::layers::{CellKind, Recurrent, RecurrentCell, RnnConfig, RnnState};
use nabla_nn::testing::gradcheck_vars;
use nabla_nn::{Module, Result, VarStore};

fn randn(shape: &[usize], seed: u64) -> Result<Tensor> {
    Ok(nabla::testing::randn(shape, seed)?)
}

fn f64_store() -> VarStore {
    VarStore::with_dtype(&Device::Cpu, DType::F64)
}

fn max_abs_diff(a: &Tensor, b: &Tensor) -> Result<f64> {
    assert_eq!(a.dims(), b.dims());
    let (a, b) = (a.to_vec::<f64>()?, b.to_vec::<f64>()?);
    Ok(a.iter()
        .zip(&b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max))
}

const KINDS: [CellKind; 4] = [
    CellKind::RnnTanh,
    CellKind::RnnRelu,
    CellKind::Lstm,
    CellKind::Gru,
];

/// Each cell's gradients with respect to its weights, its input and its state.
#[test]
fn every_cell_passes_a_gradient_check() -> Result<()> {
    for (k, kind) in KINDS.into_iter().enumerate() {
        nabla::manual_seed(k as u64);
        let vs = f64_store();
        let cell = RecurrentCell::new(&vs.root(), kind, 3, 4, true)?;
        let mut inputs = vec![randn(&[2, 3], 1)?, randn(&[2, 4], 2)?];
        if kind == CellKind::Lstm {
            inputs.push(randn(&[2, 4], 3)?);
        }
        gradcheck_vars(&vs, &inputs, |x| {
            let state = RnnState {
                h: x[1].clone(),
                c: x.get(2).cloned(),
            };
            let next = cell.step(&x[0], Some(&state))?;
            match next.c {
                Some(c) => Ok(Tensor::cat(&[&next.h, &c], 1)?),
                None => Ok(next.h),
            }
        })
        .unwrap_or_else(|e| panic!("{kind:?}: {e}"));
    }
    Ok(())
}

/// A 3-step, 2-layer LSTM and GRU (and a bidirectional tanh RNN), unrolled: gradients of
/// all weights, the input sequence and the initial state, through outputs and final state.
#[test]
fn unrolled_multi_layer_stacks_pass_a_gradient_check() -> Result<()> {
    let cases = [
        (CellKind::Lstm, false),
        (CellKind::Gru, false),
        (CellKind::RnnTanh, true),
        (CellKind::Lstm, true),
    ];
    for (kind, bidirectional) in cases {
        nabla::manual_seed(7);
        let vs = f64_store();
        let cfg = RnnConfig {
            num_layers: 2,
            bidirectional,
            ..RnnConfig::default()
        };
        let layer = Recurrent::new(&vs.root(), kind, 2, 3, cfg)?;
        let dirs = if bidirectional { 2 } else { 1 };
        let mut inputs = vec![randn(&[3, 2, 2], 4)?, randn(&[2 * dirs, 2, 3], 5)?];
        if kind == CellKind::Lstm {
            inputs.push(randn(&[2 * dirs, 2, 3], 6)?);
        }
        gradcheck_vars(&vs, &inputs, |x| {
            let h0 = RnnState {
                h: x[1].clone(),
                c: x.get(2).cloned(),
            };
            let (out, state) = layer.forward_seq(&x[0], Some(&h0), None, true)?;
            let mut parts = vec![
                out.reshape(&[out.numel()])?,
                state.h.reshape(&[state.h.numel()])?,
            ];
            if let Some(c) = state.c {
                parts.push(c.reshape(&[c.numel()])?);
            }
            let refs: Vec<&Tensor> = parts.iter().collect();
            Ok(Tensor::cat(&refs, 0)?)
        })
        .unwrap_or_else(|e| panic!("{kind:?} bidirectional={bidirectional}: {e}"));
    }
    Ok(())
}

/// With padding and lengths, gradients still check (padding contributes nothing).
#[test]
fn padded_batches_pass_a_gradient_check() -> Result<()> {
    nabla::manual_seed(3);
    let vs = f64_store();
    let cfg = RnnConfig {
        bidirectional: true,
        ..RnnConfig::default()
    };
    let layer = Recurrent::gru(&vs.root(), 2, 3, cfg)?;
    gradcheck_vars(&vs, &[randn(&[4, 2, 2], 8)?], |x| {
        let (out, state) = layer.forward_seq(&x[0], None, Some(&[4, 2]), false)?;
        Ok(Tensor::cat(
            &[
                &out.reshape(&[out.numel()])?,
                &state.h.reshape(&[state.h.numel()])?,
            ],
            0,
        )?)
    })
}

/// A padded batch gives, for each sequence, exactly what running that sequence alone gives:
/// the same outputs at its real steps, zeros after them, the same final state; and the
/// padded inputs receive no gradient.
#[test]
fn padding_never_leaks_into_results() -> Result<()> {
    for kind in [CellKind::Lstm, CellKind::Gru, CellKind::RnnTanh] {
        nabla::manual_seed(11);
        let vs = f64_store();
        let cfg = RnnConfig {
            num_layers: 2,
            bidirectional: true,
            batch_first: true,
            ..RnnConfig::default()
        };
        let layer = Recurrent::new(&vs.root(), kind, 3, 4, cfg)?;
        let lengths = [5, 2, 4];
        let x = randn(&[3, 5, 3], 12)?.requires_grad();
        let (out, state) = layer.forward_seq(&x, None, Some(&lengths), false)?;
        for (b, &len) in lengths.iter().enumerate() {
            let alone = x.narrow(0, b, 1)?.narrow(1, 0, len)?;
            let (want, want_state) = layer.forward_seq(&alone, None, None, false)?;
            let got = out.narrow(0, b, 1)?;
            assert!(
                max_abs_diff(&got.narrow(1, 0, len)?, &want)? < 1e-12,
                "{kind:?} seq {b}"
            );
            if len < 5 {
                let pad = got.narrow(1, len, 5 - len)?;
                assert_eq!(max_abs_diff(&pad, &pad.mul_scalar(0.0)?)?, 0.0);
            }
            let h = state.h.narrow(1, b, 1)?;
            assert!(max_abs_diff(&h, &want_state.h)? < 1e-12, "{kind:?} h_n {b}");
        }
        let grads = out.sum_all()?.backward()?;
        let g = grads.get(&x).expect("input gradient").to_vec::<f64>()?;
        // Sequence 1 has length 2: its steps 2..5 are padding.
        let padded: f64 = (2..5)
            .flat_map(|t| (0..3).map(move |f| (5 + t) * 3 + f))
            .map(|i| g[i].abs())
            .sum();
        assert_eq!(padded, 0.0, "{kind:?}: gradient reached padding");
    }
    Ok(())
}

/// `batch_first` only transposes: the same weights give the same numbers either way.
#[test]
fn batch_first_is_a_transpose() -> Result<()> {
    nabla::manual_seed(5);
    let vs = f64_store();
    let tm = Recurrent::lstm(&vs.root(), 3, 4, RnnConfig::default())?;
    let bf = Recurrent::lstm(
        &vs.root().sub("bf"),
        3,
        4,
        RnnConfig {
            batch_first: true,
            ..RnnConfig::default()
        },
    )?;
    for (a, b) in vs
        .vars()
        .iter()
        .filter(|v| !v.name().starts_with("bf"))
        .zip(vs.vars().iter().filter(|v| v.name().starts_with("bf")))
    {
        b.set(&a.tensor())?;
    }
    let x = randn(&[6, 2, 3], 9)?;
    let y_tm = tm.forward(&x)?;
    let y_bf = bf.forward(&x.transpose(0, 1)?)?;
    assert!(max_abs_diff(&y_tm, &y_bf.transpose(0, 1)?)? < 1e-14);
    Ok(())
}

/// Running a sequence in chunks while carrying the (detached) state gives the same outputs
/// as running it whole: what truncated backpropagation through time relies on.
#[test]
fn carrying_state_across_chunks_equals_one_pass() -> Result<()> {
    nabla::manual_seed(2);
    let vs = f64_store();
    let layer = Recurrent::lstm(
        &vs.root(),
        2,
        3,
        RnnConfig {
            num_layers: 2,
            ..RnnConfig::default()
        },
    )?;
    let x = randn(&[8, 2, 2], 4)?;
    let (whole, whole_state) = layer.forward_seq(&x, None, None, false)?;
    let mut state: Option<RnnState> = None;
    let mut parts = Vec::new();
    for chunk in 0..4 {
        let (out, s) =
            layer.forward_seq(&x.narrow(0, 2 * chunk, 2)?, state.as_ref(), None, false)?;
        parts.push(out);
        state = Some(s.detach());
    }
    let refs: Vec<&Tensor> = parts.iter().collect();
    assert!(max_abs_diff(&Tensor::cat(&refs, 0)?, &whole)? < 1e-14);
    let last = state.expect("state");
    assert!(max_abs_diff(&last.h, &whole_state.h)? < 1e-14);
    assert!(!last.h.tracks_grad(), "a detached state carries no graph");
    Ok(())
}

/// Parameter names and shapes are PyTorch's.
#[test]
fn parameter_names_follow_pytorch() -> Result<()> {
    let vs = VarStore::new(&Device::Cpu);
    let cfg = RnnConfig {
        num_layers: 2,
        bidirectional: true,
        ..RnnConfig::default()
    };
    Recurrent::gru(&vs.root().sub("gru"), 5, 7, cfg)?;
    let names: Vec<(String, Vec<usize>)> = vs
        .vars()
        .iter()
        .map(|v| (v.name().to_string(), v.leaf().dims().to_vec()))
        .collect();
    assert_eq!(names[0], ("gru.weight_ih_l0".to_string(), vec![21, 5]));
    assert_eq!(names[1], ("gru.weight_hh_l0".to_string(), vec![21, 7]));
    assert_eq!(
        names[4],
        ("gru.weight_ih_l0_reverse".to_string(), vec![21, 5])
    );
    assert_eq!(names[8], ("gru.weight_ih_l1".to_string(), vec![21, 14]));
    assert_eq!(
        names.last().map(|n| n.0.as_str()),
        Some("gru.bias_hh_l1_reverse")
    );
    assert_eq!(names.len(), 16);
    Ok(())
}

#[test]
fn bad_shapes_and_lengths_are_errors() -> Result<()> {
    let vs = VarStore::new(&Device::Cpu);
    let layer = Recurrent::lstm(&vs.root(), 3, 4, RnnConfig::default())?;
    let x = Tensor::zeros(&[5, 2, 3], DType::F32, &Device::Cpu);
    let msg = |r: Result<(Tensor, RnnState)>| r.err().map(|e| e.to_string()).unwrap_or_default();
    let wrong_features = Tensor::zeros(&[5, 2, 6], DType::F32, &Device::Cpu);
    assert!(msg(layer.forward_seq(&wrong_features, None, None, false)).contains("input = 3"));
    assert!(msg(layer.forward_seq(&x, None, Some(&[5]), false))
        .contains("expected 2 lengths, one per sequence, got 1"));
    assert!(msg(layer.forward_seq(&x, None, Some(&[5, 6]), false))
        .contains("must be in 1..=5 (sequence 1), got 6"));
    let h_only = RnnState {
        h: Tensor::zeros(&[1, 2, 4], DType::F32, &Device::Cpu),
        c: None,
    };
    assert!(msg(layer.forward_seq(&x, Some(&h_only), None, false)).contains("both h and c"));
    assert!(Recurrent::lstm(&vs.root().sub("b"), 3, 0, RnnConfig::default()).is_err());
    Ok(())
}

/// PyTorch's `nn.LSTM`, `nn.GRU`, `nn.RNN` (2 layers, bidirectional, batch_first) and the
/// cells, with their weights saved by `tools/torch_rnn_reference.py`: loaded into nabla they
/// give PyTorch's outputs and final states within 1e-4 relative.
#[test]
fn pytorch_weights_give_pytorch_outputs() -> Result<()> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/testdata/torch_rnn_reference.safetensors"
    );
    let file = nabla_nn::checkpoint::load(path)?.tensors;
    let get = |name: &str| -> Tensor {
        file.iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("{name} missing from {path}"))
            .1
            .clone()
    };
    let check = |what: &str, got: &Tensor, want: &Tensor| -> Result<()> {
        let scale = want
            .to_vec::<f64>()?
            .iter()
            .fold(0.0f64, |m, v| m.max(v.abs()));
        let d = max_abs_diff(got, want)?;
        assert!(
            d <= 1e-4 * scale.max(1.0),
            "{what}: max difference {d} (scale {scale})"
        );
        Ok(())
    };
    let x = get("input");
    let cfg = RnnConfig {
        num_layers: 2,
        bidirectional: true,
        batch_first: true,
        ..RnnConfig::default()
    };
    for (name, kind) in [
        ("lstm", CellKind::Lstm),
        ("gru", CellKind::Gru),
        ("rnn", CellKind::RnnTanh),
    ] {
        let vs = VarStore::new(&Device::Cpu);
        let layer = Recurrent::new(&vs.root().sub(name), kind, 5, 6, cfg)?;
        for v in vs.vars() {
            v.set(&get(v.name()))?;
        }
        let (out, state) = layer.forward_seq(&x, None, None, false)?;
        check(
            &format!("{name} output"),
            &out,
            &get(&format!("{name}.out")),
        )?;
        check(
            &format!("{name} h_n"),
            &state.h,
            &get(&format!("{name}.h_n")),
        )?;
        if let Some(c) = state.c {
            check(&format!("{name} c_n"), &c, &get(&format!("{name}.c_n")))?;
        }
    }
    for (name, kind) in [("lstm_cell", CellKind::Lstm), ("gru_cell", CellKind::Gru)] {
        let vs = VarStore::new(&Device::Cpu);
        let cell = RecurrentCell::new(&vs.root().sub(name), kind, 5, 6, true)?;
        for v in vs.vars() {
            v.set(&get(v.name()))?;
        }
        let next = cell.step(&get("cell_input"), None)?;
        check(&format!("{name} h"), &next.h, &get(&format!("{name}.h")))?;
        if let Some(c) = next.c {
            check(&format!("{name} c"), &c, &get(&format!("{name}.c")))?;
        }
    }
    Ok(())
}
