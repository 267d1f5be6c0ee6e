// Hostile: a test the grader runs (it labels the candidate's own tests) trying what the
// grader's rights would allow.
use std::io::Write;

#[test]
fn escapes_the_crate() {
    let home = std::env::var("HOME").unwrap_or_default();
    let _ = std::fs::write(format!("{home}/hostile-test-was-here"), "x");
    let _ = std::fs::write("@CANARY@/written-by-a-test", "x");
    let _ = std::fs::remove_file("@CANARY@/secret.txt");
    if let Ok(mut stream) = std::net::TcpStream::connect("127.0.0.1:@PORT@") {
        let _ = stream.write_all(b"hostile");
    }
}
