//! Build script: rebuild when a migration is added or changed, so that
//! `refinery::embed_migrations!` embeds the current files.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
