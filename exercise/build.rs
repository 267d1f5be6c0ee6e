//! Builds the slow-disk shim (`slowdisk/slowdisk.c`) as a shared library the harness carries
//! in its binary (`catalog::disk`), so that a grade can preload it into the candidate's
//! service wherever the harness runs, without a compiler at grading time.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let source = PathBuf::from("slowdisk/slowdisk.c");
    println!("cargo::rerun-if-changed={}", source.display());
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let library = out.join("libslowdisk.so");
    let target = std::env::var("TARGET").unwrap_or_default();
    if !target.contains("linux") {
        // The shim interposes glibc's calls: elsewhere the disk checks say they cannot run.
        std::fs::write(&library, b"").expect("write an empty shim");
        return;
    }
    let compiler = cc::Build::new().get_compiler();
    let mut command: Command = compiler.to_command();
    command
        .args([
            "-O2", "-Wall", "-Wextra", "-Werror", "-shared", "-fPIC", "-o",
        ])
        .arg(&library)
        .arg(&source)
        .arg("-ldl");
    let status = command
        .status()
        .unwrap_or_else(|e| panic!("cannot run the C compiler for {}: {e}", source.display()));
    assert!(status.success(), "building {} failed", source.display());
}
