//! OSV records (JSON and YAML) from a feed: never panic, whatever the bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_vulndb::ingest;

fuzz_target!(|data: &[u8]| {
    let _ = ingest::osv::parse_json(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = ingest::osv::parse_yaml(text);
    }
    // The dispatcher too: zip, bzip2, OVAL, DSA list, tracker JSON.
    let _ = ingest::load_bytes("feed.json", data);
    let _ = ingest::load_bytes("feed.zip", data);
});
