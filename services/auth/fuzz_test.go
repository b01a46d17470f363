package auth

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// FuzzParseUsersFile: no users file, however damaged, may crash the
// daemon or load half-validated; whatever loads must survive a save and a
// reload unchanged. Seeds are in testdata/fuzz/FuzzParseUsersFile.
func FuzzParseUsersFile(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		uf, err := parseUsersFile(data)
		if err != nil {
			return
		}
		if a := uf.find(AdminName); a == nil {
			t.Fatalf("parseUsersFile(%q) accepted a file without admin", data)
		}
		again, err := json.Marshal(uf)
		if err != nil {
			t.Fatal(err)
		}
		back, err := parseUsersFile(again)
		if err != nil {
			t.Fatalf("saved users file %s does not load: %v", again, err)
		}
		if diff := cmp.Diff(uf, back, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("users file changed through a save (-before +after):\n%s", diff)
		}
	})
}

// FuzzParseToken: token strings come straight from Authorization headers.
// Seeds are in testdata/fuzz/FuzzParseToken.
func FuzzParseToken(f *testing.F) {
	f.Fuzz(func(t *testing.T, tok string) {
		id, secret, ok := parseToken(tok)
		if ok && (!validID(id) || len(secret) != secretLen) {
			t.Fatalf("parseToken(%q) = %q, %d bytes; want a valid id and a %d-byte secret", tok, id, len(secret), secretLen)
		}
	})
}
