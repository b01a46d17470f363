// Package model holds the appliance model profiles: one declarative table
// per model (data in profiles/*.json, see spec/hardware-models.md) that
// the image build, the init and the HAL read. Adding a model is adding a
// profile file.
//
//	p, err := model.Lookup("virtual")
//	// p.Modules: kernel modules the image carries and loads at boot
package model

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
)

//go:embed profiles/*.json
var profiles embed.FS

// Profile describes one appliance model.
type Profile struct {
	Name        string `json:"name"`  // short name used on the command line and in the API
	Title       string `json:"title"` // shown on the console banner and in the UI
	Description string `json:"description"`

	// ManagementInterface is the kernel name of the dedicated
	// management port.
	ManagementInterface string `json:"managementInterface"`
	// MonitorInterfaces are the kernel names of the monitor ports the
	// daemon captures from (sink mode unless configured otherwise).
	MonitorInterfaces []string `json:"monitorInterfaces"`
	// Console is the serial console device (without /dev/).
	Console string `json:"console"`
	// Watchdog is the hardware watchdog device the init feeds.
	Watchdog string `json:"watchdog"`
	// Modules are the kernel modules (with their dependencies, resolved
	// at build time) that go into the image and are loaded at boot.
	// A module built into the kernel may be listed; it is skipped.
	Modules []string `json:"modules"`
}

// Validate reports the first mistake in a profile.
func (p Profile) Validate() error {
	var errs []error
	if p.Name == "" || strings.ContainsAny(p.Name, " /") {
		errs = append(errs, fmt.Errorf("invalid name %q", p.Name))
	}
	if p.Title == "" {
		errs = append(errs, errors.New("no title"))
	}
	if p.ManagementInterface == "" {
		errs = append(errs, errors.New("no management interface"))
	}
	if p.Console == "" {
		errs = append(errs, errors.New("no console"))
	}
	for _, name := range p.MonitorInterfaces {
		if name == "" || name == p.ManagementInterface {
			errs = append(errs, fmt.Errorf("monitor interface %q empty or the management interface", name))
		}
	}
	seen := map[string]bool{}
	for _, m := range p.Modules {
		if m == "" || seen[m] {
			errs = append(errs, fmt.Errorf("module %q empty or listed twice", m))
		}
		seen[m] = true
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("model %s: %w", p.Name, err)
	}
	return nil
}

// Lookup returns the profile called name.
func Lookup(name string) (Profile, error) {
	data, err := profiles.ReadFile(path.Join("profiles", name+".json"))
	if errors.Is(err, fs.ErrNotExist) || strings.ContainsAny(name, "/.") {
		return Profile{}, fmt.Errorf("model %q: unknown (known: %s)", name, strings.Join(Names(), ", "))
	}
	if err != nil {
		return Profile{}, fmt.Errorf("model %q: %w", name, err)
	}
	return Parse(data)
}

// Parse decodes and validates a profile.
func Parse(data []byte) (Profile, error) {
	var p Profile
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return Profile{}, fmt.Errorf("model: parse profile: %w", err)
	}
	return p, p.Validate()
}

// Names lists the known profiles.
func Names() []string {
	entries, _ := profiles.ReadDir("profiles")
	var names []string
	for _, e := range entries {
		names = append(names, strings.TrimSuffix(e.Name(), ".json"))
	}
	sort.Strings(names)
	return names
}
