//! Readers on files, end to end through the loader: image folders, CSV, the bundled text.

use nabla_data::readers::{csv, folder, text};
use nabla_data::transforms::{HorizontalFlip, Normalize};
use nabla_data::{random_split, DataLoader, Dataset, Error, Result, Target};
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nabla-readers-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn repo_file(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel)
}

#[test]
fn image_folder_in_imagenet_layout_batches_through_the_loader() -> Result<()> {
    let root = temp_dir("imagenet");
    for (part, n) in [("train", 3u8), ("val", 1)] {
        for (c, class) in ["n01440764", "n01443537"].iter().enumerate() {
            let dir = root.join(part).join(class);
            std::fs::create_dir_all(&dir).unwrap();
            for i in 0..n {
                let img =
                    image::RgbImage::from_pixel(12, 9, image::Rgb([40 * c as u8, 100, i * 50]));
                let ext = if i % 2 == 0 { "png" } else { "jpeg" };
                img.save(dir.join(format!("{i}.{ext}"))).unwrap();
            }
        }
    }
    let options = folder::ImageOptions::new(8, 8).center_crop(true);
    let (train, val) = folder::load_train_val(&root, options)?;
    assert_eq!((train.len(), val.len()), (6, 2));
    assert_eq!(train.class_names().unwrap(), ["n01440764", "n01443537"]);
    let loader = DataLoader::new(Arc::new(train), 4)?
        .shuffle(true)
        .transform(HorizontalFlip::new(0.5)?);
    let batches: Vec<_> = loader.epoch(0).collect::<Result<_>>()?;
    assert_eq!(batches[0].inputs.dims(), &[4, 3, 8, 8]);
    assert_eq!(batches[1].inputs.dims(), &[2, 3, 8, 8]);

    // A corrupt image surfaces from the loader with its path.
    std::fs::write(
        root.join("train/n01443537/9.jpg"),
        b"\xff\xd8\xff\xe0 truncated",
    )
    .unwrap();
    let train = folder::FolderDataset::new(root.join("train"), folder::ImageOptions::new(8, 8))?;
    let err = DataLoader::new(Arc::new(train), 7)?
        .epoch(0)
        .find_map(|b| b.err())
        .unwrap();
    assert!(matches!(err, Error::Decode { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("n01443537/9.jpg: cannot decode image"),
        "{err}"
    );
    std::fs::remove_dir_all(&root).ok();
    Ok(())
}

#[test]
fn csv_file_reads_and_splits() -> Result<()> {
    let dir = temp_dir("csv");
    let path = dir.join("iris.csv");
    let mut text = String::from("\"sepal length\",\"sepal width\",species\n");
    for i in 0..20 {
        let species = ["setosa", "versicolor"][i % 2];
        text.push_str(&format!("{}.{},{},{species}\n", 4 + i % 3, i % 10, 3));
    }
    std::fs::write(&path, text).unwrap();
    let ds = csv::read(&path, &csv::CsvOptions::default())?;
    assert_eq!((ds.len(), ds.input_shape()), (20, &[2][..]));
    assert_eq!(ds.class_names().unwrap(), ["setosa", "versicolor"]);
    let (train, val) = random_split(Arc::new(ds), 0.25, 0)?;
    assert_eq!((train.len(), val.len()), (15, 5));
    let loader = DataLoader::new(Arc::new(train), 8)?
        .transform(Normalize::new(vec![5.0, 3.0], vec![1.0, 1.0])?);
    let b = loader.epoch(0).next().unwrap()?;
    assert_eq!(b.inputs.dims(), &[8, 2]);

    let err = csv::read(dir.join("missing.csv"), &csv::CsvOptions::default()).unwrap_err();
    assert!(matches!(err, Error::Io { .. }));
    assert!(err.to_string().contains("missing.csv"));
    std::fs::remove_dir_all(&dir).ok();
    Ok(())
}

#[test]
fn bundled_shakespeare_makes_character_windows() -> Result<()> {
    let tragedies = text::read_file(repo_file("data/shakespeare/tragedies.txt"))?;
    let ds = text::TextDataset::new(&tragedies, 100)?;
    let vocab = ds.vocab();
    assert!(
        (60..100).contains(&vocab.len()),
        "{} characters",
        vocab.len()
    );
    assert_eq!(ds.len(), (tragedies.chars().count() - 1) / 100);
    let s = ds.get(10)?;
    let input: Vec<i64> = s.input.iter().map(|&c| c as i64).collect();
    let Target::Classes(next) = s.target else {
        panic!("sequence target")
    };
    let (a, b) = (vocab.decode(&input)?, vocab.decode(&next)?);
    assert_eq!(a[1..], b[..99]);
    assert_eq!(
        a,
        tragedies.chars().skip(1000).take(100).collect::<String>()
    );
    Ok(())
}
