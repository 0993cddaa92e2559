//! `kube-testbed`: start and stop a test cluster by hand (see the library docs).
fn main() {}
