package authapi

import (
	"errors"
	"testing"

	"github.com/multimeter-fw/multimeter/services/apierr"
)

func TestParseLogin(t *testing.T) {
	tests := []struct {
		name, body string
		want       Credentials
		param      string // field named by the 400, "" for a general 400
		ok         bool
	}{
		{"json", `{"username":"admin","password":"pa:ss word"}`, Credentials{"admin", "pa:ss word"}, "", true},
		{"json with spaces", " \n{\"username\":\"a\", \"password\":\"b\"}", Credentials{"a", "b"}, "", true},
		{"form", "username=admin&password=p%26ss+word", Credentials{"admin", "p&ss word"}, "", true},
		{"json unknown field", `{"username":"a","password":"b","admin":true}`, Credentials{}, "", false},
		{"json wrong type", `{"username":1,"password":"b"}`, Credentials{}, "username", false},
		{"json trailing", `{"username":"a","password":"b"} {}`, Credentials{}, "", false},
		{"form unknown field", "username=a&password=b&remember=1", Credentials{}, "remember", false},
		{"no password", `{"username":"a"}`, Credentials{}, "password", false},
		{"no user", "password=b", Credentials{}, "username", false},
		{"empty", "", Credentials{}, "username", false},
		{"bad escape", "username=%zz&password=b", Credentials{}, "", false},
	}
	for _, tt := range tests {
		got, err := ParseLogin([]byte(tt.body))
		if tt.ok {
			if err != nil || got != tt.want {
				t.Errorf("%s: ParseLogin(%q) = %+v, %v; want %+v", tt.name, tt.body, got, err, tt.want)
			}
			continue
		}
		e, isAPI := errors.AsType[*apierr.Error](err)
		if !isAPI || e.Status != 400 || e.Param != tt.param {
			t.Errorf("%s: ParseLogin(%q) error = %v; want a 400 naming %q", tt.name, tt.body, err, tt.param)
		}
	}
}

// FuzzParseLogin: the login body is the one thing anyone may send without
// credentials. Seeds are in testdata/fuzz/FuzzParseLogin.
func FuzzParseLogin(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte) {
		c, err := ParseLogin(body)
		if err != nil {
			if _, ok := errors.AsType[*apierr.Error](err); !ok {
				t.Fatalf("ParseLogin(%q) error %v is not an API error", body, err)
			}
			return
		}
		if c.Username == "" || c.Password == "" {
			t.Fatalf("ParseLogin(%q) = %+v with an empty field", body, c)
		}
	})
}
