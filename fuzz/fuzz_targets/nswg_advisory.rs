//! Node.js Security WG advisories and node-semver range expressions: an
//! advisory or a reason, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_vulndb::ingest;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = ingest::nswg::ranges_of(text);
    }
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) {
        let _ = ingest::nswg::from_value(value, "vuln/npm/1.json");
    }
    let _ = ingest::load_bytes("vuln/npm/1.json", data);
});
