//! A frame: what the page draws after each burst of training — the output over the plane,
//! every hidden neuron over the plane, the weights and the losses.

use crate::data::EXTENT;
use crate::features::feature_matrix;
use crate::session::Session;
use crate::Result;
use nabla::{Device, Tensor};
use serde::Serialize;

/// Cells per side of the output heatmap.
pub const GRID: usize = 50;
/// Cells per side of each neuron's heatmap (every second cell of the output grid).
pub const NEURON_GRID: usize = GRID / 2;

/// One picture of the network, sent as JSON over server-sent events.
///
/// Heatmaps are `side × side` bytes, row-major, row 0 at the top (x2 = +6) and column 0 at
/// the left (x1 = −6), cell centres spread evenly over `[-6, 6]²`; a byte `q` stands for the
/// value `q / 127.5 − 1` (values are clamped to `[-1, 1]`), base64-encoded.
#[derive(Serialize)]
pub struct Frame {
    /// Passes over the training set so far.
    pub epoch: usize,
    /// Mean ½(output − target)² over the training points.
    pub train_loss: f32,
    /// The same over the test points.
    pub test_loss: f32,
    /// Whether the session is training on its own.
    pub playing: bool,
    /// Changes when the network starts again (the page clears its chart).
    pub network_version: u64,
    /// Side of the output heatmap.
    pub grid: usize,
    /// The output over the plane.
    pub output: String,
    /// Side of the neuron heatmaps.
    pub neuron_grid: usize,
    /// For each hidden layer, each neuron's output over the plane.
    pub neurons: Vec<Vec<String>>,
    /// For each layer (input side first), its weights `[out, in]` row-major.
    pub weights: Vec<Vec<f32>>,
    /// For each layer, its biases `[out]`.
    pub biases: Vec<Vec<f32>>,
}

/// The centres of a `side × side` grid over the plane, row-major from the top left.
pub fn grid_points(side: usize) -> Vec<[f32; 2]> {
    let cell = 2.0 * EXTENT / side as f32;
    (0..side)
        .flat_map(|r| {
            (0..side).map(move |c| {
                [
                    -EXTENT + (c as f32 + 0.5) * cell,
                    EXTENT - (r as f32 + 0.5) * cell,
                ]
            })
        })
        .collect()
}

/// `v` in `[-1, 1]` as a byte (NaN as the middle, 127).
fn quantize(v: f32) -> u8 {
    if v.is_nan() {
        return 127;
    }
    ((v.clamp(-1.0, 1.0) + 1.0) * 127.5).round() as u8
}

/// Standard base64 with padding (RFC 4648 §4).
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Renders the session's current network: one evaluation-mode forward pass of the whole
/// `GRID × GRID` plane, without recording a graph.
///
/// # Errors
/// Engine errors only.
pub fn render(s: &Session) -> Result<Frame> {
    let features = &s.config().features;
    let points = grid_points(GRID);
    let x = Tensor::from_vec(
        feature_matrix(&points, features),
        &[points.len(), features.len()],
        &Device::Cpu,
    )?;
    let outs = nabla::no_grad(|| s.net.forward_layers(&x))?;
    let (output, hidden) = outs.split_last().expect("the output layer exists");
    let output: Vec<u8> = output.to_vec::<f32>()?.into_iter().map(quantize).collect();
    let mut neurons = Vec::with_capacity(hidden.len());
    for layer in hidden {
        let width = layer.dims()[1];
        let v = layer.to_vec::<f32>()?;
        let maps = (0..width)
            .map(|j| {
                let bytes: Vec<u8> = (0..NEURON_GRID * NEURON_GRID)
                    .map(|i| {
                        let (r, c) = (2 * (i / NEURON_GRID), 2 * (i % NEURON_GRID));
                        quantize(v[(r * GRID + c) * width + j])
                    })
                    .collect();
                base64(&bytes)
            })
            .collect();
        neurons.push(maps);
    }
    let (weights, biases) = s.net.weights()?.into_iter().unzip();
    let (train_loss, test_loss) = s.losses();
    Ok(Frame {
        epoch: s.epoch(),
        train_loss,
        test_loss,
        playing: s.playing,
        network_version: s.network_version(),
        grid: GRID,
        output: base64(&output),
        neuron_grid: NEURON_GRID,
        neurons,
        weights,
        biases,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, Limits};

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        let cases = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, coded) in cases {
            assert_eq!(base64(plain.as_bytes()), coded);
        }
        assert_eq!(base64(&[255, 254, 253]), "//79");
    }

    #[test]
    fn quantization_maps_the_unit_interval_onto_bytes() {
        assert_eq!(
            [
                quantize(-1.0),
                quantize(0.0),
                quantize(1.0),
                quantize(7.0),
                quantize(f32::NAN)
            ],
            [0, 128, 255, 255, 127]
        );
    }

    #[test]
    fn grid_runs_from_top_left_over_the_plane() {
        let g = grid_points(4);
        // cell 3: centres at -4.5, -1.5, 1.5, 4.5
        assert_eq!(g[0], [-4.5, 4.5]);
        assert_eq!(g[3], [4.5, 4.5]);
        assert_eq!(g[15], [4.5, -4.5]);
    }

    #[test]
    fn frames_hold_one_map_per_neuron_and_the_weights() -> Result<()> {
        let s = Session::new("f".into(), Config::default(), &Limits::default())?;
        let f = render(&s)?;
        assert_eq!(f.output.len(), (GRID * GRID).div_ceil(3) * 4);
        let widths: Vec<usize> = f.neurons.iter().map(Vec::len).collect();
        assert_eq!(widths, [4, 2]);
        assert_eq!(
            f.neurons[0][0].len(),
            (NEURON_GRID * NEURON_GRID).div_ceil(3) * 4
        );
        let sizes: Vec<usize> = f.weights.iter().map(Vec::len).collect();
        assert_eq!(sizes, [8, 8, 2]);
        // The output map is the network's output at the grid's centres.
        let p = grid_points(GRID)[GRID + 7];
        let x = Tensor::from_slice(&p, &[1, 2], &Device::Cpu)?;
        let y = s.net.forward(&x)?.to_vec::<f32>()?[0];
        let output = decode(&f.output);
        assert_eq!(output[GRID + 7], quantize(y));
        Ok(())
    }

    /// Inverse of [`base64`] for the test.
    fn decode(s: &str) -> Vec<u8> {
        let val = |c: u8| match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            _ => 63,
        };
        let mut out = Vec::new();
        for chunk in s.as_bytes().chunks(4) {
            let pad = chunk.iter().filter(|&&c| c == b'=').count();
            let n = chunk
                .iter()
                .map(|&c| if c == b'=' { 0 } else { u32::from(val(c)) })
                .fold(0u32, |acc, v| (acc << 6) | v);
            let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
            out.extend_from_slice(&bytes[..3 - pad]);
        }
        out
    }
}
