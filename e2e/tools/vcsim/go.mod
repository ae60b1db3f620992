// vcsim: govmomi's vSphere API simulator, in a module of its own so that
// govmomi's dependencies never move the Kubernetes ones pinned in ../go.mod.
module drover.dev/e2e/tools/vcsim

go 1.26.0

require github.com/vmware/govmomi v0.52.0

require github.com/google/uuid v1.6.0 // indirect
