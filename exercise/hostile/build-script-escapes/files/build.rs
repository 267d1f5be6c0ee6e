// Hostile: what a build script could do with the grader's rights. Each attempt must fail or
// land in the sandbox's own throwaway directories; the build itself goes on.
use std::io::Write;

fn main() {
    let home = std::env::var("HOME").unwrap_or_default();
    let _ = std::fs::write(format!("{home}/hostile-was-here"), "x");
    let _ = std::fs::write("@CANARY@/written-by-a-build-script", "x");
    let _ = std::fs::remove_file("@CANARY@/secret.txt");
    if let Ok(secret) = std::fs::read_to_string("@CANARY@/secret.txt") {
        panic!("read a file outside the sandbox: {secret}");
    }
    if let Ok(mut stream) = std::net::TcpStream::connect("127.0.0.1:@PORT@") {
        let _ = stream.write_all(b"hostile");
        panic!("connected to the grading machine's 127.0.0.1:@PORT@");
    }
}
