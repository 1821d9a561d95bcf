//go:build tools

// Package tools records the commands this module builds, so `go mod tidy` keeps their requirements:
// krew for `cargo xtask krew-test`, and krew's manifest validator for `cargo xtask dist --check`.
package tools

import (
	_ "sigs.k8s.io/krew/cmd/krew"
	_ "sigs.k8s.io/krew/cmd/validate-krew-manifest"
)
