//! Registry `WWW-Authenticate` challenges: a scheme with parameters or
//! `None`, never a panic, whatever the header.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_source::parse;

fuzz_target!(|data: &[u8]| {
    let header = String::from_utf8_lossy(data);
    if let Some((scheme, _params)) = parse::auth_challenge(&header) {
        assert!(!scheme.is_empty());
    }
});
