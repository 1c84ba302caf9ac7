//! Rebuilds when a migration is added or changed: `embed_migrations!` reads the directories at
//! compile time, and cargo does not otherwise know about them.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
