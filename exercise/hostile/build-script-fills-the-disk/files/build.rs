// Hostile: a build script that writes until something stops it.
use std::io::Write;

fn main() {
    let out = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    let mut file = std::fs::File::create(format!("{out}/filler")).expect("create the filler");
    let block = vec![b'x'; 1 << 20];
    for _ in 0..(64 << 10) {
        file.write_all(&block).expect("write the filler");
    }
}
