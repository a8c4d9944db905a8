//! Page arithmetic, without I/O: which upstream pages a window of rows needs, and the window
//! cut from the rows they hold.
//!
//! The upstream serves the filtered, ordered rows in numbered pages of `per` rows. A window is
//! `first` rows from `offset` (the connection's `after` cursor, plus one). Its first page is
//! found by number; what follows depends on what that page said:
//! - with the total, every other page the window needs is known at once, and is read at once;
//! - without it, the `next` links are followed one page after another (Talkdesk's contract: rely
//!   on the hypermedia links, never on page arithmetic), until the row after the window is read,
//!   which says whether more follow, or no link is left.

use std::ops::RangeInclusive;

/// `first` rows from `offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Window {
    pub(crate) offset: usize,
    pub(crate) first: usize,
}

/// What to read after the window's first page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Rest {
    /// The total is known: these pages (numbered from 0), all at once; empty when the first
    /// page is enough.
    Pages(RangeInclusive<usize>),
    /// The total is unknown: follow `next` links until `rows` rows are read, counted from the
    /// start of the first page, or no link is left; at most `max_pages` links.
    Follow { rows: usize, max_pages: usize },
}

impl Window {
    /// One past the window's last row.
    pub(crate) fn end(self) -> usize {
        self.offset.saturating_add(self.first)
    }

    /// The page (numbered from 0) holding the window's first row.
    pub(crate) fn first_page(self, per: usize) -> usize {
        self.offset / per.max(1)
    }

    /// Rows of the first page before the window.
    fn skip(self, per: usize) -> usize {
        self.offset % per.max(1)
    }

    /// With the total known, the page holding the window's last row that exists (the total
    /// says whether more follow), and never one before the window's first page.
    pub(crate) fn last_page(self, per: usize, total: u64) -> usize {
        let per = per.max(1);
        let total = usize::try_from(total).unwrap_or(usize::MAX);
        let last_row = self.end().min(total).saturating_sub(1);
        (last_row / per).min(total.div_ceil(per).saturating_sub(1)).max(self.first_page(per))
    }

    /// What to read once the first page told the total, or did not.
    pub(crate) fn rest(self, per: usize, total: Option<u64>) -> Rest {
        let per = per.max(1);
        let first_page = self.first_page(per);
        match total {
            Some(total) => Rest::Pages(first_page + 1..=self.last_page(per, total)),
            None => {
                // The window and the row after it, which says whether more follow.
                let rows = self.skip(per).saturating_add(self.first).saturating_add(1);
                Rest::Follow { rows, max_pages: rows.div_ceil(per).saturating_sub(1) }
            }
        }
    }

    /// The window, cut from `rows` read from the start of its first page, and whether rows
    /// follow it. `unread`: a `next` link was left unfollowed (the link budget ran out), so
    /// rows may follow even when none was read past the window.
    pub(crate) fn cut<T>(self, per: usize, rows: Vec<T>, total: Option<u64>, unread: bool) -> (Vec<T>, bool) {
        let mut window: Vec<T> = rows.into_iter().skip(self.skip(per)).take(self.first.saturating_add(1)).collect();
        let has_next = match total {
            Some(total) => (self.end() as u64) < total,
            None => window.len() > self.first || unread,
        };
        window.truncate(self.first);
        (window, has_next)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use proptest::prelude::*;

    use super::*;

    /// Reads a window the way the loader does, from a list served in pages of `per`, with or
    /// without the total: the rows it gets, whether more follow, and the pages it read.
    fn read(list: &[u32], per: usize, with_total: bool, window: Window) -> (Vec<u32>, bool, usize) {
        let page = |n: usize| -> (Vec<u32>, bool) {
            let start = n.saturating_mul(per).min(list.len());
            let end = start.saturating_add(per).min(list.len());
            (list[start..end].to_vec(), end < list.len())
        };
        let total = with_total.then_some(list.len() as u64);
        let first = window.first_page(per);
        let (mut rows, mut next) = page(first);
        let mut read = 1;
        let mut unread = false;
        match window.rest(per, total) {
            Rest::Pages(pages) => {
                for n in pages {
                    rows.extend(page(n).0);
                    read += 1;
                }
            }
            Rest::Follow { rows: wanted, max_pages } => {
                let mut followed = 0;
                let mut at = first;
                while rows.len() < wanted && next {
                    if followed == max_pages {
                        unread = true;
                        break;
                    }
                    at += 1;
                    let (more, more_next) = page(at);
                    rows.extend(more);
                    next = more_next;
                    followed += 1;
                    read += 1;
                }
            }
        }
        let (window_rows, has_next) = window.cut(per, rows, total, unread);
        (window_rows, has_next, read)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Every window of every list, in any page size, with or without the total, gets exactly
        /// the list's rows in that window and the truth about what follows, reading no page the
        /// window does not need (and with no total, at most the page of the row after it).
        #[test]
        fn a_window_gets_exactly_its_rows(
            len in 0_usize..1200,
            per in 1_usize..300,
            offset in 0_usize..1300,
            first in 0_usize..700,
            with_total: bool,
        ) {
            let list: Vec<u32> = (0..len as u32).collect();
            let window = Window { offset, first };
            let (rows, has_next, read) = read(&list, per, with_total, window);
            let end = offset.saturating_add(first).min(len);
            let expected = if offset < len { &list[offset..end] } else { &[][..] };
            prop_assert_eq!(&rows[..], expected);
            prop_assert_eq!(has_next, offset.saturating_add(first) < len);
            // Pages: from the window's first to its last row's, and with no total, the page of
            // the row after it when it exists.
            let last_row = if with_total {
                offset.saturating_add(first).min(len).saturating_sub(1).max(offset)
            } else {
                offset.saturating_add(first).min(len.saturating_sub(1)).max(offset)
            };
            let most = last_row / per - offset / per + 1;
            prop_assert!(read <= most, "read {} pages, at most {} needed", read, most);
        }
    }

    #[test]
    fn with_the_total_the_pages_are_known_at_once() {
        let w = Window { offset: 260, first: 500 };
        assert_eq!(w.first_page(250), 1);
        assert_eq!(w.rest(250, Some(10_000)), Rest::Pages(2..=3));
        // The window runs past the rows: only the pages that hold rows.
        assert_eq!(w.rest(250, Some(600)), Rest::Pages(2..=2));
        // The first page is enough.
        let Rest::Pages(none) = Window { offset: 0, first: 10 }.rest(250, Some(11)) else { panic!("pages") };
        assert!(none.is_empty());
    }

    #[test]
    fn without_it_the_links_are_followed_to_the_row_after_the_window() {
        let w = Window { offset: 10, first: 490 };
        assert_eq!(w.rest(250, None), Rest::Follow { rows: 501, max_pages: 2 });
    }
}
