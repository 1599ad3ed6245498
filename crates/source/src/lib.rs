//! Portcullis stage: source (work in progress).
