//! End-to-end tests of the HTTP API: the real app on a real PostgreSQL.

#![expect(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod access;
mod auth;
mod backup;
mod browser;
mod conventions;
mod directory;
mod disclosure;
mod fhir;
mod fhir_measures;
mod fhir_records;
mod fixtures;
mod forms;
mod imports;
mod input;
mod logins;
mod metrics;
mod migrations;
mod oidc;
mod orders;
mod org_units;
mod outbox;
mod pathways;
mod patient_browser;
mod patient_pages;
mod patients;
mod pools;
mod reports;
mod research;
mod reservations;
mod residence;
mod results;
mod roles;
mod scheduler;
mod schemathesis;
mod small_counts;
mod synthetic;
mod users;
mod worklist;
