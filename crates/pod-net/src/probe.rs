//! Probes: code run in a network namespace, a "what is my address" TCP listener, a client
//! for it, and tcpdump captures.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, SocketAddr, SocketAddrV4, TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::exec::{NETNS_DIR, netns_command, poll_until};
use crate::{Error, Result};

fn enter(netns: &str) -> Result<()> {
    let path = format!("{NETNS_DIR}/{netns}");
    let map = |source| Error::EnterNamespace {
        netns: netns.to_owned(),
        source,
    };
    let file = File::open(&path).map_err(map)?;
    rustix::thread::move_into_link_name_space(
        file.as_fd(),
        Some(rustix::thread::LinkNameSpaceType::Network),
    )
    .map_err(|e| map(e.into()))
}

/// Runs `f` on a new thread that has entered network namespace `netns` (setns affects only
/// that thread): sockets it opens belong to the namespace.
pub fn in_netns<T: Send>(netns: &str, f: impl FnOnce() -> T + Send) -> Result<T> {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                enter(netns)?;
                Ok(f())
            })
            .join()
            .map_err(|_| Error::ThreadPanicked {
                netns: netns.to_owned(),
            })?
    })
}

/// Connects from network namespace `netns` to a [`Whoami`] at `addr` and returns the source
/// address the listener saw. The inner result is the network's answer (refused, timed out,
/// unreachable are outcomes to assert on); the outer one, whether the probe could run.
pub fn tcp_whoami(
    netns: &str,
    addr: SocketAddrV4,
    timeout: Duration,
) -> Result<std::io::Result<IpAddr>> {
    in_netns(netns, || {
        let mut stream = TcpStream::connect_timeout(&SocketAddr::V4(addr), timeout)?;
        stream.set_read_timeout(Some(timeout))?;
        let mut line = String::new();
        BufReader::new(&mut stream).read_line(&mut line)?;
        line.trim().parse::<IpAddr>().map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("whoami replied {line:?}: {e}"),
            )
        })
    })
}

/// A TCP listener in a network namespace that writes each client's source address (one line)
/// and records it. Stopped on drop.
#[derive(Debug)]
pub struct Whoami {
    addr: SocketAddrV4,
    seen: Arc<Mutex<Vec<SocketAddr>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Whoami {
    /// Listens on `addr` in network namespace `netns`.
    pub fn start(netns: &str, addr: SocketAddrV4) -> Result<Self> {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread = {
            let (netns, seen, stop) = (netns.to_owned(), Arc::clone(&seen), Arc::clone(&stop));
            std::thread::spawn(move || {
                let listener = enter(&netns).and_then(|()| {
                    let listener = TcpListener::bind(addr).map_err(|source| Error::Listen {
                        netns: netns.clone(),
                        addr,
                        source,
                    })?;
                    listener
                        .set_nonblocking(true)
                        .map_err(|source| Error::Listen {
                            netns: netns.clone(),
                            addr,
                            source,
                        })?;
                    Ok(listener)
                });
                let listener = match listener {
                    Ok(l) => {
                        let _ = ready_tx.send(Ok(()));
                        l
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                serve(&listener, &seen, &stop);
            })
        };
        let ready = ready_rx.recv().unwrap_or_else(|_| {
            Err(Error::ThreadPanicked {
                netns: netns.to_owned(),
            })
        });
        let whoami = Self {
            addr,
            seen,
            stop,
            thread: Some(thread),
        };
        ready.map(|()| whoami)
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddrV4 {
        self.addr
    }

    /// The source addresses of the connections it answered, in order.
    pub fn seen(&self) -> Vec<SocketAddr> {
        self.seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

fn serve(listener: &TcpListener, seen: &Mutex<Vec<SocketAddr>>, stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        match listener.accept() {
            Ok((mut stream, peer)) => {
                seen.lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .push(peer);
                let _ = stream.set_nonblocking(false);
                let _ = writeln!(stream, "{}", peer.ip());
            }
            // Nothing pending (or a transient error): look at the stop flag again shortly.
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

impl Drop for Whoami {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A running tcpdump in a network namespace. Killed on drop; [`Capture::finish`] stops it and
/// returns what it saw.
#[derive(Debug)]
pub struct Capture {
    child: Child,
    stdout: PathBuf,
    stderr: PathBuf,
    _dir: tempfile::TempDir,
}

/// What a capture saw.
#[derive(Debug, Clone)]
pub struct Captured {
    /// One line per packet (`tcpdump -nn -l`).
    pub packets: Vec<String>,
    /// tcpdump's own summary ("N packets captured"), when it printed one.
    pub summary: String,
}

impl Captured {
    /// The kernel's count of packets that matched the filter (tcpdump's "N packets received
    /// by filter" on Linux), whether or not tcpdump printed them: a second witness for an
    /// empty capture. `None` when tcpdump printed no summary.
    pub fn received_by_filter(&self) -> Option<u64> {
        self.summary.split("; ").find_map(|part| {
            part.strip_suffix(" packets received by filter")
                .or_else(|| part.strip_suffix(" packet received by filter"))
                .and_then(|n| n.trim().parse().ok())
        })
    }
}

impl Capture {
    /// Starts `tcpdump -i <iface> -nn -l --immediate-mode <filter>` in network namespace `netns` and waits
    /// (up to 10 s) until it is capturing.
    pub fn start(netns: &str, iface: &str, filter: &str) -> Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("pod-net-capture-")
            .tempdir()
            .map_err(|source| Error::WriteFile {
                path: std::env::temp_dir(),
                source,
            })?;
        let stdout = dir.path().join("stdout");
        let stderr = dir.path().join("stderr");
        let create = |path: &PathBuf| {
            File::create(path).map_err(|source| Error::WriteFile {
                path: path.clone(),
                source,
            })
        };
        let (out, err) = (create(&stdout)?, create(&stderr)?);
        let mut cmd: Command = netns_command(netns, "tcpdump");
        // --immediate-mode: each packet is handed to tcpdump as it arrives. Without it libpcap
        // delivers the ring's blocks up to a second late, and the SIGINT of
        // [`Capture::finish`] drops what was not delivered yet: a packet sent just before the
        // capture stops would be counted by the kernel but never printed.
        cmd.args(["-i", iface, "-nn", "-l", "-U", "--immediate-mode"])
            .args(filter.split_whitespace())
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        let child = cmd.spawn().map_err(|source| Error::StartCapture {
            netns: netns.to_owned(),
            iface: iface.to_owned(),
            source,
        })?;
        let mut capture = Self {
            child,
            stdout,
            stderr,
            _dir: dir,
        };
        let timeout = Duration::from_secs(10);
        let mut exited = false;
        let listening = poll_until(timeout, || {
            exited = matches!(capture.child.try_wait(), Ok(Some(_)));
            exited || read(&capture.stderr).contains("listening on")
        });
        if !listening || exited {
            return Err(Error::Timeout {
                what: format!(
                    "tcpdump on {iface} in {netns} starting ({})",
                    read(&capture.stderr).trim()
                ),
                timeout,
            });
        }
        Ok(capture)
    }

    /// Stops tcpdump (SIGINT, so it prints its summary) and returns what it captured.
    pub fn finish(mut self) -> Captured {
        if let Some(pid) =
            rustix::process::Pid::from_raw(i32::try_from(self.child.id()).unwrap_or(i32::MAX))
        {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::INT);
        }
        // Up to 5 s for tcpdump to flush and exit on SIGINT; the drop kills it otherwise.
        let _ = poll_until(Duration::from_secs(5), || {
            matches!(self.child.try_wait(), Ok(Some(_)))
        });
        let packets = read(&self.stdout)
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(str::to_owned)
            .collect();
        let summary = read(&self.stderr)
            .lines()
            // "1 packet captured", "2 packets captured": tcpdump says the singular for one.
            .filter(|l| l.contains(" packet"))
            .collect::<Vec<_>>()
            .join("; ");
        Captured { packets, summary }
    }
}

fn read(path: &PathBuf) -> String {
    let mut out = String::new();
    if let Ok(mut f) = File::open(path) {
        let _ = f.read_to_string(&mut out);
    }
    out
}

impl Drop for Capture {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::Captured;

    #[test]
    fn received_by_filter_reads_tcpdumps_summary() {
        let captured = |summary: &str| Captured {
            packets: Vec::new(),
            summary: summary.to_owned(),
        };
        let full = "0 packets captured; 41 packets received by filter; 0 packets dropped by kernel";
        assert_eq!(captured(full).received_by_filter(), Some(41));
        let one = "1 packet captured; 1 packet received by filter; 0 packets dropped by kernel";
        assert_eq!(captured(one).received_by_filter(), Some(1));
        assert_eq!(captured("").received_by_filter(), None);
    }
}
