//! rpm databases, read by hand: sqlite (`rpmdb.sqlite`, rpm ≥ 4.16),
//! Berkeley DB hash (`Packages`, RHEL ≤ 8, CentOS, Amazon Linux 2) and ndb
//! (`Packages.db`, SUSE). Each yields header blobs; [`header`] decodes them.

pub mod bdb;
pub mod header;
pub mod ndb;
pub mod sqlite;

use crate::error::ParseError;
use header::{Header, tag};

/// Directories rpm keeps its database in: the classic one, the one Fedora
/// and openSUSE moved to, and SUSE's older one.
pub(crate) const DB_DIRS: [&str; 3] = ["/var/lib/rpm", "/usr/lib/sysimage/rpm", "/usr/share/rpm"];

/// The three database formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Sqlite,
    BerkeleyDb,
    Ndb,
}

impl Format {
    /// The format a database file name stands for.
    pub fn from_file_name(name: &str) -> Option<Format> {
        match name {
            "rpmdb.sqlite" => Some(Format::Sqlite),
            "Packages" => Some(Format::BerkeleyDb),
            "Packages.db" => Some(Format::Ndb),
            _ => None,
        }
    }

    /// Name used in errors.
    pub fn label(self) -> &'static str {
        match self {
            Format::Sqlite => "rpm sqlite",
            Format::BerkeleyDb => "rpm Berkeley DB",
            Format::Ndb => "rpm ndb",
        }
    }

    /// Extracts the header blobs of every installed package.
    ///
    /// # Errors
    /// When the database is corrupt or not of this format.
    pub fn blobs(self, data: &[u8], wal: Option<&[u8]>) -> Result<Vec<Vec<u8>>, ParseError> {
        match self {
            Format::Sqlite => sqlite::read_blobs(data, wal),
            Format::BerkeleyDb => bdb::read_blobs(data),
            Format::Ndb => ndb::read_blobs(data),
        }
    }
}

/// Whether `path` is an rpm database file inventory reads.
pub(crate) fn is_db_file(path: &str) -> bool {
    DB_DIRS.iter().any(|dir| {
        path.strip_prefix(dir)
            .and_then(|rest| rest.strip_prefix('/'))
            .is_some_and(|name| {
                Format::from_file_name(name).is_some() || name == sqlite::WAL_FILE_NAME
            })
    })
}

/// The identity of one installed rpm, from its header.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RpmPackage {
    pub name: String,
    pub epoch: Option<u64>,
    pub version: String,
    pub release: Option<String>,
    pub arch: Option<String>,
    /// `SOURCERPM`, e.g. `util-linux-2.32.1-42.el8_8.src.rpm`.
    pub source_rpm: Option<String>,
    pub license: Option<String>,
    pub vendor: Option<String>,
    pub summary: Option<String>,
    pub size: Option<u64>,
    /// `SIGMD5` as lowercase hex.
    pub sig_md5: Option<String>,
    pub modularity_label: Option<String>,
    pub install_time: Option<u64>,
}

impl RpmPackage {
    /// Decodes the identity fields of a header blob.
    ///
    /// # Errors
    /// When the blob is malformed or lacks `NAME` or `VERSION`.
    pub fn from_blob(blob: &[u8]) -> Result<Self, ParseError> {
        Self::from_header(&Header::parse(blob)?)
    }

    /// Decodes the identity fields of a parsed header.
    ///
    /// # Errors
    /// When `NAME` or `VERSION` is missing or a field has the wrong type.
    pub fn from_header(header: &Header<'_>) -> Result<Self, ParseError> {
        let owned = |tag: u32| -> Result<Option<String>, ParseError> {
            Ok(header
                .string(tag)?
                .filter(|s| !s.is_empty())
                .map(str::to_owned))
        };
        let missing =
            |what: &str| ParseError::binary("rpm header", 0usize, format!("no {what} tag"));
        Ok(RpmPackage {
            name: owned(tag::NAME)?.ok_or_else(|| missing("NAME"))?,
            epoch: header.integer(tag::EPOCH)?,
            version: owned(tag::VERSION)?.ok_or_else(|| missing("VERSION"))?,
            release: owned(tag::RELEASE)?,
            arch: owned(tag::ARCH)?,
            source_rpm: owned(tag::SOURCERPM)?,
            license: owned(tag::LICENSE)?,
            vendor: owned(tag::VENDOR)?,
            summary: owned(tag::SUMMARY)?,
            size: header.integer(tag::SIZE)?,
            sig_md5: header.binary(tag::SIGMD5)?.map(hex),
            modularity_label: owned(tag::MODULARITYLABEL)?,
            install_time: header.integer(tag::INSTALLTIME)?,
        })
    }

    /// `[epoch:]version[-release]`, epoch only when the header has one.
    pub fn evr(&self) -> String {
        let mut out = String::with_capacity(self.version.len() + 24);
        if let Some(epoch) = self.epoch {
            out.push_str(&epoch.to_string());
            out.push(':');
        }
        out.push_str(&self.version);
        if let Some(release) = &self.release {
            out.push('-');
            out.push_str(release);
        }
        out
    }

    /// Source package name and `version-release` from `SOURCERPM`
    /// (`name-version-release.src.rpm`).
    pub fn source(&self) -> Option<(&str, &str)> {
        split_source_rpm(self.source_rpm.as_deref()?)
    }
}

/// Splits `name-version-release.src.rpm` into (`name`, `version-release`).
pub fn split_source_rpm(file: &str) -> Option<(&str, &str)> {
    let stem = file
        .strip_suffix(".src.rpm")
        .or_else(|| file.strip_suffix(".nosrc.rpm"))
        .unwrap_or(file);
    let release_dash = stem.rfind('-')?;
    let version_dash = stem[..release_dash].rfind('-')?;
    let (name, version_release) = (&stem[..version_dash], &stem[version_dash + 1..]);
    (!name.is_empty() && !version_release.is_empty()).then_some((name, version_release))
}

/// One file an rpm installed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstalledFile {
    pub path: String,
    pub mode: u64,
    pub digest: String,
    pub size: u64,
    pub username: String,
    pub groupname: String,
    pub flags: u64,
}

/// The files a package installed (`DIRNAMES[DIRINDEXES[i]] + BASENAMES[i]`),
/// with their attributes. Not needed for the inventory itself; it proves the
/// header reader on array tags and serves file-ownership checks.
///
/// # Errors
/// When the file arrays disagree in length or point outside `DIRNAMES`.
pub fn installed_files(header: &Header<'_>) -> Result<Vec<InstalledFile>, ParseError> {
    let basenames = header.string_array(tag::BASENAMES)?;
    let dirnames = header.string_array(tag::DIRNAMES)?;
    let dir_indexes = header.integers(tag::DIRINDEXES)?;
    let mut sizes = header.integers(tag::FILESIZES)?;
    if sizes.is_empty() {
        sizes = header.integers(tag::LONGFILESIZES)?;
    }
    let modes = header.integers(tag::FILEMODES)?;
    let digests = header.string_array(tag::FILEDIGESTS)?;
    let flags = header.integers(tag::FILEFLAGS)?;
    let users = header.string_array(tag::FILEUSERNAME)?;
    let groups = header.string_array(tag::FILEGROUPNAME)?;
    if dir_indexes.len() != basenames.len() {
        return Err(ParseError::binary(
            "rpm header",
            0usize,
            "DIRINDEXES and BASENAMES differ in length",
        ));
    }
    let mut files = Vec::with_capacity(basenames.len());
    for (i, (base, &dir_index)) in basenames.iter().zip(&dir_indexes).enumerate() {
        let dir = usize::try_from(dir_index)
            .ok()
            .and_then(|d| dirnames.get(d))
            .ok_or_else(|| {
                ParseError::binary(
                    "rpm header",
                    0usize,
                    format!("file {i}: directory index {dir_index} out of range"),
                )
            })?;
        files.push(InstalledFile {
            path: format!("{dir}{base}"),
            mode: modes.get(i).copied().unwrap_or_default(),
            digest: digests.get(i).map(|d| (*d).to_owned()).unwrap_or_default(),
            size: sizes.get(i).copied().unwrap_or_default(),
            username: users.get(i).map(|d| (*d).to_owned()).unwrap_or_default(),
            groupname: groups.get(i).map(|d| (*d).to_owned()).unwrap_or_default(),
            flags: flags.get(i).copied().unwrap_or_default(),
        });
    }
    Ok(files)
}

/// The `N` bytes at offset `at`, or `None` when they run past the end (every
/// offset in these databases comes from the file itself).
fn bytes_at<const N: usize>(data: &[u8], at: usize) -> Option<[u8; N]> {
    data.get(at..at.checked_add(N)?)?.try_into().ok()
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    use crate::test_fixtures;

    /// A go-rpmdb fixture.
    fn read(rel: &str) -> Vec<u8> {
        test_fixtures::read(&format!("go-rpmdb/{rel}"))
    }

    fn json(rel: &str) -> Value {
        test_fixtures::json(&format!("go-rpmdb/{rel}"))
    }

    fn packages(format: Format, rel: &str) -> Vec<RpmPackage> {
        let blobs = format.blobs(&read(rel), None).unwrap();
        blobs
            .iter()
            .map(|b| RpmPackage::from_blob(b).unwrap())
            .collect()
    }

    /// Compares the identity fields go-rpmdb's lists give, for every package.
    fn assert_same_list(got: &[RpmPackage], want: &Value) {
        let want = want.as_array().unwrap();
        assert_eq!(got.len(), want.len());
        let key = |name: &str, arch: Option<&str>| format!("{name}.{}", arch.unwrap_or(""));
        let mut got: Vec<&RpmPackage> = got.iter().collect();
        got.sort_by_key(|p| key(&p.name, p.arch.as_deref()));
        let mut want: Vec<&Value> = want.iter().collect();
        want.sort_by_key(|w| key(w["Name"].as_str().unwrap(), w["Arch"].as_str()));
        for (p, w) in got.iter().zip(want) {
            // `rpm -q --queryformat` prints `(none)` for a tag the header lacks.
            let text = |k: &str| w[k].as_str().filter(|s| !s.is_empty() && *s != "(none)");
            assert_eq!(p.name, w["Name"].as_str().unwrap());
            assert_eq!(p.epoch, w["Epoch"].as_u64(), "{}", p.name);
            assert_eq!(Some(p.version.as_str()), text("Version"), "{}", p.name);
            assert_eq!(p.release.as_deref(), text("Release"), "{}", p.name);
            assert_eq!(p.arch.as_deref(), text("Arch"), "{}", p.name);
            // gpg-pubkey headers store the text `(none)` as their source rpm.
            assert_eq!(
                p.source_rpm.as_deref().filter(|s| *s != "(none)"),
                text("SourceRpm"),
                "{}",
                p.name
            );
            assert_eq!(p.size, w["Size"].as_u64(), "{}", p.name);
            assert_eq!(p.license.as_deref(), text("License"), "{}", p.name);
            assert_eq!(p.vendor.as_deref(), text("Vendor"), "{}", p.name);
            assert_eq!(p.summary.as_deref(), text("Summary"), "{}", p.name);
            assert_eq!(p.sig_md5.as_deref(), text("SigMD5"), "{}", p.name);
            if w.get("Modularitylabel").is_some() {
                assert_eq!(
                    p.modularity_label.as_deref(),
                    text("Modularitylabel"),
                    "{}",
                    p.name
                );
            }
        }
    }

    #[test]
    fn amazonlinux2023_sqlite_equals_rpm_qa() {
        let got = packages(Format::Sqlite, "amazonlinux2023-sqlite/rpmdb.sqlite");
        assert_same_list(&got, &json("amazonlinux2023-sqlite/expected-packages.json"));
        let openssl = got.iter().find(|p| p.name == "openssl-libs").unwrap();
        assert_eq!(openssl.evr(), "1:3.0.8-1.amzn2023.0.4");
        assert_eq!(openssl.source(), Some(("openssl", "3.0.8-1.amzn2023.0.4")));
    }

    #[test]
    fn sle15_ndb_equals_go_rpmdb() {
        let got = packages(Format::Ndb, "sle15-bci-ndb/Packages.db");
        assert_same_list(&got, &json("sle15-bci-ndb/expected-packages.json"));
    }

    /// The full header records: identity, install time, digest algorithm,
    /// provides, requires and every installed file with its attributes.
    fn assert_full_record(format: Format, db: &str, expected: &str, count: usize) {
        let data = read(db);
        let blobs = format.blobs(&data, None).unwrap();
        assert_eq!(blobs.len(), count);
        let want = json(expected);
        let name = want["Name"].as_str().unwrap();
        let (header, package) = blobs
            .iter()
            .map(|b| {
                let header = Header::parse(b).unwrap();
                let package = RpmPackage::from_header(&header).unwrap();
                (header, package)
            })
            .find(|(_, p)| p.name == name)
            .unwrap();
        let mut list = want.clone();
        list["Epoch"] = Value::Null;
        assert_same_list(std::slice::from_ref(&package), &Value::Array(vec![list]));
        assert_eq!(package.install_time, want["InstallTime"].as_u64());
        assert_eq!(
            header.integer(tag::FILEDIGESTALGO).unwrap(),
            want["DigestAlgorithm"].as_u64()
        );
        let strings = |k: &str| {
            want[k]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            header.string_array(tag::PROVIDENAME).unwrap(),
            strings("Provides")
        );
        assert_eq!(
            header.string_array(tag::REQUIRENAME).unwrap(),
            strings("Requires")
        );
        let files = installed_files(&header).unwrap();
        let paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, strings("InstalledFileNames"));
        let wanted = want["InstalledFiles"].as_array().unwrap();
        assert_eq!(files.len(), wanted.len());
        for (file, w) in files.iter().zip(wanted) {
            assert_eq!(file.path, w["Path"].as_str().unwrap());
            assert_eq!(file.mode, w["Mode"].as_u64().unwrap(), "{}", file.path);
            assert_eq!(file.digest, w["Digest"].as_str().unwrap(), "{}", file.path);
            assert_eq!(file.size, w["Size"].as_u64().unwrap(), "{}", file.path);
            assert_eq!(
                file.username,
                w["Username"].as_str().unwrap(),
                "{}",
                file.path
            );
            assert_eq!(
                file.groupname,
                w["Groupname"].as_str().unwrap(),
                "{}",
                file.path
            );
            assert_eq!(file.flags, w["Flags"].as_u64().unwrap(), "{}", file.path);
        }
    }

    #[test]
    fn cbl_mariner_sqlite_curl_header() {
        assert_full_record(
            Format::Sqlite,
            "cbl-mariner-2.0-sqlite/rpmdb.sqlite",
            "cbl-mariner-2.0-sqlite/expected-package-curl.json",
            129,
        );
    }

    #[test]
    fn rhel8_berkeley_db_libuuid_header() {
        assert_full_record(
            Format::BerkeleyDb,
            "libuuid-bdb/Packages",
            "libuuid-bdb/expected-package-libuuid.json",
            1,
        );
    }

    #[test]
    fn source_rpm_names() {
        assert_eq!(
            split_source_rpm("util-linux-2.32.1-42.el8_8.src.rpm"),
            Some(("util-linux", "2.32.1-42.el8_8"))
        );
        assert_eq!(split_source_rpm("a-1-2.nosrc.rpm"), Some(("a", "1-2")));
        assert_eq!(split_source_rpm("nodash.src.rpm"), None);
        assert_eq!(split_source_rpm("-1-2.src.rpm"), None);
    }

    #[test]
    fn formats_refuse_each_other() {
        let sqlite = read("cbl-mariner-2.0-sqlite/rpmdb.sqlite");
        let bdb = read("libuuid-bdb/Packages");
        let ndb = read("sle15-bci-ndb/Packages.db");
        assert!(Format::BerkeleyDb.blobs(&sqlite, None).is_err());
        assert!(Format::Ndb.blobs(&bdb, None).is_err());
        assert!(Format::Sqlite.blobs(&ndb, None).is_err());
        assert!(Format::Sqlite.blobs(b"", None).is_err());
    }

    /// Every truncation of a real header is refused or read without panic,
    /// and flipping any byte of the index never panics.
    #[test]
    fn damaged_headers_never_panic() {
        let blobs = Format::BerkeleyDb
            .blobs(&read("libuuid-bdb/Packages"), None)
            .unwrap();
        let blob = &blobs[0];
        for len in 0..blob.len() {
            let _ = RpmPackage::from_blob(&blob[..len]).and_then(|_| {
                let header = Header::parse(&blob[..len])?;
                installed_files(&header)
            });
        }
        let index_end = 8 + 16 * 40;
        for at in 0..index_end.min(blob.len()) {
            let mut damaged = blob.clone();
            damaged[at] ^= 0xff;
            if let Ok(header) = Header::parse(&damaged) {
                let _ = RpmPackage::from_header(&header);
                let _ = installed_files(&header);
            }
        }
    }

    /// Truncated and damaged databases of each format are refused, not panicked on.
    #[test]
    fn damaged_databases_never_panic() {
        for (format, rel) in [
            (Format::BerkeleyDb, "libuuid-bdb/Packages"),
            (Format::Ndb, "sle15-bci-ndb/Packages.db"),
        ] {
            let data = read(rel);
            for cut in (0..data.len()).step_by(data.len() / 300 + 1) {
                let _ = format.blobs(&data[..cut], None);
            }
            let mut damaged = data.clone();
            for at in (0..data.len()).step_by(data.len() / 500 + 1) {
                damaged[at] ^= 0x5a;
                let _ = format.blobs(&damaged, None);
                damaged[at] ^= 0x5a;
            }
        }
        let ndb = read("sle15-bci-ndb/Packages.db");
        let mut damaged = ndb.clone();
        // A byte inside the first package's blob data must trip its checksum.
        let first_slot_offset =
            u32::from_le_bytes(ndb[32 + 8..32 + 12].try_into().unwrap()) as usize * 16;
        damaged[first_slot_offset + 40] ^= 1;
        let err = Format::Ndb.blobs(&damaged, None).unwrap_err();
        assert!(err.to_string().contains("checksum"), "{err}");
    }
}
