//! The `vpn-route-init` wrapper around pod-gateway's `/bin/client_init.sh`, and the
//! `vpn-route-sidecar` loop that replaces pod-gateway's `/bin/client_sidecar.sh`.
//!
//! A constant: no databag value is ever interpolated into it. The values the upstream script
//! needs arrive through the `gateway` environment variable and the mounted `settings.sh`,
//! both rendered from validated types.
//!
//! Why a wrapper (details in docs/adr/0015 and 0016):
//! - Init containers gate the charm container. A bare `client_init.sh` that fails (gateway
//!   down, DNS not ready) is restarted forever, so the Juju agent never starts and the charm
//!   can never repair itself. So: a bounded number of attempts, each bounded in time, then
//!   exit 0 and let the pod start with the kill-switch NetworkPolicy as its only egress
//!   path; `vpn-route-sidecar` keeps trying to bring the tunnel up.
//! - The upstream script deletes the default route before it creates `vxlan0`; a failure in
//!   between leaves no default route and no `vxlan0`, and every later run then reads an
//!   empty Kubernetes gateway address. Before each attempt, and after the last, a missing
//!   default route is restored from a route the earlier attempt added via that gateway.
//! - `timeout` exists in the image (GNU coreutils is installed on top of busybox in
//!   pod-gateway v1.13.0's alpine image); if a future image lacks it the script still runs,
//!   just without the time bound.
//! - POSIX `sh` (busybox ash): no bashisms; the restored address lives in a variable that
//!   cannot shadow `gateway`, which the upstream script reads.
//! - The outcome is the container's termination message (`/dev/termination-log`, the
//!   kubelet's default `terminationMessagePath`; docs/adr/0021): [`ROUTED`] when an attempt
//!   succeeded, else a line starting with [`NOT_ROUTED`] that names the last failure. The
//!   charm reads it from the Pod's status before it starts the workload.

/// Attempts at `client_init.sh`.
pub const ATTEMPTS: u32 = 3;
/// Seconds each attempt may take before it is killed.
pub const ATTEMPT_TIMEOUT_SECONDS: u32 = 40;
/// Seconds between attempts.
pub const PAUSE_SECONDS: u32 = 5;

/// The termination message of a `vpn-route-init` whose attempt routed the pod.
pub const ROUTED: &str = "routed";
/// How the termination message of a `vpn-route-init` that gave up begins.
pub const NOT_ROUTED: &str = "not routed: gateway unreachable";

/// What `vpn-route-init`'s state in the Pod's status says about the pod's route. The state is
/// read from the API server (untrusted): it is only compared with our own messages, never
/// shown or parsed further.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteOutcome {
    /// It exited 0 with [`ROUTED`]: the default route is via the tunnel.
    Routed,
    /// It gave up ([`NOT_ROUTED`]): the gateway was unreachable at every attempt.
    GatewayUnreachable,
    /// It ended otherwise (another exit code or message: cut short, or not our wrapper).
    Failed,
    /// It has not ended (or the status does not list it yet).
    Pending,
}

impl RouteOutcome {
    /// From the container's `state.terminated`: its exit code and message, if it ended. The
    /// kubelet keeps the file's trailing newline.
    pub fn of(terminated: Option<(i32, Option<&str>)>) -> Self {
        let Some((code, message)) = terminated else {
            return Self::Pending;
        };
        let message = message.unwrap_or_default();
        let message = message.strip_suffix('\n').unwrap_or(message);
        match (code, message) {
            (0, ROUTED) => Self::Routed,
            (0, m) if m.starts_with(NOT_ROUTED) => Self::GatewayUnreachable,
            _ => Self::Failed,
        }
    }
}

/// The script run by `/bin/sh -c` in `vpn-route-init`. Worst case it exits after
/// `ATTEMPTS * ATTEMPT_TIMEOUT_SECONDS + (ATTEMPTS - 1) * PAUSE_SECONDS` = 130 s.
pub const VPN_ROUTE_INIT_SCRIPT: &str = r#"restore_default_route() {
    if ! ip route show default | grep -q .; then
        k8s_route_via=$(ip route show | awk '/ via / {print $3; exit}')
        if [ -n "$k8s_route_via" ]; then
            echo "vpn-route-init: restoring default route via $k8s_route_via"
            ip route add default via "$k8s_route_via" || true
        fi
    fi
}
outcome() {
    printf '%s\n' "$1" > /dev/termination-log 2>/dev/null || true
}
if command -v timeout >/dev/null 2>&1; then
    bounded() { timeout -s KILL 40 "$@"; }
else
    bounded() { "$@"; }
fi
attempt=1
last=""
while [ "$attempt" -le 3 ]; do
    restore_default_route
    echo "vpn-route-init: attempt $attempt of 3"
    bounded /bin/client_init.sh
    code=$?
    if [ "$code" -eq 0 ]; then
        outcome "routed"
        exit 0
    fi
    if [ "$code" -eq 137 ]; then
        last="attempt $attempt killed after 40 s"
    else
        last="client_init.sh exited $code"
    fi
    if [ "$attempt" -lt 3 ]; then
        sleep 5
    fi
    attempt=$((attempt + 1))
done
restore_default_route
outcome "not routed: gateway unreachable after 3 attempts (last: $last)"
echo "vpn-route-init: gateway unreachable after 3 attempts (last: $last); starting without the tunnel (egress stays in the cluster: in-pod filter and kill switch; vpn-route-sidecar keeps retrying)" >&2
exit 0
"#;

/// Seconds between two checks of the tunnel, and before the next reconnect after a failed one.
pub const SIDECAR_PAUSE_SECONDS: u32 = 10;

/// The script run by `/bin/sh -c` in `vpn-route-sidecar` (ADR 0041). pod-gateway's own
/// `client_sidecar.sh` runs under `set -e`: one failed reconnect ends the container, and the
/// kubelet's restart back-off (up to five minutes) delays the next try. This loop is the same
/// (ping the overlay gateway every 10 s; when it does not answer, run `client_init.sh`), but
/// each reconnect is bounded like vpn-route-init's attempts and a failed one is logged and
/// retried 10 s later, never ending the container; the in-pod filter keeps the gap in the
/// cluster (ADR 0039). A constant like the init wrapper: the values come from the same
/// `settings.sh` files pod-gateway's scripts read; it never reads or shadows `gateway`.
pub const VPN_ROUTE_SIDECAR_SCRIPT: &str = r#"trap 'exit 0' TERM INT
. /default_config/settings.sh
. /config/settings.sh
overlay_gateway="${VXLAN_IP_NETWORK}.1"
if command -v timeout >/dev/null 2>&1; then
    bounded() { timeout -s KILL 40 "$@"; }
else
    bounded() { "$@"; }
fi
pause() {
    sleep 10 &
    wait $!
}
while true; do
    echo "vpn-route-sidecar: watching $overlay_gateway"
    while ping -c "${CONNECTION_RETRY_COUNT:-1}" "$overlay_gateway" >/dev/null 2>&1; do
        pause
    done
    echo "vpn-route-sidecar: $overlay_gateway does not answer; reconnecting"
    if bounded /bin/client_init.sh; then
        echo "vpn-route-sidecar: reconnected"
    else
        echo "vpn-route-sidecar: reconnect failed; next try in 10 s (egress stays in the cluster)" >&2
        pause
    fi
done
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_our_routed_message_with_exit_0_is_routed() {
        use RouteOutcome::*;
        let not_routed = format!("{NOT_ROUTED} after 3 attempts (last: client_init.sh exited 1)\n");
        for (terminated, want) in [
            (None, Pending),
            (Some((0, Some("routed"))), Routed),
            (Some((0, Some("routed\n"))), Routed),
            (Some((0, Some(not_routed.as_str()))), GatewayUnreachable),
            (Some((1, Some("routed"))), Failed),
            (Some((137, None)), Failed),
            (Some((0, None)), Failed),
            (Some((0, Some(""))), Failed),
            (Some((0, Some("routed\n\n"))), Failed),
            (Some((0, Some(" routed"))), Failed),
            (Some((0, Some("routedx"))), Failed),
            (Some((1, Some(not_routed.as_str()))), Failed),
        ] {
            assert_eq!(RouteOutcome::of(terminated), want, "{terminated:?}");
        }
    }

    #[test]
    fn constants_match_the_script() {
        let script = VPN_ROUTE_INIT_SCRIPT;
        assert!(script.contains(&format!("timeout -s KILL {ATTEMPT_TIMEOUT_SECONDS} ")));
        assert!(script.contains(&format!("-le {ATTEMPTS} ]")));
        assert!(script.contains(&format!("sleep {PAUSE_SECONDS}\n")));
        assert!(script.trim_end().ends_with("exit 0"));
        assert!(script.contains(&format!("outcome \"{ROUTED}\"")));
        assert!(script.contains(&format!("outcome \"{NOT_ROUTED} after {ATTEMPTS} attempts")));
        assert!(script.contains("/bin/client_init.sh"));
        // Never reads or shadows the upstream `gateway` variable.
        assert!(!script.contains("gateway="));
        assert!(!script.contains("$gateway"));
    }

    #[test]
    fn sidecar_constants_match_the_script() {
        let script = VPN_ROUTE_SIDECAR_SCRIPT;
        assert!(script.contains(&format!("timeout -s KILL {ATTEMPT_TIMEOUT_SECONDS} ")));
        assert!(script.contains(&format!("sleep {SIDECAR_PAUSE_SECONDS} &")));
        assert!(script.contains("/bin/client_init.sh"));
        assert!(!script.contains("set -e"), "one failure must not end it");
        assert!(!script.contains(" gateway=") && !script.contains("$gateway"));
    }
}
