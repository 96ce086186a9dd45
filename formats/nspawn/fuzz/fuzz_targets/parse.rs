//! .nspawn files next to an image are untrusted: parsing must never panic, and whatever it
//! accepts must survive a round trip through `to_text` unchanged (the writer quotes and
//! escapes correctly), and stripping the privileged keys must leave none behind.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wharf_nspawn_settings::{parse, MAX_INPUT};

fuzz_target!(|data: &[u8]| {
    let Ok((settings, _warnings)) = parse(data) else {
        return;
    };
    let text = settings.to_text();
    if text.len() <= MAX_INPUT {
        let (again, _) = parse(text.as_bytes())
            .unwrap_or_else(|e| panic!("to_text output refused: {e}\n{text}"));
        assert_eq!(again, settings, "round trip changed the settings\n{text}");
        assert_eq!(again.to_text(), text);
    }
    let mut stripped = settings.clone();
    let names = stripped.strip_privileged();
    assert_eq!(names, settings.privileged_keys());
    assert!(stripped.privileged_keys().is_empty());
});
