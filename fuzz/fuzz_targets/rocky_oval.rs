//! Rocky Linux (Red Hat–style) OVAL documents: an advisory list or an
//! error, never a panic; every read definition is an advisory or a skip.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_vulndb::ingest;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(read) = ingest::rpm_oval::from_text(&text) {
        assert!(read.advisories.len() <= read.definitions);
    }
    // Through the dispatch too, as `db update` reads a file.
    let _ = ingest::load_bytes("fuzz.xml", data);
});
