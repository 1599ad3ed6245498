//! Content digests and the reader that verifies a blob while it is read.

use std::fmt;
use std::io::{self, Read};

use sha2::{Digest as _, Sha256};

use crate::error::BlobError;

/// A `sha256:<64 lowercase hex>` content digest (the only algorithm images
/// use in practice; others are refused rather than trusted unverified).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest(String);

impl Digest {
    /// Parses `sha256:<hex>`.
    pub fn parse(text: &str) -> Result<Digest, String> {
        let Some(hex) = text.strip_prefix("sha256:") else {
            return Err(format!(
                "unsupported digest {:?} (only sha256 is accepted)",
                truncate(text)
            ));
        };
        if hex.len() != 64
            || !hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(format!("malformed sha256 digest {:?}", truncate(text)));
        }
        Ok(Digest(text.to_owned()))
    }

    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Digest {
        Digest(format!("sha256:{}", hex::encode(Sha256::digest(bytes))))
    }

    /// The 64 hex characters (safe as a file name).
    pub fn hex(&self) -> &str {
        self.0.strip_prefix("sha256:").unwrap_or(&self.0)
    }

    /// The full `sha256:<hex>` text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Shortens untrusted text before it goes into an error message.
pub(crate) fn truncate(text: &str) -> String {
    const MAX: usize = 120;
    if text.len() <= MAX {
        return text.to_owned();
    }
    let mut end = MAX;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// Reads a blob and checks, as the bytes go by, that it is exactly the blob
/// the manifest promised: never more bytes than its declared size, and at EOF
/// the declared size and the sha256 digest.
///
/// A failure is an [`io::Error`] whose inner error is a [`BlobError`]
/// (retrieve it with [`BlobError::from_io`]), so it travels unchanged through
/// decompressors and tar readers stacked on top.
pub struct VerifiedReader<R> {
    inner: R,
    hasher: Sha256,
    expected: Digest,
    expected_size: Option<u64>,
    seen: u64,
    image: String,
    verified: bool,
}

impl<R: Read> VerifiedReader<R> {
    /// Wraps `inner`, which must yield the blob `expected` of `expected_size`
    /// bytes (when known) belonging to `image` (named in errors).
    pub fn new(inner: R, image: &str, expected: Digest, expected_size: Option<u64>) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            expected,
            expected_size,
            seen: 0,
            image: image.to_owned(),
            verified: false,
        }
    }

    /// The digest being verified.
    pub fn digest(&self) -> &Digest {
        &self.expected
    }

    /// Reads whatever is left (a tar reader stops at the end-of-archive
    /// marker, a gzip reader at its trailer) and verifies the whole blob.
    pub fn finish(mut self) -> Result<(), BlobError> {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match self.read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(_) => {}
                Err(e) => return Err(BlobError::from_io(e, &self.image, &self.expected)),
            }
        }
    }

    fn fail(&self, error: BlobError) -> io::Error {
        io::Error::other(error)
    }

    fn check_at_eof(&mut self) -> io::Result<()> {
        if self.verified {
            return Ok(());
        }
        if let Some(size) = self.expected_size
            && size != self.seen
        {
            return Err(self.fail(BlobError::SizeMismatch {
                image: self.image.clone(),
                blob: self.expected.clone(),
                expected: size,
                actual: self.seen,
            }));
        }
        let actual = format!("sha256:{}", hex::encode(self.hasher.clone().finalize()));
        if actual != self.expected.as_str() {
            return Err(self.fail(BlobError::DigestMismatch {
                image: self.image.clone(),
                blob: self.expected.clone(),
                actual,
            }));
        }
        self.verified = true;
        Ok(())
    }
}

impl<R: Read> Read for VerifiedReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let n = match self.inner.read(buf) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Err(e),
            Err(e) => {
                return Err(self.fail(BlobError::Read {
                    image: self.image.clone(),
                    blob: self.expected.clone(),
                    source: e,
                }));
            }
        };
        if n == 0 {
            self.check_at_eof()?;
            return Ok(0);
        }
        self.seen += n as u64;
        if let Some(size) = self.expected_size
            && self.seen > size
        {
            return Err(self.fail(BlobError::SizeMismatch {
                image: self.image.clone(),
                blob: self.expected.clone(),
                expected: size,
                actual: self.seen,
            }));
        }
        let chunk = buf.get(..n).unwrap_or(buf);
        self.hasher.update(chunk);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(mut r: impl Read) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        r.read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn accepts_the_promised_blob() {
        let data = b"hello layer".to_vec();
        let r = VerifiedReader::new(&data[..], "img", Digest::of(&data), Some(data.len() as u64));
        assert_eq!(read_all(r).ok(), Some(data));
    }

    #[test]
    fn digest_mismatch_is_typed() {
        let data = b"hello layer";
        let wrong = Digest::of(b"something else");
        let err = read_all(VerifiedReader::new(&data[..], "img", wrong.clone(), None))
            .expect_err("mismatch must fail");
        match BlobError::from_io(err, "img", &wrong) {
            BlobError::DigestMismatch {
                image,
                blob,
                actual,
            } => {
                assert_eq!(image, "img");
                assert_eq!(blob, wrong);
                assert_eq!(actual, Digest::of(data).to_string());
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn size_lies_are_caught_both_ways() {
        let data = b"0123456789";
        let d = Digest::of(data);
        let longer = read_all(VerifiedReader::new(&data[..], "i", d.clone(), Some(4)));
        assert!(matches!(
            longer.map_err(|e| BlobError::from_io(e, "i", &d)),
            Err(BlobError::SizeMismatch { expected: 4, .. })
        ));
        let shorter = read_all(VerifiedReader::new(&data[..], "i", d.clone(), Some(11)));
        assert!(matches!(
            shorter.map_err(|e| BlobError::from_io(e, "i", &d)),
            Err(BlobError::SizeMismatch {
                expected: 11,
                actual: 10,
                ..
            })
        ));
    }

    #[test]
    fn finish_verifies_the_unread_rest() {
        let data = b"abcdef";
        let mut r = VerifiedReader::new(&data[..], "i", Digest::of(b"abcdeX"), None);
        let mut first = [0u8; 3];
        assert!(r.read_exact(&mut first).is_ok());
        assert!(matches!(r.finish(), Err(BlobError::DigestMismatch { .. })));
    }

    #[test]
    fn digest_parsing() {
        assert!(Digest::parse(&format!("sha256:{}", "0".repeat(64))).is_ok());
        assert!(Digest::parse(&format!("sha256:{}", "A".repeat(64))).is_err());
        assert!(Digest::parse("sha256:../../etc/passwd").is_err());
        assert!(Digest::parse(&format!("sha512:{}", "0".repeat(128))).is_err());
    }
}
