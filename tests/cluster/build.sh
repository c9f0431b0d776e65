#!/usr/bin/env bash
# Builds the Go binaries `make cluster` runs, from the Go module proxy, into $CLUSTER_CACHE/bin:
#   Kubernetes v1.34 servers (tests/cluster/kubernetes/go.mod), Argo Workflows controller + argoexec + CLI
#   (tests/cluster/argo-workflows/go.mod), the Argo Events binary (tests/engines/argo-events/go.mod, the
#   linter's pin), CoreDNS (tests/cluster/coredns/go.mod) and the sandbox's pause (tests/cluster/pause).
# One `go build` at a time under `nice -n 10` (the machine's 2 cores are shared); a binary is rebuilt only
# when its go.mod/go.sum is newer. All CGO_ENABLED=0, so the same files go into the images.
set -euo pipefail
source "$(dirname "$0")/paths.sh"
GO="${GO:-go}"
command -v "$GO" >/dev/null || { echo "error: go is not installed — the cluster's binaries are built with it (https://go.dev/doc/install)"; exit 1; }
mkdir -p "$bin"

# build MODULE_DIR STAMP LDFLAGS PKG... — one go build for the packages, skipped while the stamp is newer
build() {
    local mod="$1" what="$2" stamp="$bin/.$2" ld="$3"; shift 3
    if [[ -f "$stamp" && "$stamp" -nt "$mod/go.mod" && "$stamp" -nt "$mod/go.sum" ]]; then
        echo "cluster build: $what cached ($(cd "$bin" && ls -m "${@##*/}" 2>/dev/null))"
        return
    fi
    echo "cluster build: $what — building ${*##*/} (cold: many minutes on 2 shared cores)"
    local t0=$SECONDS
    (cd "$mod" && nice -n 10 env CGO_ENABLED=0 "$GO" build -trimpath -ldflags "-s -w $ld" -o "$bin/" "$@")
    touch "$stamp"
    echo "cluster build: $what done in $((SECONDS - t0)) s"
}

kver="$(cd "$here/kubernetes" && "$GO" list -m -f '{{.Version}}' k8s.io/kubernetes)"
kminor="$(echo "$kver" | cut -d. -f2)"
kld="-X k8s.io/component-base/version.gitVersion=$kver -X k8s.io/component-base/version.gitMajor=1"
kld+=" -X k8s.io/component-base/version.gitMinor=$kminor -X k8s.io/component-base/version.gitTreeState=clean"
kld+=" -X k8s.io/client-go/pkg/version.gitVersion=$kver"
build "$here/kubernetes" "kubernetes-$kver" "$kld" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-proxy

# the node first (pause and CoreDNS are small), then the engines
build "$here/pause" "pause-1" "" driftloop.dev/cluster/pause

cdver="$(cd "$here/coredns" && "$GO" list -m -f '{{.Version}}' github.com/coredns/coredns)"
build "$here/coredns" "coredns-$cdver" "" driftloop.dev/cluster/coredns

aw="github.com/argoproj/argo-workflows/v3"
awver="$(cd "$here/argo-workflows" && "$GO" list -m -f '{{.Version}}' "$aw")"
# In Argo's repository workflow/executor/os-specific/signal_linux.go is a symlink to signal_darwin.go; module
# zips drop symlinks, so the module as served does not build for linux ("undefined: Setpgid"). The build
# uses a copy of the module with that link restored, through a replace in a copy of our go.mod (-modfile).
src="$cache/src/argo-workflows-$awver"
if [[ ! -f "$src/.restored" ]]; then
    rm -rf "$src"; mkdir -p "$src"
    cp -r "$(cd "$here/argo-workflows" && "$GO" list -m -f '{{.Dir}}' "$aw")/." "$src/"
    chmod -R u+w "$src"
    ln -s signal_darwin.go "$src/workflow/executor/os-specific/signal_linux.go"
    touch "$src/.restored"
fi
modfile="$cache/src/argo-workflows.go.mod"
{ cat "$here/argo-workflows/go.mod"; echo; echo "replace $aw => $src"; } > "$modfile"
cp "$here/argo-workflows/go.sum" "${modfile%.mod}.sum"
GOFLAGS="${GOFLAGS:-} -modfile=$modfile" build "$here/argo-workflows" "argo-workflows-$awver" "-X $aw.version=$awver" \
    "$aw/cmd/workflow-controller" "$aw/cmd/argoexec" "$aw/cmd/argo"

aev="$(cd "$repo/tests/engines/argo-events" && "$GO" list -m -f '{{.Version}}' github.com/argoproj/argo-events)"
build "$repo/tests/engines/argo-events" "argo-events-$aev" "" github.com/argoproj/argo-events/cmd
# the binary of .../cmd is named cmd; the images and the host call it argo-events
[[ -f "$bin/cmd" ]] && mv -f "$bin/cmd" "$bin/argo-events"

# Apache Kafka's jars (the cluster's broker runs on the host: `driftloop up` with kafka.engine=apache), from
# Maven Central at the pin of tests/engines/kafka/pom.xml — into the cache, not the checkout's .bin
kafka="$cache/kafka"
if [[ ! -f "$kafka/.installed" || "$repo/tests/engines/kafka/pom.xml" -nt "$kafka/.installed" ]]; then
    command -v java >/dev/null || { echo "error: java is not installed — Apache Kafka needs a JDK 17+ (apt-get install openjdk-17-jdk-headless)"; exit 1; }
    command -v mvn >/dev/null || { echo "error: mvn is not installed — it fetches Apache Kafka's jars (apt-get install maven)"; exit 1; }
    echo "cluster build: Apache Kafka jars from Maven Central into $kafka/libs"
    rm -rf "$kafka/libs"
    mvn -q -B -f "$repo/tests/engines/kafka/pom.xml" dependency:copy-dependencies -DincludeScope=runtime \
        -DoutputDirectory="$kafka/libs"
    touch "$kafka/.installed"
fi

echo "cluster build: binaries ready in $bin"
