package tests

import (
	"archive/tar"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/threader/guard/internal/testenv"
)

// TestCollectionTarballMetadata checks what Galaxy and ansible-builder read
// from the built tarball: the Apache-2.0 LICENSE that galaxy.yml declares,
// real https URLs for repository, documentation and issues, the execution
// environment file with the requirement files it names, and nothing of the
// build directory (the virtual environments of make venvs live in build/).
func TestCollectionTarballMetadata(t *testing.T) {
	files := tarballFiles(t, testenv.Tarball(t))
	license, ok := files["LICENSE"]
	if !ok || !strings.Contains(license, "Apache License") || !strings.Contains(license, "Version 2.0, January 2004") {
		t.Errorf("the tarball lacks the Apache-2.0 LICENSE (found: %v)", ok)
	}
	for _, name := range []string{"meta/execution-environment.yml", "meta/ee-requirements.txt", "meta/ee-bindep.txt", "meta/runtime.yml"} {
		if _, ok := files[name]; !ok {
			t.Errorf("the tarball lacks %s", name)
		}
	}
	for name := range files {
		if strings.HasPrefix(name, "build/") || strings.HasPrefix(name, "dist/") {
			t.Errorf("the tarball ships the build output %s", name)
			break
		}
	}
	var manifest struct {
		CollectionInfo map[string]any `json:"collection_info"`
	}
	if err := json.Unmarshal([]byte(files["MANIFEST.json"]), &manifest); err != nil {
		t.Fatalf("MANIFEST.json: %v", err)
	}
	for _, field := range []string{"repository", "documentation", "issues"} {
		s, _ := manifest.CollectionInfo[field].(string)
		u, err := url.Parse(s)
		if err != nil || u.Scheme != "https" || u.Host == "" || strings.HasSuffix(u.Host, ".invalid") {
			t.Errorf("galaxy.yml %s: %q is not a real https URL", field, s)
		}
	}
}

// tarballFiles reads every regular file of a .tar.gz (name → content).
func tarballFiles(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	files := map[string]string{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		name := strings.TrimPrefix(h.Name, "./")
		if strings.HasPrefix(name, "build/") || strings.HasPrefix(name, "dist/") || strings.HasPrefix(name, "files/bin/") {
			files[name] = "" // names only: these are large
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		files[name] = string(b)
	}
}
