//! Kubernetes manifest text: loading never panics, every workload found can
//! be evaluated at every level, and every position reported lies inside the
//! text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_kube::{CheckSettings, PodSecurity, evaluate, load_documents};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    // YAML breaks lines at \n, \r\n and a lone \r.
    let breaks = text.matches('\n').count() + text.matches('\r').count() - text.matches("\r\n").count();
    let lines = u32::try_from(breaks).unwrap_or(u32::MAX).saturating_add(1);
    let loaded = load_documents(text, "fuzz.yaml");
    for error in &loaded.errors {
        if let Some(position) = error.position {
            assert!(position.line >= 1 && position.line <= lines, "{error}");
        }
    }
    for level in ["privileged", "baseline:v1.0", "restricted:v1.24", "restricted"] {
        let mut settings = CheckSettings::default();
        settings.pod_security = level.parse::<PodSecurity>().expect("valid level");
        for workload in &loaded.workloads {
            for violation in evaluate(workload, &settings) {
                assert!(!violation.message.is_empty());
                if let Some(position) = violation.position {
                    assert!(position.line >= 1 && position.line <= lines, "{violation:?}");
                }
            }
        }
    }
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) {
        if let Ok(workload) = portcullis_kube::Workload::from_json(value) {
            let _ = evaluate(&workload, &CheckSettings::default());
        }
    }
});
