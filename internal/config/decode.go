package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"reflect"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// decoder turns a YAML node tree into a Config, driven by the yaml tags of
// the Go types. It never stops at the first problem: every error is
// collected with its line and key path.
type decoder struct {
	file string
	env  environment
	// lines records the line of every key path decoded, for Validate.
	lines map[string]int
	// failed records key paths whose value could not be decoded, so that
	// validation does not report them a second time.
	failed map[string]bool
	errs   []error
}

var (
	durationType = reflect.TypeFor[time.Duration]()
	addrType     = reflect.TypeFor[netip.Addr]()
	prefixType   = reflect.TypeFor[netip.Prefix]()
)

// decodeDocument parses data and decodes its single document into c.
// A YAML syntax error is returned at once; schema errors are collected in
// d.errs.
func (d *decoder) decodeDocument(data []byte, c *Config) error {
	d.failed = map[string]bool{}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // an empty file: all defaults
		}
		return d.syntaxError(err)
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case err == nil:
		return &Error{File: d.file, Line: extra.Line, Msg: "more than one YAML document in the file"}
	case !errors.Is(err, io.EOF):
		return d.syntaxError(err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil
	}
	d.decodeValue(doc.Content[0], reflect.ValueOf(c).Elem(), "")
	return nil
}

// syntaxError turns a yaml package error ("yaml: line 3: did not find
// expected key") into an Error naming file and line.
func (d *decoder) syntaxError(err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if num, tail, ok := strings.Cut(rest, ": "); ok {
			if n, perr := strconv.Atoi(num); perr == nil {
				line, msg = n, tail
			}
		}
	}
	return &Error{File: d.file, Line: line, Msg: "invalid YAML: " + msg, Err: err}
}

// fail records an error at node n for key path path.
func (d *decoder) fail(n *yaml.Node, path string, err error, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if path != "" {
		msg = path + ": " + msg
	}
	d.failed[path] = true
	d.errs = append(d.errs, &Error{File: d.file, Line: n.Line, Path: path, Msg: msg, Err: err})
}

// kindName names a node kind for error messages.
func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return fmt.Sprintf("the scalar %q", n.Value)
	}
	return "an unexpected node"
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// decodeValue decodes n into v; path is v's key path ("" at the top).
// A null value leaves v as it is: an empty key means "the default".
func (d *decoder) decodeValue(n *yaml.Node, v reflect.Value, path string) {
	d.lines[path] = n.Line
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if isNull(n) {
		return
	}
	switch v.Type() {
	case durationType:
		if s, ok := d.scalar(n, path); ok {
			dur, err := parseDuration(s)
			if err != nil {
				d.fail(n, path, err, "%q is not a duration (e.g. 90s, 15m, 2h, 5d)", s)
				return
			}
			v.SetInt(int64(dur))
		}
		return
	case addrType:
		if s, ok := d.scalar(n, path); ok {
			if s == "" {
				v.Set(reflect.Zero(addrType)) // "": no address
				return
			}
			a, err := parseAddr(s)
			if err != nil {
				d.fail(n, path, err, "%q is not an IP address", s)
				return
			}
			v.Set(reflect.ValueOf(a))
		}
		return
	case prefixType:
		if s, ok := d.scalar(n, path); ok {
			p, err := parsePrefix(s)
			if err != nil {
				d.fail(n, path, err, "%q is not an IP address or CIDR prefix", s)
				return
			}
			v.Set(reflect.ValueOf(p))
		}
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		d.decodeStruct(n, v, path)
	case reflect.Slice:
		d.decodeSlice(n, v, path)
	case reflect.Map:
		d.decodeMap(n, v, path)
	case reflect.String:
		if s, ok := d.scalar(n, path); ok {
			v.SetString(s)
		}
	case reflect.Int:
		if s, ok := d.scalar(n, path); ok {
			i, err := strconv.ParseInt(s, 0, strconv.IntSize)
			if err != nil {
				d.fail(n, path, err, "%q is not an integer", s)
				return
			}
			v.SetInt(i)
		}
	case reflect.Float64:
		if s, ok := d.scalar(n, path); ok {
			f, err := strconv.ParseFloat(s, 64)
			if err != nil {
				d.fail(n, path, err, "%q is not a number", s)
				return
			}
			v.SetFloat(f)
		}
	case reflect.Bool:
		if s, ok := d.scalar(n, path); ok {
			b, err := parseBool(s)
			if err != nil {
				d.fail(n, path, err, "%q is not a boolean (true or false)", s)
				return
			}
			v.SetBool(b)
		}
	default:
		// Only reachable when a new field uses a type this decoder does
		// not know; TestSchemaTypesDecodable guards against it.
		d.fail(n, path, nil, "internal error: cannot decode into %s", v.Type())
	}
}

// scalar returns the value of the scalar n with ${ENV} references
// substituted.
func (d *decoder) scalar(n *yaml.Node, path string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		d.fail(n, path, nil, "expected a single value, got %s", kindName(n))
		return "", false
	}
	s, err := expandEnv(n.Value, d.env.lookup)
	if err != nil {
		d.fail(n, path, err, "%v", err)
		return "", false
	}
	return s, true
}

// mappingPairs checks that n is a mapping with scalar, unique keys and
// calls fn for each key/value pair.
func (d *decoder) mappingPairs(n *yaml.Node, path string, fn func(key string, kn, vn *yaml.Node)) {
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, nil, "expected a mapping, got %s", kindName(n))
		return
	}
	seen := make(map[string]int, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, vn := n.Content[i], n.Content[i+1]
		if kn.Kind == yaml.AliasNode && kn.Alias != nil {
			kn = kn.Alias
		}
		if kn.Kind != yaml.ScalarNode {
			d.fail(kn, path, nil, "a key must be a single value, got %s", kindName(kn))
			continue
		}
		if prev, dup := seen[kn.Value]; dup {
			d.errs = append(d.errs, &Error{File: d.file, Line: kn.Line, Path: path,
				Msg: fmt.Sprintf("duplicate key %q in %s (first on line %d)", kn.Value, sectionName(path), prev)})
			continue
		}
		seen[kn.Value] = kn.Line
		fn(kn.Value, kn, vn)
	}
}

// sectionName describes a key path for messages about keys inside it.
func sectionName(path string) string {
	if path == "" {
		return "the top level"
	}
	return fmt.Sprintf("section %q", path)
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// yamlFields maps the yaml keys of struct type t to field indexes, in
// field order. Fields without a yaml tag (or tagged "-") are not part of
// the schema.
func yamlFields(t reflect.Type) (keys []string, index map[string]int) {
	index = map[string]int{}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		keys = append(keys, name)
		index[name] = i
	}
	return keys, index
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	keys, index := yamlFields(v.Type())
	d.mappingPairs(n, path, func(key string, kn, vn *yaml.Node) {
		i, ok := index[key]
		if !ok {
			msg := fmt.Sprintf("unknown key %q in %s", key, sectionName(path))
			if path == "" {
				msg = fmt.Sprintf("unknown key %q at top level", key)
			}
			if s := suggest(key, keys); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			d.errs = append(d.errs, &Error{File: d.file, Line: kn.Line, Path: joinPath(path, key), Msg: msg})
			return
		}
		d.decodeValue(vn, v.Field(i), joinPath(path, key))
	})
}

// suggest returns the known key that key probably meant: same letters up
// to case and "-" for "_".
func suggest(key string, known []string) string {
	norm := strings.ReplaceAll(strings.ToLower(key), "-", "_")
	for _, k := range known {
		if k == norm {
			return k
		}
	}
	return ""
}

func (d *decoder) decodeSlice(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.SequenceNode {
		d.fail(n, path, nil, "expected a list, got %s", kindName(n))
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, en := range n.Content {
		e := s.Index(i)
		if df, ok := e.Addr().Interface().(defaulter); ok {
			df.setDefaults()
		}
		d.decodeValue(en, e, path+"["+strconv.Itoa(i)+"]")
	}
	v.Set(s)
}

func (d *decoder) decodeMap(n *yaml.Node, v reflect.Value, path string) {
	t := v.Type()
	if t.Key().Kind() != reflect.String {
		d.fail(n, path, nil, "internal error: map key type %s", t.Key())
		return
	}
	m := reflect.MakeMapWithSize(t, len(n.Content)/2)
	d.mappingPairs(n, path, func(key string, kn, vn *yaml.Node) {
		e := reflect.New(t.Elem()).Elem()
		if df, ok := e.Addr().Interface().(defaulter); ok {
			df.setDefaults()
		}
		p := path + "[" + strconv.Quote(key) + "]"
		d.decodeValue(vn, e, p)
		m.SetMapIndex(reflect.ValueOf(key).Convert(t.Key()), e)
	})
	if n.Kind == yaml.MappingNode {
		v.Set(m)
	}
}

// parseBool accepts the YAML 1.1 and 1.2 spellings of booleans.
func parseBool(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "true", "yes", "on":
		return true, nil
	case "false", "no", "off":
		return false, nil
	}
	return false, errors.New("not a boolean")
}

// parseAddr parses an IP address without zone; IPv4-mapped IPv6
// addresses are unmapped so they compare equal to their IPv4 form.
func parseAddr(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(strings.TrimSpace(s))
	if err != nil {
		return netip.Addr{}, err
	}
	if a.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("address %q has a zone", s)
	}
	return a.Unmap(), nil
}

// parsePrefix parses a CIDR prefix or a bare IP (as a /32 or /128); host
// bits are cleared.
func parsePrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, "/") {
		a, err := parseAddr(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return p.Masked(), nil
}

// envError is a ${ENV} substitution problem.
type envError string

func (e envError) Error() string { return string(e) }

// expandEnv substitutes ${NAME} and ${NAME:-default} in s. As in the
// shell, the default also applies when NAME is set but empty. "$${"
// stands for a literal "${"; any other "$" is kept as it is.
func expandEnv(s string, lookup func(string) (string, bool)) (string, error) {
	if !strings.Contains(s, "${") {
		return s, nil
	}
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '$')
		if i < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		b.WriteString(s[:i])
		s = s[i:]
		switch {
		case strings.HasPrefix(s, "$${"):
			b.WriteString("${")
			s = s[3:]
			continue
		case !strings.HasPrefix(s, "${"):
			b.WriteByte('$')
			s = s[1:]
			continue
		}
		end := strings.IndexByte(s, '}')
		if end < 0 {
			return "", envError(fmt.Sprintf("unterminated %q", s))
		}
		expr := s[2:end]
		s = s[end+1:]
		name, def, hasDef := strings.Cut(expr, ":-")
		if !validEnvName(name) {
			return "", envError(fmt.Sprintf("invalid variable name %q in ${%s}", name, expr))
		}
		val, ok := lookup(name)
		if !ok || (hasDef && val == "") {
			if !hasDef {
				return "", envError(fmt.Sprintf("environment variable %q is not set (write ${%s:-default} to give a default)", name, name))
			}
			val = def
		}
		b.WriteString(val)
	}
}

func validEnvName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_', 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z':
		case '0' <= c && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}
