//go:build tools

// Package tools records the command this module builds, so `go mod tidy` keeps its requirements:
// controller-gen, which writes the HelmRelease CRD from helm-controller's api module.
package tools

import (
	_ "sigs.k8s.io/controller-tools/cmd/controller-gen"
)
