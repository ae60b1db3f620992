"""Development tooling: the Go-built toolchain, local etcd/kube-apiserver/CAPI processes, the local
management plane and `drover demo`. Tests, benches and the local provider use it; the controller never
imports it (tests/test_package_layout.py checks)."""
