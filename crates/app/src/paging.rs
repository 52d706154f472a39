//! Paged lists: pages from 1 to 1,000,000, 1 to 500 items a page (50 unless asked).

use domain::FieldError;

/// The most items one page may hold.
pub const MAX_PER_PAGE: i64 = 500;
/// The last page one may ask for (so that the offset, at most 500 × 1,000,000, never overflows).
pub const MAX_PAGE: i64 = 1_000_000;
/// Items a page when the caller does not say.
pub const DEFAULT_PER_PAGE: i64 = 50;

/// A page as the database reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    pub limit: i64,
    pub offset: i64,
}

impl Paging {
    /// The page `page` (from 1) of `per_page` items, or the failing parameter.
    pub fn parse(page: Option<i64>, per_page: Option<i64>) -> Result<Self, FieldError> {
        let page = page.unwrap_or(1);
        let per_page = per_page.unwrap_or(DEFAULT_PER_PAGE);
        if !(1..=MAX_PAGE).contains(&page) {
            return Err(FieldError::new("page", "range", "page is between 1 and 1000000"));
        }
        if !(1..=MAX_PER_PAGE).contains(&per_page) {
            return Err(FieldError::new("per_page", "range", "per_page is between 1 and 500"));
        }
        Ok(Self { limit: per_page, offset: (page - 1) * per_page })
    }

    /// The page number (from 1).
    pub fn page(self) -> i64 {
        self.offset / self.limit + 1
    }
}

/// The page a caller asks for, as they sent it: checked by the use case, after its access check.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PageRequest {
    pub page: Option<i64>,
    pub per_page: Option<i64>,
}

impl PageRequest {
    /// The page, or `Invalid` naming the failing parameter.
    pub fn paging(self) -> Result<Paging, crate::Error> {
        Paging::parse(self.page, self.per_page).map_err(|e| crate::Error::Invalid(vec![e]))
    }
}

/// One page of a list: the items, the page they are, and how many items there are in all.
#[derive(Debug, Clone)]
pub struct Paged<T> {
    pub items: Vec<T>,
    pub paging: Paging,
    pub total: i64,
}

impl<T> Paged<T> {
    pub fn new(items: Vec<T>, paging: Paging, total: i64) -> Self {
        Self { items, paging, total }
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Paged<U> {
        Paged { items: self.items.into_iter().map(f).collect(), paging: self.paging, total: self.total }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_out_of_bounds_are_refused_without_overflow() {
        assert_eq!(Paging::parse(Some(MAX_PAGE), Some(MAX_PER_PAGE)).map(|p| p.page()), Ok(MAX_PAGE));
        for page in [0, -1, MAX_PAGE + 1, i64::MAX, i64::MIN] {
            assert_eq!(Paging::parse(Some(page), Some(MAX_PER_PAGE)).map_err(|e| e.field), Err("page".to_owned()));
        }
        assert_eq!(Paging::parse(Some(1), Some(i64::MAX)).map_err(|e| e.field), Err("per_page".to_owned()));
    }
}
