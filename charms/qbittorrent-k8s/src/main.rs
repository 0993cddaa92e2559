//! The qbittorrent-k8s binary: a Juju hook (or action) when Juju runs it, the `render` CLI
//! otherwise.

fn main() -> std::process::ExitCode {
    juju_charm::main::<qbittorrent_k8s::QbittorrentK8s>()
}
