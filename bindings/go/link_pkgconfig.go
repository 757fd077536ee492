//go:build redlead_pkgconfig

package redlead

// Links against an installed libredlead described by redlead.pc
// (ffi/install.sh PREFIX; then PKG_CONFIG_PATH=PREFIX/lib/pkgconfig).

// #cgo pkg-config: redlead
import "C"
