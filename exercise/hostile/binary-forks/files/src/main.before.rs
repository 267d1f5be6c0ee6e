/// Hostile: at the service's first start in a grade (the sandbox's `/tmp` is the grade's), a
/// thousand processes, left running; it then serves as the export does.
fn hostile() {
    let first = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(std::env::temp_dir().join("hostile-binary-forked"));
    if first.is_err() {
        return;
    }
    let mut started = Vec::new();
    for _ in 0..1000 {
        match std::process::Command::new("sleep").arg("600").spawn() {
            Ok(child) => started.push(child),
            Err(_) => break,
        }
    }
    std::mem::forget(started);
}
