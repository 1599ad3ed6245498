//! Portcullis stage: vulndb (work in progress).
