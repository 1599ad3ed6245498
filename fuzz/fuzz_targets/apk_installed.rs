//! apk's `installed` database: never panic, and every record returned has a
//! name and a version.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_inventory::apk;

fuzz_target!(|data: &[u8]| {
    if let Ok(records) = apk::parse_installed(data) {
        for record in records {
            assert!(!record.name.is_empty() && !record.version.is_empty());
            if let Some(license) = &record.license {
                let _ = apk::split_license(license);
            }
        }
    }
});
