//! Paginated lists: `?page=` (from 1) and `?per_page=` (1–500, default 50).

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Debug, Clone, Copy, Deserialize, IntoParams)]
pub struct PageParams {
    /// Page number, from 1.
    pub page: Option<i64>,
    /// Items per page, 1 to 500 (default 50).
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
