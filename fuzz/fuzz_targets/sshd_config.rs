//! sshd_config parsing: hostile configuration text never panics, and the
//! effective view is bounded by the input.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let config = portcullis_node::sshd::parse_text("/etc/ssh/sshd_config", &text);
    assert!(config.settings.len() <= text.lines().count());
    for setting in config.settings.values() {
        assert!(setting.origin.starts_with("/etc/ssh/sshd_config:"));
    }
});
