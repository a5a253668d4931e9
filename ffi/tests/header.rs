//! `include/gan_runtime.h` is generated from `src/lib.rs` by cbindgen. This test fails when the
//! committed header is stale; regenerate it with
//! `GAN_UPDATE_HEADER=1 cargo test -p gan-ffi --test header`.

#[test]
fn the_c_header_matches_the_ffi_crate() {
    let crate_dir = env!("CARGO_MANIFEST_DIR");
    let config = cbindgen::Config::from_file(format!("{crate_dir}/cbindgen.toml"))
        .expect("cbindgen.toml is valid");
    let mut generated = Vec::new();
    cbindgen::Builder::new()
        .with_crate(crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen understands src/lib.rs")
        .write(&mut generated);
    let path = format!("{crate_dir}/include/gan_runtime.h");
    if std::env::var_os("GAN_UPDATE_HEADER").is_some() {
        std::fs::write(&path, &generated).expect("include/ is writable");
        return;
    }
    let committed = std::fs::read(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "{path} is stale: regenerate it with `GAN_UPDATE_HEADER=1 cargo test -p gan-ffi --test header`"
    );
}
