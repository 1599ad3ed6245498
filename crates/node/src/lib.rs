//! Portcullis stage: node (work in progress).
