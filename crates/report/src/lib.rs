//! Portcullis stage: report (work in progress).
