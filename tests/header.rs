//! The committed C header must be exactly what cbindgen (pinned in Cargo.toml) generates, and
//! its version macros must equal the crate version. `make header` rewrites it.

use std::path::Path;

#[test]
fn committed_header_matches_cbindgen() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(root.join("cbindgen.toml")).expect("cbindgen.toml");
    let bindings = cbindgen::Builder::new()
        .with_crate(root)
        .with_config(config)
        .generate()
        .expect("cbindgen generates the header");
    let mut generated = Vec::new();
    bindings.write(&mut generated);
    let path = root.join("include/webrtc_session.h");
    if std::env::var_os("WRS_UPDATE_HEADER").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "include/webrtc_session.h differs from what cbindgen generates: run `make header` and commit it"
    );
}

#[test]
fn version_macros_equal_crate_version() {
    let header = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("include/webrtc_session.h")).unwrap();
    for (name, value) in [
        ("WRS_VERSION_MAJOR", env!("CARGO_PKG_VERSION_MAJOR")),
        ("WRS_VERSION_MINOR", env!("CARGO_PKG_VERSION_MINOR")),
        ("WRS_VERSION_PATCH", env!("CARGO_PKG_VERSION_PATCH")),
    ] {
        assert!(header.contains(&format!("#define {name} {value}")), "{name} is not {value} in the header");
    }
    let v = unsafe { std::ffi::CStr::from_ptr(webrtc_session::capi::wrs_version()) };
    assert_eq!(v.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
}
