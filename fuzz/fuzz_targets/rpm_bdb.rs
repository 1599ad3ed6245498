//! rpm's Berkeley DB hash database: never panic, never loop.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_inventory::rpm::{RpmPackage, bdb};

fuzz_target!(|data: &[u8]| {
    if let Ok(blobs) = bdb::read_blobs(data) {
        for blob in blobs {
            let _ = RpmPackage::from_blob(&blob);
        }
    }
});
