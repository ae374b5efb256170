//! Where a tensor's data lives.

use crate::{Error, Result};

/// A compute device: where a tensor's [`crate::storage::Storage`] lives and whose kernels
/// compute on it. `Device::Cpu` is the default everywhere.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Device {
    /// Host memory and the CPU kernels in `cpu/`.
    #[default]
    Cpu,
    /// The CUDA GPU of this ordinal. The type exists with the `cuda` cargo feature; this
    /// version has no CUDA backend behind it yet, so creating or moving a tensor there is an
    /// [`Error::DeviceUnavailable`].
    #[cfg(feature = "cuda")]
    Cuda(usize),
}

impl Device {
    /// Whether this is host memory.
    pub fn is_cpu(&self) -> bool {
        matches!(self, Device::Cpu)
    }

    /// Checks that this build can hold tensors on this device; `op` names the caller in
    /// the error.
    ///
    /// # Errors
    /// [`Error::DeviceUnavailable`] for a device whose backend is not built in.
    #[inline]
    #[cfg_attr(not(feature = "cuda"), allow(unused_variables))]
    pub fn check_available(&self, op: &'static str) -> Result<()> {
        match self {
            Device::Cpu => Ok(()),
            #[cfg(feature = "cuda")]
            Device::Cuda(_) => Err(Error::DeviceUnavailable {
                op,
                device: *self,
                why: "the CUDA backend is not built in this version of nabla (only the \
                      `Device::Cuda` type is); use the CPU",
            }),
        }
    }
}

impl std::fmt::Display for Device {
    /// `cpu`, `cuda:0`: the spelling [`Device::from_str`](std::str::FromStr) reads.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Device::Cpu => write!(f, "cpu"),
            #[cfg(feature = "cuda")]
            Device::Cuda(n) => write!(f, "cuda:{n}"),
        }
    }
}

impl std::str::FromStr for Device {
    type Err = Error;
    /// Parses `cpu`, `cuda` (ordinal 0) or `cuda:N`, as PyTorch spells devices.
    fn from_str(s: &str) -> Result<Device> {
        let bad = |msg: String| Error::invalid("device", msg);
        match s {
            "cpu" => Ok(Device::Cpu),
            _ if s == "cuda" || s.starts_with("cuda:") => {
                let ordinal = match s.strip_prefix("cuda:") {
                    None => 0,
                    Some(n) => n.parse::<usize>().map_err(|_| {
                        bad(format!(
                            "'{s}': the CUDA ordinal must be a number, as in cuda:0"
                        ))
                    })?,
                };
                cuda_device(s, ordinal)
            }
            _ => Err(Error::UnknownName {
                op: "device",
                what: "device",
                name: s.to_string(),
                valid: "cpu or cuda:N",
            }),
        }
    }
}

#[cfg(feature = "cuda")]
fn cuda_device(_: &str, ordinal: usize) -> Result<Device> {
    Ok(Device::Cuda(ordinal))
}

#[cfg(not(feature = "cuda"))]
fn cuda_device(s: &str, _: usize) -> Result<Device> {
    Err(Error::invalid(
        "device",
        format!(
            "'{s}': this nabla was built without CUDA support (the `cuda` cargo feature); use cpu"
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_parse_and_print_like_pytorch() {
        assert_eq!("cpu".parse::<Device>().unwrap(), Device::Cpu);
        assert_eq!(Device::Cpu.to_string(), "cpu");
        assert!("tpu".parse::<Device>().is_err());
        assert!("cuda:x".parse::<Device>().is_err());
        #[cfg(not(feature = "cuda"))]
        {
            let err = "cuda:0".parse::<Device>().unwrap_err().to_string();
            assert!(err.contains("without CUDA support"), "{err}");
        }
        #[cfg(feature = "cuda")]
        {
            assert_eq!("cuda:1".parse::<Device>().unwrap(), Device::Cuda(1));
            assert_eq!(Device::Cuda(1).to_string(), "cuda:1");
            let err = Device::Cuda(0)
                .check_available("test")
                .unwrap_err()
                .to_string();
            assert!(err.contains("not built in this version"), "{err}");
        }
    }
}
