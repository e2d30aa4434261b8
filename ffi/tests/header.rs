//! `wakeguard.h` is what cbindgen generates from the crate today. With
//! `WAKEGUARD_BLESS=1` the test rewrites it instead of failing.

use std::path::Path;

#[test]
fn the_checked_in_header_is_current() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config =
        cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("cbindgen.toml");
    let mut generated = Vec::new();
    cbindgen::Builder::new()
        .with_crate(crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen generates the header")
        .write(&mut generated);
    let generated = String::from_utf8(generated).expect("UTF-8 header");
    let path = crate_dir.join("wakeguard.h");
    if std::env::var_os("WAKEGUARD_BLESS").is_some() {
        std::fs::write(&path, &generated).expect("write wakeguard.h");
        return;
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == generated,
        "ffi/wakeguard.h is not current: run WAKEGUARD_BLESS=1 cargo test -p wakeguard-ffi --test header"
    );
}
