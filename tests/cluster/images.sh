#!/usr/bin/env bash
# Builds the cluster's images without Docker into $CLUSTER_CACHE/images/*.tar (OCI archives for
# `ctr -n k8s.io images import`), each named with its fully qualified reference:
#   pause       registry.k8s.io/pause:3.10             the sandbox process (tests/cluster/pause)
#   argo        quay.io/argoproj/{workflow-controller,argoexec,argocli}:<version>   from build.sh's binaries
#   argo-events quay.io/argoproj/argo-events:<version>
#   driftloop   ghcr.io/driftloop/driftloop:<version>  Debian (debootstrap) + python3 venv + pip install of
#               this checkout — what the Dockerfile does, without Docker
# An image is rebuilt only when its inputs are newer than its archive. Usage: images.sh [NAME...]
set -euo pipefail
source "$(dirname "$0")/paths.sh"
out="$cache/images"
py="${PYTHON:-python3}"
mkdir -p "$out"

newer() { # newer ARCHIVE INPUT... — true when the archive is missing or older than an input
    local a="$1"; shift
    [[ -f "$a" ]] || return 0
    for i in "$@"; do [[ "$i" -nt "$a" ]] && return 0; done
    return 1
}

# static IMAGE_NAME ARCHIVE ENTRYPOINT_JSON BINARY... — a scratch image with the binaries in /bin and a /tmp,
# run as user 8737 (Argo's images' numeric user: the Deployments require runAsNonRoot)
static() {
    local name="$1" tar="$2" entry="$3"; shift 3
    for b in "$@"; do [[ -f "$bin/$b" ]] || { echo "error: $bin/$b is missing — run tests/cluster/build.sh"; exit 1; }; done
    local bins=(); for b in "$@"; do bins+=("$bin/$b"); done
    if ! newer "$tar" "${bins[@]}" "$here/oci.py" "$here/images.sh"; then echo "cluster images: $name cached"; return; fi
    local root; root="$(mktemp -d)"
    mkdir -p "$root/bin" "$root/tmp" "$root/etc"
    chmod 1777 "$root/tmp"
    for b in "$@"; do cp "$bin/$b" "$root/bin/"; done
    echo "root:x:0:0:root:/tmp:/bin/nologin" > "$root/etc/passwd"
    echo "8737:x:8737:8737:argo:/tmp:/bin/nologin" >> "$root/etc/passwd"
    "$py" "$here/oci.py" "$tar" "$name" --rootfs "$root" --entrypoint "$entry" --user 8737
    rm -rf "$root"
}

awver="$(cd "$here/argo-workflows" && go list -m -f '{{.Version}}' github.com/argoproj/argo-workflows/v3)"
aev="$(cd "$repo/tests/engines/argo-events" && go list -m -f '{{.Version}}' github.com/argoproj/argo-events)"
dlver="$("$py" -c 'import tomllib,sys; print(tomllib.load(open(sys.argv[1],"rb"))["project"]["version"])' "$repo/pyproject.toml")"

pause() { static registry.k8s.io/pause:3.10 "$out/pause.tar" '["/bin/pause"]' pause; }
argo() {
    static "quay.io/argoproj/workflow-controller:$awver" "$out/workflow-controller.tar" '["/bin/workflow-controller"]' workflow-controller
    static "quay.io/argoproj/argoexec:$awver" "$out/argoexec.tar" '["/bin/argoexec"]' argoexec
    static "quay.io/argoproj/argocli:$awver" "$out/argocli.tar" '["/bin/argo"]' argo
}
argo_events() { static "quay.io/argoproj/argo-events:$aev" "$out/argo-events.tar" '["/bin/argo-events"]' argo-events; }

driftloop() {
    local tar="$out/driftloop.tar" name="ghcr.io/driftloop/driftloop:$dlver"
    local inputs; mapfile -t inputs < <(cd "$repo" && git ls-files -co --exclude-standard pyproject.toml driftloop monitors sensors workflows manifests | sed "s#^#$repo/#")
    if ! newer "$tar" "${inputs[@]}" "$here/oci.py" "$here/images.sh"; then echo "cluster images: driftloop cached"; return; fi
    command -v debootstrap >/dev/null || { echo "error: debootstrap is not installed — apt-get install debootstrap"; exit 1; }
    local base="$cache/debian-bookworm"
    if [[ ! -f "$base/.done" ]]; then
        echo "cluster images: debootstrap Debian bookworm (python3) into $base (cold: minutes)"
        rm -rf "$base"
        nice -n 10 debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates bookworm "$base" \
            http://deb.debian.org/debian > "$cache/debootstrap.log" 2>&1 \
            || { echo "error: debootstrap failed — see $cache/debootstrap.log"; exit 1; }
        touch "$base/.done"
    fi
    local root; root="$(mktemp -d "$cache/rootfs.XXXX")"
    echo "cluster images: driftloop — copying the base and pip install of $repo"
    cp -a "$base/." "$root/"
    rm -f "$root/.done"
    mkdir -p "$root/src"
    (cd "$repo" && git ls-files -co --exclude-standard pyproject.toml README.md driftloop monitors sensors workflows manifests \
        | tar -cf - -T -) | tar -xf - -C "$root/src"
    cp /etc/resolv.conf "$root/etc/resolv.conf"
    # a clean environment (the machine's CA settings name files the image does not have); pip trusts the
    # machine's CA bundle (an egress proxy may sign PyPI's certificate): bind-mounted for the
    # install only, in a private mount namespace whose mounts vanish with it, so the image does not keep it
    local ca="${PIP_CERT:-${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}}"
    touch "$root/tmp/build-ca.crt"
    unshare -m sh -c "mount --rbind /dev '$root/dev' && mount -t proc proc '$root/proc' && \
        mount --bind '$ca' '$root/tmp/build-ca.crt' && \
        chroot '$root' env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root PIP_CERT=/tmp/build-ca.crt \
        SSL_CERT_FILE=/tmp/build-ca.crt REQUESTS_CA_BUNDLE=/tmp/build-ca.crt PIP_NO_CACHE_DIR=1 \
        PIP_DISABLE_PIP_VERSION_CHECK=1 sh -c 'python3 -m venv /opt/driftloop && \
        nice -n 10 /opt/driftloop/bin/pip install --quiet /src'" \
        || { echo "error: pip install in the image's root failed"; rm -rf "$root"; exit 1; }
    rm -rf "$root/src" "$root/tmp/build-ca.crt" "$root/var/cache/apt/archives/"*.deb "$root/var/lib/apt/lists/"*
    : > "$root/etc/resolv.conf"
    echo "driftloop:x:10001:10001::/tmp:/usr/sbin/nologin" >> "$root/etc/passwd"
    echo "driftloop:x:10001:" >> "$root/etc/group"
    "$py" "$here/oci.py" "$tar" "$name" --rootfs "$root" --entrypoint '["driftloop"]' --cmd '["--help"]' \
        --env PATH=/opt/driftloop/bin:/usr/local/bin:/usr/bin:/bin --env PYTHONDONTWRITEBYTECODE=1 \
        --env PYTHONUNBUFFERED=1 --env HOME=/tmp --user 10001:10001 --workdir /tmp
    rm -rf "$root"
}

targets=("$@"); [[ ${#targets[@]} -gt 0 ]] || targets=(pause argo argo_events driftloop)
for t in "${targets[@]}"; do
    t0=$SECONDS
    "${t//-/_}"
    echo "cluster images: $t ready ($((SECONDS - t0)) s)"
done
