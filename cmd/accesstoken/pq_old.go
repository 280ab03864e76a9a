//go:build !go1.27

package main

// pqBuild: built with a Go older than 1.27, this binary cannot verify
// ML-DSA.
const pqBuild = false
