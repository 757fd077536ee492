package redlead

// NodeURLsForTests gives the examples (package redlead_test) the test nodes.
func NodeURLsForTests() []string { return nodeURLs }
