/// Hostile: memory far past the sandbox's cap, at every start, before serving as the export
/// does.
fn hostile() {
    let filled = vec![1u8; 12 << 30];
    assert_eq!(filled[filled.len() - 1], 1);
}
