//! Layers: from layer blobs to the few files the analyzers asked for.
//!
//! Second stage of the pipeline (source → **layers** → inventory → …). Layer
//! blobs are decompressed as streams (gzip, zstd, plain tar), walked entry by
//! entry, and only paths accepted by a [`PathFilter`] are kept in memory.
//! Whiteouts and opaque directories are applied across layers, so the
//! resulting [`FileSet`] is the merged view of the image's final filesystem.

mod fileset;

pub use fileset::{File, FileSet, PathFilter};
