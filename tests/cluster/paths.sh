# Sourced by build.sh and images.sh: where the checkout and the cluster's cache (binaries, images) are.
here="$(cd "$(dirname "${BASH_SOURCE[1]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cache="${CLUSTER_CACHE:-$HOME/.cache/driftloop-cluster}"
bin="$cache/bin"
