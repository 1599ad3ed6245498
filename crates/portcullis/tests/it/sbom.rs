//! `portcullis sbom` end to end.
