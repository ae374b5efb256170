//! `text:FILE`: a text read as sequences for a recurrent model (with `seq_len`), or as a
//! next-character n-gram classification set for an MLP.

use super::{split, DataBundle, SpecOptions};
use crate::readers::text::{self, TextDataset, Vocab};
use crate::{Dataset, Error, Result, Sample, Target, Task};
use std::path::Path;
use std::sync::Arc;

/// Reads the text at `path` as the spec's options say.
pub(super) fn load(path: &Path, opts: &SpecOptions) -> Result<DataBundle> {
    let content = text::read_file(path)?;
    match opts.seq_len {
        Some(len) => sequences(path, &content, len, opts.test_split),
        None => {
            let (train, test) = split(Arc::new(NextChar::new(&content)?), opts)?;
            DataBundle::new(train, test, None)
        }
    }
}

/// A text for a sequence model: the first `1 - held_out` of it as training windows of
/// `len` characters, the rest (a contiguous tail, so no window straddles the two) as
/// validation windows; the vocabulary is the whole text's, and the class names are its
/// characters (what `nabla sample` decodes with).
fn sequences(path: &Path, content: &str, len: usize, held_out: f64) -> Result<DataBundle> {
    super::check_test_split(held_out)?;
    let chars: Vec<char> = content.chars().collect();
    let cut = ((chars.len() as f64) * (1.0 - held_out)) as usize;
    if chars.len() - cut <= len || cut <= len {
        return Err(Error::Empty {
            path: path.display().to_string(),
            msg: format!(
                "{} characters are too short for sequences of {len} with {:.0}% held out for \
                 validation (both parts need more than {len}); use a longer text or a smaller \
                 --seq-len",
                chars.len(),
                100.0 * held_out
            ),
        });
    }
    let (head, tail): (String, String) =
        (chars[..cut].iter().collect(), chars[cut..].iter().collect());
    let vocab = Vocab::from_text(content);
    let names: Vec<String> = vocab.chars().iter().map(|c| c.to_string()).collect();
    let train = Arc::new(TextDataset::with_vocab(&head, vocab.clone(), len)?);
    let test = Arc::new(TextDataset::with_vocab(&tail, vocab, len)?);
    let mut b = DataBundle::new(train, test, Some((vec![], vec![])))?;
    b.class_names = Some(names);
    Ok(b)
}

/// Characters of context a next-character example holds.
const CONTEXT: usize = 16;
/// Step between next-character examples (every 4th position, to keep epochs short).
const STRIDE: usize = 4;

/// A text as a classification set: each example is a one-hot window of [`CONTEXT`]
/// characters (flattened to `context × vocabulary` inputs) and its class is the character
/// that follows: the character-level n-gram model of Bengio et al. (2003), which an MLP can
/// learn.
struct NextChar {
    windows: TextDataset,
    shape: Vec<usize>,
    names: Vec<String>,
}

impl NextChar {
    fn new(content: &str) -> Result<Self> {
        let windows = TextDataset::new(content, CONTEXT)?
            .stride(STRIDE)?
            .one_hot(true);
        let vocab = windows.vocab().len();
        let names = windows
            .vocab()
            .chars()
            .iter()
            .map(|c| format!("{c:?}"))
            .collect();
        Ok(NextChar {
            windows,
            shape: vec![CONTEXT * vocab],
            names,
        })
    }
}

impl Dataset for NextChar {
    fn len(&self) -> usize {
        self.windows.len()
    }

    fn get(&self, index: usize) -> Result<Sample> {
        let s = self.windows.get(index)?;
        let next = match &s.target {
            Target::Classes(next) => next.last().copied(),
            _ => None,
        };
        let next = next.ok_or_else(|| Error::SampleMismatch {
            op: "text",
            msg: "a text window without a next character".into(),
        })?;
        Ok(Sample {
            input: s.input,
            shape: self.shape.clone(),
            target: Target::Class(next),
        })
    }

    fn input_shape(&self) -> &[usize] {
        &self.shape
    }

    fn task(&self) -> Task {
        Task::Classification {
            num_classes: self.names.len(),
        }
    }

    fn class_names(&self) -> Option<&[String]> {
        Some(&self.names)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_reads_as_sequences_or_next_character_windows() -> Result<()> {
        let dir = std::env::temp_dir().join(format!("nabla-spec-text-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let file = dir.join("t.txt");
        let content = "the quick brown fox jumps over the lazy dog. ".repeat(20);
        std::fs::write(&file, &content).map_err(|e| Error::io(&file, e))?;
        let opts = SpecOptions {
            seq_len: Some(10),
            ..Default::default()
        };
        let seq = load(&file, &opts)?;
        assert_eq!(seq.input_shape, vec![10]);
        let vocab = seq.class_names.as_ref().map_or(0, |n| n.len());
        assert_eq!(seq.num_classes, Some(vocab));
        let ngrams = load(&file, &SpecOptions::default())?;
        assert_eq!(ngrams.input_shape, vec![CONTEXT * vocab]);
        let short = SpecOptions {
            seq_len: Some(500),
            ..Default::default()
        };
        let err = load(&file, &short).err().map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.contains("too short for sequences of 500")));
        std::fs::remove_dir_all(&dir).ok();
        Ok(())
    }
}
