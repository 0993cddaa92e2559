//! Containers in a pod: an image layer over the host's root, the kubelet's files and volumes,
//! the container's environment, and private mount, UTS, IPC and PID namespaces.
//!
//! A container is launched as
//! `nsenter --net=<pod> -- unshare --mount --uts --ipc --pid --fork --kill-child
//! --propagation private -- /bin/sh -c SETUP ...`; SETUP (below) sets the hostname, mounts a
//! tmpfs holding a copy of the image layer and the overlay's upper directory, mounts the
//! overlay `lowerdir=<image>:/` as the container's root, mounts `/proc`, `/sys` (of the pod's
//! network namespace), a `/dev` of its own (a tmpfs with the host's `null`, `zero`, `full`,
//! `random`, `urandom`, `tty` and `pts` bound in, a fresh `shm`, and `termination-log`: a
//! file of the container's, read back as [`Exited::termination_message`]), a tmpfs `/tmp`,
//! binds the pod's `resolv.conf`, `hosts` and `hostname` onto `/etc` and each volume onto its mount path, then `chroot`s and `exec`s
//! `env -i <env> <command> <args>`. The command is PID 1 of its PID namespace, as in a
//! container: when it exits, or the `unshare` holding it is killed, the kernel kills every
//! process it left (udhcpc's daemon, dnsmasq, ...). Writes to the root land in memory and
//! vanish with the container; writes to `/etc/resolv.conf` are the pod's.
//!
//! Not modelled: users and capabilities (everything runs as root with all capabilities, so
//! `NET_ADMIN` versus `privileged` makes no difference), cgroups, seccomp, the image's
//! `WORKDIR` (always `/`) and `ENTRYPOINT`/`CMD` (the container must give `command`), a
//! `terminationMessagePath` other than the default `/dev/termination-log`.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Component, Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::cluster::Pod;
use crate::exec::NETNS_DIR;
use crate::{Error, Result};

/// The in-namespace half of the launcher (see the module docs). Arguments: the mount-point
/// directory, the hostname, the image layer, the pod's directory, the container's termination
/// log (a host file, bound on `/dev/termination-log`), the number of volumes, then
/// `source target` per volume, then `NAME=value`s and the command. POSIX sh, run by the host's
/// `/bin/sh` before the chroot.
const SETUP: &str = r#"set -eu
root=$1 host=$2 image=$3 pod=$4 tlog=$5 nvol=$6
shift 6
hostname "$host"
mount -t tmpfs -o mode=0755 pod-net-root "$root"
mkdir "$root/image" "$root/upper" "$root/work" "$root/merged"
cp -a "$image/." "$root/image/"
m=$root/merged
mount -t overlay overlay -o "lowerdir=$root/image:/,upperdir=$root/upper,workdir=$root/work" "$m"
mount -t proc proc "$m/proc"
mount -t sysfs sysfs "$m/sys"
mount -t tmpfs -o mode=0755,nosuid pod-net-dev "$m/dev"
for d in null zero full random urandom tty; do
  : > "$m/dev/$d"
  mount --bind "/dev/$d" "$m/dev/$d"
done
mkdir "$m/dev/pts" "$m/dev/shm"
mount --rbind /dev/pts "$m/dev/pts"
mount -t tmpfs -o mode=1777 shm "$m/dev/shm"
ln -s /proc/self/fd "$m/dev/fd"
ln -s /proc/self/fd/0 "$m/dev/stdin"
ln -s /proc/self/fd/1 "$m/dev/stdout"
ln -s /proc/self/fd/2 "$m/dev/stderr"
: > "$m/dev/termination-log"
mount --bind "$tlog" "$m/dev/termination-log"
mount -t tmpfs -o mode=1777 tmpfs "$m/tmp"
for f in resolv.conf hosts hostname; do
  [ -e "$m/etc/$f" ] || : > "$m/etc/$f"
  mount --bind "$pod/$f" "$m/etc/$f"
done
while [ "$nvol" -gt 0 ]; do
  mkdir -p "$m$2"
  mount --bind "$1" "$m$2"
  shift 2
  nvol=$((nvol - 1))
done
exec chroot "$m" /usr/bin/env -i "$@"
"#;

/// An image: a directory laid over the host's root filesystem, and the environment its
/// `ENV` lines set. The directory is removed when the image is dropped; running containers
/// hold a copy of it.
#[derive(Debug)]
pub struct Image {
    layer: tempfile::TempDir,
    env: Vec<(String, String)>,
}

impl Image {
    /// The host's userland as it is (an empty layer) with Debian's default PATH.
    pub fn host() -> Result<Self> {
        let mut builder = ImageBuilder::new()?;
        builder.env(
            "PATH",
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        );
        Ok(builder.build())
    }

    /// The layer directory.
    pub fn layer(&self) -> &Path {
        self.layer.path()
    }

    /// The image's environment.
    pub fn env(&self) -> &[(String, String)] {
        &self.env
    }
}

/// Builds an [`Image`] like a Dockerfile: files copied, written, linked; `ENV` lines.
///
/// Paths are absolute paths in the container. A path through a directory the host has as a
/// symlink is laid at the symlink's target (`/bin/x` lands at `/usr/bin/x` on a merged-/usr
/// host): a directory in the layer would otherwise hide the host's symlink and everything
/// behind it.
#[derive(Debug)]
pub struct ImageBuilder {
    layer: tempfile::TempDir,
    env: Vec<(String, String)>,
}

impl ImageBuilder {
    /// An empty layer in a new temporary directory.
    pub fn new() -> Result<Self> {
        let layer = tempfile::Builder::new()
            .prefix("pod-net-image-")
            .tempdir()
            .map_err(|source| Error::WriteFile {
                path: std::env::temp_dir(),
                source,
            })?;
        Ok(Self {
            layer,
            env: Vec::new(),
        })
    }

    /// Where container path `dest` lives in the layer.
    fn place(&self, dest: &str) -> Result<PathBuf> {
        let mut host = PathBuf::from("/");
        for component in Path::new(dest).components() {
            match component {
                Component::Normal(part) => {
                    host.push(part);
                    // Follow the host's symlinked directories (/bin -> usr/bin).
                    if host.is_dir()
                        && let Ok(resolved) = std::fs::canonicalize(&host)
                    {
                        host = resolved;
                    }
                }
                Component::RootDir => {}
                Component::CurDir | Component::ParentDir | Component::Prefix(_) => {
                    return Err(Error::WriteFile {
                        path: PathBuf::from(dest),
                        source: std::io::Error::new(
                            std::io::ErrorKind::InvalidInput,
                            "image paths are absolute, without . or ..",
                        ),
                    });
                }
            }
        }
        let relative = host.strip_prefix("/").unwrap_or(&host).to_path_buf();
        let path = self.layer.path().join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|source| Error::WriteFile {
                path: parent.to_path_buf(),
                source,
            })?;
        }
        Ok(path)
    }

    /// `COPY src dest`: a file, or a directory's contents recursively (modes kept, symlinks
    /// copied as symlinks).
    pub fn copy(&mut self, src: &Path, dest: &str) -> Result<&mut Self> {
        let target = self.place(dest)?;
        copy_tree(src, &target)?;
        Ok(self)
    }

    /// Writes `contents` at `dest` with permission bits `mode`.
    pub fn file(&mut self, dest: &str, contents: &[u8], mode: u32) -> Result<&mut Self> {
        use std::os::unix::fs::PermissionsExt;
        let path = self.place(dest)?;
        std::fs::write(&path, contents).map_err(|source| Error::WriteFile {
            path: path.clone(),
            source,
        })?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
            .map_err(|source| Error::WriteFile { path, source })?;
        Ok(self)
    }

    /// A symlink at `dest` pointing to `target`.
    pub fn symlink(&mut self, dest: &str, target: &Path) -> Result<&mut Self> {
        let path = self.place(dest)?;
        std::os::unix::fs::symlink(target, &path)
            .map_err(|source| Error::WriteFile { path, source })?;
        Ok(self)
    }

    /// An empty directory at `dest`.
    pub fn dir(&mut self, dest: &str) -> Result<&mut Self> {
        let path = self.place(dest)?;
        std::fs::create_dir_all(&path).map_err(|source| Error::WriteFile { path, source })?;
        Ok(self)
    }

    /// `ENV name=value` (a later value for the same name replaces the earlier one).
    pub fn env(&mut self, name: &str, value: &str) -> &mut Self {
        self.env.retain(|(n, _)| n != name);
        self.env.push((name.to_owned(), value.to_owned()));
        self
    }

    /// The image.
    pub fn build(self) -> Image {
        Image {
            layer: self.layer,
            env: self.env,
        }
    }
}

fn copy_tree(src: &Path, dest: &Path) -> Result<()> {
    let read = |source| Error::ReadFile {
        path: src.to_path_buf(),
        source,
    };
    let meta = std::fs::symlink_metadata(src).map_err(read)?;
    if meta.file_type().is_symlink() {
        let target = std::fs::read_link(src).map_err(read)?;
        std::os::unix::fs::symlink(&target, dest).map_err(|source| Error::WriteFile {
            path: dest.to_path_buf(),
            source,
        })?;
    } else if meta.is_dir() {
        std::fs::create_dir_all(dest).map_err(|source| Error::WriteFile {
            path: dest.to_path_buf(),
            source,
        })?;
        for entry in std::fs::read_dir(src).map_err(read)? {
            let entry = entry.map_err(read)?;
            copy_tree(&entry.path(), &dest.join(entry.file_name()))?;
        }
    } else {
        // std::fs::copy keeps the permission bits.
        std::fs::copy(src, dest).map_err(|source| Error::WriteFile {
            path: dest.to_path_buf(),
            source,
        })?;
    }
    Ok(())
}

/// A volume: files projected into a directory the container sees at `mount_path`, as the
/// kubelet projects a ConfigMap (plain files; the kubelet's `..data` symlinks are not made).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Volume {
    /// Where the container sees it.
    pub mount_path: String,
    /// File name to contents.
    pub files: BTreeMap<String, String>,
}

/// A container: what a Pod spec's container says about the process.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Container {
    /// Its name, unique in the pod.
    pub name: String,
    /// `command` (the executable and its first arguments).
    pub command: Vec<String>,
    /// `args` (appended to `command`).
    pub args: Vec<String>,
    /// `env`, in order (a later entry wins, as in Kubernetes).
    pub env: Vec<(String, String)>,
    /// Mounted volumes.
    pub volumes: Vec<Volume>,
}

/// A container that ran to completion (or was killed at its timeout).
#[derive(Debug, Clone)]
pub struct Exited {
    /// The exit code; `None` if it was killed by a signal.
    pub code: Option<i32>,
    /// Whether it was killed because it outlived its timeout.
    pub timed_out: bool,
    /// How long it ran.
    pub elapsed: Duration,
    /// Its stdout.
    pub stdout: String,
    /// Its stderr.
    pub stderr: String,
    /// What it wrote to `/dev/termination-log` (the kubelet's default `terminationMessagePath`),
    /// at most the kubelet's 4096 bytes: the Pod status's `state.terminated.message`.
    pub termination_message: String,
}

/// The kubelet's limit on one container's termination message.
const TERMINATION_MESSAGE_LIMIT: usize = 4096;

/// The termination log's first 4096 bytes, as the kubelet reads it.
fn termination_message(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap_or_default();
    let end = bytes.len().min(TERMINATION_MESSAGE_LIMIT);
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

impl Exited {
    /// Exit code 0 within the timeout.
    pub fn success(&self) -> bool {
        self.code == Some(0) && !self.timed_out
    }
}

/// A running container: the `unshare` process whose death kills the container's PID
/// namespace. Killed and reaped on drop.
#[derive(Debug)]
pub(crate) struct Running {
    child: Child,
    stdout: PathBuf,
    stderr: PathBuf,
}

impl Running {
    fn kill(&mut self) {
        // `--kill-child`: the container's PID 1 gets SIGKILL when unshare dies, and with it
        // every process of its PID namespace.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.kill();
    }
}

fn read_log(path: &Path) -> String {
    std::fs::read(path)
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .unwrap_or_default()
}

impl Pod {
    /// The full environment of `container` from `image`: the image's `ENV`, then what the
    /// kubelet and the runtime add (`HOSTNAME`, `KUBERNETES_SERVICE_HOST`/`_PORT`; service
    /// links of other Services are not added), then the container's own `env`.
    fn environment(&self, image: &Image, container: &Container) -> Vec<(String, String)> {
        let service_host = self
            .cluster_spec()
            .service_cidr
            .hosts()
            .next()
            .map(|ip| ip.to_string())
            .unwrap_or_default();
        let mut env: Vec<(String, String)> = Vec::new();
        let mut set = |name: &str, value: &str| {
            env.retain(|(n, _)| n != name);
            env.push((name.to_owned(), value.to_owned()));
        };
        for (name, value) in image.env() {
            set(name, value);
        }
        set("HOSTNAME", self.name());
        set("KUBERNETES_SERVICE_HOST", &service_host);
        set("KUBERNETES_SERVICE_PORT", "443");
        set("KUBERNETES_SERVICE_PORT_HTTPS", "443");
        for (name, value) in &container.env {
            set(name, value);
        }
        env
    }

    fn validate(container: &Container) -> Result<Vec<String>> {
        let invalid = |reason: &str| Error::InvalidContainer {
            container: container.name.clone(),
            reason: reason.to_owned(),
        };
        if container.name.is_empty() || container.name.contains('/') {
            return Err(invalid("the name must be non-empty and without '/'"));
        }
        let argv: Vec<String> = container
            .command
            .iter()
            .chain(&container.args)
            .cloned()
            .collect();
        match argv.first() {
            None => return Err(invalid("no command (image entrypoints are not modelled)")),
            // `env` would read it as an assignment.
            Some(program) if program.contains('=') => {
                return Err(invalid("the executable's name contains '='"));
            }
            Some(_) => {}
        }
        for (name, _) in &container.env {
            if name.is_empty() || name.contains('=') {
                return Err(invalid("an env name is empty or contains '='"));
            }
        }
        for volume in &container.volumes {
            if !volume.mount_path.starts_with('/') || volume.mount_path.contains("..") {
                return Err(invalid("a volume's mount path is not absolute"));
            }
            if volume
                .files
                .keys()
                .any(|k| k.is_empty() || k.contains('/') || k.starts_with('.'))
            {
                return Err(invalid(
                    "a volume's file name is empty, has '/' or starts with '.'",
                ));
            }
        }
        Ok(argv)
    }

    fn launch(&self, image: &Image, container: &Container) -> Result<Running> {
        let argv = Self::validate(container)?;
        let name = &container.name;
        let base = self.host_path(&format!("containers/{name}"));
        // A restart starts from scratch: volumes re-projected, logs truncated.
        if base.exists() {
            std::fs::remove_dir_all(&base).map_err(|source| Error::WriteFile {
                path: base.clone(),
                source,
            })?;
        }
        let root = base.join("root");
        std::fs::create_dir_all(&root).map_err(|source| Error::WriteFile {
            path: root.clone(),
            source,
        })?;
        let mut volume_args: Vec<String> = Vec::new();
        for (index, volume) in container.volumes.iter().enumerate() {
            let dir = base.join(format!("volume-{index}"));
            std::fs::create_dir_all(&dir).map_err(|source| Error::WriteFile {
                path: dir.clone(),
                source,
            })?;
            for (file, contents) in &volume.files {
                let path = dir.join(file);
                std::fs::write(&path, contents)
                    .map_err(|source| Error::WriteFile { path, source })?;
            }
            volume_args.push(dir.to_string_lossy().into_owned());
            volume_args.push(volume.mount_path.clone());
        }
        // The image's own copy: the image may be dropped before SETUP has read it.
        let layer = base.join("image");
        copy_tree(image.layer(), &layer)?;
        let stdout = base.join("stdout");
        let stderr = base.join("stderr");
        let open = |path: &Path| {
            File::create(path).map_err(|source| Error::WriteFile {
                path: path.to_path_buf(),
                source,
            })
        };
        let (out, err) = (open(&stdout)?, open(&stderr)?);
        let termination_log = base.join("termination-log");
        drop(open(&termination_log)?);
        let mut cmd = Command::new("nsenter");
        cmd.arg(format!("--net={NETNS_DIR}/{}", self.netns()))
            .args(["--", "unshare", "--mount", "--uts", "--ipc", "--pid"])
            .args(["--fork", "--kill-child", "--propagation", "private", "--"])
            .args(["/bin/sh", "-c", SETUP, "pod-net-setup"])
            .arg(&root)
            .arg(self.name())
            .arg(&layer)
            .arg(self.dir())
            .arg(&termination_log)
            .arg(container.volumes.len().to_string())
            .args(&volume_args)
            .args(
                self.environment(image, container)
                    .iter()
                    .map(|(n, v)| format!("{n}={v}")),
            )
            .args(&argv)
            .env_clear()
            .env(
                "PATH",
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            )
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        let child = cmd.spawn().map_err(|source| Error::StartContainer {
            pod: self.name().to_owned(),
            container: name.clone(),
            source,
        })?;
        Ok(Running {
            child,
            stdout,
            stderr,
        })
    }

    /// Runs `container` to completion, as an init container; killed (with everything it
    /// started) at `timeout`.
    pub fn run(&self, image: &Image, container: &Container, timeout: Duration) -> Result<Exited> {
        let started = Instant::now();
        let mut running = self.launch(image, container)?;
        let wait_error = |source| Error::WaitContainer {
            pod: self.name().to_owned(),
            container: container.name.clone(),
            source,
        };
        let mut status = None;
        let finished = crate::exec::poll_until(timeout, || match running.child.try_wait() {
            Ok(Some(s)) => {
                status = Some(Ok(s));
                true
            }
            Ok(None) => false,
            Err(e) => {
                status = Some(Err(e));
                true
            }
        });
        let code = match status {
            Some(Ok(s)) => s.code(),
            Some(Err(e)) => return Err(wait_error(e)),
            None => None,
        };
        running.kill();
        Ok(Exited {
            code,
            timed_out: !finished,
            elapsed: started.elapsed(),
            stdout: read_log(&running.stdout),
            stderr: read_log(&running.stderr),
            termination_message: termination_message(
                &running.stdout.with_file_name("termination-log"),
            ),
        })
    }

    /// Starts `container` and keeps it running, as a sidecar, until [`Pod::stop`] or the
    /// pod's drop. A container of that name that has exited is replaced.
    pub fn start(&self, image: &Image, container: &Container) -> Result<()> {
        let mut running = self
            .running
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(existing) = running.get_mut(&container.name)
            && matches!(existing.child.try_wait(), Ok(None))
        {
            return Err(Error::ContainerRunning {
                pod: self.name().to_owned(),
                container: container.name.clone(),
            });
        }
        // Drop the exited one (if any) first: its directory is reused.
        running.remove(&container.name);
        let started = self.launch(image, container)?;
        running.insert(container.name.clone(), started);
        Ok(())
    }

    /// Whether the started container `name` is still running.
    pub fn is_running(&self, name: &str) -> bool {
        let mut running = self
            .running
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        running
            .get_mut(name)
            .is_some_and(|r| matches!(r.child.try_wait(), Ok(None)))
    }

    /// Kills the started container `name` and everything it started; whether there was one.
    pub fn stop(&self, name: &str) -> bool {
        let mut running = self
            .running
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        running.remove(name).is_some()
    }

    /// The stdout and stderr so far of the container `name` last run or started in this pod
    /// (empty strings if there was none).
    pub fn logs(&self, name: &str) -> (String, String) {
        let base = self.host_path(&format!("containers/{name}"));
        (
            read_log(&base.join("stdout")),
            read_log(&base.join("stderr")),
        )
    }
}
