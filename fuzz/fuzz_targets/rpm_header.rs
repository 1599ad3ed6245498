//! rpm header blobs: never panic, whether read for identity or file lists.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_inventory::rpm::{self, header::Header};

fuzz_target!(|data: &[u8]| {
    if let Ok(header) = Header::parse(data) {
        if let Ok(package) = rpm::RpmPackage::from_header(&header) {
            let _ = package.evr();
            let _ = package.source();
        }
        let _ = rpm::installed_files(&header);
    }
});
