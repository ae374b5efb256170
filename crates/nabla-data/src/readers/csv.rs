//! CSV tables of numeric features and one label column.
//!
//! A small reader for the tables courses use (iris, wine, the Playground's exports): one
//! record per line, fields split on a delimiter, double-quoted fields with `""` escapes,
//! an optional header. Errors give the 1-based line and column.

use crate::{Error, InMemoryDataset, Result, Targets};
use std::collections::BTreeSet;
use std::path::Path;

/// What the label column holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum CsvTask {
    /// Class labels: non-negative integers, or names (sorted names become classes 0, 1, ...).
    #[default]
    Classification,
    /// A real-valued target.
    Regression,
}

/// How to read a CSV file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CsvOptions {
    /// The label column, 0-based; `None` for the last column.
    pub label_column: Option<usize>,
    /// Whether the first row is a header; `None` to detect it (a first row with a non-empty
    /// feature cell that is not a number is a header).
    pub header: Option<bool>,
    /// Classification or regression.
    pub task: CsvTask,
    /// The field separator.
    pub delimiter: char,
}

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions {
            label_column: None,
            header: None,
            task: CsvTask::Classification,
            delimiter: ',',
        }
    }
}

/// Reads a CSV file into a dataset of `[d]` feature vectors (`d` = columns - 1) with class
/// or real targets.
///
/// # Errors
/// [`Error::Io`] when the file cannot be read; [`Error::Csv`] (line, column) for a cell that
/// is not a finite number, a class label that is not a non-negative integer, a row with the
/// wrong number of fields, an unterminated quote or a label column out of range;
/// [`Error::Empty`] when there is no data row.
///
/// # Examples
/// ```
/// use nabla_data::{readers::csv, Dataset, Target};
/// let text = "x,y,class\n0.5,1,0\n-1,2.5,1\n";
/// let ds = csv::parse(text, "inline.csv", &csv::CsvOptions::default())?;
/// assert_eq!(ds.len(), 2);
/// assert_eq!(ds.get(1)?.input, vec![-1.0, 2.5]);
/// assert_eq!(ds.get(1)?.target, Target::Class(1));
/// # Ok::<(), nabla_data::Error>(())
/// ```
pub fn read(path: impl AsRef<Path>, options: &CsvOptions) -> Result<InMemoryDataset> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    parse(&text, &path.display().to_string(), options)
}

/// Splits one line into fields; `line_no` is for errors. A field that starts with `"` is
/// quoted: delimiters inside it are kept and `""` stands for one `"`.
fn split_fields(line: &str, delimiter: char, src: &str, line_no: usize) -> Result<Vec<String>> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut chars = line.chars().peekable();
    let (mut quoted, mut at_start) = (false, true);
    while let Some(c) = chars.next() {
        if quoted {
            if c != '"' {
                field.push(c);
            } else if chars.peek() == Some(&'"') {
                chars.next();
                field.push('"');
            } else {
                quoted = false;
            }
        } else if c == '"' && at_start {
            quoted = true;
        } else if c == delimiter {
            fields.push(std::mem::take(&mut field));
            at_start = true;
            continue;
        } else {
            field.push(c);
        }
        at_start = false;
    }
    if quoted {
        return Err(Error::Csv {
            path: src.to_string(),
            line: line_no,
            column: fields.len() + 1,
            msg: "unterminated quoted field".into(),
        });
    }
    fields.push(field);
    Ok(fields)
}

/// The cell as a number that is finite in f32, where the values are kept (`1e39` parses
/// as a finite f64 but would become infinite).
fn number(cell: &str) -> Option<f64> {
    cell.trim()
        .parse::<f64>()
        .ok()
        .filter(|&v| (v as f32).is_finite())
}

/// Parses CSV text; `src` names it in errors. See [`read`].
///
/// # Errors
/// As [`read`].
pub fn parse(text: &str, src: &str, options: &CsvOptions) -> Result<InMemoryDataset> {
    let csv_err = |line: usize, column: usize, msg: String| Error::Csv {
        path: src.to_string(),
        line,
        column,
        msg,
    };
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if !line.trim().is_empty() {
            rows.push((i + 1, split_fields(line, options.delimiter, src, i + 1)?));
        }
    }
    let Some((first_line, first)) = rows.first() else {
        return Err(Error::Empty {
            path: src.to_string(),
            msg: "no rows".into(),
        });
    };
    let ncols = first.len();
    let label_col = options.label_column.unwrap_or(ncols.saturating_sub(1));
    if ncols < 2 || label_col >= ncols {
        return Err(csv_err(
            *first_line,
            1,
            format!(
                "label column {label_col} (0-based) is out of range: the rows have {ncols} columns, \
                 numbered 0 to {} (a label and at least one feature are needed)",
                ncols.saturating_sub(1)
            ),
        ));
    }
    let header = options.header.unwrap_or_else(|| {
        first
            .iter()
            .enumerate()
            // An empty cell is a missing value, not a column name.
            .any(|(c, cell)| c != label_col && !cell.trim().is_empty() && number(cell).is_none())
    });
    let data = &rows[usize::from(header)..];
    if data.is_empty() {
        return Err(Error::Empty {
            path: src.to_string(),
            msg: "no data rows after the header".into(),
        });
    }
    let mut features = Vec::with_capacity(data.len() * (ncols - 1));
    let mut label_cells = Vec::with_capacity(data.len());
    for (line, fields) in data {
        if fields.len() != ncols {
            return Err(csv_err(
                *line,
                fields.len().min(ncols) + 1,
                format!(
                    "{} fields, {ncols} expected (as on line {first_line})",
                    fields.len()
                ),
            ));
        }
        for (c, cell) in fields.iter().enumerate() {
            if c == label_col {
                label_cells.push((*line, cell.trim()));
                continue;
            }
            let v = number(cell).ok_or_else(|| {
                let msg = if cell.trim().is_empty() {
                    "missing value (empty cell)".to_string()
                } else {
                    format!("'{cell}' is not a finite number")
                };
                csv_err(*line, c + 1, msg)
            })?;
            features.push(v as f32);
        }
    }
    let targets = match options.task {
        CsvTask::Regression => {
            let mut values = Vec::with_capacity(label_cells.len());
            for &(line, cell) in &label_cells {
                let v = number(cell).ok_or_else(|| {
                    csv_err(
                        line,
                        label_col + 1,
                        format!("target '{cell}' is not a finite number"),
                    )
                })?;
                values.push(v as f32);
            }
            Targets::Values { values, width: 1 }
        }
        CsvTask::Classification => {
            return classify(features, ncols - 1, &label_cells, label_col, src)
        }
    };
    InMemoryDataset::new(features, &[ncols - 1], targets)
}

/// Class labels: integers if the first label is a number (then all must be), else names.
fn classify(
    features: Vec<f32>,
    d: usize,
    cells: &[(usize, &str)],
    label_col: usize,
    src: &str,
) -> Result<InMemoryDataset> {
    let numeric = cells.first().is_some_and(|(_, c)| number(c).is_some());
    if numeric {
        let mut labels = Vec::with_capacity(cells.len());
        for &(line, cell) in cells {
            match number(cell) {
                Some(v) if v >= 0.0 && v.fract() == 0.0 && v < 1e9 => labels.push(v as i64),
                _ => {
                    return Err(Error::Csv {
                        path: src.to_string(),
                        line,
                        column: label_col + 1,
                        msg: format!(
                            "label '{cell}' is not a class index (a non-negative integer)"
                        ),
                    })
                }
            }
        }
        let num_classes = labels.iter().max().map_or(0, |&m| m as usize + 1);
        let targets = Targets::Classes {
            labels,
            num_classes,
        };
        return InMemoryDataset::new(features, &[d], targets);
    }
    let names: Vec<String> = cells
        .iter()
        .map(|(_, c)| c.to_string())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let labels = cells
        .iter()
        .map(|(_, c)| names.binary_search_by(|n| n.as_str().cmp(c)).unwrap_or(0) as i64)
        .collect();
    let targets = Targets::Classes {
        labels,
        num_classes: names.len(),
    };
    InMemoryDataset::new(features, &[d], targets)?.with_class_names(names)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Dataset, Target, Task};

    fn opts() -> CsvOptions {
        CsvOptions::default()
    }

    #[test]
    fn splits_quoted_fields_and_empty_cells() -> Result<()> {
        let f = split_fields(r#"1,"a,b","say ""hi""",,x"#, ',', "t", 1)?;
        assert_eq!(f, vec!["1", "a,b", r#"say "hi""#, "", "x"]);
        assert_eq!(split_fields("1,2,", ',', "t", 1)?, vec!["1", "2", ""]);
        assert_eq!(split_fields("\"q\"", ',', "t", 1)?, vec!["q"]);
        assert_eq!(split_fields("\"q\",", ',', "t", 1)?, vec!["q", ""]);
        let err = split_fields("1,\"open", ',', "t", 7).unwrap_err();
        assert_eq!(err.to_string(), "t:7:2: unterminated quoted field");
        Ok(())
    }

    #[test]
    fn header_is_detected_and_labels_default_to_the_last_column() -> Result<()> {
        let ds = parse("a,b,label\n1,2,0\n3,4,2\n", "t", &opts())?;
        assert_eq!(ds.len(), 2);
        assert_eq!(ds.task(), Task::Classification { num_classes: 3 });
        let no_header = parse("1,2,0\r\n3,4,1\r\n\n", "t", &opts())?;
        assert_eq!(no_header.len(), 2);
        assert_eq!(no_header.get(1)?.input, vec![3.0, 4.0]);
        Ok(())
    }

    #[test]
    fn label_column_can_be_chosen_and_named_classes_are_sorted() -> Result<()> {
        let o = CsvOptions {
            label_column: Some(0),
            ..opts()
        };
        let ds = parse("species,x\nvirginica,1.5\nsetosa,2\nvirginica,3\n", "t", &o)?;
        assert_eq!(ds.class_names().unwrap(), ["setosa", "virginica"]);
        assert_eq!(ds.get(0)?.target, Target::Class(1));
        assert_eq!(ds.get(1)?.input, vec![2.0]);
        Ok(())
    }

    #[test]
    fn regression_targets_are_values() -> Result<()> {
        let o = CsvOptions {
            task: CsvTask::Regression,
            delimiter: ';',
            ..opts()
        };
        let ds = parse("1;2;0.25\n", "t", &o)?;
        assert_eq!(ds.get(0)?.target, Target::Values(vec![0.25]));
        assert_eq!(ds.task(), Task::Regression { outputs: 1 });
        Ok(())
    }

    #[test]
    fn errors_give_line_and_column() {
        let err = |text: &str, o: &CsvOptions| parse(text, "f.csv", o).unwrap_err().to_string();
        assert_eq!(
            err("1,2,0\n1,x,0\n", &opts()),
            "f.csv:2:2: 'x' is not a finite number"
        );
        assert_eq!(
            err("1,2,0\n\n1,2\n", &opts()),
            "f.csv:3:3: 2 fields, 3 expected (as on line 1)"
        );
        assert_eq!(
            err("1,2,0\n1,2,1.5\n", &opts()),
            "f.csv:2:3: label '1.5' is not a class index (a non-negative integer)"
        );
        assert!(err("1,2,0\n1,2,-1\n", &opts()).starts_with("f.csv:2:3: label '-1'"));
        let o = CsvOptions {
            label_column: Some(5),
            ..opts()
        };
        assert!(
            err("1,2,0\n", &o).starts_with("f.csv:1:1: label column 5 (0-based) is out of range")
        );
        let o = CsvOptions {
            header: Some(false),
            ..opts()
        };
        assert_eq!(
            err("a,b,c\n1,2,0\n", &o),
            "f.csv:1:1: 'a' is not a finite number"
        );
        assert_eq!(err("\n\n", &opts()), "f.csv: no rows");
        assert_eq!(
            err("a,b,c\n", &opts()),
            "f.csv: no data rows after the header"
        );
        assert!(err("1,2,0\n1,nan,0\n", &opts()).contains("'nan' is not a finite number"));
        assert!(err("1,2,0\n1,1e39,0\n", &opts()).contains("'1e39' is not a finite number"));
    }

    #[test]
    fn missing_value_and_non_numeric_cell_name_line_and_column() {
        let err = |text: &str| parse(text, "data.csv", &opts()).unwrap_err().to_string();
        // Line 3, column 2 is empty; line 4, column 1 holds a word.
        let text = "a,b,label\n0.5,1.5,0\n2.0,,1\n";
        assert_eq!(err(text), "data.csv:3:2: missing value (empty cell)");
        let text = "a,b,label\n0.5,1.5,0\n2.0,3,1\nabc,4,0\n";
        assert_eq!(err(text), "data.csv:4:1: 'abc' is not a finite number");
        // An empty cell in the first row is a missing value, not a sign of a header.
        assert_eq!(
            err("1,,0\n2,3,1\n"),
            "data.csv:1:2: missing value (empty cell)"
        );
        // A missing class label is reported in its column too.
        assert_eq!(
            err("1,2,0\n3,4,\n"),
            "data.csv:2:3: label '' is not a class index (a non-negative integer)"
        );
    }
}
