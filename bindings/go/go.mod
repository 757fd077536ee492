module redlead.dev/go/redlead

go 1.22
