//! Portcullis stage: policy (work in progress).
