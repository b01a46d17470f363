// Package manifest is the contract between the image build and the init:
// a JSON file in the initramfs that says what the image is (version,
// profile, model, kernel) and which kernel modules to load, in order.
//
//	m, err := manifest.Read(manifest.Path)
package manifest

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/multimeter-fw/multimeter/hal/model"
)

// Path is where the manifest lives in the image.
const Path = "/etc/multimeter/image.json"

// Build profiles.
const (
	ProfileProduction = "production" // no shell anywhere
	ProfileDebug      = "debug"      // a shell on the serial console
)

// Kernel identifies the kernel package the image was built from.
type Kernel struct {
	Package string `json:"package"` // Debian package, e.g. linux-image-6.1.0-56-amd64
	Version string `json:"version"` // its Debian version, e.g. 6.1.192-2
	Release string `json:"release"` // uname -r
}

// Manifest describes one built image.
type Manifest struct {
	Product string        `json:"product"`
	Version string        `json:"version"`
	Profile string        `json:"profile"` // ProfileProduction or ProfileDebug
	Model   model.Profile `json:"model"`
	Kernel  Kernel        `json:"kernel"`
	// Modules are the paths, inside the image, of the kernel modules to
	// load, every module after its dependencies.
	Modules []string `json:"modules"`
	// Daemon is the path of multimeterd and Shell the debug shell's
	// (empty in the production profile).
	Daemon string `json:"daemon"`
	Shell  string `json:"shell,omitempty"`
}

// Validate reports the first inconsistency.
func (m Manifest) Validate() error {
	switch m.Profile {
	case ProfileProduction:
		if m.Shell != "" {
			return errors.New("manifest: production profile with a shell")
		}
	case ProfileDebug:
	default:
		return fmt.Errorf("manifest: unknown profile %q", m.Profile)
	}
	if m.Daemon == "" {
		return errors.New("manifest: no daemon")
	}
	return m.Model.Validate()
}

// Read loads and validates the manifest at path.
func Read(path string) (Manifest, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Manifest{}, fmt.Errorf("manifest: %w", err)
	}
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return Manifest{}, fmt.Errorf("manifest: parse %s: %w", path, err)
	}
	return m, m.Validate()
}
