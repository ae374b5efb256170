//! The DataLoader: order, seeds, epochs, drop_last, prefetch, transforms and errors.

use nabla::{DType, Rng};
use nabla_data::transforms::{Compose, HorizontalFlip, PadCrop, RandomRotation};
use nabla_data::{
    readers::text::TextDataset, toy, Batch, DataLoader, Dataset, Error, InMemoryDataset, Result,
    Sample, Target, Targets, Task, Transform,
};
use std::sync::Arc;

/// `n` samples `[1, 2, 2]` whose pixels all hold their index; label `index % 3`.
fn indexed(n: usize) -> Arc<InMemoryDataset> {
    let inputs = (0..n).flat_map(|i| [i as f32; 4]).collect();
    let labels = (0..n as i64).map(|i| i % 3).collect();
    let targets = Targets::Classes {
        labels,
        num_classes: 3,
    };
    Arc::new(InMemoryDataset::new(inputs, &[1, 2, 2], targets).unwrap())
}

fn collect(loader: &DataLoader, epoch: u64) -> Result<Vec<Batch>> {
    loader.epoch(epoch).collect()
}

fn visit_order(loader: &DataLoader, epoch: u64) -> Result<Vec<usize>> {
    Ok(collect(loader, epoch)?
        .into_iter()
        .flat_map(|b| b.indices)
        .collect())
}

#[test]
fn loader_without_shuffle_keeps_dataset_order() -> Result<()> {
    let loader = DataLoader::new(indexed(10), 4)?;
    let batches = collect(&loader, 0)?;
    assert_eq!(batches.len(), 3);
    assert_eq!(loader.len(), 3);
    assert_eq!(batches[0].indices, vec![0, 1, 2, 3]);
    assert_eq!(batches[2].indices, vec![8, 9]);
    let b = &batches[1];
    assert_eq!(b.inputs.dims(), &[4, 1, 2, 2]);
    assert_eq!(b.inputs.dtype(), DType::F32);
    assert_eq!(b.targets.dims(), &[4]);
    assert_eq!(b.targets.dtype(), DType::I64);
    assert_eq!(b.targets.to_vec::<i64>()?, vec![1, 2, 0, 1]); // 4..8 mod 3
    let pixels = b.inputs.to_vec::<f32>()?;
    assert_eq!(&pixels[..8], &[4.0, 4.0, 4.0, 4.0, 5.0, 5.0, 5.0, 5.0]);
    Ok(())
}

#[test]
fn same_seed_gives_same_order_and_epochs_differ() -> Result<()> {
    let ds = indexed(50);
    let a = DataLoader::new(ds.clone(), 8)?.shuffle(true).seed(3);
    let b = DataLoader::new(ds.clone(), 8)?.shuffle(true).seed(3);
    let c = DataLoader::new(ds, 8)?.shuffle(true).seed(4);
    assert_eq!(visit_order(&a, 0)?, visit_order(&b, 0)?);
    assert_ne!(visit_order(&a, 0)?, visit_order(&c, 0)?);
    assert_ne!(visit_order(&a, 0)?, visit_order(&a, 1)?);
    assert_ne!(visit_order(&a, 0)?, (0..50).collect::<Vec<_>>());
    // Resuming at epoch 5 in a fresh loader reproduces the uninterrupted run's epoch 5.
    assert_eq!(visit_order(&a, 5)?, visit_order(&b, 5)?);
    assert_eq!(a.order(5), visit_order(&a, 5)?);
    Ok(())
}

#[test]
fn an_epoch_visits_each_sample_exactly_once() -> Result<()> {
    let loader = DataLoader::new(indexed(37), 5)?.shuffle(true).seed(11);
    for epoch in 0..3 {
        let mut seen = visit_order(&loader, epoch)?;
        seen.sort_unstable();
        assert_eq!(seen, (0..37).collect::<Vec<_>>());
    }
    Ok(())
}

#[test]
fn loader_drops_last_partial_batch_when_asked() -> Result<()> {
    let keep = DataLoader::new(indexed(10), 4)?;
    let drop = DataLoader::new(indexed(10), 4)?.drop_last(true);
    assert_eq!((keep.len(), drop.len()), (3, 2));
    let batches = collect(&drop, 0)?;
    assert_eq!(batches.len(), 2);
    assert!(batches.iter().all(|b| b.indices.len() == 4));
    let small = DataLoader::new(indexed(3), 4)?.drop_last(true);
    assert!(small.is_empty());
    assert_eq!(collect(&small, 0)?.len(), 0);
    Ok(())
}

#[test]
fn batch_size_zero_is_an_error() {
    let err = DataLoader::new(indexed(3), 0).unwrap_err();
    assert!(matches!(err, Error::OutOfRange { .. }));
    assert_eq!(
        err.to_string(),
        "DataLoader: the batch size must be at least 1, got 0"
    );
}

fn augmentations() -> Compose {
    Compose(vec![
        Box::new(PadCrop::new(1, 2)),
        Box::new(HorizontalFlip::new(0.5).unwrap()),
        Box::new(RandomRotation::new(30.0).unwrap()),
    ])
}

/// A dataset of distinct 2x2 images so that augmentation shows.
fn varied(n: usize) -> Arc<InMemoryDataset> {
    let inputs = (0..n * 4).map(|v| (v % 7) as f32).collect();
    let targets = Targets::Classes {
        labels: vec![0; n],
        num_classes: 1,
    };
    Arc::new(InMemoryDataset::new(inputs, &[1, 2, 2], targets).unwrap())
}

#[test]
fn prefetch_yields_identical_batches_to_no_prefetch() -> Result<()> {
    let base = DataLoader::new(varied(30), 7)?
        .shuffle(true)
        .seed(9)
        .transform(augmentations());
    for epoch in 0..2 {
        let inline = collect(&base.clone().prefetch(0), epoch)?;
        let threaded = collect(&base.clone().prefetch(2), epoch)?;
        assert_eq!(inline.len(), threaded.len());
        for (a, b) in inline.iter().zip(&threaded) {
            assert_eq!(a.indices, b.indices);
            assert_eq!(a.inputs.to_vec::<f32>()?, b.inputs.to_vec::<f32>()?);
            assert_eq!(a.targets.to_vec::<i64>()?, b.targets.to_vec::<i64>()?);
        }
    }
    Ok(())
}

#[test]
fn augmentation_depends_on_seed_and_epoch_only() -> Result<()> {
    let loader = |seed| {
        DataLoader::new(varied(20), 20)
            .unwrap()
            .seed(seed)
            .transform(augmentations())
    };
    let pixels =
        |l: &DataLoader, e| -> Result<Vec<f32>> { Ok(collect(l, e)?[0].inputs.to_vec::<f32>()?) };
    assert_eq!(pixels(&loader(1), 0)?, pixels(&loader(1), 0)?);
    assert_ne!(pixels(&loader(1), 0)?, pixels(&loader(1), 1)?);
    assert_ne!(pixels(&loader(1), 0)?, pixels(&loader(2), 0)?);
    Ok(())
}

#[test]
fn dropping_an_epoch_early_stops_the_prefetch_thread() -> Result<()> {
    let loader = DataLoader::new(indexed(100), 1)?.prefetch(2);
    let mut epoch = loader.epoch(0);
    assert!(epoch.next().is_some());
    drop(epoch); // must not hang with the worker blocked on a full channel
    assert_eq!(visit_order(&loader, 0)?.len(), 100);
    Ok(())
}

#[test]
fn regression_and_sequence_targets_batch_to_their_shapes() -> Result<()> {
    let plane = Arc::new(toy::generate(toy::Toy::Plane, 10, 0.0, 1)?);
    let b = collect(&DataLoader::new(plane, 4)?, 0)?.remove(0);
    assert_eq!(
        (b.targets.dims(), b.targets.dtype()),
        (&[4, 1][..], DType::F32)
    );

    let text = Arc::new(TextDataset::new("the quick brown fox", 3)?);
    assert_eq!(
        text.task(),
        Task::SequenceClassification {
            num_classes: 16,
            len: 3
        }
    );
    let b = collect(&DataLoader::new(text, 2)?, 0)?.remove(0);
    assert_eq!(b.inputs.dims(), &[2, 3]);
    assert_eq!(
        (b.targets.dims(), b.targets.dtype()),
        (&[2, 3][..], DType::I64)
    );
    Ok(())
}

/// A dataset whose sample 2 has another shape and sample 4 fails to read.
struct Faulty;

impl Dataset for Faulty {
    fn len(&self) -> usize {
        6
    }
    fn get(&self, index: usize) -> Result<Sample> {
        if index == 4 {
            return Err(Error::Decode {
                path: "class/bad.png".into(),
                msg: "corrupt".into(),
            });
        }
        let n = if index == 2 { 3 } else { 2 };
        Ok(Sample {
            input: vec![0.0; n],
            shape: vec![n],
            target: Target::Class(0),
        })
    }
    fn input_shape(&self) -> &[usize] {
        &[2]
    }
    fn task(&self) -> Task {
        Task::Classification { num_classes: 1 }
    }
}

#[test]
fn sample_errors_reach_the_caller_and_end_the_epoch() -> Result<()> {
    for prefetch in [0, 2] {
        let loader = DataLoader::new(Arc::new(Faulty), 2)?.prefetch(prefetch);
        let results: Vec<Result<Batch>> = loader.epoch(0).collect();
        assert_eq!(results.len(), 2, "the epoch stops after the first error");
        let err = results[1].as_ref().unwrap_err();
        assert!(
            err.to_string()
                .contains("sample 3 has shape [2], unlike the [3] of sample 2 earlier"),
            "{err}"
        );

        // One sample per batch: shapes agree within each batch; sample 4 fails to read.
        let loader = DataLoader::new(Arc::new(Faulty), 1)?.prefetch(prefetch);
        let results: Vec<Result<Batch>> = loader.epoch(0).collect();
        assert_eq!(results.len(), 5);
        let err = results[4].as_ref().unwrap_err();
        assert_eq!(
            err.to_string(),
            "class/bad.png: cannot decode image: corrupt"
        );
    }
    Ok(())
}

/// Adds uniform noise drawn from the per-sample generator.
struct AddNoise;

impl Transform for AddNoise {
    fn apply(&self, mut sample: Sample, rng: &mut Rng) -> Result<Sample> {
        sample.input.iter_mut().for_each(|v| *v += rng.next_f32());
        Ok(sample)
    }
}

#[test]
fn a_samples_augmentation_does_not_depend_on_its_batch() -> Result<()> {
    // The same sample gets the same noise whether batched by 1 or by 5, shuffled or not.
    let by_one = DataLoader::new(indexed(5), 1)?.transform(AddNoise).seed(2);
    let by_five = DataLoader::new(indexed(5), 5)?
        .transform(AddNoise)
        .seed(2)
        .shuffle(true);
    let batch = collect(&by_five, 0)?.remove(0);
    let all = batch.inputs.to_vec::<f32>()?;
    for (row, &i) in batch.indices.iter().enumerate() {
        let single = collect(&by_one, 0)?.remove(i).inputs.to_vec::<f32>()?;
        assert_eq!(single, all[row * 4..(row + 1) * 4]);
    }
    Ok(())
}
