//! rusreg domain: the register's types and rules, with no I/O, no diesel and no actix.
//!
//! Every rule of the register (docs/domain.md) lives in the module named for it; `persistence`,
//! `api` and `reporting` only call into these.

pub mod access;
pub mod audit;
pub mod clock;
pub mod directory;
pub mod error;
pub mod forms;
pub mod identities;
pub mod indicators;
pub mod national_id;
pub mod orders;
pub mod organisations;
pub mod pathways;
pub mod patients;
pub mod releases;
pub mod research;
pub mod residence;
pub mod users;
pub mod worklist;

pub use error::{DomainError, FieldError};
