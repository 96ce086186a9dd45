//! os-release bytes come from untrusted images: parsing must never panic, and every value it
//! returns must be derivable from the input (keys are [A-Za-z0-9_]+).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let pairs = wharf_os_release::parse(data);
    for (k, _) in &pairs {
        assert!(!k.is_empty() && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'));
    }
    let _ = wharf_os_release::pretty_name(&pairs);
});
