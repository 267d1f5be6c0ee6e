// Hostile: a build script that takes a core and never ends.
fn main() {
    loop {
        std::hint::spin_loop();
    }
}
