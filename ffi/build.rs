//! Gives libredlead.so its soname, `libredlead.so.<REDLEAD_ABI_VERSION>`, read
//! from src/lib.rs so the constant stays the one source: programs linked
//! against one ABI keep loading any later build of it, and refuse a build
//! with an incompatible one (ffi/install.sh installs the matching symlinks).

use std::fs;

fn main() {
    println!("cargo:rerun-if-changed=src/lib.rs");
    let lib = fs::read_to_string("src/lib.rs").expect("read src/lib.rs");
    let abi = lib
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("pub const REDLEAD_ABI_VERSION: u32 = ")
        })
        .and_then(|rest| rest.trim_end_matches(';').trim().parse::<u32>().ok())
        .expect("src/lib.rs defines `pub const REDLEAD_ABI_VERSION: u32 = N;`");
    let target_os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if target_os == "linux" || target_os == "freebsd" {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libredlead.so.{abi}");
        soname_link_in_build_tree(abi);
    }
}

/// Programs linked against the build tree (`-L target/release -lredlead`)
/// record the soname, so the loader looks for `libredlead.so.<ABI>` there:
/// give the profile directory that name as a link to `libredlead.so`, as an
/// installed tree has it. OUT_DIR is `<profile dir>/build/<pkg>-<hash>/out`.
fn soname_link_in_build_tree(abi: u32) {
    let Some(out) = std::env::var_os("OUT_DIR") else {
        return;
    };
    let Some(profile_dir) = std::path::Path::new(&out).ancestors().nth(3) else {
        return;
    };
    let link = profile_dir.join(format!("libredlead.so.{abi}"));
    if fs::symlink_metadata(&link).is_err() {
        // Best effort: a read-only or unusual target dir only loses the
        // convenience; installs get the link from ffi/install.sh.
        #[cfg(unix)]
        let _ = std::os::unix::fs::symlink("libredlead.so", &link);
    }
}
