//! The gluetun-k8s binary: a Juju hook when Juju runs it, the `render` CLI otherwise.

fn main() -> std::process::ExitCode {
    juju_charm::main::<gluetun_k8s::GluetunK8s>()
}
