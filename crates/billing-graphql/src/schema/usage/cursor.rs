//! The connection's cursor: an offset into the filtered, ordered rows, as `usage:N`.

use crate::error::{GraphError, Result};

/// The cursor of the row at `offset`.
pub(crate) fn cursor(offset: usize) -> String {
    format!("usage:{offset}")
}

/// The offset a cursor names, or the caller's error.
pub(crate) fn parse_cursor(c: &str) -> Result<usize> {
    c.strip_prefix("usage:")
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| GraphError::BadInput(format!("invalid cursor {c:?}: pass a cursor this API returned")))
}

/// The offset of the row after the cursor's (`after`), or 0 without one.
pub(crate) fn offset_after(after: Option<&str>) -> Result<usize> {
    match after {
        Some(c) => parse_cursor(c)?
            .checked_add(1)
            .ok_or_else(|| GraphError::BadInput(format!("invalid cursor {c:?}: out of range"))),
        None => Ok(0),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn a_cursor_reads_back_as_its_offset(offset in 0_usize..usize::MAX) {
            prop_assert_eq!(parse_cursor(&cursor(offset)).unwrap(), offset);
            prop_assert_eq!(offset_after(Some(&cursor(offset))).ok(), offset.checked_add(1));
        }

        #[test]
        fn anything_else_is_the_callers_error(text in "\\PC{0,40}") {
            prop_assume!(text.strip_prefix("usage:").and_then(|n| n.parse::<usize>().ok()).is_none());
            prop_assert!(matches!(parse_cursor(&text), Err(GraphError::BadInput(_))));
        }
    }

    #[test]
    fn no_cursor_starts_at_the_first_row() {
        assert_eq!(offset_after(None).unwrap(), 0);
        assert!(offset_after(Some(&cursor(usize::MAX))).is_err());
    }
}
