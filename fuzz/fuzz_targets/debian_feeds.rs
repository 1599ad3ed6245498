//! Debian feeds (security-tracker JSON, DSA/DLA `list` text, Debian OVAL):
//! advisories plus skip reasons, never a panic, whatever the bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_vulndb::ingest;

fuzz_target!(|data: &[u8]| {
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) {
        if ingest::debian::looks_like_tracker(&value) {
            let _ = ingest::debian::from_tracker(value);
        }
    }
    let text = String::from_utf8_lossy(data);
    let _ = ingest::debian::looks_like_list(&text);
    let _ = ingest::debian::from_list(&text);
    let _ = ingest::oval::looks_like(&text);
    let _ = ingest::oval::from_text(&text);
    let _ = ingest::debian::ecosystem_for_codename(&text);
    // Through the dispatch too, under the names `db update` meets.
    let _ = ingest::load_bytes("debian.json", data);
    let _ = ingest::load_bytes("DSA/list", data);
    let _ = ingest::load_bytes("oval-definitions-bookworm.xml", data);
});
