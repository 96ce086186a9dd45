//! Tar streams come from untrusted downloads: unpacking arbitrary bytes must never panic and
//! never create anything outside the root (checked through a sentinel directory beside it).
//! Writes to a temporary directory per input, so run it as root on a local filesystem.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wharf_tar::{unpack, UnpackOptions};

fuzz_target!(|data: &[u8]| {
    let tmp = tempfile::tempdir().expect("temp dir");
    let root = tmp.path().join("root");
    let sentinel = tmp.path().join("sentinel");
    std::fs::create_dir(&root).expect("root");
    std::fs::create_dir(&sentinel).expect("sentinel");
    let opts = UnpackOptions {
        size_max: Some(64 << 20),
        ..Default::default()
    };
    if let Err(e) = unpack(&mut &data[..], &root, &opts) {
        assert!(!e.to_string().contains('\n'), "multi-line error: {e}");
    }
    let _ = wharf_tar::hoist_single_os_dir(&root);
    assert_eq!(
        std::fs::read_dir(&sentinel).expect("sentinel").count(),
        0,
        "wrote outside"
    );
    assert_eq!(
        std::fs::read_dir(tmp.path()).expect("tmp").count(),
        2,
        "wrote outside"
    );
});
