//! GoogLeNet, Inception v1 (Szegedy et al. 2014): torchvision's batch-normalized network and
//! the paper's, both with the two auxiliary classifiers used in training.

use super::blocks::{check_config, conv2d, conv_cfg, linear, min_input_size, PadTo, Spatial};
use super::ModelConfig;
use crate::export::{Attr, GraphSink, Traced};
use crate::init::Init;
use crate::layers::{
    default_bias_init, Activation, AdaptiveAvgPool2d, BatchNorm, Dropout, Flatten, Linear,
    LocalResponseNorm, MaxPool2d,
};
use crate::{seq, Error, Module, Path, Result, Sequential};
use nabla::{Pool2dConfig, Tensor};

/// Which GoogLeNet to build.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GoogLeNetVariant {
    /// torchvision's: convolutions without bias followed by batch norm (ε = 0.001), a 3×3
    /// convolution in the "5×5" branch, a 2×2 fourth max-pool, dropout 0.2.
    Torchvision,
    /// The paper's: convolutions with bias and ReLU, local response normalization in the
    /// stem, a real 5×5 branch, 3×3 max-pools throughout, dropout 0.4.
    Paper,
}

/// Output widths of one Inception module: the 1×1 branch, the 3×3 branch's reduction and
/// output, the 5×5 branch's reduction and output, and the pool branch's projection.
struct Widths(usize, usize, usize, usize, usize, usize);

/// The modules of Table 1 of the paper, `(name, input width, widths)`, up to 4a, 4b–4d and
/// 4e–5b (the auxiliary classifiers branch off after 4a and 4d).
const MODULES: [(&str, usize, Widths); 9] = [
    ("inception3a", 192, Widths(64, 96, 128, 16, 32, 32)),
    ("inception3b", 256, Widths(128, 128, 192, 32, 96, 64)),
    ("inception4a", 480, Widths(192, 96, 208, 16, 48, 64)),
    ("inception4b", 512, Widths(160, 112, 224, 24, 64, 64)),
    ("inception4c", 512, Widths(128, 128, 256, 24, 64, 64)),
    ("inception4d", 512, Widths(112, 144, 288, 32, 64, 64)),
    ("inception4e", 528, Widths(256, 160, 320, 32, 128, 128)),
    ("inception5a", 832, Widths(256, 160, 320, 32, 128, 128)),
    ("inception5b", 832, Widths(384, 192, 384, 48, 128, 128)),
];

/// The max-pools between stages, which round up (Caffe's and torchvision's `ceil_mode`).
fn pool(kernel: usize) -> MaxPool2d {
    MaxPool2d(Pool2dConfig::new(kernel).stride(2).ceil_mode(true))
}

/// Caffe's "xavier" filler of the BVLC reference GoogLeNet, `U(±√(3/fan_in))`: the paper
/// names no initialization, and without batch norm the network needs a scaled one.
fn caffe_xavier(fan_in: usize) -> Init {
    let b = (3.0 / fan_in as f64).sqrt();
    Init::Uniform { low: -b, high: b }
}

/// torchvision's GoogLeNet weights: truncated `N(0, 0.01²)` (the truncation at ±2 is 200σ
/// away, so a plain normal is the same distribution).
const TV_WEIGHT: Init = Init::Normal {
    mean: 0.0,
    std: 0.01,
};

/// A convolution, then batch norm (torchvision's `BasicConv2d`: `conv`, `bn`) or a bias
/// (the paper), then ReLU.
fn basic_conv(
    p: &Path,
    v: GoogLeNetVariant,
    cin: usize,
    cout: usize,
    kernel: usize,
    stride: usize,
) -> Result<Sequential> {
    let cfg = conv_cfg(stride, kernel / 2);
    let cp = p.sub("conv");
    Ok(match v {
        GoogLeNetVariant::Torchvision => seq()
            .add(conv2d(&cp, cin, cout, kernel, cfg, TV_WEIGHT, None)?)
            .add(BatchNorm::new2d(&p.sub("bn"), cout)?.with(1e-3, 0.1)),
        GoogLeNetVariant::Paper => seq().add(conv2d(
            &cp,
            cin,
            cout,
            kernel,
            cfg,
            caffe_xavier(cin * kernel * kernel),
            Some(Init::Constant(0.2)),
        )?),
    }
    .add(Activation::Relu))
}

/// An Inception module with dimensionality reduction (Figure 2b): four branches concatenated
/// along the channels — `branch1` 1×1; `branch2` 1×1 then 3×3; `branch3` 1×1 then 5×5 (3×3 in
/// torchvision); `branch4` 3×3/1 max-pool then 1×1 projection.
struct Inception {
    branches: [Sequential; 4],
}

impl Inception {
    fn new(p: &Path, v: GoogLeNetVariant, cin: usize, w: &Widths) -> Result<Self> {
        let wide = match v {
            GoogLeNetVariant::Torchvision => 3,
            GoogLeNetVariant::Paper => 5,
        };
        let (b2, b3, b4) = (p.sub("branch2"), p.sub("branch3"), p.sub("branch4"));
        Ok(Inception {
            branches: [
                basic_conv(&p.sub("branch1"), v, cin, w.0, 1, 1)?,
                seq()
                    .add(basic_conv(&b2.sub(0), v, cin, w.1, 1, 1)?)
                    .add(basic_conv(&b2.sub(1), v, w.1, w.2, 3, 1)?),
                seq()
                    .add(basic_conv(&b3.sub(0), v, cin, w.3, 1, 1)?)
                    .add(basic_conv(&b3.sub(1), v, w.3, w.4, wide, 1)?),
                seq()
                    .add(MaxPool2d(
                        Pool2dConfig::new(3).stride(1).padding(1).ceil_mode(true),
                    ))
                    .add(basic_conv(&b4.sub(1), v, cin, w.5, 1, 1)?),
            ],
        })
    }
}

impl Module for Inception {
    fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        let ys = self
            .branches
            .iter()
            .map(|b| b.forward_t(x, train))
            .collect::<Result<Vec<_>>>()?;
        Ok(Tensor::cat(&ys.iter().collect::<Vec<_>>(), 1)?)
    }

    /// The four branches and a `Concat` of their outputs along the channels.
    fn export(&self, g: &mut dyn GraphSink, x: &Traced) -> Result<Traced> {
        let ys = self
            .branches
            .iter()
            .map(|b| b.export(g, x))
            .collect::<Result<Vec<_>>>()?;
        let names: Vec<&str> = ys.iter().map(|y| y.name.as_str()).collect();
        let name = g.node("Concat", &names, vec![("axis", Attr::Int(1))]);
        x.through(self, name)
    }
}

/// An auxiliary classifier (`aux1` after 4a, `aux2` after 4d): average pool to 4×4, `conv`
/// 1×1 to 128 maps with ReLU, `fc1` 2048→1024 with ReLU, dropout 0.7, `fc2` to the classes.
struct Aux {
    conv: Sequential,
    fc1: Linear,
    dropout: Dropout,
    fc2: Linear,
    variant: GoogLeNetVariant,
}

impl Aux {
    fn new(p: &Path, v: GoogLeNetVariant, cin: usize, classes: usize) -> Result<Self> {
        let conv = basic_conv(&p.sub("conv"), v, cin, 128, 1, 1)?;
        let (fc1, fc2) = match v {
            GoogLeNetVariant::Torchvision => (
                linear(
                    &p.sub("fc1"),
                    2048,
                    1024,
                    TV_WEIGHT,
                    default_bias_init(2048),
                )?,
                linear(
                    &p.sub("fc2"),
                    1024,
                    classes,
                    TV_WEIGHT,
                    default_bias_init(1024),
                )?,
            ),
            GoogLeNetVariant::Paper => (
                linear(
                    &p.sub("fc1"),
                    2048,
                    1024,
                    caffe_xavier(2048),
                    Init::Constant(0.2),
                )?,
                linear(
                    &p.sub("fc2"),
                    1024,
                    classes,
                    caffe_xavier(1024),
                    Init::Constant(0.0),
                )?,
            ),
        };
        Ok(Aux {
            conv,
            fc1,
            dropout: Dropout::new(0.7)?,
            fc2,
            variant: v,
        })
    }
}

impl Module for Aux {
    fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        // The paper pools 5×5 with stride 3, which takes its 14×14 maps to 4×4; torchvision
        // (and the paper's network at other sizes, where 5×5/3 would not give 4×4) pools
        // adaptively to 4×4, so fc1 always sees 128·4·4 = 2048 inputs.
        let paper_pool = Pool2dConfig::new(5).stride(3);
        let fits = |d: usize| d >= 5 && (d - 5) / 3 + 1 == 4;
        let h = match self.variant {
            GoogLeNetVariant::Paper if fits(x.dims()[2]) && fits(x.dims()[3]) => {
                x.avg_pool2d(paper_pool)?
            }
            _ => x.adaptive_avg_pool2d((4, 4))?,
        };
        let h = self.conv.forward_t(&h, train)?.flatten(1, -1)?;
        let h = self.fc1.forward_t(&h, train)?.relu()?;
        self.fc2
            .forward_t(&self.dropout.forward_t(&h, train)?, train)
    }
}

/// GoogLeNet: a stem, nine Inception modules, global average pooling, dropout and `fc`, with
/// two auxiliary classifiers. [`Module::forward_t`] returns the main classifier's logits
/// only; [`GoogLeNet::forward_with_aux`] also returns the auxiliary logits in training.
pub struct GoogLeNet {
    /// Stem, 3a, 3b, pool, 4a.
    to_aux1: Sequential,
    /// 4b, 4c, 4d.
    to_aux2: Sequential,
    /// 4e, pool, 5a, 5b, average pool, dropout, fc.
    rest: Sequential,
    aux1: Option<Aux>,
    aux2: Option<Aux>,
    /// Per-channel `(scale, shift)` of torchvision's `transform_input`.
    transform: Option<(Tensor, Tensor)>,
    in_channels: usize,
}

impl GoogLeNet {
    /// The smallest image the variant takes (31 for torchvision's, 47 for the paper's, whose
    /// last max-pool is 3×3 instead of 2×2).
    pub fn min_image_size(variant: GoogLeNetVariant) -> usize {
        let pool = |k: usize| Spatial::Pool(Pool2dConfig::new(k).stride(2).ceil_mode(true));
        let last = match variant {
            GoogLeNetVariant::Torchvision => 2,
            GoogLeNetVariant::Paper => 3,
        };
        min_input_size(&[
            Spatial::Conv {
                kernel: 7,
                stride: 2,
                padding: 3,
            },
            pool(3),
            pool(3),
            pool(3),
            pool(last),
        ])
    }

    /// Builds the variant under `p`, with the auxiliary classifiers when `aux_logits`.
    ///
    /// Parameter names are torchvision's for both variants (`conv1.conv.weight`,
    /// `inception3a.branch2.1.conv.weight`, `aux1.fc2.bias`, `fc.weight` …; the paper's
    /// convolutions add `….conv.bias` and have no `bn`), created in torchvision's state_dict
    /// order. An image from the minimum size ([`GoogLeNet::min_image_size`]) up works
    /// unchanged thanks to the rounding-up pools and the adaptive average pools; a model
    /// built for a smaller `image_size` (MNIST's 28) zero-pads its input to that minimum.
    ///
    /// # Errors
    /// For a configuration with a zero size.
    pub fn new(
        p: &Path,
        c: &ModelConfig,
        variant: GoogLeNetVariant,
        aux_logits: bool,
    ) -> Result<Self> {
        check_config("googlenet", c)?;
        let v = variant;
        let paper = v == GoogLeNetVariant::Paper;
        let min = GoogLeNet::min_image_size(v);
        let mut stem = if c.image_size < min {
            seq().add_named("pad", PadTo(min))
        } else {
            seq()
        };
        stem = stem
            .add_named(
                "conv1",
                basic_conv(&p.sub("conv1"), v, c.in_channels, 64, 7, 2)?,
            )
            .add_named("maxpool1", pool(3));
        if paper {
            stem = stem.add_named("lrn1", LocalResponseNorm::new(5));
        }
        stem = stem
            .add_named("conv2", basic_conv(&p.sub("conv2"), v, 64, 64, 1, 1)?)
            .add_named("conv3", basic_conv(&p.sub("conv3"), v, 64, 192, 3, 1)?);
        if paper {
            stem = stem.add_named("lrn2", LocalResponseNorm::new(5));
        }
        stem = stem.add_named("maxpool2", pool(3));
        let mut parts = [stem, seq(), seq()];
        for (i, (name, cin, widths)) in MODULES.iter().enumerate() {
            let part = match i {
                0..=2 => 0,
                3..=5 => 1,
                _ => 2,
            };
            let m = Inception::new(&p.sub(name), v, *cin, widths)?;
            parts[part] = std::mem::take(&mut parts[part]).add_named(*name, m);
            if *name == "inception3b" {
                parts[0] = std::mem::take(&mut parts[0]).add_named("maxpool3", pool(3));
            }
            if *name == "inception4e" {
                let last = pool(if paper { 3 } else { 2 });
                parts[2] = std::mem::take(&mut parts[2]).add_named("maxpool4", last);
            }
        }
        let [to_aux1, to_aux2, tail] = parts;
        let (aux1, aux2) = if aux_logits {
            (
                Some(Aux::new(&p.sub("aux1"), v, 512, c.num_classes)?),
                Some(Aux::new(&p.sub("aux2"), v, 528, c.num_classes)?),
            )
        } else {
            (None, None)
        };
        let fc = match v {
            GoogLeNetVariant::Torchvision => linear(
                &p.sub("fc"),
                1024,
                c.num_classes,
                TV_WEIGHT,
                default_bias_init(1024),
            )?,
            GoogLeNetVariant::Paper => linear(
                &p.sub("fc"),
                1024,
                c.num_classes,
                caffe_xavier(1024),
                Init::Constant(0.0),
            )?,
        };
        let rest = tail
            .add_named("avgpool", AdaptiveAvgPool2d((1, 1)))
            .add_named("flatten", Flatten)
            .add_named("dropout", Dropout::new(if paper { 0.4 } else { 0.2 })?)
            .add_named("fc", fc);
        Ok(GoogLeNet {
            to_aux1,
            to_aux2,
            rest,
            aux1,
            aux2,
            transform: None,
            in_channels: c.in_channels,
        })
    }

    /// Turns on torchvision's `transform_input`, which its ImageNet-pretrained GoogLeNet
    /// uses: the input, normalized with ImageNet's mean and standard deviation, is mapped to
    /// the `(x − 0.5) / 0.5` normalization the original weights were trained with
    /// (`x_c · σ_c/0.5 + (μ_c − 0.5)/0.5`).
    ///
    /// # Errors
    /// When the model does not take 3 channels.
    pub fn with_transform_input(mut self) -> Result<Self> {
        if self.in_channels != 3 {
            return Err(Error::invalid(
                "googlenet",
                format!(
                    "transform_input needs RGB input, the model takes {} channels",
                    self.in_channels
                ),
            ));
        }
        let (mean, std) = ([0.485f32, 0.456, 0.406], [0.229f32, 0.224, 0.225]);
        let dev = nabla::Device::Cpu;
        let scale = Tensor::from_vec(std.iter().map(|s| s / 0.5).collect(), &[1, 3, 1, 1], &dev)?;
        let shift = Tensor::from_vec(
            mean.iter().map(|m| (m - 0.5) / 0.5).collect(),
            &[1, 3, 1, 1],
            &dev,
        )?;
        self.transform = Some((scale, shift));
        Ok(self)
    }

    /// Whether the auxiliary classifiers exist.
    pub fn has_aux(&self) -> bool {
        self.aux1.is_some()
    }

    /// The main logits `[n, classes]` and, in training mode (`train`) when the model has them,
    /// the logits of the auxiliary classifiers after 4a and 4d.
    ///
    /// The paper trains on `loss(main) + 0.3 · (loss(aux1) + loss(aux2))` and discards the
    /// auxiliary classifiers at inference:
    ///
    /// ```
    /// # use nabla::{Device, DType, Tensor};
    /// # use nabla_nn::{loss, models::{googlenet, ModelConfig}, VarStore};
    /// # fn main() -> nabla_nn::Result<()> {
    /// let vs = VarStore::new(&Device::Cpu);
    /// let net = googlenet(&vs.root(), &ModelConfig::cifar10())?;
    /// let x = Tensor::randn(&[2, 3, 32, 32], DType::F32, &Device::Cpu)?;
    /// let labels = Tensor::from_slice(&[3i64, 7], &[2], &Device::Cpu)?;
    /// let (logits, aux1, aux2) = net.forward_with_aux(&x, true)?;
    /// let mut total = loss::cross_entropy(&logits, &labels)?;
    /// for aux in [aux1, aux2].into_iter().flatten() {
    ///     total = total.add(&loss::cross_entropy(&aux, &labels)?.mul_scalar(0.3)?)?;
    /// }
    /// let grads = total.backward()?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// Shape errors of the layers (wrong channel count, an image below the minimum size).
    pub fn forward_with_aux(
        &self,
        x: &Tensor,
        train: bool,
    ) -> Result<(Tensor, Option<Tensor>, Option<Tensor>)> {
        let x = match &self.transform {
            Some((scale, shift)) => x.mul(scale)?.add(shift)?,
            None => x.clone(),
        };
        let h = self.to_aux1.forward_t(&x, train)?;
        let aux1 = match (&self.aux1, train) {
            (Some(a), true) => Some(a.forward_t(&h, train)?),
            _ => None,
        };
        let h = self.to_aux2.forward_t(&h, train)?;
        let aux2 = match (&self.aux2, train) {
            (Some(a), true) => Some(a.forward_t(&h, train)?),
            _ => None,
        };
        Ok((self.rest.forward_t(&h, train)?, aux1, aux2))
    }
}

impl Module for GoogLeNet {
    /// The main classifier's logits (the auxiliary classifiers are not run).
    fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        let x = match &self.transform {
            Some((scale, shift)) => x.mul(scale)?.add(shift)?,
            None => x.clone(),
        };
        let h = self.to_aux1.forward_t(&x, train)?;
        let h = self.to_aux2.forward_t(&h, train)?;
        self.rest.forward_t(&h, train)
    }

    /// The inference graph: the input transform as `Mul` and `Add` by constants, then the
    /// layers (the auxiliary classifiers run in training only and are left out).
    fn export(&self, g: &mut dyn GraphSink, x: &Traced) -> Result<Traced> {
        let x = match &self.transform {
            Some((scale, shift)) => {
                let (s, b) = (g.constant(scale)?, g.constant(shift)?);
                let y = g.node("Mul", &[&x.name, &s], vec![]);
                let name = g.node("Add", &[&y, &b], vec![]);
                Traced {
                    name,
                    example: x.example.mul(scale)?.add(shift)?,
                }
            }
            None => x.clone(),
        };
        let h = self.to_aux1.export(g, &x)?;
        let h = self.to_aux2.export(g, &h)?;
        self.rest.export(g, &h)
    }

    /// The stem, the Inception modules and the classifier, in order (the auxiliary
    /// classifiers, which run in training only, are not among them); empty when the model
    /// transforms its input ([`GoogLeNet::with_transform_input`]), which is no layer.
    fn children(&self) -> Vec<(String, &dyn Module)> {
        if self.transform.is_some() {
            return Vec::new();
        }
        let mut layers = self.to_aux1.layers();
        layers.extend(self.to_aux2.layers());
        layers.extend(self.rest.layers());
        layers
    }
}

/// GoogLeNet as torchvision builds it, with its auxiliary classifiers (torchvision's default
/// without pretrained weights): 13,004,888 parameters for 1000 classes, 6,624,904 without
/// the auxiliary classifiers (`GoogLeNet::new(p, c, GoogLeNetVariant::Torchvision, false)`,
/// the layout of torchvision's ImageNet checkpoint, which also wants
/// [`GoogLeNet::with_transform_input`]).
///
/// # Errors
/// For a configuration with a zero size.
pub fn googlenet(p: &Path, c: &ModelConfig) -> Result<GoogLeNet> {
    GoogLeNet::new(p, c, GoogLeNetVariant::Torchvision, true)
}

/// GoogLeNet as Szegedy et al. 2014 describe it (Table 1, Figure 3): convolutions with bias
/// and ReLU, no batch norm; local response normalization (n = 5, α = 1e-4, β = 0.75, k = 1,
/// the BVLC Caffe model's values) after the first max-pool and after conv3; 5×5 convolutions
/// in the Inception modules; 3×3/2 max-pools rounding up; global average pooling; dropout
/// 0.4; the auxiliary classifiers after 4a and 4d (5×5/3 average pool at 224×224, 1×1 conv
/// to 128, fc 1024, dropout 0.7). Initialization as the BVLC Caffe model (the paper gives
/// none): `U(±√(3/fan_in))` weights, biases 0.2 (0 in the classifiers).
///
/// # Errors
/// For a configuration with a zero size.
pub fn googlenet_paper(p: &Path, c: &ModelConfig) -> Result<GoogLeNet> {
    GoogLeNet::new(p, c, GoogLeNetVariant::Paper, true)
}

#[cfg(test)]
mod tests;
