// Package configs holds mailrep's data files that are compiled into the
// binary: the built-in DNS blocklist catalog. The example configuration
// (mailrep.example.yaml) lives beside them but is documentation, not
// embedded.
package configs

import _ "embed"

// RBLCatalog is rbl-catalog.yaml, the built-in DNS blocklist catalog in
// the schema of rbl.List. It is shared: never modify it; rbl.DefaultCatalog
// parses it into a fresh Catalog.
//
//go:embed rbl-catalog.yaml
var RBLCatalog []byte
