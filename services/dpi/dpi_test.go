package dpi

import (
	"bytes"
	"os"
	"testing"

	"github.com/multimeter-fw/multimeter/services/decode"
	"github.com/multimeter-fw/multimeter/services/l7proto"
)

func TestInspect(t *testing.T) {
	read := func(name string) []byte {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	quic := make([]byte, 1200)
	quic[0], quic[4] = 0xc3, 1
	rtp := []byte{0x80, 0x08, 0, 1, 0, 0, 0, 160, 0xde, 0xad, 0xbe, 0xef}
	for _, tc := range []struct {
		name     string
		proto    uint8
		sp, dp   uint16
		payloads [][]byte
		want     l7proto.ID
		server   string
	}{
		{"tls sni", decode.ProtoTCP, 50000, 443, [][]byte{read("clienthello.bin")}, l7proto.TLS, "performance.radar.cloudflare.com"},
		{"http host", decode.ProtoTCP, 50000, 80, [][]byte{read("http-get.bin")}, l7proto.HTTP, "google.com"},
		{"http on odd port", decode.ProtoTCP, 50000, 1234, [][]byte{[]byte("GET / HTTP/1.1\r\nHost: x.example:8080\r\n\r\n")}, l7proto.HTTP, "x.example"},
		{"ssh", decode.ProtoTCP, 50000, 2222, [][]byte{[]byte("SSH-2.0-OpenSSH_9.2\r\n")}, l7proto.SSH, ""},
		{"smtp", decode.ProtoTCP, 25, 50000, [][]byte{[]byte("220 mx.example ESMTP Postfix\r\n")}, l7proto.SMTP, ""},
		{"smb2", decode.ProtoTCP, 50000, 445, [][]byte{append([]byte{0, 0, 0, 0x40}, []byte("\xfeSMB")...)}, l7proto.SMB, ""},
		{"sip over udp", decode.ProtoUDP, 5060, 5060, [][]byte{[]byte("INVITE sip:1@x SIP/2.0\r\n\r\n")}, l7proto.SIP, ""},
		{"quic", decode.ProtoUDP, 50000, 443, [][]byte{quic}, l7proto.QUIC, ""},
		{"rtp needs two packets", decode.ProtoUDP, 40000, 30000, [][]byte{rtp, rtp}, l7proto.RTP, ""},
		{"port fallback", decode.ProtoTCP, 50000, 3306, [][]byte{{1, 2, 3}}, l7proto.MySQL, ""},
		{"unknown", decode.ProtoUDP, 50000, 50001, [][]byte{{1, 2, 3}}, l7proto.Unknown, ""},
		{"icmp", decode.ProtoICMP, 0, 0, [][]byte{{0}}, l7proto.ICMP, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var st State
			var server []byte
			for _, p := range tc.payloads {
				if n := st.Inspect(tc.proto, tc.sp, tc.dp, p, true); n != nil {
					server = n
				}
			}
			if st.App() != tc.want || string(server) != tc.server {
				t.Errorf("Inspect: %s, server name %q; want %s, %q", st.App(), server, tc.want, tc.server)
			}
		})
	}
}

func TestInspectDoesNotAllocate(t *testing.T) {
	hello, err := os.ReadFile("testdata/clienthello.bin")
	if err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(100, func() {
		var st State
		st.Inspect(decode.ProtoTCP, 50000, 443, hello, true)
	})
	if allocs != 0 {
		t.Errorf("Inspect allocates %v times; want 0", allocs)
	}
}

func FuzzInspect(f *testing.F) {
	for _, name := range []string{"testdata/clienthello.bin", "testdata/http-get.bin"} {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(uint8(decode.ProtoTCP), uint16(443), b)
		}
	}
	f.Add(uint8(decode.ProtoUDP), uint16(5060), []byte("SIP/2.0 200 OK\r\n"))
	f.Fuzz(func(t *testing.T, proto uint8, port uint16, b []byte) {
		var st State
		for _, fromClient := range []bool{true, false} {
			name := st.Inspect(proto, 50000, port, b, fromClient)
			if len(name) > 0 && !bytes.Contains(b, name) {
				t.Fatalf("name %q is not from the payload", name)
			}
		}
		if n := ServerName(b); len(n) > 253 {
			t.Fatalf("server name of %d bytes", len(n))
		}
	})
}
