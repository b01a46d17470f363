// Package httpsredirect is the plain-HTTP listener's only job: send every
// request to the same host and path over HTTPS.
//
//	srv := &http.Server{Handler: httpsredirect.Handler("443")}
//
// Nothing is served over HTTP, not even an error page with content.
package httpsredirect

import (
	"net"
	"net/http"
	"strings"
)

// Handler redirects to https://<host>[:httpsPort]<path?query>, with 308 so
// that clients repeat the same method and body. The port is left out when
// it is 443.
func Handler(httpsPort string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, ok := hostOnly(r.Host)
		if !ok {
			http.Error(w, "bad Host header", http.StatusBadRequest)
			return
		}
		if httpsPort != "443" {
			host = net.JoinHostPort(host, httpsPort)
		} else if strings.Contains(host, ":") {
			host = "[" + host + "]"
		}
		http.Redirect(w, r, "https://"+host+r.URL.RequestURI(), http.StatusPermanentRedirect)
	})
}

// hostOnly strips the port from a Host header and checks that what is
// left is a plain host name or IP address, so the redirect cannot be
// turned into anything else.
func hostOnly(hostport string) (string, bool) {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	} else if strings.HasPrefix(hostport, "[") && strings.HasSuffix(hostport, "]") {
		host = hostport[1 : len(hostport)-1]
	}
	if host == "" || len(host) > 253 {
		return "", false
	}
	for _, c := range host {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '.', c == ':':
		default:
			return "", false
		}
	}
	if strings.Contains(host, ":") && net.ParseIP(host) == nil {
		return "", false
	}
	return host, true
}
