//! Generates the C header `include/gan_runtime.h` from `src/ffi.rs` with cbindgen, rewriting
//! it only when its content changes (so a clean checkout stays clean).

fn main() {
    println!("cargo:rerun-if-changed=src/ffi.rs");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    let crate_dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let config = cbindgen::Config::from_file(format!("{crate_dir}/cbindgen.toml"))
        .expect("cbindgen.toml is valid");
    let mut header = Vec::new();
    match cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config)
        .generate()
    {
        Ok(bindings) => {
            bindings.write(&mut header);
        }
        Err(e) => {
            // A header that cannot be generated must not break a Rust build of the crate.
            println!("cargo:warning=gan_runtime.h not regenerated: {e}");
            return;
        }
    }
    let path = format!("{crate_dir}/include/gan_runtime.h");
    if std::fs::read(&path).ok().as_deref() != Some(header.as_slice()) {
        std::fs::write(&path, header).expect("include/ is writable");
    }
}
