module redlead.dev/examples/expired-keys

go 1.22

require redlead.dev/go/redlead v0.0.0

replace redlead.dev/go/redlead => ../../../bindings/go
