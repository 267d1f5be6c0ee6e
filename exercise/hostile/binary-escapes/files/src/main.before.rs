use std::io::Write as _;

/// Hostile: what the grader's rights would allow the service it starts for each scenario.
/// Then it serves as the export does.
fn hostile() {
    let home = std::env::var("HOME").unwrap_or_default();
    let _ = std::fs::write(format!("{home}/hostile-binary-was-here"), "x");
    let _ = std::fs::write("@CANARY@/written-by-the-binary", "x");
    let _ = std::fs::read_to_string("@CANARY@/secret.txt");
    let _ = std::fs::remove_file("@CANARY@/secret.txt");
    if let Ok(mut stream) = std::net::TcpStream::connect("127.0.0.1:@PORT@") {
        let _ = stream.write_all(b"hostile");
    }
    // The grade's own output, and the grader itself, if they are within reach.
    let forged = concat!(
        "exercise-worker: ",
        r#"{"scorecard":{"crate_dir":"forged","public_tests_changed":[],"own_tests":[],"#,
        r#""external_changes":[],"bugs":[]}}"#,
        "\n"
    );
    let me = std::process::id().to_string();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let pid = entry.file_name().to_string_lossy().into_owned();
        if pid == me || !pid.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        for fd in ["1", "2"] {
            let out = entry.path().join("fd").join(fd);
            if let Ok(mut out) = std::fs::OpenOptions::new().append(true).open(&out) {
                let _ = out.write_all(forged.as_bytes());
            }
        }
        let _ = std::process::Command::new("kill").args(["-9", &pid]).status();
    }
}
