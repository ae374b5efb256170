//! Plain text for character-level models: a vocabulary and next-character windows.

use crate::{Dataset, Error, Result, Sample, Target, Task};
use std::path::Path;

/// The characters of a text, sorted, each standing for its index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vocab {
    chars: Vec<char>,
}

impl Vocab {
    /// The sorted unique characters of `text`.
    pub fn from_text(text: &str) -> Self {
        let mut chars: Vec<char> = text.chars().collect();
        chars.sort_unstable();
        chars.dedup();
        Vocab { chars }
    }

    /// The number of characters.
    pub fn len(&self) -> usize {
        self.chars.len()
    }

    /// Whether the vocabulary is empty.
    pub fn is_empty(&self) -> bool {
        self.chars.is_empty()
    }

    /// The characters in index order.
    pub fn chars(&self) -> &[char] {
        &self.chars
    }

    /// The index of `c`, if it is in the vocabulary.
    pub fn index_of(&self, c: char) -> Option<usize> {
        self.chars.binary_search(&c).ok()
    }

    /// The index of each character of `text`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming the first character not in the vocabulary and its
    /// position.
    pub fn encode(&self, text: &str) -> Result<Vec<i64>> {
        text.chars()
            .enumerate()
            .map(|(i, c)| {
                self.index_of(c).map(|k| k as i64).ok_or_else(|| {
                    Error::invalid(
                        "Vocab::encode",
                        format!("character {c:?} at position {i} is not in the vocabulary"),
                    )
                })
            })
            .collect()
    }

    /// The text that `codes` stand for.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a code outside `0..len()`.
    pub fn decode(&self, codes: &[i64]) -> Result<String> {
        codes
            .iter()
            .map(|&k| {
                usize::try_from(k)
                    .ok()
                    .and_then(|k| self.chars.get(k).copied())
                    .ok_or_else(|| {
                        Error::invalid(
                            "Vocab::decode",
                            format!("code {k} is outside 0..{}", self.len()),
                        )
                    })
            })
            .collect()
    }
}

/// Reads a UTF-8 text file, refusing an empty or binary one.
///
/// # Errors
/// [`Error::Io`] naming the file when it is missing (with the directory a relative path is
/// read from) or unreadable, [`Error::Empty`] when it holds nothing, and [`Error::Format`]
/// at the first NUL byte or invalid UTF-8 sequence.
pub fn read_file(path: impl AsRef<Path>) -> Result<String> {
    let path = path.as_ref();
    let shown = path.display().to_string();
    if !path.exists() {
        let cwd = std::env::current_dir().map_or_else(|_| "?".into(), |d| d.display().to_string());
        let why =
            format!("no such file (a relative path is read from the current directory, {cwd})");
        return Err(Error::io(
            path,
            std::io::Error::new(std::io::ErrorKind::NotFound, why),
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    if bytes.is_empty() {
        return Err(Error::Empty {
            path: shown,
            msg: "the text file is empty".into(),
        });
    }
    if let Some(at) = bytes.iter().position(|&b| b == 0) {
        return Err(Error::format(
            &shown,
            format!("looks binary (a NUL byte at offset {at}); give a UTF-8 text file"),
        ));
    }
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        Error::format(
            &shown,
            format!("not UTF-8 text (invalid byte at offset {at}); give a UTF-8 text file"),
        )
    })
}

/// Windows of a text for next-character prediction: sample `i` is the `seq_len` characters
/// from `i * stride`, and its target the `seq_len` characters one further on.
///
/// Inputs are the character indices as `f32`, `[seq_len]`, or one-hot rows
/// `[seq_len, vocab]` with [`one_hot`](TextDataset::one_hot); targets are
/// [`Target::Classes`] of length `seq_len`, batched as `[B, seq_len]` i64.
///
/// # Examples
/// ```
/// use nabla_data::{readers::text::TextDataset, Dataset, Target};
/// let ds = TextDataset::new("hello world", 4)?;
/// assert_eq!(ds.len(), 2); // "hell" -> "ello", "o wo" -> " wor"
/// let s = ds.get(0)?;
/// assert_eq!(ds.vocab().decode(&s.input.iter().map(|&c| c as i64).collect::<Vec<_>>())?, "hell");
/// let Target::Classes(next) = s.target else { unreachable!() };
/// assert_eq!(ds.vocab().decode(&next)?, "ello");
/// # Ok::<(), nabla_data::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct TextDataset {
    vocab: Vocab,
    codes: Vec<i64>,
    seq_len: usize,
    stride: usize,
    one_hot: bool,
    shape: Vec<usize>,
}

impl TextDataset {
    /// Windows of `seq_len` characters, not overlapping (`stride = seq_len`), over the
    /// vocabulary of `text` itself.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when `seq_len` is 0 or the text has fewer than
    /// `seq_len + 1` characters.
    pub fn new(text: &str, seq_len: usize) -> Result<Self> {
        Self::with_vocab(text, Vocab::from_text(text), seq_len)
    }

    /// As [`TextDataset::new`] with a given vocabulary (a validation text read with the
    /// training text's vocabulary).
    ///
    /// # Errors
    /// Those of [`TextDataset::new`], and of [`Vocab::encode`] for a character the vocabulary
    /// lacks.
    pub fn with_vocab(text: &str, vocab: Vocab, seq_len: usize) -> Result<Self> {
        let codes = vocab.encode(text)?;
        if seq_len == 0 || codes.len() <= seq_len {
            return Err(Error::invalid(
                "TextDataset",
                format!(
                    "a text of {} characters is too short for windows of {seq_len} (at least {} needed)",
                    codes.len(),
                    seq_len + 1
                ),
            ));
        }
        Ok(TextDataset {
            vocab,
            codes,
            seq_len,
            stride: seq_len,
            one_hot: false,
            shape: vec![seq_len],
        })
    }

    /// Starts windows every `stride` characters (1 gives every possible window).
    ///
    /// # Errors
    /// [`Error::OutOfRange`] when `stride` is 0.
    pub fn stride(mut self, stride: usize) -> Result<Self> {
        if stride == 0 {
            return Err(Error::out_of_range(
                "TextDataset::stride",
                "the stride",
                "at least 1",
                0,
            ));
        }
        self.stride = stride;
        Ok(self)
    }

    /// Gives inputs as one-hot rows `[seq_len, vocab]` instead of indices `[seq_len]`.
    pub fn one_hot(mut self, one_hot: bool) -> Self {
        self.one_hot = one_hot;
        self.shape = if one_hot {
            vec![self.seq_len, self.vocab.len()]
        } else {
            vec![self.seq_len]
        };
        self
    }

    /// The vocabulary.
    pub fn vocab(&self) -> &Vocab {
        &self.vocab
    }

    /// The whole text as character indices.
    pub fn codes(&self) -> &[i64] {
        &self.codes
    }
}

impl Dataset for TextDataset {
    fn len(&self) -> usize {
        // Window i needs codes[i * stride ..= i * stride + seq_len].
        (self.codes.len() - 1 - self.seq_len) / self.stride + 1
    }

    fn get(&self, index: usize) -> Result<Sample> {
        if index >= self.len() {
            return Err(Error::IndexOutOfRange {
                index,
                len: self.len(),
            });
        }
        let start = index * self.stride;
        let window = &self.codes[start..start + self.seq_len];
        let input = if self.one_hot {
            let v = self.vocab.len();
            let mut rows = vec![0.0f32; self.seq_len * v];
            for (t, &c) in window.iter().enumerate() {
                rows[t * v + c as usize] = 1.0;
            }
            rows
        } else {
            window.iter().map(|&c| c as f32).collect()
        };
        Ok(Sample {
            input,
            shape: self.shape.clone(),
            target: Target::Classes(self.codes[start + 1..start + 1 + self.seq_len].to_vec()),
        })
    }

    fn input_shape(&self) -> &[usize] {
        &self.shape
    }

    fn task(&self) -> Task {
        Task::SequenceClassification {
            num_classes: self.vocab.len(),
            len: self.seq_len,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vocab_is_sorted_and_round_trips() -> Result<()> {
        let v = Vocab::from_text("banana!");
        assert_eq!(v.chars(), &['!', 'a', 'b', 'n']);
        let codes = v.encode("nab")?;
        assert_eq!(codes, vec![3, 1, 2]);
        assert_eq!(v.decode(&codes)?, "nab");
        assert!(v
            .encode("bandana")
            .unwrap_err()
            .to_string()
            .contains("'d' at position 3"));
        assert!(v.decode(&[4]).is_err());
        assert!(v.decode(&[-1]).is_err());
        Ok(())
    }

    #[test]
    fn windows_with_stride_and_one_hot() -> Result<()> {
        let ds = TextDataset::new("abcdef", 2)?.stride(1)?;
        assert_eq!(ds.len(), 4); // ab->bc, bc->cd, cd->de, de->ef
        let s = ds.get(3)?;
        assert_eq!(
            (s.input, s.target),
            (vec![3.0, 4.0], Target::Classes(vec![4, 5]))
        );
        assert!(ds.get(4).is_err());
        assert_eq!(TextDataset::new("abcdef", 2)?.len(), 2); // ab, cd (ef has no next char)

        let hot = TextDataset::new("aba", 2)?.one_hot(true);
        assert_eq!(hot.input_shape(), &[2, 2]);
        assert_eq!(hot.get(0)?.input, vec![1.0, 0.0, 0.0, 1.0]);
        assert_eq!(
            hot.task(),
            Task::SequenceClassification {
                num_classes: 2,
                len: 2
            }
        );
        Ok(())
    }

    #[test]
    fn too_short_text_and_zero_lengths_are_errors() {
        assert!(TextDataset::new("ab", 2).is_err());
        assert!(TextDataset::new("abc", 0).is_err());
        assert!(TextDataset::new("", 1).is_err());
        assert!(TextDataset::new("abc", 1).unwrap().stride(0).is_err());
        let err = read_file("/nonexistent/nabla.txt").unwrap_err();
        assert!(
            err.to_string().starts_with("/nonexistent/nabla.txt: "),
            "{err}"
        );
    }
}
