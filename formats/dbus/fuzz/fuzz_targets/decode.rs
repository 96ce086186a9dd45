#![no_main]
//! Any bytes: `frame_len` and `decode` return an error or a message, never panic; a decoded
//! message re-encodes and decodes to the same message.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = wharf_dbus::frame_len(data);
    if let Ok(m) = wharf_dbus::Message::decode(data) {
        let again = wharf_dbus::Message::decode(&m.encode()).expect("re-decode");
        assert_eq!(again, m);
    }
});
