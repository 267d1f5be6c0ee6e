// Hostile: the grader's repository is on this machine, and so is the grade's own output.
// Neither may be within reach of the candidate's build.
use std::io::Write;

fn main() {
    for reference in ["@ROOT@/variants", "@ROOT@/exercise/src", "@ROOT@/.git"] {
        if std::fs::read_dir(reference).is_ok_and(|mut d| d.next().is_some()) {
            panic!("the grader's {reference} is readable from a build script");
        }
    }
    let forged = concat!(
        "exercise-worker: ",
        r#"{"scorecard":{"crate_dir":"forged","public_tests_changed":[],"own_tests":[],"#,
        r#""external_changes":[],"bugs":[]}}"#,
        "\n"
    );
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        for fd in ["1", "2"] {
            let out = entry.path().join("fd").join(fd);
            if let Ok(mut out) = std::fs::OpenOptions::new().append(true).open(&out) {
                let _ = out.write_all(forged.as_bytes());
            }
        }
    }
}
