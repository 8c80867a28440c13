package rbl

import "github.com/mailrep/mailrep/configs"

// builtinName names the embedded catalog in error messages.
const builtinName = "built-in rbl-catalog.yaml"

// DefaultCatalog parses the built-in catalog (configs/rbl-catalog.yaml,
// embedded in the binary). Each call returns a fresh Catalog, so callers
// may Add to it (custom lists, catalog files) without affecting others.
// An error means the embedded file is broken, which the package's tests
// rule out.
func DefaultCatalog() (*Catalog, error) {
	return ParseCatalog(builtinName, configs.RBLCatalog)
}
