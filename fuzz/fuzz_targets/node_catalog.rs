//! Node audit catalogs (`--checks FILE`): any text either loads into a valid
//! catalog merged over the built-in one, or is a clear error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match portcullis_node::Catalog::builtin_with("fuzz.yaml", text) {
        Ok(catalog) => {
            for check in &catalog.checks {
                assert!(!check.id.is_empty() && !check.title.is_empty());
            }
        }
        Err(error) => assert!(!error.to_string().is_empty()),
    }
    // Configuration documents of each format go through the same tree.
    for format in [
        portcullis_node::config::ConfigFormat::Yaml,
        portcullis_node::config::ConfigFormat::Json,
        portcullis_node::config::ConfigFormat::Toml,
    ] {
        let _ = portcullis_node::config::parse_document(format, text);
    }
});
