//! An AdmissionReview body from anyone who can reach the webhook port: never
//! panic; a body that parses is judged on both endpoints, the answer echoes
//! its uid and serializes to an AdmissionReview that parses back.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use portcullis_admission::decide::{Admission, AdmissionSettings, MutateSettings};
use portcullis_admission::metrics::Endpoint;
use portcullis_admission::review::parse_review;

fn admission() -> &'static Admission {
    static ADMISSION: OnceLock<Admission> = OnceLock::new();
    ADMISSION.get_or_init(|| {
        let settings = AdmissionSettings {
            mutate: MutateSettings {
                pin_digests: true,
                default_seccomp: true,
            },
            ..AdmissionSettings::default()
        };
        Admission::new(settings, None, None)
    })
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(request) = parse_review(data) else { return };
    assert!(!request.uid.is_empty());
    for endpoint in [Endpoint::Validate, Endpoint::Mutate] {
        let reviewed = runtime().block_on(admission().decide(endpoint, request.clone()));
        assert_eq!(reviewed.response.uid, request.uid);
        if endpoint == Endpoint::Mutate {
            assert!(reviewed.response.allowed, "mutation never refuses");
        }
        let json = reviewed.response.to_review_json();
        let back: serde_json::Value = serde_json::from_slice(&json).expect("response is JSON");
        assert_eq!(back["response"]["uid"].as_str(), Some(request.uid.as_str()));
    }
});
