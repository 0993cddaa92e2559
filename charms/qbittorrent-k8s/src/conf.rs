//! `qBittorrent.conf` reconciliation: set the few keys the charm manages in `[Preferences]`
//! (WebUI credentials and port) and `[BitTorrent]` (the default save path and automatic
//! torrent management, [`session`]), and keep every other line the operator (or qBittorrent)
//! wrote, byte for byte.
//!
//! qBittorrent's file is a Qt `QSettings` INI file: `[Section]` headers and `key=value` lines,
//! with backslashes inside keys (`WebUI\Port`). Only lines inside `[Preferences]` are touched.

/// The managed keys and their values, in the order they are appended when missing. Values are
/// produced from validated types (username, our own hash, a port number), so none holds a
/// newline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Managed {
    /// `WebUI\Username`.
    pub username: String,
    /// `WebUI\Password_PBKDF2`, written quoted as qBittorrent does.
    pub password_hash: String,
    /// `WebUI\Port`.
    pub port: u16,
}

impl Managed {
    fn entries(&self) -> [(&'static str, String); 3] {
        [
            ("WebUI\\Username", self.username.clone()),
            (
                "WebUI\\Password_PBKDF2",
                format!("\"{}\"", self.password_hash),
            ),
            ("WebUI\\Port", self.port.to_string()),
        ]
    }
}

const SECTION: &str = "[Preferences]";

/// The value of `key` in `[Preferences]`, if present (e.g. to verify the stored hash).
pub fn get<'a>(content: &'a str, key: &str) -> Option<&'a str> {
    let mut in_section = false;
    for line in content.lines() {
        let t = line.trim();
        if t.starts_with('[') {
            in_section = t == SECTION;
        } else if in_section
            && let Some((k, v)) = t.split_once('=')
            && k.trim() == key
        {
            return Some(v.trim());
        }
    }
    None
}

/// The file with the managed keys set. `None` (no file yet) gives a minimal file. Applying it
/// twice gives the same text as applying it once.
pub fn reconcile(existing: Option<&str>, managed: &Managed) -> String {
    reconcile_in(existing, SECTION, &managed.entries())
}

/// The `[BitTorrent]` keys the reference sets through the WebUI API when media managers
/// relate (docs/adr/0043), as qBittorrent stores them: the default save path, and automatic
/// torrent management on by default and kept on when a torrent's category, the default save
/// path or a category's save path changes (the API's `auto_tmm_enabled`,
/// `torrent_changed_tmm_enabled`, `save_path_changed_tmm_enabled`,
/// `category_changed_tmm_enabled` all `true`). `save_path` comes from a validated mount path
/// (no newline).
pub fn session(existing: &str, save_path: &str) -> String {
    let entries = [
        ("Session\\DefaultSavePath", save_path.to_owned()),
        ("Session\\DisableAutoTMMByDefault", "false".to_owned()),
        (
            "Session\\DisableAutoTMMTriggers\\CategoryChanged",
            "false".to_owned(),
        ),
        (
            "Session\\DisableAutoTMMTriggers\\DefaultSavePathChanged",
            "false".to_owned(),
        ),
        (
            "Session\\DisableAutoTMMTriggers\\CategorySavePathChanged",
            "false".to_owned(),
        ),
    ];
    reconcile_in(Some(existing), "[BitTorrent]", &entries)
}

/// `entries` set in `section` of `existing` (or of a fresh file holding only that section).
fn reconcile_in(
    existing: Option<&str>,
    section: &str,
    entries: &[(&'static str, String)],
) -> String {
    let Some(content) = existing else {
        let mut out = String::from(section);
        out.push('\n');
        for (k, v) in entries {
            out.push_str(k);
            out.push('=');
            out.push_str(v);
            out.push('\n');
        }
        return out;
    };

    let mut done = vec![false; entries.len()];
    let mut out: Vec<String> = Vec::new();
    let mut in_section = false;
    let mut section_seen = false;
    let mut section_end: Option<usize> = None; // index in `out` after the section's last line

    for line in content.lines() {
        let t = line.trim();
        if t.starts_with('[') {
            if in_section {
                section_end = Some(out.len());
            }
            in_section = t == section;
            section_seen |= in_section;
            out.push(line.to_owned());
            continue;
        }
        if in_section
            && let Some((k, _)) = t.split_once('=')
            && let Some(i) = entries.iter().position(|(key, _)| *key == k.trim())
        {
            if !done[i] {
                done[i] = true;
                out.push(format!("{}={}", entries[i].0, entries[i].1));
            }
            // A duplicate of a managed key is dropped: QSettings would read the first.
            continue;
        }
        out.push(line.to_owned());
    }
    if in_section {
        // The section runs to the end of the file; insert before trailing blank lines.
        let mut end = out.len();
        while end > 0 && out[end - 1].trim().is_empty() {
            end -= 1;
        }
        section_end = Some(end);
    }

    let missing: Vec<String> = entries
        .iter()
        .zip(done)
        .filter(|(_, d)| !*d)
        .map(|((k, v), _)| format!("{k}={v}"))
        .collect();
    if !missing.is_empty() {
        if section_seen {
            let at = section_end.unwrap_or(out.len());
            // Keep a blank separator line before the next section where there was one.
            let at = if at > 0 && at < out.len() && out[at - 1].trim().is_empty() {
                at - 1
            } else {
                at
            };
            out.splice(at..at, missing);
        } else {
            if out.last().is_some_and(|l| !l.trim().is_empty()) {
                out.push(String::new());
            }
            out.push(section.to_owned());
            out.extend(missing);
        }
    }
    let mut text = out.join("\n");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn managed() -> Managed {
        Managed {
            username: "admin".into(),
            password_hash: "@ByteArray(s:h)".into(),
            port: 8080,
        }
    }

    #[test]
    fn fresh_file() {
        assert_eq!(
            reconcile(None, &managed()),
            "[Preferences]\nWebUI\\Username=admin\nWebUI\\Password_PBKDF2=\"@ByteArray(s:h)\"\nWebUI\\Port=8080\n"
        );
    }

    #[test]
    fn keeps_operator_settings_and_other_sections() {
        let before = "[BitTorrent]\nSession\\Port=6881\n\n[Preferences]\nDownloads\\SavePath=/downloads/\nWebUI\\Port=9090\nWebUI\\Username=old\n\n[Meta]\nMigrationVersion=6\n";
        let after = reconcile(Some(before), &managed());
        assert_eq!(
            after,
            "[BitTorrent]\nSession\\Port=6881\n\n[Preferences]\nDownloads\\SavePath=/downloads/\nWebUI\\Port=8080\nWebUI\\Username=admin\nWebUI\\Password_PBKDF2=\"@ByteArray(s:h)\"\n\n[Meta]\nMigrationVersion=6\n"
        );
        assert_eq!(reconcile(Some(&after), &managed()), after, "idempotent");
        assert_eq!(
            get(&after, "WebUI\\Password_PBKDF2"),
            Some("\"@ByteArray(s:h)\"")
        );
        assert_eq!(
            get(&after, "Session\\Port"),
            None,
            "other sections are not read"
        );
    }

    #[test]
    fn managed_key_in_another_section_is_not_touched() {
        let before = "[Other]\nWebUI\\Port=1\n";
        let after = reconcile(Some(before), &managed());
        assert!(
            after.starts_with("[Other]\nWebUI\\Port=1\n\n[Preferences]\n"),
            "{after}"
        );
    }

    proptest::proptest! {
        #[test]
        fn reconcile_is_idempotent_and_keeps_foreign_lines(lines in proptest::collection::vec("[ -~]{0,20}", 0..12)) {
            let before = lines.join("\n");
            let once = reconcile(Some(&before), &managed());
            proptest::prop_assert_eq!(&reconcile(Some(&once), &managed()), &once);
            proptest::prop_assert_eq!(get(&once, "WebUI\\Port"), Some("8080"));
            for l in &lines {
                let t = l.trim();
                let managed_line = ["WebUI\\Username", "WebUI\\Password_PBKDF2", "WebUI\\Port"]
                    .iter().any(|k| t.split_once('=').is_some_and(|(key, _)| key.trim() == *k));
                // Blank lines may be normalised at the end of the file; content lines may not.
                if !managed_line && !t.is_empty() {
                    proptest::prop_assert!(once.lines().any(|o| o == l), "lost line {:?}", l);
                }
            }
        }
    }
}

#[cfg(test)]
mod session_tests {
    use super::*;

    #[test]
    fn session_keys_are_set_in_bittorrent_and_idempotent() {
        let before = "[BitTorrent]\nSession\\Port=6881\nSession\\DisableAutoTMMByDefault=true\n\n[Preferences]\nWebUI\\Port=8080\n";
        let after = session(before, "/data/torrents");
        assert_eq!(
            after,
            "[BitTorrent]\nSession\\Port=6881\nSession\\DisableAutoTMMByDefault=false\nSession\\DefaultSavePath=/data/torrents\nSession\\DisableAutoTMMTriggers\\CategoryChanged=false\nSession\\DisableAutoTMMTriggers\\DefaultSavePathChanged=false\nSession\\DisableAutoTMMTriggers\\CategorySavePathChanged=false\n\n[Preferences]\nWebUI\\Port=8080\n"
        );
        assert_eq!(session(&after, "/data/torrents"), after);
        let fresh = session("[Preferences]\nWebUI\\Port=8080\n", "/config/Downloads");
        assert!(
            fresh.starts_with("[Preferences]\nWebUI\\Port=8080\n\n[BitTorrent]\nSession\\DefaultSavePath=/config/Downloads\n"),
            "{fresh}"
        );
    }
}
