//! `sqlx::migrate!` embeds the migration directories at compile time, and cargo does
//! not watch them by itself: a migration added without a code change would otherwise
//! be left out of an incremental build.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
