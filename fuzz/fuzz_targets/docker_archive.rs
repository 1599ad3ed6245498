//! Docker archives (`docker save` tarballs): the tar index, `manifest.json`,
//! the config and member links, read through the public `open` as the CLI
//! does. An image or an error, never a panic, whatever the bytes.
#![no_main]

use std::path::PathBuf;

use libfuzzer_sys::fuzz_target;
use portcullis_source::{ImageRef, Opened, SourceOptions, open};

/// One scratch file per fuzzing process: `open` reads archives from disk.
fn scratch() -> PathBuf {
    std::env::temp_dir().join(format!(
        "portcullis-fuzz-docker-archive-{}.tar",
        std::process::id()
    ))
}

fuzz_target!(|data: &[u8]| {
    let path = scratch();
    if std::fs::write(&path, data).is_err() {
        return;
    }
    let options = SourceOptions {
        cache_dir: Some(std::env::temp_dir().join("portcullis-fuzz-cache")),
        ..SourceOptions::default()
    };
    for tag in [None, Some("fuzz:latest".to_owned())] {
        let reference = ImageRef::DockerArchive {
            path: path.clone(),
            tag,
        };
        if let Ok(Opened::Image(image)) = open(&reference, &options) {
            for layer in &image.layers {
                let _ = image.open_layer(layer);
            }
        }
    }
});
