//! Packs each real `metadata/<charm>/charmcraft.yaml` with a stand-in binary (`/bin/true`, a
//! real x86-64 glibc ELF, so the tests need no release build), unpacks the archive with the
//! zip crate and checks it against charmcraft.yaml: the exact file set, `dispatch` executable
//! and byte-equal to the binary, every metadata key, endpoint, container, resource, storage,
//! config option (type, default) and action (params) carried over, the manifest's base.

use std::collections::BTreeSet;
use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};

use charm_pack::{Project, Utc, pack, time::archive_time};
use serde_json::{Map, Value};

const STAND_IN: &str = "/bin/true";
const CHARMS: &[&str] = &["gluetun-k8s", "qbittorrent-k8s"];

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn charmcraft_yaml(charm: &str) -> String {
    let path = workspace()
        .join("metadata")
        .join(charm)
        .join("charmcraft.yaml");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn yaml(text: &str) -> Value {
    serde_saphyr::from_str(text).unwrap_or_else(|e| panic!("parsing YAML: {e}\n{text}"))
}

fn obj<'a>(v: &'a Value, what: &str) -> &'a Map<String, Value> {
    v.as_object()
        .unwrap_or_else(|| panic!("{what} is not a mapping: {v}"))
}

/// An unpacked archive: name → (Unix mode, bytes), in archive order.
struct Unpacked {
    files: Vec<(String, u32, Vec<u8>)>,
}

impl Unpacked {
    fn open(bytes: &[u8]) -> Self {
        let mut zip =
            zip::ZipArchive::new(Cursor::new(bytes)).unwrap_or_else(|e| panic!("opening zip: {e}"));
        let mut files = Vec::new();
        for i in 0..zip.len() {
            let mut f = zip.by_index(i).unwrap_or_else(|e| panic!("entry {i}: {e}"));
            let mut data = Vec::new();
            f.read_to_end(&mut data)
                .unwrap_or_else(|e| panic!("reading entry {i}: {e}"));
            let name = f
                .name()
                .unwrap_or_else(|e| panic!("entry {i} name: {e}"))
                .into_owned();
            let mode = f
                .unix_mode()
                .unwrap_or_else(|| panic!("{name} has no Unix mode"));
            files.push((name, mode, data));
        }
        Self { files }
    }

    fn names(&self) -> Vec<&str> {
        self.files.iter().map(|(n, _, _)| n.as_str()).collect()
    }

    fn get(&self, name: &str) -> (u32, &[u8]) {
        let (_, mode, data) = self
            .files
            .iter()
            .find(|(n, _, _)| n == name)
            .unwrap_or_else(|| panic!("{name} missing from the archive: {:?}", self.names()));
        (*mode, data)
    }

    fn yaml(&self, name: &str) -> Value {
        let (_, data) = self.get(name);
        yaml(std::str::from_utf8(data).unwrap_or_else(|e| panic!("{name} is not UTF-8: {e}")))
    }
}

fn packed(charm: &str) -> (Value, Unpacked, Vec<u8>) {
    let text = charmcraft_yaml(charm);
    let project = Project::parse(&text).unwrap_or_else(|e| panic!("{charm}: {e:?}"));
    let binary = std::fs::read(STAND_IN).unwrap_or_else(|e| panic!("reading {STAND_IN}: {e}"));
    let packed =
        pack(&project, &binary, archive_time(None)).unwrap_or_else(|e| panic!("{charm}: {e:?}"));
    assert_eq!(packed.file_name, format!("{charm}_amd64.charm"));
    (yaml(&text), Unpacked::open(&packed.bytes), binary)
}

#[test]
fn archives_hold_exactly_the_charmcraft_files_with_dispatch_executable() {
    for charm in CHARMS {
        let (source, archive, binary) = packed(charm);
        let mut expected = vec!["dispatch", "manifest.yaml", "metadata.yaml"];
        if source.get("config").is_some() {
            expected.push("config.yaml");
        }
        if source.get("actions").is_some() {
            expected.push("actions.yaml");
        }
        assert_eq!(archive.names(), expected, "{charm}: file set and order");

        let (mode, data) = archive.get("dispatch");
        assert_eq!(mode & 0o777, 0o755, "{charm}: dispatch mode {mode:o}");
        assert_eq!(
            mode & 0o170_000,
            0o100_000,
            "{charm}: dispatch is a regular file"
        );
        assert_eq!(
            data,
            binary.as_slice(),
            "{charm}: dispatch is the charm binary"
        );
        for name in &expected[1..] {
            let (mode, _) = archive.get(name);
            assert_eq!(mode & 0o777, 0o644, "{charm}: {name} mode {mode:o}");
        }
    }
}

#[test]
fn metadata_yaml_carries_every_metadata_key_of_charmcraft_yaml() {
    // Keys that stay in charmcraft.yaml's domain (build, config, actions) or are renamed.
    let not_metadata: BTreeSet<&str> = [
        "type",
        "base",
        "build-base",
        "platforms",
        "parts",
        "config",
        "actions",
        "title",
        "links",
    ]
    .into();
    for charm in CHARMS {
        let (source, archive, _) = packed(charm);
        let source = obj(&source, "charmcraft.yaml");
        let meta = archive.yaml("metadata.yaml");
        let meta = obj(&meta, "metadata.yaml");

        let mut expected_keys = BTreeSet::new();
        for (key, value) in source {
            if not_metadata.contains(key.as_str()) {
                continue;
            }
            assert_eq!(meta.get(key), Some(value), "{charm}: metadata.yaml `{key}`");
            expected_keys.insert(key.clone());
        }
        if let Some(title) = source.get("title") {
            assert_eq!(
                meta.get("display-name"),
                Some(title),
                "{charm}: title → display-name"
            );
            expected_keys.insert("display-name".to_owned());
        }
        if let Some(links) = source.get("links") {
            for (key, value) in obj(links, "links") {
                assert!(
                    ["source", "issues", "website"].contains(&key.as_str()),
                    "{charm}: link {key}"
                );
                assert_eq!(meta.get(key), Some(value), "{charm}: links.{key} → {key}");
                expected_keys.insert(key.clone());
            }
        }
        let found: BTreeSet<String> = meta.keys().cloned().collect();
        assert_eq!(
            found, expected_keys,
            "{charm}: metadata.yaml has no other keys"
        );

        // Spelled out, so a failure names the item.
        for section in [
            "provides",
            "requires",
            "peers",
            "containers",
            "resources",
            "storage",
        ] {
            let Some(items) = source.get(section) else {
                continue;
            };
            for (name, item) in obj(items, section) {
                assert_eq!(
                    meta[section].get(name),
                    Some(item),
                    "{charm}: {section}.{name}"
                );
            }
        }
        for required in ["name", "summary", "description"] {
            assert!(
                meta.get(required).is_some_and(Value::is_string),
                "{charm}: {required}"
            );
        }
    }
}

#[test]
fn config_yaml_carries_every_option_with_type_and_default() {
    for charm in CHARMS {
        let (source, archive, _) = packed(charm);
        let config = archive.yaml("config.yaml");
        assert_eq!(
            obj(&config, "config.yaml").keys().collect::<Vec<_>>(),
            ["options"]
        );
        let want = obj(&source["config"]["options"], "config.options");
        let got = obj(&config["options"], "config.yaml options");
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            want.keys().collect::<Vec<_>>(),
            "{charm}: option names"
        );
        for (name, option) in want {
            let opt = &got[name];
            assert_eq!(opt["type"], option["type"], "{charm}: {name} type");
            assert_eq!(
                opt.get("default"),
                option.get("default"),
                "{charm}: {name} default"
            );
            assert_eq!(
                opt.get("description"),
                option.get("description"),
                "{charm}: {name} description"
            );
            assert_eq!(opt, option, "{charm}: {name}");
            assert!(
                ["string", "int", "float", "boolean", "secret"]
                    .contains(&opt["type"].as_str().unwrap_or("")),
                "{charm}: {name} has a Juju config type"
            );
        }
    }
}

#[test]
fn actions_yaml_carries_every_action_with_params() {
    for charm in CHARMS {
        let (source, archive, _) = packed(charm);
        let Some(want) = source.get("actions") else {
            assert!(
                !archive.names().contains(&"actions.yaml"),
                "{charm}: no actions, no actions.yaml"
            );
            continue;
        };
        let got = archive.yaml("actions.yaml");
        let (want, got) = (obj(want, "actions"), obj(&got, "actions.yaml"));
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            want.keys().collect::<Vec<_>>(),
            "{charm}: actions"
        );
        for (name, action) in want {
            assert_eq!(
                got[name].get("params"),
                action.get("params"),
                "{charm}: {name} params"
            );
            assert_eq!(&got[name], action, "{charm}: {name}");
        }
    }
}

#[test]
fn manifest_names_ubuntu_24_04_amd64() {
    for charm in CHARMS {
        let (_, archive, _) = packed(charm);
        let manifest = archive.yaml("manifest.yaml");
        let bases = manifest["bases"]
            .as_array()
            .unwrap_or_else(|| panic!("{charm}: bases"));
        assert_eq!(bases.len(), 1, "{charm}: one base");
        assert_eq!(bases[0]["name"], "ubuntu");
        assert_eq!(
            bases[0]["channel"], "24.04",
            "{charm}: channel is the string 24.04"
        );
        assert_eq!(bases[0]["architectures"], serde_json::json!(["amd64"]));
        assert_eq!(
            manifest["charmcraft-started-at"],
            "1980-01-01T00:00:00+00:00"
        );
        assert!(manifest["charmcraft-version"].is_string());
        let attrs: Vec<_> = manifest["analysis"]["attributes"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|x| (x["name"].clone(), x["result"].clone()))
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(
            attrs,
            [
                ("language".into(), "unknown".into()),
                ("framework".into(), "unknown".into())
            ],
            "{charm}: linter attributes"
        );
        // The keys in charmcraft's order.
        let keys: Vec<_> = obj(&manifest, "manifest").keys().cloned().collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(
            sorted,
            [
                "analysis",
                "bases",
                "charmcraft-started-at",
                "charmcraft-version"
            ]
        );
        let (_, text) = archive.get("manifest.yaml");
        assert!(
            text.starts_with(b"charmcraft-version: "),
            "{charm}: manifest order"
        );
    }
}

#[test]
fn same_inputs_give_the_same_bytes_and_the_time_is_the_only_stamp() {
    let text = charmcraft_yaml("qbittorrent-k8s");
    let project = Project::parse(&text).unwrap_or_else(|e| panic!("{e:?}"));
    let binary = std::fs::read(STAND_IN).unwrap_or_else(|e| panic!("{e}"));
    let once = |t: Utc| {
        pack(&project, &binary, t)
            .unwrap_or_else(|e| panic!("{e:?}"))
            .bytes
    };
    assert_eq!(once(archive_time(None)), once(archive_time(None)));
    let later = archive_time(Some("1700000000"));
    assert_ne!(once(archive_time(None)), once(later));
    let manifest = Unpacked::open(&once(later)).yaml("manifest.yaml");
    assert_eq!(
        manifest["charmcraft-started-at"],
        "2023-11-14T22:13:20+00:00"
    );
}

#[test]
fn the_cli_writes_both_archives_named_as_charmcraft_does() {
    let bins = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let out = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    for charm in CHARMS {
        std::fs::copy(STAND_IN, bins.path().join(charm)).unwrap_or_else(|e| panic!("{e}"));
    }
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_charm-pack"))
        .arg("--bin-dir")
        .arg(bins.path())
        .arg("--out-dir")
        .arg(out.path())
        .args(CHARMS.iter().map(|c| workspace().join("metadata").join(c)))
        .env_remove("SOURCE_DATE_EPOCH")
        .status()
        .unwrap_or_else(|e| panic!("running charm-pack: {e}"));
    assert!(status.success());
    let mut written: Vec<_> = std::fs::read_dir(out.path())
        .unwrap_or_else(|e| panic!("{e}"))
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect();
    written.sort();
    assert_eq!(
        written,
        ["gluetun-k8s_amd64.charm", "qbittorrent-k8s_amd64.charm"]
    );
}

#[test]
fn the_cli_refuses_a_missing_binary_naming_it() {
    let bins = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let out = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let result = std::process::Command::new(env!("CARGO_BIN_EXE_charm-pack"))
        .arg("--bin-dir")
        .arg(bins.path())
        .arg("--out-dir")
        .arg(out.path())
        .arg(workspace().join("metadata/gluetun-k8s"))
        .output()
        .unwrap_or_else(|e| panic!("running charm-pack: {e}"));
    assert!(!result.status.success());
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(
        stderr.contains("gluetun-k8s") && stderr.contains("No such file"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_dir(out.path()).map_or(1, Iterator::count),
        0,
        "nothing written"
    );
}

#[test]
fn release_binaries_if_built_need_no_glibc_newer_than_ubuntu_24_04() {
    // `make charms` refuses such a binary anyway (charm_pack::elf::check_binary); this names
    // the versions when the release build exists.
    for charm in CHARMS {
        let path = workspace()
            .join("target/x86_64-unknown-linux-gnu/charm")
            .join(charm);
        let Ok(data) = std::fs::read(&path) else {
            eprintln!("{}: not built, skipped", path.display());
            continue;
        };
        let needs = charm_pack::elf::needs(&data).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(needs.machine, object_machine_x86_64(), "{charm}: x86-64");
        for lib in &needs.libraries {
            assert!(
                charm_pack::elf::ALLOWED_LIBRARIES.contains(&lib.as_str()),
                "{charm} needs {lib}"
            );
        }
        let newest = charm_pack::elf::newest_glibc(needs.versions.iter().map(String::as_str));
        assert!(
            newest.is_none_or(|v| v <= (2, 39)),
            "{charm} needs glibc {newest:?}"
        );
        eprintln!(
            "{charm}: needs {:?}, newest glibc {newest:?}",
            needs.libraries
        );
    }
}

fn object_machine_x86_64() -> u16 {
    charm_pack::project::arch_machine("amd64").unwrap_or_default()
}
