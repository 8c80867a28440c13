package config

import (
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

const examplePath = "../../configs/mailrep.example.yaml"

func TestExampleIsValid(t *testing.T) {
	c, err := Load(examplePath)
	if err != nil {
		t.Fatalf("the example configuration does not load: %v", err)
	}
	if len(c.Sources) == 0 || len(c.IPs.Transports) == 0 {
		t.Errorf("the example should show sources and transports: %+v", c)
	}
}

// schemaPaths lists the key paths of type typ ("sources[].path",
// "accounts.aliases"); leaves are keys whose value is not a section.
func schemaPaths(typ reflect.Type, prefix string, all, leaves map[string]reflect.Type) {
	keys, index := yamlFields(typ)
	for _, k := range keys {
		ft := typ.Field(index[k]).Type
		p := joinPath(prefix, k)
		all[p] = ft
		switch {
		case ft.Kind() == reflect.Struct && ft != addrType && ft != prefixType:
			schemaPaths(ft, p, all, leaves)
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct && ft.Elem() != prefixType:
			schemaPaths(ft.Elem(), p+"[]", all, leaves)
		default:
			leaves[p] = ft
		}
	}
}

// exampleKeys walks the example's YAML and returns, for every schema key
// path found, the comments written above or beside each occurrence.
func exampleKeys(t *testing.T, all map[string]reflect.Type) map[string][]string {
	t.Helper()
	data, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	found := map[string][]string{}
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, path)
			}
		case yaml.SequenceNode:
			for _, c := range n.Content {
				walk(c, path+"[]")
			}
		case yaml.MappingNode:
			if typ, ok := all[path]; ok && typ.Kind() == reflect.Map {
				return // free-form keys (aliases, hosts)
			}
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := n.Content[i]
				p := joinPath(path, k.Value)
				found[p] = append(found[p], k.HeadComment+"\n"+k.LineComment)
				walk(n.Content[i+1], p)
			}
		}
	}
	walk(&doc, "")
	return found
}

// TestExampleDocumentsEveryKey makes sure configs/mailrep.example.yaml
// cannot drift from the Config struct: every key appears, every leaf key
// says its default (or that it is required), and the stated default is
// the real one.
func TestExampleDocumentsEveryKey(t *testing.T) {
	all, leaves := map[string]reflect.Type{}, map[string]reflect.Type{}
	schemaPaths(reflect.TypeFor[Config](), "", all, leaves)
	found := exampleKeys(t, all)
	for p := range all {
		if _, ok := found[p]; !ok {
			t.Errorf("key %s is missing from %s", p, examplePath)
		}
	}
	for p := range found {
		if _, ok := all[p]; !ok {
			t.Errorf("%s has key %s, which Config does not", examplePath, p)
		}
	}

	defaults := defaultConfig(noEnv)
	defaultRe := regexp.MustCompile(`Default: (.*)`)
	for p, typ := range leaves {
		var stated string
		documented := false
		for _, c := range found[p] {
			if m := defaultRe.FindStringSubmatch(c); m != nil {
				stated, documented = m[1], true
			}
			if strings.Contains(c, "Required.") || strings.Contains(c, "(required)") {
				documented = true
			}
		}
		if !documented {
			t.Errorf("%s: key %s has no comment saying its default (\"Default: …\") or \"Required.\"", examplePath, p)
			continue
		}
		if stated == "" {
			continue
		}
		switch p {
		case "state_dir", "sources":
			continue // depend on the machine; checked by TestDefault
		}
		// The stated default runs to " (", " = ", a sentence end or the
		// line end.
		for _, sep := range []string{" (", " = ", ". "} {
			stated, _, _ = strings.Cut(stated, sep)
		}
		stated = strings.TrimSuffix(stated, ".")
		got := reflect.New(typ).Elem()
		if df, ok := got.Addr().Interface().(defaulter); ok {
			df.setDefaults()
		}
		var n yaml.Node
		if err := yaml.Unmarshal([]byte("v: "+stated), &n); err != nil {
			t.Errorf("%s: stated default %q of %s is not YAML: %v", examplePath, stated, p, err)
			continue
		}
		d := decoder{file: examplePath, env: noEnv, lines: map[string]int{}, failed: map[string]bool{}}
		d.decodeValue(n.Content[0].Content[1], got, p)
		if len(d.errs) > 0 {
			t.Errorf("%s: stated default %q of %s does not decode: %v", examplePath, stated, p, d.errs)
			continue
		}
		want := defaultValue(defaults, p)
		if !sameValue(got, want) {
			t.Errorf("%s: %s says Default: %s, but the default is %v", examplePath, p, stated, want)
		}
	}
}

// defaultValue returns the default of key path p: a field of c, or of a
// defaulted list element for paths inside lists ("sources[].format").
func defaultValue(c *Config, p string) reflect.Value {
	v := reflect.ValueOf(c).Elem()
	for part := range strings.SplitSeq(p, ".") {
		if v.Kind() == reflect.Slice {
			e := reflect.New(v.Type().Elem()).Elem()
			if df, ok := e.Addr().Interface().(defaulter); ok {
				df.setDefaults()
			}
			v = e
		}
		name := strings.TrimSuffix(part, "[]")
		_, index := yamlFields(v.Type())
		v = v.Field(index[name])
	}
	return v
}

// sameValue compares decoded and default values; an empty and a nil
// list or map are the same.
func sameValue(a, b reflect.Value) bool {
	if (a.Kind() == reflect.Slice || a.Kind() == reflect.Map) && a.Len() == 0 && b.Len() == 0 {
		return true
	}
	return reflect.DeepEqual(a.Interface(), b.Interface())
}

func TestExampleDescribe(t *testing.T) {
	c, err := Load(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	c.Describe(&b)
	out := b.String()
	for _, want := range []string{"/var/log/mail.log", "postfix-out2/smtp", "192.0.2.12", "mx2.example.net", "200000", "1h, 24h", "127.0.0.1:9848"} {
		if !strings.Contains(out, want) {
			t.Errorf("Describe output lacks %q:\n%s", want, out)
		}
	}
	if !slices.ContainsFunc(strings.Split(out, "\n"), func(l string) bool { return strings.HasPrefix(l, "Sources") }) {
		t.Errorf("Describe output has no Sources section:\n%s", out)
	}
}
