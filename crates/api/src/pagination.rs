//! Paginated lists: `?page=` (from 1) and `?per_page=` (1–500, default 50).

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::ApiError;

#[derive(Debug, Clone, Copy, Deserialize, IntoParams)]
pub struct PageParams {
    /// Page number, from 1.
    pub page: Option<i64>,
    /// Items per page, 1 to 500 (default 50).
    pub per_page: Option<i64>,
}

impl PageParams {
    /// The page as a use case takes it, or 422 naming the bad parameter.
    pub fn paging(&self) -> Result<app::paging::Paging, ApiError> {
        app::paging::Paging::parse(self.page, self.per_page).map_err(|e| ApiError::Invalid(vec![e]))
    }

    /// (limit, offset), or 422 naming the bad parameter (the rule: `app::paging::Paging`).
    pub fn limit_offset(&self) -> Result<(i64, i64), ApiError> {
        let p = self.paging()?;
        Ok((p.limit, p.offset))
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

impl<T> Page<T> {
    pub fn new(items: Vec<T>, (limit, offset): (i64, i64), total: i64) -> Self {
        Self { items, page: offset / limit + 1, per_page: limit, total }
    }
}
