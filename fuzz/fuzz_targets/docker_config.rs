//! Docker `config.json` credentials (`auths` entries: base64 `auth`, or
//! `username`/`password`): credentials, none or an error, never a panic.
//! Credential helpers are never run by this reader, whatever the file names.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_source::parse;

fuzz_target!(|data: &[u8]| {
    for registry in ["docker.io", "ghcr.io", "127.0.0.1:5000"] {
        let _ = parse::docker_config_auths(registry, data);
    }
});
