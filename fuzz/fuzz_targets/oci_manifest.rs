//! OCI / Docker image manifests, indexes and configs: a parsed document or
//! an error, never a panic, whatever the bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_source::parse;

fuzz_target!(|data: &[u8]| {
    let _ = parse::manifest(data, None);
    let _ = parse::manifest(data, Some("application/vnd.oci.image.index.v1+json"));
    let _ = parse::image_config(data);
    // One input as both documents, and split in two at the first NUL byte,
    // so that the manifest/config pairing (layers vs diff_ids) is reached.
    let (manifest, config) = match data.iter().position(|&b| b == 0) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, data),
    };
    let _ = parse::layers(manifest, config);
});
