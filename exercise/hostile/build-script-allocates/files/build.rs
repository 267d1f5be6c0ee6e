// Hostile: memory past the sandbox's cap, every page written so it is really used. 8 GiB is
// past the cap and below this machine's 24 GiB: without a cap it would build.
fn main() {
    let mut held: Vec<Vec<u8>> = Vec::new();
    for _ in 0..8 * 1024 {
        held.push(vec![1u8; 1 << 20]);
    }
    println!("cargo:warning=held {} MiB", held.len());
}
