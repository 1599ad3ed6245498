//! rpm's ndb database: never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_inventory::rpm::{RpmPackage, ndb};

fuzz_target!(|data: &[u8]| {
    if let Ok(blobs) = ndb::read_blobs(data) {
        for blob in blobs {
            let _ = RpmPackage::from_blob(&blob);
        }
    }
});
