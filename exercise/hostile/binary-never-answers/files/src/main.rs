// Hostile: a binary that takes a core and never answers.
fn main() {
    loop {
        std::hint::spin_loop();
    }
}
