//! Class selections in a spec: `0-4`, `5,7,9`, `0-2,8`, after `mnist:` or `@`.

use crate::{Error, Result};

/// Parses a class selection: `0-4`, `5,7,9`, `0-2,8` (in the order given).
///
/// # Errors
/// [`Error::Spec`] for anything else, or a class listed twice.
pub fn parse_classes(s: &str) -> Result<Vec<usize>> {
    let bad = |msg: String| Error::Spec {
        spec: s.to_string(),
        msg,
    };
    let unreadable = || bad(format!("classes '{s}': write them as 0-4, 5,7,9 or 0-2,8"));
    let mut classes = Vec::new();
    for part in s.split(',') {
        let (lo, hi) = match part.split_once('-') {
            Some((a, b)) => (a.trim().parse::<usize>(), b.trim().parse::<usize>()),
            None => (part.trim().parse(), part.trim().parse()),
        };
        let (lo, hi) = (lo.map_err(|_| unreadable())?, hi.map_err(|_| unreadable())?);
        if lo > hi || hi - lo > 100_000 {
            return Err(unreadable());
        }
        for c in lo..=hi {
            if classes.contains(&c) {
                return Err(bad(format!("classes '{s}': class {c} is listed twice")));
            }
            classes.push(c);
        }
    }
    Ok(classes)
}

/// `spec` without a trailing class selection `@CLASSES`, and the selection. An `@` followed
/// by anything but digits, commas and dashes belongs to the path (`folder:a@b`).
pub(super) fn split_classes(spec: &str) -> Result<(&str, Option<Vec<usize>>)> {
    match spec.rsplit_once('@') {
        Some((base, classes))
            if !classes.is_empty()
                && classes
                    .chars()
                    .all(|c| c.is_ascii_digit() || c == ',' || c == '-' || c == ' ') =>
        {
            Ok((base, Some(parse_classes(classes)?)))
        }
        _ => Ok((spec, None)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_selections_parse_in_order() -> Result<()> {
        assert_eq!(parse_classes("0-4")?, vec![0, 1, 2, 3, 4]);
        assert_eq!(parse_classes("7,5, 9")?, vec![7, 5, 9]);
        assert_eq!(parse_classes("0-1,8")?, vec![0, 1, 8]);
        for bad in ["", "4-0", "a", "1,1", "0-2,2", "-3", "0-999999"] {
            assert!(
                matches!(parse_classes(bad), Err(Error::Spec { .. })),
                "{bad}"
            );
        }
        let (base, c) = split_classes("idx:data/mnist@5-9")?;
        assert_eq!((base, c), ("idx:data/mnist", Some(vec![5, 6, 7, 8, 9])));
        assert_eq!(split_classes("folder:a@b")?, ("folder:a@b", None));
        Ok(())
    }
}
