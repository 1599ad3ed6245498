//! Portcullis stage: admission (work in progress).
