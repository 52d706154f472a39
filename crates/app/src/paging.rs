//! Paged lists: pages from 1, 1 to 500 items a page (50 unless asked).

use domain::FieldError;

/// The most items one page may hold.
pub const MAX_PER_PAGE: i64 = 500;
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
        if page < 1 {
            return Err(FieldError::new("page", "range", "page starts at 1"));
        }
        if !(1..=MAX_PER_PAGE).contains(&per_page) {
            return Err(FieldError::new("per_page", "range", "per_page must be between 1 and 500"));
        }
        Ok(Self { limit: per_page, offset: (page - 1) * per_page })
    }

    /// The page number (from 1).
    pub fn page(self) -> i64 {
        self.offset / self.limit + 1
    }
}
