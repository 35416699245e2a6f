//! Keyset pages as the services hand them out.

use portcullis_ports::store::Keyset;

/// Largest page a caller may ask for.
pub const MAX_PAGE_SIZE: u32 = 500;
/// Page size when the caller names none.
pub const DEFAULT_PAGE_SIZE: u32 = 25;

/// A page request, already validated by the driving adapter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PageParams {
    /// Rows per page, 1..=500.
    pub size: u32,
    /// Sort key of the last row of the previous page.
    pub after: Option<String>,
    /// Reverse order.
    pub descending: bool,
}

impl Default for PageParams {
    fn default() -> Self {
        Self {
            size: DEFAULT_PAGE_SIZE,
            after: None,
            descending: false,
        }
    }
}

impl PageParams {
    /// The store query: one row more than the page, to learn whether another page exists.
    pub(crate) fn keyset(&self) -> Keyset {
        Keyset {
            limit: self.size.clamp(1, MAX_PAGE_SIZE) + 1,
            descending: self.descending,
            after: self.after.clone(),
        }
    }

    /// Cuts the extra row and derives the next cursor from the last row kept.
    pub(crate) fn page<T>(&self, mut rows: Vec<T>, key: impl Fn(&T) -> String) -> Page<T> {
        let size = usize::try_from(self.size.clamp(1, MAX_PAGE_SIZE)).unwrap_or(usize::MAX);
        let more = rows.len() > size;
        rows.truncate(size);
        let next_after = if more { rows.last().map(key) } else { None };
        Page {
            items: rows,
            next_after,
        }
    }
}

/// One page of a listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page<T> {
    /// The rows.
    pub items: Vec<T>,
    /// The cursor of the next page, when there is one.
    pub next_after: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asks_for_one_more_row_and_reports_the_next_cursor_only_when_it_came() {
        let params = PageParams {
            size: 2,
            after: None,
            descending: false,
        };
        assert_eq!(params.keyset().limit, 3);
        let page = params.page(vec![1, 2, 3], ToString::to_string);
        assert_eq!(page.items, [1, 2]);
        assert_eq!(page.next_after.as_deref(), Some("2"));
        let last = params.page(vec![4, 5], ToString::to_string);
        assert_eq!(last.next_after, None);
    }
}
