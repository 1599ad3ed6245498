//! Portcullis stage: matcher (work in progress).
