// The pod sandbox's pause process for `make cluster` (no image can be pulled, so registry.k8s.io/pause is
// built here: tests/cluster/build.sh).
module driftloop.dev/cluster/pause

go 1.24.0
