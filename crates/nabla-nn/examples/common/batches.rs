//! A `nabla-data` loader as the Trainer's batch source, for the examples that train on
//! real data with [`nabla_nn::Trainer`].

use nabla::Tensor;
use nabla_data::DataLoader;
use nabla_nn::{Loader, Result};

/// The batches of a [`DataLoader`], epoch by epoch.
pub struct Batches(pub DataLoader);

impl Loader for Batches {
    fn epoch(&self, epoch: usize) -> Box<dyn Iterator<Item = Result<(Tensor, Tensor)>> + '_> {
        Box::new(self.0.epoch(epoch as u64).map(|b| {
            b.map(|b| (b.inputs, b.targets))
                .map_err(|e| nabla_nn::Error::Data(Box::new(e)))
        }))
    }
    fn num_batches(&self) -> usize {
        self.0.len()
    }
}
