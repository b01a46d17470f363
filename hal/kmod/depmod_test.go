package kmod

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/multimeter-fw/multimeter/hal/model"
	"github.com/multimeter-fw/multimeter/tools/kernelpkg"
)

// TestClosureMatchesDepmod resolves every model's modules in the real
// Debian kernel package and compares with kmod's depmod: the same set of
// files, and every module after its dependencies.
func TestClosureMatchesDepmod(t *testing.T) {
	k, err := kernelpkg.Cached(filepath.Join("..", "..", ".cache", "kernel"))
	depmod, lookErr := exec.LookPath("depmod")
	if err != nil || lookErr != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("kernel package or depmod missing under CI: %v, %v", err, lookErr)
		}
		t.Skipf("needs the fetched kernel (make kernel) and depmod (make deps): %v, %v", err, lookErr)
	}
	// depmod writes modules.dep into the tree: give it a scratch tree
	// that links to the package's modules.
	base := t.TempDir()
	dir := filepath.Join(base, "lib", "modules", k.Release)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(k.ModulesDir(), "kernel"), filepath.Join(dir, "kernel")); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"modules.builtin", "modules.order", "modules.builtin.modinfo"} {
		data, err := os.ReadFile(filepath.Join(k.ModulesDir(), f))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, f), data, 0o644)
	}
	if out, err := exec.Command(depmod, "-b", base, k.Release).CombinedOutput(); err != nil {
		t.Fatalf("depmod: %v: %s", err, out)
	}
	deps := readModulesDep(t, filepath.Join(dir, "modules.dep"))

	tree, err := OpenTree(k.ModulesDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range model.Names() {
		prof, err := model.Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(name, func(t *testing.T) {
			mods, err := tree.Closure(prof.Modules)
			if err != nil {
				t.Fatalf("Closure(%s) = %v", name, err)
			}
			var got []string
			pos := map[string]int{}
			for i, m := range mods {
				got = append(got, m.Path)
				pos[m.Path] = i
			}
			want := map[string]bool{}
			for _, m := range prof.Modules {
				path, ok := tree.paths[Normalize(m)]
				if !ok {
					continue // built in
				}
				want[path] = true
				for _, d := range deps[path] {
					want[d] = true
				}
			}
			var wantList []string
			for p := range want {
				wantList = append(wantList, p)
			}
			if diff := cmp.Diff(wantList, got, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
				t.Errorf("Closure(%s) files differ from depmod's (-depmod +ours):\n%s", name, diff)
			}
			for _, m := range mods {
				for _, d := range deps[m.Path] {
					if pos[d] > pos[m.Path] {
						t.Errorf("%s is loaded before its dependency %s", m.Path, d)
					}
				}
			}
		})
	}
}

// readModulesDep parses modules.dep: "path: dep dep ..." with the full
// transitive dependencies of each module.
func readModulesDep(t *testing.T, path string) map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	deps := map[string][]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		mod, rest, ok := strings.Cut(sc.Text(), ":")
		if ok {
			deps[mod] = strings.Fields(rest)
		}
	}
	return deps
}
