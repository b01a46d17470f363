package kernelpkg

import "testing"

func TestParseDepends(t *testing.T) {
	tests := []struct {
		name, in, want string
		wantErr        bool
	}{
		{"bookworm", "linux-image-amd64\n  Depends: linux-image-6.1.0-56-amd64\n", "linux-image-6.1.0-56-amd64", false},
		{"other deps first", "linux-image-amd64\n  Depends: initramfs-tools\n  Depends: linux-image-6.12.9-amd64\n", "linux-image-6.12.9-amd64", false},
		{"virtual alternative skipped", "x\n  Depends: <linux-image-virtual>\n  Depends: linux-image-6.1.0-1-amd64\n", "linux-image-6.1.0-1-amd64", false},
		{"none", "linux-image-amd64\n", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseDepends(tt.in)
			if got != tt.want || (err != nil) != tt.wantErr {
				t.Errorf("ParseDepends(%q) = %q, %v; want %q (error %v)", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestParseVersion(t *testing.T) {
	tests := []struct {
		in, want string
		wantErr  bool
	}{
		{"Package: linux-image-6.1.0-56-amd64\nSource: linux-signed-amd64 (6.1.192+2)\nVersion: 6.1.192-2\nInstalled-Size: 1\n", "6.1.192-2", false},
		{"Version: 1:2.0-1\n", "1:2.0-1", false},
		{"Package: x\n", "", true},
	}
	for _, tt := range tests {
		got, err := ParseVersion(tt.in)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("ParseVersion(%q) = %q, %v; want %q (error %v)", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}
