//! Rebuilds the crate when a migration changes (they are embedded), and
//! publishes a hash of the migration files as `PORTCULLIS_MIGRATIONS_HASH`
//! so that test templates are named after the schema they hold.

use std::error::Error;
use std::fs;
use std::path::{Path, PathBuf};

const MIGRATIONS: &str = "../../migrations";

fn main() -> Result<(), Box<dyn Error>> {
    println!("cargo:rerun-if-changed={MIGRATIONS}");
    let mut files = Vec::new();
    collect(Path::new(MIGRATIONS), &mut files)?;
    files.sort();
    // FNV-1a: stable across compilers and platforms, and enough to tell
    // migration sets apart (this is a cache key, not a security boundary).
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for file in &files {
        let relative = file
            .strip_prefix(MIGRATIONS)?
            .to_string_lossy()
            .replace('\\', "/");
        for byte in relative
            .as_bytes()
            .iter()
            .chain(&[0])
            .chain(&fs::read(file)?)
            .chain(&[0])
        {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    println!("cargo:rustc-env=PORTCULLIS_MIGRATIONS_HASH={hash:016x}");
    Ok(())
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), Box<dyn Error>> {
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect(&path, files)?;
        } else {
            files.push(path);
        }
    }
    Ok(())
}
