//! Paginated lists: `?page=` (1 to 1,000,000) and `?per_page=` (1–500, default 50), and the
//! bounds of the other numeric query parameters. `page`, `per_page` and `status` are checked by
//! the use cases (`app::paging`, after their access check, with every failing field at once); ids
//! and years by `validator` rules that `extract::Query` applies. The OpenAPI `minimum`/`maximum`
//! give the same numbers; a test keeps the document equal to these constants.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

/// The largest id a query parameter takes: 2^53 − 1, the largest integer every JSON client reads
/// exactly.
pub const MAX_ID: i64 = 9_007_199_254_740_991;
/// Report years in query parameters (the use cases further refuse years after this one).
pub const MIN_YEAR: i32 = 2000;
pub const MAX_YEAR: i32 = 9999;

#[derive(Debug, Clone, Copy, Deserialize, IntoParams, Validate)]
#[serde(deny_unknown_fields)]
pub struct PageParams {
    /// Page number, from 1 to 1,000,000.
    #[param(minimum = 1, maximum = 1000000)]
    pub page: Option<i64>,
    /// Items per page, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub per_page: Option<i64>,
}

impl PageParams {
    /// The page as a use case takes it (it checks it after its access check).
    pub fn request(&self) -> app::paging::PageRequest {
        app::paging::PageRequest { page: self.page, per_page: self.per_page }
    }
}

/// One page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub page: i64,
    pub per_page: i64,
    pub total: i64,
}

impl<T> From<app::paging::Paged<T>> for Page<T> {
    fn from(p: app::paging::Paged<T>) -> Self {
        Self { page: p.paging.page(), per_page: p.paging.limit, total: p.total, items: p.items }
    }
}
