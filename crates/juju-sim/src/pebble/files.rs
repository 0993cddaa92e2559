//! The container filesystem behind `/v1/files`, and the multipart bodies Pebble uses for it.
//!
//! A container path maps to `root/<path>`, or, under a storage mount, to the mount's host
//! directory. Paths are cleaned lexically (`..` never climbs above `/`), so a request cannot
//! reach outside the container's directories. Modes are real (`chmod` on the host file);
//! owners are kept as metadata (`FileOwner`), since the simulator's files all belong to the
//! user running it: `list` reports the recorded owner, else `root` (0).
//!
//! Simplifications: user and group names are not looked up in a passwd file (Pebble fails on
//! unknown users); `user-id` without `user` is reported with an empty name, like Pebble for an
//! id without a passwd entry.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Owner metadata of a file in the container.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileOwner {
    /// User name.
    pub user: Option<String>,
    /// User id.
    pub user_id: Option<u32>,
    /// Group name.
    pub group: Option<String>,
    /// Group id.
    pub group_id: Option<u32>,
}

/// A per-path failure, reported in the `result` list as Pebble does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError {
    /// `not-found`, `permission-denied` or `generic-file-error`.
    pub kind: &'static str,
    /// Message (with container paths).
    pub message: String,
}

impl FileError {
    fn from_io(op: &str, path: &str, e: &std::io::Error) -> Self {
        let (kind, text) = match e.kind() {
            std::io::ErrorKind::NotFound => ("not-found", "no such file or directory".to_owned()),
            std::io::ErrorKind::PermissionDenied => {
                ("permission-denied", "permission denied".to_owned())
            }
            std::io::ErrorKind::AlreadyExists => ("generic-file-error", "file exists".to_owned()),
            std::io::ErrorKind::DirectoryNotEmpty => {
                ("generic-file-error", "directory not empty".to_owned())
            }
            std::io::ErrorKind::NotADirectory => {
                ("generic-file-error", "not a directory".to_owned())
            }
            _ => ("generic-file-error", e.to_string()),
        };
        Self {
            kind,
            message: format!("{op} {path}: {text}"),
        }
    }

    fn generic(message: String) -> Self {
        Self {
            kind: "generic-file-error",
            message,
        }
    }

    /// The `error` object of a result entry.
    pub fn to_json(&self) -> Value {
        json!({ "kind": self.kind, "message": self.message })
    }

    /// The HTTP status Pebble answers for this error on `list`.
    pub fn status(&self) -> u16 {
        match self.kind {
            "not-found" => 404,
            "permission-denied" => 403,
            _ => 400,
        }
    }
}

/// Cleans an absolute container path lexically (`Clean` in Go).
pub fn clean(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    format!("/{}", parts.join("/"))
}

/// The container's filesystem view: a root directory plus storage mounts.
#[derive(Debug, Clone, Copy)]
pub struct Fs<'a> {
    /// Host directory standing for `/`.
    pub root: &'a Path,
    /// (container path, host directory) storage mounts.
    pub mounts: &'a [(String, PathBuf)],
}

impl Fs<'_> {
    /// The host path of a cleaned container path.
    pub fn host(&self, path: &str) -> PathBuf {
        let mut best: Option<(&str, &Path)> = None;
        for (mount, dir) in self.mounts {
            let m = clean(mount);
            let under = path == m || path.starts_with(&format!("{}/", m.trim_end_matches('/')));
            if under && best.is_none_or(|(b, _)| m.len() > b.len()) {
                best = Some((mount.as_str(), dir.as_path()));
            }
        }
        let (base, rest) = if let Some((mount, dir)) = best {
            (dir, path[clean(mount).len()..].trim_start_matches('/'))
        } else {
            (self.root, path.trim_start_matches('/'))
        };
        if rest.is_empty() {
            base.to_path_buf()
        } else {
            base.join(rest)
        }
    }
}

/// Parses Pebble's 3-digit octal permissions.
pub fn parse_permissions(p: Option<&str>, default: u32) -> Result<u32, FileError> {
    match p {
        None | Some("") => Ok(default),
        Some(s) if s.len() == 3 || s.len() == 4 => u32::from_str_radix(s, 8).map_err(|_| {
            FileError::generic(format!(
                "permissions must be a 3-digit octal string, got {s:?}"
            ))
        }),
        Some(s) => Err(FileError::generic(format!(
            "permissions must be a 3-digit octal string, got {s:?}"
        ))),
    }
}

/// Item of a write / make-dirs request.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct WriteItem {
    /// Container path.
    pub path: String,
    /// Create missing parents (write).
    #[serde(default)]
    pub make_dirs: bool,
    /// Create missing parents (make-dirs).
    #[serde(default)]
    pub make_parents: bool,
    /// Octal permissions.
    pub permissions: Option<String>,
    /// User id.
    pub user_id: Option<u32>,
    /// User name.
    pub user: Option<String>,
    /// Group id.
    pub group_id: Option<u32>,
    /// Group name.
    pub group: Option<String>,
}

impl WriteItem {
    fn owner(&self) -> Option<FileOwner> {
        let o = FileOwner {
            user: self.user.clone(),
            user_id: self.user_id,
            group: self.group.clone(),
            group_id: self.group_id,
        };
        (o != FileOwner::default()).then_some(o)
    }
}

fn absolute(path: &str) -> Result<String, FileError> {
    if path.starts_with('/') {
        Ok(clean(path))
    } else {
        Err(FileError::generic(format!(
            "paths must be absolute, got {path:?}"
        )))
    }
}

fn mkdir_parents(
    fs_: Fs<'_>,
    owners: &mut BTreeMap<String, FileOwner>,
    path: &str,
    mode: u32,
    owner: Option<&FileOwner>,
) -> Result<(), FileError> {
    let mut current = String::new();
    for part in path.split('/').filter(|p| !p.is_empty()) {
        current.push('/');
        current.push_str(part);
        let host = fs_.host(&current);
        if host.is_dir() {
            continue;
        }
        fs::create_dir(&host).map_err(|e| FileError::from_io("mkdir", &current, &e))?;
        fs::set_permissions(&host, fs::Permissions::from_mode(mode))
            .map_err(|e| FileError::from_io("chmod", &current, &e))?;
        if let Some(o) = owner {
            owners.insert(current.clone(), o.clone());
        }
    }
    Ok(())
}

/// Writes one pushed file.
pub fn write(
    fs_: Fs<'_>,
    owners: &mut BTreeMap<String, FileOwner>,
    item: &WriteItem,
    content: &[u8],
) -> Result<(), FileError> {
    let path = absolute(&item.path)?;
    let mode = parse_permissions(item.permissions.as_deref(), 0o644)?;
    let parent = path
        .rsplit_once('/')
        .map_or("/", |(p, _)| if p.is_empty() { "/" } else { p });
    if item.make_dirs {
        mkdir_parents(fs_, owners, parent, 0o755, item.owner().as_ref())?;
    }
    let host = fs_.host(&path);
    if host.is_dir() {
        return Err(FileError::generic(format!("open {path}: is a directory")));
    }
    fs::write(&host, content).map_err(|e| FileError::from_io("open", &path, &e))?;
    fs::set_permissions(&host, fs::Permissions::from_mode(mode))
        .map_err(|e| FileError::from_io("chmod", &path, &e))?;
    match item.owner() {
        Some(o) => owners.insert(path, o),
        None => owners.remove(&path),
    };
    Ok(())
}

/// Creates one directory (`make-dirs`).
pub fn make_dir(
    fs_: Fs<'_>,
    owners: &mut BTreeMap<String, FileOwner>,
    item: &WriteItem,
) -> Result<(), FileError> {
    let path = absolute(&item.path)?;
    let mode = parse_permissions(item.permissions.as_deref(), 0o755)?;
    let owner = item.owner();
    if item.make_parents {
        let host = fs_.host(&path);
        if host.exists() && !host.is_dir() {
            return Err(FileError::generic(format!("mkdir {path}: not a directory")));
        }
        return mkdir_parents(fs_, owners, &path, mode, owner.as_ref());
    }
    let host = fs_.host(&path);
    fs::create_dir(&host).map_err(|e| FileError::from_io("mkdir", &path, &e))?;
    fs::set_permissions(&host, fs::Permissions::from_mode(mode))
        .map_err(|e| FileError::from_io("chmod", &path, &e))?;
    if let Some(o) = owner {
        owners.insert(path, o);
    }
    Ok(())
}

/// Removes one path (recursively when asked).
pub fn remove(
    fs_: Fs<'_>,
    owners: &mut BTreeMap<String, FileOwner>,
    path: &str,
    recursive: bool,
) -> Result<(), FileError> {
    let path = absolute(path)?;
    let host = fs_.host(&path);
    let meta = fs::symlink_metadata(&host).map_err(|e| FileError::from_io("remove", &path, &e))?;
    let result = if meta.is_dir() {
        if recursive {
            fs::remove_dir_all(&host)
        } else {
            fs::remove_dir(&host)
        }
    } else {
        fs::remove_file(&host)
    };
    result.map_err(|e| FileError::from_io("remove", &path, &e))?;
    let prefix = format!("{}/", path.trim_end_matches('/'));
    owners.retain(|p, _| *p != path && !p.starts_with(&prefix));
    Ok(())
}

/// Reads one file for `pull`.
pub fn read(fs_: Fs<'_>, path: &str) -> Result<Vec<u8>, FileError> {
    let path = absolute(path)?;
    let host = fs_.host(&path);
    let meta = fs::metadata(&host).map_err(|e| FileError::from_io("stat", &path, &e))?;
    if !meta.is_file() {
        return Err(FileError::generic(format!(
            "can only read a regular file: {path:?}"
        )));
    }
    fs::read(&host).map_err(|e| FileError::from_io("open", &path, &e))
}

fn file_type(meta: &fs::Metadata) -> &'static str {
    let ft = meta.file_type();
    if ft.is_file() {
        "file"
    } else if ft.is_dir() {
        "directory"
    } else if ft.is_symlink() {
        "symlink"
    } else {
        "unknown"
    }
}

fn info(fs_: Fs<'_>, owners: &BTreeMap<String, FileOwner>, path: &str) -> Result<Value, FileError> {
    let host = fs_.host(path);
    let meta = fs::symlink_metadata(&host).map_err(|e| FileError::from_io("stat", path, &e))?;
    let owner = owners.get(path).cloned().unwrap_or(FileOwner {
        user: Some("root".into()),
        user_id: Some(0),
        group: Some("root".into()),
        group_id: Some(0),
    });
    let user = owner.user.clone().unwrap_or_default();
    let user_id = owner
        .user_id
        .unwrap_or(if user == "root" || user.is_empty() {
            0
        } else {
            1000
        });
    let group = owner.group.clone().unwrap_or_else(|| user.clone());
    let group_id = owner.group_id.unwrap_or(user_id);
    let mut v = json!({
        "path": path,
        "name": path.rsplit('/').next().filter(|n| !n.is_empty()).unwrap_or("/"),
        "type": file_type(&meta),
        "permissions": format!("{:03o}", meta.mode() & 0o777),
        "last-modified": crate::tools::rfc3339(u64::try_from(meta.mtime()).unwrap_or(0)),
        "user-id": user_id,
        "user": user,
        "group-id": group_id,
        "group": group,
    });
    if meta.is_file() {
        v["size"] = Value::from(meta.len());
    }
    Ok(v)
}

/// Lists a directory (or the path itself), filtered by a glob `pattern`.
pub fn list(
    fs_: Fs<'_>,
    owners: &BTreeMap<String, FileOwner>,
    path: &str,
    pattern: Option<&str>,
    itself: bool,
) -> Result<Vec<Value>, FileError> {
    let path = clean(path);
    let host = fs_.host(&path);
    let meta = fs::metadata(&host).map_err(|e| FileError::from_io("stat", &path, &e))?;
    let entries: Vec<String> = if !meta.is_dir() || itself {
        vec![path.clone()]
    } else {
        let mut names: Vec<String> = fs::read_dir(&host)
            .map_err(|e| FileError::from_io("open", &path, &e))?
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
            .into_iter()
            .map(|n| format!("{}/{n}", path.trim_end_matches('/')))
            .collect()
    };
    let mut out = Vec::new();
    for full in entries {
        let name = full.rsplit('/').next().unwrap_or_default();
        if let Some(p) = pattern
            && !glob_match(p.as_bytes(), name.as_bytes())
        {
            continue;
        }
        out.push(info(fs_, owners, &full)?);
    }
    Ok(out)
}

/// A token of a glob pattern.
enum Glob<'p> {
    /// `*`
    Star,
    /// `?`
    Any,
    /// `[...]` (negated, class body)
    Class(bool, &'p [u8]),
    /// A literal byte (also after a backslash).
    Lit(u8),
}

fn glob_tokens(pattern: &[u8]) -> Option<Vec<Glob<'_>>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < pattern.len() {
        match pattern[i] {
            b'*' => out.push(Glob::Star),
            b'?' => out.push(Glob::Any),
            b'[' => {
                let rest = &pattern[i + 1..];
                let (negate, skip) = match rest.first() {
                    Some(b'^' | b'!') => (true, 1),
                    _ => (false, 0),
                };
                let end = rest.iter().skip(skip).position(|c| *c == b']')? + skip;
                out.push(Glob::Class(negate, &rest[skip..end]));
                i += end + 1;
            }
            b'\\' => {
                i += 1;
                out.push(Glob::Lit(*pattern.get(i)?));
            }
            c => out.push(Glob::Lit(c)),
        }
        i += 1;
    }
    Some(out)
}

fn glob_one(token: &Glob<'_>, c: u8) -> bool {
    match token {
        Glob::Star => true,
        Glob::Any => c != b'/',
        Glob::Lit(l) => *l == c,
        Glob::Class(negate, class) => {
            let mut hit = false;
            let mut i = 0;
            while i < class.len() {
                if i + 2 < class.len() && class[i + 1] == b'-' {
                    hit |= (class[i]..=class[i + 2]).contains(&c);
                    i += 3;
                } else {
                    hit |= class[i] == c;
                    i += 1;
                }
            }
            hit != *negate
        }
    }
}

/// Go's `path.Match` for one name: `*`, `?`, `[...]` (with `^`/`!` negation and ranges), backslash escapes.
/// Linear-time wildcard matching (one backtrack point), so hostile patterns stay cheap; a
/// malformed pattern matches nothing.
pub fn glob_match(pattern: &[u8], name: &[u8]) -> bool {
    let Some(tokens) = glob_tokens(pattern) else {
        return false;
    };
    let (mut t, mut n) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        match tokens.get(t) {
            Some(Glob::Star) => {
                star = Some((t, n));
                t += 1;
            }
            Some(tok) if glob_one(tok, name[n]) => {
                t += 1;
                n += 1;
            }
            _ => match star {
                // `*` does not cross `/`.
                Some((st, sn)) if name[sn] != b'/' => {
                    star = Some((st, sn + 1));
                    t = st + 1;
                    n = sn + 1;
                }
                _ => return false,
            },
        }
    }
    tokens[t..].iter().all(|tok| matches!(tok, Glob::Star))
}

/// One part of a multipart body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// `name` of `Content-Disposition`.
    pub name: String,
    /// `filename` of `Content-Disposition`.
    pub filename: Option<String>,
    /// Body.
    pub body: Vec<u8>,
}

/// The boundary of a `multipart/form-data` content type (quoted or not).
pub fn boundary(content_type: &str) -> Option<String> {
    let (media, params) = content_type.split_once(';')?;
    if !media.trim().eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params.split(';').find_map(|p| {
        let (k, v) = p.split_once('=')?;
        (k.trim().eq_ignore_ascii_case("boundary")).then(|| v.trim().trim_matches('"').to_owned())
    })
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    (from..=hay.len() - needle.len()).find(|i| &hay[*i..*i + needle.len()] == needle)
}

fn disposition_param(header: &str, key: &str) -> Option<String> {
    header.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        if !k.trim().eq_ignore_ascii_case(key) {
            return None;
        }
        let v = v.trim();
        Some(
            if let Some(q) = v.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
                q.replace("\\\"", "\"").replace("\\\\", "\\")
            } else {
                v.to_owned()
            },
        )
    })
}

/// Splits a multipart body into its parts (in memory).
pub fn parse_multipart(body: &[u8], boundary: &str) -> Result<Vec<Part>, String> {
    let delim = format!("--{boundary}").into_bytes();
    let mut pos = find(body, &delim, 0).ok_or("no multipart boundary found")?;
    let mut parts = Vec::new();
    loop {
        pos += delim.len();
        if body[pos..].starts_with(b"--") {
            return Ok(parts);
        }
        // Skip the line end after the delimiter.
        let line_end = find(body, b"\r\n", pos).ok_or("truncated multipart part")?;
        let head_start = line_end + 2;
        let (head_end, content_start) = if body[head_start..].starts_with(b"\r\n") {
            // A part without headers.
            (head_start, head_start + 2)
        } else {
            let end = find(body, b"\r\n\r\n", head_start).ok_or("truncated multipart headers")?;
            (end, end + 4)
        };
        let headers = String::from_utf8_lossy(&body[head_start..head_end]).into_owned();
        let mut close = Vec::with_capacity(delim.len() + 2);
        close.extend_from_slice(b"\r\n");
        close.extend_from_slice(&delim);
        let content_end = find(body, &close, content_start).ok_or("unterminated multipart part")?;
        let mut name = String::new();
        let mut filename = None;
        for line in headers.split("\r\n") {
            if let Some((k, v)) = line.split_once(':')
                && k.trim().eq_ignore_ascii_case("content-disposition")
            {
                name = disposition_param(v, "name").unwrap_or_default();
                filename = disposition_param(v, "filename");
            }
        }
        parts.push(Part {
            name,
            filename,
            body: body[content_start..content_end].to_vec(),
        });
        pos = content_end + 2;
    }
}

/// Builds Pebble's multipart `read` response: a `files` part per file read, then `response`.
pub fn multipart_read_response(
    files: &[(String, Vec<u8>)],
    response: &Value,
    boundary: &str,
) -> Vec<u8> {
    let mut out = Vec::new();
    for (path, content) in files {
        out.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        out.extend_from_slice(
            format!(
                "Content-Disposition: form-data; name=\"files\"; filename=\"{}\"\r\nContent-Type: application/octet-stream\r\n\r\n",
                path.replace('\\', "\\\\").replace('"', "\\\"")
            )
            .as_bytes(),
        );
        out.extend_from_slice(content);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
    out.extend_from_slice(
        b"Content-Disposition: form-data; name=\"response\"\r\nContent-Type: application/json\r\n\r\n",
    );
    out.extend_from_slice(response.to_string().as_bytes());
    out.extend_from_slice(b"\n\r\n");
    out.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    out
}
