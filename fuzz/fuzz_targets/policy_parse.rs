//! Policy files: parsing and validation never panic; a policy that validates
//! explains itself as YAML that validates again to the same effect.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_policy::Policy;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(policy) = Policy::from_yaml(text, "fuzz.yaml") {
        let explained = policy.to_yaml();
        let again = Policy::from_yaml(&explained, "explained.yaml").expect("explain output validates");
        assert_eq!(again.to_yaml(), explained);
        let _ = policy.check_settings_for("default");
    }
});
