package metrics

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/threader/guard/internal/atomicfile"
)

// TextfileSuffix is the extension node_exporter's textfile collector reads;
// it silently ignores every other file, so a path without it is an error.
const TextfileSuffix = ".prom"

// textfileMode lets node_exporter, which usually runs as its own user, read
// the file.
const textfileMode fs.FileMode = 0o644

// CheckTextfilePath reports whether path can be a node_exporter textfile:
// it must be absolute, end in .prom and its directory must exist. A problem is a
// *DestinationError with Field FieldTextfile (its message names the path),
// for the caller to name its option or flag.
func CheckTextfilePath(path string) error {
	if err := checkTextfilePath(path); err != nil {
		return &DestinationError{Field: FieldTextfile, Err: err}
	}
	return nil
}

func checkTextfilePath(path string) error {
	if !filepath.IsAbs(path) {
		// Relative to what? A module runs in a temporary directory.
		return fmt.Errorf("%q must be an absolute path, in node_exporter's --collector.textfile.directory", path)
	}
	if !strings.HasSuffix(path, TextfileSuffix) || filepath.Base(path) == TextfileSuffix {
		return fmt.Errorf("%q must be a file name ending in %s: node_exporter's textfile collector ignores other files", path, TextfileSuffix)
	}
	dir := filepath.Dir(path)
	info, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("directory of %q: %w (it should be node_exporter's --collector.textfile.directory)", path, err)
	}
	if !info.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	if info, err := os.Lstat(path); err == nil && info.IsDir() {
		return fmt.Errorf("%s is a directory, not a file", path)
	}
	return nil
}

// writeTextfile merges fresh into the textfile at path and replaces the
// file atomically.
//
// Several modules, and several hosts' runs delegated to one machine, may
// share one textfile, so a run must not drop what other runs wrote: for
// each family this run wrote, the series of other `name`s are kept and the
// series of this name are replaced (the same rule a Pushgateway applies to
// a POST within a group). Families this run did not write are kept as they
// are, so e.g. the last success timestamp survives a failed run. Writers are
// serialised by an flock on PATH.lock, a file node_exporter ignores and that
// is never removed (removing a lock file races with the next writer).
func writeTextfile(ctx context.Context, path, name string, fresh []*dto.MetricFamily) error {
	if err := checkTextfilePath(path); err != nil {
		return err // Publish names the destination
	}
	unlock, err := lockTextfile(ctx, path+".lock")
	if err != nil {
		return err
	}
	defer unlock()
	existing, err := readTextfile(path)
	if err != nil {
		return err
	}
	data, err := encodeFamilies(mergeFamilies(existing, fresh, name))
	if err != nil {
		return err
	}
	return writeFileAtomic(path, data, textfileMode)
}

// encodeFamilies renders families in the Prometheus text format.
func encodeFamilies(families []*dto.MetricFamily) ([]byte, error) {
	var buf bytes.Buffer
	for _, mf := range families {
		if _, err := expfmt.MetricFamilyToText(&buf, mf); err != nil {
			return nil, fmt.Errorf("metrics: encode %s: %w", mf.GetName(), err)
		}
	}
	return buf.Bytes(), nil
}

// readTextfile parses the current textfile; a missing file is empty. A file
// that does not parse is an error rather than silently overwritten: it may
// belong to something else, and node_exporter already reports it through
// node_textfile_scrape_error.
func readTextfile(path string) (map[string]*dto.MetricFamily, error) {
	data, err := readRegular(path, maxTextfile)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]*dto.MetricFamily{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("metrics: read existing textfile: %w", err)
	}
	return parseTextfile(path, data)
}

// maxTextfile bounds the textfile a run reads and merges into.
const maxTextfile = 16 << 20

// readRegular reads path, refusing a symlink (it is replaced by the rename,
// never followed), anything but a regular file (a FIFO would hang the run)
// and more than limit bytes.
func readRegular(path string, limit int64) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if info, err := f.Stat(); err != nil || !info.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err == nil && int64(len(data)) > limit {
		err = fmt.Errorf("%s is larger than %d bytes", path, limit)
	}
	return data, err
}

// parseTextfile parses the content of the textfile at path.
func parseTextfile(path string, data []byte) (map[string]*dto.MetricFamily, error) {
	parser := expfmt.NewTextParser(model.LegacyValidation)
	mfs, err := parser.TextToMetricFamilies(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("metrics: existing textfile %s is not in the Prometheus text format (%v); fix or remove it", path, err)
	}
	return mfs, nil
}

// mergeFamilies returns existing with the series of name replaced by fresh
// in each fresh family, sorted by family name and labels so the file is
// stable from run to run.
func mergeFamilies(existing map[string]*dto.MetricFamily, fresh []*dto.MetricFamily, name string) []*dto.MetricFamily {
	out := make(map[string]*dto.MetricFamily, len(existing)+len(fresh))
	for k, mf := range existing {
		out[k] = mf
	}
	for _, f := range fresh {
		merged := &dto.MetricFamily{Name: f.Name, Help: f.Help, Type: f.Type, Unit: f.Unit}
		if old, ok := existing[f.GetName()]; ok && old.GetType() == f.GetType() {
			for _, m := range old.Metric {
				if labelOf(m, LabelName) != name {
					merged.Metric = append(merged.Metric, m)
				}
			}
		}
		merged.Metric = append(merged.Metric, f.Metric...)
		out[f.GetName()] = merged
	}
	families := make([]*dto.MetricFamily, 0, len(out))
	for _, mf := range out {
		sort.SliceStable(mf.Metric, func(i, j int) bool { return labelKey(mf.Metric[i]) < labelKey(mf.Metric[j]) })
		families = append(families, mf)
	}
	sort.Slice(families, func(i, j int) bool { return families[i].GetName() < families[j].GetName() })
	return families
}

// withNameLabel returns copies of mfs whose series all carry name=value.
func withNameLabel(mfs []*dto.MetricFamily, value string) []*dto.MetricFamily {
	out := make([]*dto.MetricFamily, 0, len(mfs))
	for _, mf := range mfs {
		c := &dto.MetricFamily{Name: mf.Name, Help: mf.Help, Type: mf.Type, Unit: mf.Unit}
		for _, m := range mf.Metric {
			labels := append([]*dto.LabelPair{{Name: strPtr(LabelName), Value: strPtr(value)}}, m.Label...)
			sort.Slice(labels, func(i, j int) bool { return labels[i].GetName() < labels[j].GetName() })
			c.Metric = append(c.Metric, &dto.Metric{Label: labels, Gauge: m.Gauge, Counter: m.Counter, Untyped: m.Untyped})
		}
		out = append(out, c)
	}
	return out
}

func labelOf(m *dto.Metric, name string) string {
	for _, l := range m.Label {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

func labelKey(m *dto.Metric) string {
	pairs := make([]string, 0, len(m.Label))
	for _, l := range m.Label {
		pairs = append(pairs, l.GetName()+"\xff"+l.GetValue())
	}
	sort.Strings(pairs)
	return strings.Join(pairs, "\xfe")
}

func strPtr(s string) *string { return &s }

// writeFileAtomic replaces path with data so that a reader sees the old or
// the new content, never a part (atomicfile.WriteFile: temp file in the same
// directory, fsync, chmod, rename, fsync of the directory). The temp name
// starts with a dot and ends in .tmp, so node_exporter never reads it.
// prometheus.WriteToTextfile is not used: it neither fsyncs the file nor the
// directory, so a crash can leave an empty .prom file behind.
func writeFileAtomic(path string, data []byte, mode fs.FileMode) error {
	if err := atomicfile.WriteFile(path, data, mode); err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	return nil
}

// lockTextfile takes an exclusive flock on lockPath, waiting until ctx ends.
func lockTextfile(ctx context.Context, lockPath string) (unlock func(), err error) {
	unlock, err = atomicfile.Lock(ctx, lockPath, atomicfile.LockOptions{Mode: textfileMode})
	if err != nil {
		return nil, fmt.Errorf("metrics: textfile lock: %w", err)
	}
	return unlock, nil
}
