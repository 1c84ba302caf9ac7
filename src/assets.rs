//! Static files compiled into the binary, under content-hashed names so browsers and nginx can
//! cache them for a year; `collectstatic` writes the same set to disk for nginx.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use rust_embed::RustEmbed;
use sha2::{Digest, Sha256};

#[derive(RustEmbed)]
#[folder = "static/"]
struct Embedded;

pub struct Asset {
    pub data: Cow<'static, [u8]>,
    pub content_type: String,
    pub etag: String,
    /// True when requested under its hashed name, which never changes content.
    pub immutable: bool,
    /// The file gzipped once at start-up, when that makes it smaller (text files).
    pub gzip: Option<actix_web::web::Bytes>,
    /// The ETag of the gzipped variant (a different representation needs its own tag).
    pub gzip_etag: String,
}

/// `data` gzipped at the best level, if that saves at least a tenth.
fn gzipped(data: &[u8]) -> Option<actix_web::web::Bytes> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(data).ok()?;
    let packed = encoder.finish().ok()?;
    (packed.len() < data.len() - data.len() / 10).then(|| packed.into())
}

/// Every embedded file under its plain and its hashed name.
pub struct Assets {
    files: HashMap<String, Asset>,
    /// plain name -> hashed name
    manifest: BTreeMap<String, String>,
}

/// `css/site.css` + hash -> `css/site.0123456789ab.css`.
fn hashed_name(path: &str, hash: &str) -> String {
    let (dir, file) = path.rsplit_once('/').map_or(("", path), |(d, f)| (d, f));
    let hashed = match file.rsplit_once('.') {
        Some((stem, ext)) => format!("{stem}.{hash}.{ext}"),
        None => format!("{file}.{hash}"),
    };
    if dir.is_empty() {
        hashed
    } else {
        format!("{dir}/{hashed}")
    }
}

impl Assets {
    pub fn load() -> Assets {
        let mut files = HashMap::new();
        let mut manifest = BTreeMap::new();
        for path in Embedded::iter() {
            let Some(file) = Embedded::get(&path) else {
                continue;
            };
            let digest = hex::encode(Sha256::digest(&file.data));
            let hashed = hashed_name(&path, &digest[..12]);
            let content_type = mime_guess::from_path(path.as_ref())
                .first_or_octet_stream()
                .to_string();
            let content_type =
                if content_type.starts_with("text/") || content_type.ends_with("javascript") {
                    format!("{content_type}; charset=utf-8")
                } else {
                    content_type
                };
            let etag = format!("\"{}\"", &digest[..16]);
            let gzip = gzipped(&file.data);
            for (name, immutable) in [(path.to_string(), false), (hashed.clone(), true)] {
                let asset = Asset {
                    data: file.data.clone(),
                    content_type: content_type.clone(),
                    etag: etag.clone(),
                    immutable,
                    gzip: gzip.clone(),
                    gzip_etag: format!("\"{}-gzip\"", &digest[..16]),
                };
                files.insert(name, asset);
            }
            manifest.insert(path.to_string(), hashed);
        }
        Assets { files, manifest }
    }

    pub fn get(&self, name: &str) -> Option<&Asset> {
        self.files.get(name)
    }

    /// The hashed name of a plain one (the plain name itself if unknown, so a typo shows as a 404).
    pub fn hashed<'a>(&'a self, name: &'a str) -> &'a str {
        self.manifest.get(name).map_or(name, String::as_str)
    }

    /// The manifest in the format of Django's ManifestStaticFilesStorage.
    pub fn manifest_json(&self) -> String {
        serde_json::to_string_pretty(
            &serde_json::json!({ "version": "1.1", "paths": self.manifest }),
        )
        .expect("a map of strings serializes")
    }

    /// Writes every file (plain and hashed names) and staticfiles.json under `root`; with
    /// `clear`, removes files that are no longer part of the set. Returns (written, removed).
    pub fn collect(&self, root: &Path, clear: bool) -> std::io::Result<(usize, usize)> {
        std::fs::create_dir_all(root)?;
        let mut written = 0;
        for (name, asset) in &self.files {
            let target = root.join(name);
            if let Some(dir) = target.parent() {
                std::fs::create_dir_all(dir)?;
            }
            if std::fs::read(&target).ok().as_deref() != Some(&asset.data[..]) {
                std::fs::write(&target, &asset.data)?;
            }
            written += 1;
        }
        std::fs::write(root.join("staticfiles.json"), self.manifest_json())?;
        let mut removed = 0;
        if clear {
            for file in walk(root)? {
                let rel = file
                    .strip_prefix(root)
                    .unwrap_or(&file)
                    .to_string_lossy()
                    .replace('\\', "/");
                if rel != "staticfiles.json" && !self.files.contains_key(&rel) {
                    std::fs::remove_file(&file)?;
                    removed += 1;
                }
            }
            remove_empty_dirs(root)?;
        }
        Ok((written, removed))
    }
}

fn walk(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_dir() {
            out.extend(walk(&entry.path())?);
        } else {
            out.push(entry.path());
        }
    }
    Ok(out)
}

fn remove_empty_dirs(dir: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            remove_empty_dirs(&path)?;
            if std::fs::read_dir(&path)?.next().is_none() {
                std::fs::remove_dir(&path)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::hashed_name;

    #[test]
    fn hashed_names_keep_the_extension() {
        assert_eq!(hashed_name("css/site.css", "abc"), "css/site.abc.css");
        assert_eq!(hashed_name("robots.txt", "abc"), "robots.abc.txt");
        assert_eq!(hashed_name("LICENSE", "abc"), "LICENSE.abc");
    }
}
