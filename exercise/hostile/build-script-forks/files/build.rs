// Hostile: processes until none more can start, left running. The sandbox's process cap
// refuses them long before the machine's; the ones started end with the sandbox.
fn main() {
    let mut started = Vec::new();
    for _ in 0..5000 {
        let sleep = std::process::Command::new("sleep")
            .arg("600")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn();
        match sleep {
            Ok(child) => started.push(child),
            Err(_) => break,
        }
    }
    std::mem::forget(started);
}
