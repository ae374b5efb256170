//! Image folders with one subfolder per class (the ImageNet / torchvision `ImageFolder`
//! layout), PNG and JPEG, decoded lazily and resized to one size.

use crate::{Dataset, Error, Result, Sample, Target, Task};
use image::imageops::FilterType;
use std::path::{Path, PathBuf};

/// How images are turned into `[c, height, width]` inputs in `[0, 1]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageOptions {
    /// Output height in pixels.
    pub height: usize,
    /// Output width in pixels.
    pub width: usize,
    /// `false`: stretch the image to `height x width`. `true`: scale it, keeping its aspect
    /// ratio, until it covers `height x width`, then cut out the centre (torchvision's
    /// `Resize` + `CenterCrop`).
    pub center_crop: bool,
    /// One grey channel instead of three RGB channels.
    pub grayscale: bool,
}

impl ImageOptions {
    /// RGB images stretched to `height x width`.
    pub fn new(height: usize, width: usize) -> Self {
        ImageOptions {
            height,
            width,
            center_crop: false,
            grayscale: false,
        }
    }

    /// Scale-and-centre-crop instead of stretching.
    pub fn center_crop(mut self, center_crop: bool) -> Self {
        self.center_crop = center_crop;
        self
    }

    /// One grey channel instead of RGB.
    pub fn grayscale(mut self, grayscale: bool) -> Self {
        self.grayscale = grayscale;
        self
    }

    /// The shape of an image produced with these options, `[c, height, width]`.
    pub fn shape(&self) -> [usize; 3] {
        [if self.grayscale { 1 } else { 3 }, self.height, self.width]
    }

    /// `(width, height)` as the `image` crate wants them.
    fn size_u32(&self) -> Result<(u32, u32)> {
        match (u32::try_from(self.width), u32::try_from(self.height)) {
            (Ok(w), Ok(h)) if w > 0 && h > 0 => Ok((w, h)),
            _ => Err(Error::out_of_range(
                "ImageOptions",
                "the image size",
                "positive and at most 4294967295 on each side",
                format!("{}x{}", self.height, self.width),
            )),
        }
    }
}

/// Decodes a PNG or JPEG file into a `[c, height, width]` array in `[0, 1]`, row-major
/// (channel planes R, G, B, or one grey plane).
///
/// # Errors
/// [`Error::Io`] when the file cannot be opened; [`Error::Decode`] naming the file when it
/// is not an image the decoder understands; [`Error::OutOfRange`] for a zero size.
pub fn load_image(path: impl AsRef<Path>, options: &ImageOptions) -> Result<Vec<f32>> {
    let path = path.as_ref();
    let (w, h) = options.size_u32()?;
    let decode_err = |e: &dyn std::fmt::Display| Error::Decode {
        path: path.display().to_string(),
        msg: e.to_string(),
    };
    let reader = image::io::Reader::open(path)
        .map_err(|e| Error::io(path, e))?
        .with_guessed_format()
        .map_err(|e| Error::io(path, e))?;
    let mut img = reader.decode().map_err(|e| decode_err(&e))?;
    if (img.width(), img.height()) != (w, h) {
        img = if options.center_crop {
            img.resize_to_fill(w, h, FilterType::Triangle)
        } else {
            img.resize_exact(w, h, FilterType::Triangle)
        };
    }
    if (img.width(), img.height()) != (w, h) {
        return Err(decode_err(&format!(
            "resized to {}x{} instead of {w}x{h}",
            img.width(),
            img.height()
        )));
    }
    let plane = options.height * options.width;
    if options.grayscale {
        let grey = img.to_luma8();
        Ok(grey
            .as_raw()
            .iter()
            .map(|&v| f32::from(v) / 255.0)
            .collect())
    } else {
        // Interleaved RGBRGB... to planar RRR...GGG...BBB.
        let rgb = img.to_rgb8();
        let mut out = vec![0.0f32; 3 * plane];
        for (i, px) in rgb.as_raw().chunks_exact(3).enumerate() {
            for c in 0..3 {
                out[c * plane + i] = f32::from(px[c]) / 255.0;
            }
        }
        Ok(out)
    }
}

fn is_image(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "png" | "jpg" | "jpeg"))
}

/// The entries of `dir` (sorted by name) that pass `keep`.
fn sorted_entries(dir: &Path, keep: impl Fn(&Path) -> bool) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let path = entry.map_err(|e| Error::io(dir, e))?.path();
        if keep(&path) {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}

/// A folder of images with one subfolder per class: `root/cat/001.png`, `root/dog/a.jpg`.
///
/// Class names are the subfolder names in sorted order, and a class's index is its position
/// there. Files ending in `.png`, `.jpg` or `.jpeg` (any case) directly inside a class folder
/// are its images, in sorted order; other files are ignored. Images are decoded when a sample
/// is asked for, so the dataset can be larger than memory.
#[derive(Clone, Debug)]
pub struct FolderDataset {
    classes: Vec<String>,
    files: Vec<(PathBuf, i64)>,
    options: ImageOptions,
    shape: Vec<usize>,
}

impl FolderDataset {
    /// Lists `root`'s class folders and their images.
    ///
    /// # Errors
    /// [`Error::Io`] when `root` cannot be read; [`Error::Empty`] when it has no class
    /// folder, or a class folder holds no image (naming it); [`Error::OutOfRange`] for a
    /// zero image size.
    pub fn new(root: impl AsRef<Path>, options: ImageOptions) -> Result<Self> {
        let root = root.as_ref();
        options.size_u32()?;
        let class_dirs = sorted_entries(root, Path::is_dir)?;
        if class_dirs.is_empty() {
            return Err(Error::Empty {
                path: root.display().to_string(),
                msg: "no class folders (expected one subfolder of images per class)".into(),
            });
        }
        let mut classes = Vec::new();
        let mut files = Vec::new();
        for (label, dir) in class_dirs.iter().enumerate() {
            let images = sorted_entries(dir, |p| p.is_file() && is_image(p))?;
            if images.is_empty() {
                return Err(Error::Empty {
                    path: dir.display().to_string(),
                    msg: "no PNG or JPEG images in this class folder".into(),
                });
            }
            let name = dir
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
            classes.push(name);
            files.extend(images.into_iter().map(|p| (p, label as i64)));
        }
        let shape = options.shape().to_vec();
        Ok(FolderDataset {
            classes,
            files,
            options,
            shape,
        })
    }

    /// Every image with its class index, in sample order.
    pub fn files(&self) -> &[(PathBuf, i64)] {
        &self.files
    }

    /// The options images are decoded with.
    pub fn options(&self) -> &ImageOptions {
        &self.options
    }
}

impl Dataset for FolderDataset {
    fn len(&self) -> usize {
        self.files.len()
    }

    fn get(&self, index: usize) -> Result<Sample> {
        let (path, label) = self.files.get(index).ok_or(Error::IndexOutOfRange {
            index,
            len: self.files.len(),
        })?;
        Ok(Sample {
            input: load_image(path, &self.options)?,
            shape: self.shape.clone(),
            target: Target::Class(*label),
        })
    }

    fn input_shape(&self) -> &[usize] {
        &self.shape
    }

    fn task(&self) -> Task {
        Task::Classification {
            num_classes: self.classes.len(),
        }
    }

    fn class_names(&self) -> Option<&[String]> {
        Some(&self.classes)
    }
}

/// Reads the ImageNet layout `dir/train/<class>/...` with `dir/val/<class>/...` (or
/// `dir/test/`) as `(train, held_out)`.
///
/// # Errors
/// [`Error::Io`] when `dir/train` or both `dir/val` and `dir/test` are missing;
/// [`Error::Format`] when the two parts have different class folders; those of
/// [`FolderDataset::new`].
pub fn load_train_val(
    dir: impl AsRef<Path>,
    options: ImageOptions,
) -> Result<(FolderDataset, FolderDataset)> {
    let dir = dir.as_ref();
    let held_out_dir = ["val", "test"]
        .iter()
        .map(|name| dir.join(name))
        .find(|p| p.is_dir())
        .ok_or_else(|| Error::Io {
            path: dir.display().to_string(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no val/ or test/ folder"),
        })?;
    let train = FolderDataset::new(dir.join("train"), options.clone())?;
    let held_out = FolderDataset::new(&held_out_dir, options)?;
    if train.classes != held_out.classes {
        return Err(Error::format(
            &held_out_dir.display().to_string(),
            format!(
                "class folders {:?} differ from train's {:?}",
                held_out.classes, train.classes
            ),
        ));
    }
    Ok((train, held_out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{Rgb, RgbImage};

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("nabla-folder-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// A `w x h` image whose left half is `left` and right half `right`.
    fn two_tone(w: u32, h: u32, left: [u8; 3], right: [u8; 3]) -> RgbImage {
        RgbImage::from_fn(w, h, |x, _| Rgb(if x < w / 2 { left } else { right }))
    }

    #[test]
    fn classes_are_sorted_folders_and_images_are_planar_rgb() -> Result<()> {
        let root = temp_dir("classes");
        for class in ["zebra", "ant"] {
            std::fs::create_dir_all(root.join(class)).unwrap();
        }
        two_tone(4, 2, [255, 0, 0], [0, 0, 255])
            .save(root.join("ant/b.png"))
            .unwrap();
        two_tone(4, 2, [0, 255, 0], [0, 255, 0])
            .save(root.join("ant/a.PNG"))
            .unwrap();
        two_tone(8, 8, [255, 255, 255], [255, 255, 255])
            .save(root.join("zebra/z.jpg"))
            .unwrap();
        std::fs::write(root.join("zebra/notes.txt"), "not an image").unwrap();

        let ds = FolderDataset::new(&root, ImageOptions::new(2, 4))?;
        assert_eq!(ds.class_names().unwrap(), ["ant", "zebra"]);
        assert_eq!(ds.len(), 3);
        let s = ds.get(1)?; // ant/b.png: red | blue
        assert_eq!(
            (s.shape.clone(), s.target),
            (vec![3, 2, 4], Target::Class(0))
        );
        assert_eq!(&s.input[..4], &[1.0, 1.0, 0.0, 0.0]); // red plane, row 0
        assert_eq!(&s.input[16..20], &[0.0, 0.0, 1.0, 1.0]); // blue plane, row 0
        let z = ds.get(2)?; // 8x8 JPEG stretched to 2x4
        assert_eq!(z.target, Target::Class(1));
        assert!(z.input.iter().all(|&v| v > 0.95), "{:?}", z.input);

        let grey = FolderDataset::new(&root, ImageOptions::new(1, 2).grayscale(true))?;
        assert_eq!(grey.get(0)?.shape, vec![1, 1, 2]);
        std::fs::remove_dir_all(&root).ok();
        Ok(())
    }

    #[test]
    fn center_crop_keeps_the_middle_of_a_wide_image() -> Result<()> {
        let root = temp_dir("crop");
        // 6x2: black | white | black in thirds; a centre 2x2 crop is all white.
        let img = RgbImage::from_fn(6, 2, |x, _| {
            Rgb(if (2..4).contains(&x) {
                [255; 3]
            } else {
                [0; 3]
            })
        });
        let path = root.join("wide.png");
        img.save(&path).unwrap();
        let out = load_image(
            &path,
            &ImageOptions::new(2, 2).center_crop(true).grayscale(true),
        )?;
        assert_eq!(out, vec![1.0; 4]);
        std::fs::remove_dir_all(&root).ok();
        Ok(())
    }

    #[test]
    fn folder_errors_name_the_folder_or_file() -> Result<()> {
        let root = temp_dir("errors");
        let err = FolderDataset::new(&root, ImageOptions::new(2, 2)).unwrap_err();
        assert!(matches!(err, Error::Empty { .. }), "{err}");
        assert!(err.to_string().contains("no class folders"));

        std::fs::create_dir_all(root.join("cat")).unwrap();
        let err = FolderDataset::new(&root, ImageOptions::new(2, 2)).unwrap_err();
        assert!(
            err.to_string().contains("cat: no PNG or JPEG images"),
            "{err}"
        );

        std::fs::write(root.join("cat/broken.png"), b"\x89PNG\r\n\x1a\nnot really").unwrap();
        let ds = FolderDataset::new(&root, ImageOptions::new(2, 2))?;
        let err = ds.get(0).unwrap_err();
        assert!(matches!(err, Error::Decode { .. }), "{err}");
        assert!(
            err.to_string().contains("broken.png: cannot decode image"),
            "{err}"
        );

        let err = FolderDataset::new(root.join("missing"), ImageOptions::new(2, 2)).unwrap_err();
        assert!(matches!(err, Error::Io { .. }));
        assert!(FolderDataset::new(&root, ImageOptions::new(0, 2)).is_err());
        std::fs::remove_dir_all(&root).ok();
        Ok(())
    }
}
