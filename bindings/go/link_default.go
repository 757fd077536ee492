//go:build !redlead_pkgconfig

package redlead

// Links against libredlead found through CGO_CFLAGS / CGO_LDFLAGS, e.g.
//
//	CGO_CFLAGS="-I$REPO/include" \
//	CGO_LDFLAGS="-L$REPO/target/release -Wl,-rpath,$REPO/target/release" go build
//
// Build with -tags redlead_pkgconfig to use pkg-config instead.

// #cgo LDFLAGS: -lredlead
import "C"
