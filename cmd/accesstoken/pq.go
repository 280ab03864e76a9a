//go:build go1.27

package main

// pqBuild: this binary verifies ML-DSA (crypto/mldsa, Go 1.27).
const pqBuild = true
