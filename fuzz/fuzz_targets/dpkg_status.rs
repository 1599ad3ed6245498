//! dpkg status files and Debian copyright files: never panic, and every
//! record returned has a name and a version.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_inventory::dpkg;

fuzz_target!(|data: &[u8]| {
    if let Ok(records) = dpkg::parse_status(data) {
        for record in records {
            assert!(!record.package.is_empty() && !record.version.is_empty());
            let _ = record.state.has_files(true);
        }
    }
    let _ = dpkg::copyright_licenses(data);
});
