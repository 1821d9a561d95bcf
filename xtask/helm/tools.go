//go:build tools

// Package tools records the command this module builds, so `go mod tidy` keeps its requirements:
// helm, which the tests of gitrollout-tests install and upgrade charts with.
package tools

import (
	_ "helm.sh/helm/v4/cmd/helm"
)
