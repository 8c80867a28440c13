package main

import (
	"os"
	"os/user"
	"strings"
	"testing"
)

func TestUIDNamesOnlyForThisHost(t *testing.T) {
	root, err := user.LookupId("0")
	if err != nil {
		t.Skipf("no user database: %v", err)
	}
	h, err := os.Hostname()
	if err != nil || h == "" {
		t.Skip("no host name")
	}
	short, _, _ := strings.Cut(h, ".")
	u := newUIDNames()
	if got := u.name(short, "0"); got != root.Username {
		t.Errorf("uid 0 on this host = %q, want %q", got, root.Username)
	}
	if got := u.name("some-other-mx", "0"); got != "0" {
		t.Errorf("uid 0 on another host = %q, want the uid kept", got)
	}
	if got := u.name(short, "4294967000"); got != "4294967000" {
		t.Errorf("unknown uid = %q, want the uid kept", got)
	}
}
