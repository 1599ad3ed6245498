//! Version comparison in every scheme: never panic, and the total orders
//! (dpkg, rpm, apk, Maven) stay antisymmetric.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_vulndb::version::{Scheme, apk, rubygems};

const SCHEMES: [Scheme; 9] = [
    Scheme::Dpkg,
    Scheme::Apk,
    Scheme::Rpm,
    Scheme::Pep440,
    Scheme::Npm,
    Scheme::SemVer,
    Scheme::Go,
    Scheme::Maven,
    Scheme::RubyGems,
];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (left, right) = text.split_once('\n').unwrap_or((text, ""));
    for scheme in SCHEMES {
        let forward = scheme.compare(left, right);
        let backward = scheme.compare(right, left);
        if matches!(scheme, Scheme::Dpkg | Scheme::Rpm | Scheme::Maven)
            && let (Ok(f), Ok(b)) = (forward, backward)
        {
            assert_eq!(f, b.reverse(), "{scheme:?}: {left:?} vs {right:?}");
        }
    }
    let _ = apk::satisfies(left, "<~", right);
    let _ = rubygems::satisfies(left, right);
});
