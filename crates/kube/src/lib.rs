//! Portcullis stage: kube (work in progress).
