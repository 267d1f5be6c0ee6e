// Hostile: tests the grader runs (it labels the candidate's own tests) that take what the
// grading machine has.

#[test]
fn starts_a_thousand_processes() {
    let mut started = Vec::new();
    for _ in 0..1000 {
        match std::process::Command::new("sleep").arg("600").spawn() {
            Ok(child) => started.push(child),
            Err(_) => break,
        }
    }
    // Left running when the test ends.
    std::mem::forget(started);
}

#[test]
fn fills_the_memory() {
    let filled = vec![1u8; 12 << 30];
    assert_eq!(filled[filled.len() - 1], 1);
}

#[test]
fn never_ends() {
    loop {
        std::hint::spin_loop();
    }
}
