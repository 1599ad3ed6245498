//! Alpine secdb documents (JSON and YAML) and Debian feeds: never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_vulndb::ingest;

fuzz_target!(|data: &[u8]| {
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) {
        let _ = ingest::alpine::from_value(value.clone());
        let _ = ingest::debian::from_tracker(value);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = ingest::alpine::from_yaml(text);
        let _ = ingest::debian::from_list(text);
        let _ = ingest::oval::from_text(text);
    }
});
