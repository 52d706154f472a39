//! Rebuild when a migration changes, so `embed_migrations!` picks it up.
fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
    println!("cargo:rerun-if-changed=../../seeds");
}
