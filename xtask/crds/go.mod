// The modules `cargo xtask gitops build` takes the Argo CD and Flux CRDs from, pinned here so that
// go.sum and the Go checksum database verify what is downloaded (`go mod download` in this
// directory). No package of them is imported: they are read as files, not built. `go mod tidy`
// would drop these requirements, so do not run it here; edit a version by hand, then run
// `go mod download <module>` to record its sums in go.sum.
//
// argo-cd/v3 v3.5.8 and kustomize-controller v1.9.6 are the newest releases whose go line this
// Go (1.26) accepts; v3.6 and v1.10 ask for go 1.27. helm-controller's own module is not on the
// module proxy: its api module is, and its CRD is generated from it with xtask/controller-gen.
module gitrollout.dev/crds

go 1.26.3

require (
	github.com/argoproj/argo-cd/v3 v3.5.8
	github.com/fluxcd/helm-controller/api v1.6.5
	github.com/fluxcd/kustomize-controller v1.9.6
)
