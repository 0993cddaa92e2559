#!/usr/bin/env bash
# Build a real kube-apiserver (v1.20.2, Debian bookworm's `kubernetes` source package) once, into a
# cache outside the repository, and make sure the runtime tools the kube-testbed crate uses are
# installed (etcd, openssl, kubectl). Why each step, and timings: docs/testbed.md, sections
# "Build", "The StatefulSet pod-template validation patch" and "Pitfalls".
#
# Usage: crates/kube-testbed/build-apiserver.sh      (run by `make testbed`; `make test` needs it)
#
# Result: ${XDG_CACHE_HOME:-$HOME/.cache}/charmarr-rs/kube-apiserver-v1.20.2-stsvalidate/kube-apiserver
# (the directory name is the version plus the source patch applied, so a different recipe gets a
# different cache entry). The kube-testbed library looks there unless KUBE_TESTBED_APISERVER is set.
#
# Idempotent: a second run only checks that the runtime packages are present and says
# "already built at ...". The first run takes about 5 minutes on 2 cores and 1.8 GB of temporary
# disk, which is deleted afterwards. Needs root or sudo for apt-get on a machine that lacks the
# packages; works on a fresh Debian 12 (bookworm) machine.
set -Eeuo pipefail

VERSION=v1.20.2
PATCH=stsvalidate
CACHE_ROOT="${XDG_CACHE_HOME:-$HOME/.cache}/charmarr-rs"
DEST_DIR="$CACHE_ROOT/kube-apiserver-$VERSION-$PATCH"
DEST="$DEST_DIR/kube-apiserver"
DEBSRC_FILE=/etc/apt/sources.list.d/charmarr-rs-debsrc.sources

START=$(date +%s)
STEP="start"
FIX="re-run the script"
WORK=""

log() { printf '[build-apiserver +%ss] %s\n' "$(($(date +%s) - START))" "$*" >&2; }
step() {
    STEP="$1"
    FIX="$2"
    log "step: $STEP"
}
on_error() {
    local rc=$?
    printf '\n[build-apiserver] FAILED (exit %s) in step: %s\n[build-apiserver] fix: %s\n' \
        "$rc" "$STEP" "$FIX" >&2
    exit "$rc"
}
cleanup() {
    if [[ -n "$WORK" && -d "$WORK" ]]; then
        rm -rf "$WORK"
    fi
}
trap on_error ERR
trap cleanup EXIT

SUDO=()
if [[ $EUID -ne 0 ]]; then
    if command -v sudo >/dev/null 2>&1; then SUDO=(sudo); fi
fi
apt_get() { "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get "$@"; }
APT_UPDATED=0
apt_update_once() {
    if [[ $APT_UPDATED -eq 0 ]]; then
        apt_get update -q
        APT_UPDATED=1
    fi
}

# --- 1. Runtime tools: etcd (the store), openssl (service-account signing key), kubectl (by hand
# and in tests). Checked with `command -v` first, so a ready machine never touches apt.
step "runtime packages (etcd, openssl, kubectl)" \
    "run as root (or with sudo) on Debian 12: apt-get update && apt-get install etcd-server openssl kubernetes-client"
missing=()
command -v etcd >/dev/null 2>&1 || missing+=(etcd-server)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v kubectl >/dev/null 2>&1 || missing+=(kubernetes-client)
if [[ ${#missing[@]} -gt 0 ]]; then
    log "installing ${missing[*]}"
    apt_update_once
    apt_get install -y -q "${missing[@]}"
fi

# --- 2. Already built? Then there is nothing to do.
if [[ -x "$DEST" ]]; then
    log "kube-apiserver $VERSION ($PATCH) already built at $DEST"
    exit 0
fi

# Only one build at a time per cache; a second concurrent run waits and then finds the binary.
step "waiting for the build lock" \
    "check that $CACHE_ROOT is writable; if another build-apiserver.sh runs, wait for it"
mkdir -p "$CACHE_ROOT"
exec 9>"$CACHE_ROOT/.build.lock"
flock 9
if [[ -x "$DEST" ]]; then
    log "kube-apiserver $VERSION ($PATCH) already built at $DEST (by a concurrent run)"
    exit 0
fi
log "building kube-apiserver $VERSION ($PATCH) into $DEST: about 5 min on 2 cores, 1.8 GB temporary disk"

# --- 3. deb-src for bookworm, from the mirror the machine's own 'deb' source uses.
step "deb-src for bookworm" \
    "add a deb-src entry for bookworm main to /etc/apt/sources.list.d/ (see docs/testbed.md, section Build)"
# Our own file, always (a deb-src for another suite would not do: pitfall P1); written once.
if [[ ! -f "$DEBSRC_FILE" ]]; then
    mirror=""
    if [[ -f /etc/apt/sources.list.d/debian.sources ]]; then
        mirror=$(sed -n 's/^URIs: *\(.*\/debian\)\/*$/\1/p' /etc/apt/sources.list.d/debian.sources | head -1)
    fi
    if [[ -z "$mirror" && -f /etc/apt/sources.list ]]; then
        mirror=$(sed -n 's/^deb \(\[[^]]*\] \)\{0,1\}\([^ ]*\/debian\)\/\{0,1\} bookworm .*/\2/p' /etc/apt/sources.list | head -1)
    fi
    mirror=${mirror:-http://deb.debian.org/debian}
    log "adding $DEBSRC_FILE (mirror $mirror)"
    printf '%s\n' 'Types: deb-src' "URIs: $mirror" 'Suites: bookworm' 'Components: main' \
        'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg' | "${SUDO[@]}" tee "$DEBSRC_FILE" >/dev/null
    APT_UPDATED=0
fi

# --- 4. Build tools and the two vendor replacements (pitfall P2).
step "build packages" \
    "apt-get install golang-go rsync jq make python3 golang-github-modern-go-reflect2-dev golang-github-json-iterator-go-dev"
apt_update_once
apt_get install -y -q golang-go rsync jq make python3 \
    golang-github-modern-go-reflect2-dev golang-github-json-iterator-go-dev

# --- 5. Source: pinned to bookworm (pitfall P1: newer suites ship a kubectl-only package).
WORK=$(mktemp -d "${TMPDIR:-/tmp}/charmarr-k8sbuild.XXXXXX")
mkdir -p "$WORK/home"
cd "$WORK"
step "download the kubernetes/bookworm source package" \
    "check that deb-src for bookworm is configured and that 'apt-get source --download-only kubernetes/bookworm' works"
apt-get source --download-only kubernetes/bookworm
step "unpack the source" "the orig tarball should be kubernetes_*+really1.20.2.orig.tar.gz; check free disk (1.8 GB)"
tar xzf kubernetes_*.orig.tar.gz
cd kubernetes-1.20.2

# --- 6. Vendor swap (REQUIRED: without it the server segfaults on the first custom-resource create).
step "vendor swap (reflect2, json-iterator)" \
    "install golang-github-modern-go-reflect2-dev and golang-github-json-iterator-go-dev (they provide /usr/share/gocode/src/...)"
for p in github.com/modern-go/reflect2 github.com/json-iterator/go; do
    test -d "/usr/share/gocode/src/$p"
    rm -rf "vendor/$p" && mkdir -p "vendor/$p" && cp -r "/usr/share/gocode/src/$p/." "vendor/$p/"
    find "vendor/$p" -name '*_test.go' -delete
done

# --- 7. StatefulSet pod-template validation (upstream PR 131790; docs/testbed.md explains it).
step "sts-validate source patch" \
    "the patch anchor in pkg/apis/apps/validation/validation.go was not found exactly once: is this really 1.20.2?"
python3 - <<'PY'
p = "pkg/apis/apps/validation/validation.go"; s = open(p).read()
a = 'allErrs = append(allErrs, ValidatePodTemplateSpecForStatefulSet(&spec.Template, selector, fldPath.Child("template"))...)\n'
add = '''		tmpl := spec.Template.DeepCopy() // testbed: full pod-spec validation (upstream PR 131790)
		have := map[string]bool{}
		for _, v := range tmpl.Spec.Volumes {
			have[v.Name] = true
		}
		for _, c := range spec.VolumeClaimTemplates {
			if !have[c.Name] {
				tmpl.Spec.Volumes = append(tmpl.Spec.Volumes, api.Volume{Name: c.Name, VolumeSource: api.VolumeSource{PersistentVolumeClaim: &api.PersistentVolumeClaimVolumeSource{ClaimName: c.Name}}})
			}
		}
		tmpl.Spec.Hostname, tmpl.Spec.Subdomain = "", ""
		opts := apivalidation.PodValidationOptions{AllowMultipleHugePageResources: true, AllowDownwardAPIHugePages: true}
		allErrs = append(allErrs, apivalidation.ValidatePodSpec(&tmpl.Spec, nil, fldPath.Child("template", "spec"), opts)...)
'''
assert s.count(a) == 1 and "testbed:" not in s; open(p, "w").write(s.replace(a, a + add))
PY

# --- 8. Build (about 4.5 min on 2 cores). No network: GOPROXY=off, everything is vendored.
step "make WHAT=cmd/kube-apiserver" \
    "read the Go errors above; a SIGSEGV later means the vendor swap was skipped; free disk needed: 1.8 GB"
HOME="$WORK/home" CGO_ENABLED=0 GOPROXY=off make WHAT=cmd/kube-apiserver

# --- 9. Install atomically: a half-copied binary must never look "built".
step "install into the cache" "check that $DEST_DIR is writable"
mkdir -p "$DEST_DIR"
cp _output/local/bin/linux/amd64/kube-apiserver "$DEST.tmp"
chmod 0755 "$DEST.tmp"
mv -f "$DEST.tmp" "$DEST"
"$DEST" --version >&2

step "remove the build tree" "delete $WORK by hand"
cd /
rm -rf "$WORK"
WORK=""
log "done: kube-apiserver $VERSION ($PATCH) built at $DEST in $(($(date +%s) - START)) s"
