//! The index of a static directory, built once at start: every regular file below the
//! root (symlinks only when they stay inside it), its type, validators, cache policy and
//! precompressed siblings. Requests are looked up here and never joined onto a path.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix_web::http::header::{HeaderValue, HttpDate};
use bytes::Bytes;

/// Files up to this size are kept in memory after their first read.
pub const CACHED_MAX: u64 = 256 * 1024;

/// One stored form of a file (the file itself, or its .gz / .br sibling).
pub struct Representation {
    pub path: PathBuf,
    pub len: u64,
    pub cached: OnceLock<Bytes>,
}

impl Representation {
    fn new(path: PathBuf, len: u64) -> Self {
        Self {
            path,
            len,
            cached: OnceLock::new(),
        }
    }
}

pub struct Entry {
    pub identity: Representation,
    pub gzip: Option<Representation>,
    pub brotli: Option<Representation>,
    pub content_type: HeaderValue,
    /// The entity tag without quotes; each encoding adds its own suffix.
    pub etag: String,
    pub modified_secs: u64,
    pub last_modified: HeaderValue,
    pub cache_control: HeaderValue,
    /// Served with `Content-Disposition: attachment` (HTML, SVG, XML among media).
    pub attachment: bool,
}

#[derive(Clone)]
pub struct IndexOptions {
    /// Names (relative to the root) that carry a content hash: cached for a year.
    pub immutable: HashSet<String>,
    /// max-age for every other file, in seconds.
    pub max_age: u32,
    /// Types a browser would execute are downloaded instead (for uploaded media).
    pub attachments: bool,
}

pub struct StaticIndex {
    /// Files indexed at start (collected static files).
    pub files: HashMap<String, Entry>,
    /// A root looked up per request instead (uploaded media, which change while the
    /// server runs), with the options its entries are made with.
    pub live: Option<(PathBuf, IndexOptions)>,
}

fn mime_for(name: &str) -> HeaderValue {
    let mime = mime_guess::from_path(name).first_or_octet_stream();
    let essence = mime.essence_str();
    let textual = mime.type_() == mime::TEXT
        || essence == "application/javascript"
        || essence == "application/json"
        || essence == "image/svg+xml"
        || essence == "application/xml"
        || essence == "application/manifest+json";
    let value = if textual {
        format!("{essence}; charset=utf-8")
    } else {
        essence.to_owned()
    };
    HeaderValue::from_str(&value).unwrap_or(HeaderValue::from_static("application/octet-stream"))
}

fn executes_in_browser(content_type: &HeaderValue) -> bool {
    let ct = content_type.to_str().unwrap_or("");
    [
        "text/html",
        "image/svg+xml",
        "application/xml",
        "text/xml",
        "application/xhtml",
    ]
    .iter()
    .any(|t| ct.starts_with(t))
}

impl Entry {
    /// The entry of one file (without siblings).
    pub fn new(
        key: &str,
        identity: Representation,
        meta: &fs::Metadata,
        options: &IndexOptions,
    ) -> Self {
        let modified = meta.modified().unwrap_or(UNIX_EPOCH);
        let modified_secs = modified
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO)
            .as_secs();
        let content_type = mime_for(key);
        let cache_control = if options.immutable.contains(key) {
            HeaderValue::from_static("public, max-age=31536000, immutable")
        } else {
            HeaderValue::from_str(&format!("public, max-age={}", options.max_age))
                .unwrap_or(HeaderValue::from_static("no-cache"))
        };
        let last_modified = HeaderValue::from_str(
            &HttpDate::from(UNIX_EPOCH + Duration::from_secs(modified_secs)).to_string(),
        )
        .unwrap_or(HeaderValue::from_static("Thu, 01 Jan 1970 00:00:00 GMT"));
        let attachment = options.attachments && executes_in_browser(&content_type);
        Self {
            identity,
            gzip: None,
            brotli: None,
            content_type,
            etag: format!("{:x}-{:x}", meta.len(), modified_secs),
            modified_secs,
            last_modified,
            cache_control,
            attachment,
        }
    }
}

impl StaticIndex {
    /// A root whose files are looked up when requested (nothing indexed at start).
    pub fn live(root: &Path, options: IndexOptions) -> io::Result<Self> {
        let root = root.canonicalize()?;
        if !root.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotADirectory,
                format!("{} is not a directory", root.display()),
            ));
        }
        Ok(Self {
            files: HashMap::new(),
            live: Some((root, options)),
        })
    }

    /// The live root's entry for `key` (a name `key_of` accepted): a regular file whose
    /// real path, symlinks resolved, is still below the root. Runs file-system calls, so
    /// it is called on the blocking pool.
    pub fn lookup_live(root: &Path, options: &IndexOptions, key: &str) -> Option<Entry> {
        let real = root.join(key).canonicalize().ok()?;
        if !real.starts_with(root) {
            return None;
        }
        let meta = fs::metadata(&real).ok()?;
        if !meta.is_file() {
            return None;
        }
        let identity = Representation::new(real, meta.len());
        Some(Entry::new(key, identity, &meta, options))
    }

    /// Indexes every file below `root`. Entries that cannot be read, are not UTF-8, or are
    /// symlinks leading out of the root are left out.
    pub fn build(root: &Path, options: &IndexOptions) -> io::Result<Self> {
        let root = root.canonicalize()?;
        if !root.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotADirectory,
                format!("{} is not a directory", root.display()),
            ));
        }
        let mut found: Vec<(String, PathBuf, fs::Metadata)> = Vec::new();
        let mut pending = vec![(root.clone(), String::new())];
        let mut seen_dirs = HashSet::new();
        while let Some((dir, rel)) = pending.pop() {
            if !seen_dirs.insert(dir.clone()) {
                continue; // a symlinked directory already walked
            }
            let Ok(entries) = fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                    continue;
                };
                let path = entry.path();
                // Follows symlinks only while they stay below the root.
                let Ok(real) = path.canonicalize() else {
                    continue;
                };
                if !real.starts_with(&root) {
                    continue;
                }
                let Ok(meta) = fs::metadata(&real) else {
                    continue;
                };
                let key = if rel.is_empty() {
                    name
                } else {
                    format!("{rel}/{name}")
                };
                if meta.is_dir() {
                    pending.push((real, key));
                } else if meta.is_file() {
                    found.push((key, real, meta));
                }
            }
        }
        let by_key: HashMap<&str, (&PathBuf, u64)> = found
            .iter()
            .map(|(k, p, m)| (k.as_str(), (p, m.len())))
            .collect();
        let sibling = |key: &str, ext: &str| {
            by_key
                .get(format!("{key}.{ext}").as_str())
                .map(|&(path, len)| Representation::new(path.clone(), len))
        };
        let mut files = HashMap::with_capacity(found.len());
        for (key, path, meta) in &found {
            let entry = Entry::new(
                key,
                Representation::new(path.clone(), meta.len()),
                meta,
                options,
            );
            files.insert(
                key.clone(),
                Entry {
                    gzip: sibling(key, "gz"),
                    brotli: sibling(key, "br"),
                    ..entry
                },
            );
        }
        Ok(Self { files, live: None })
    }

    pub fn modified(entry: &Entry) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(entry.modified_secs)
    }
}
