package guard

// Regression tests for issue 10 (items 4, 5, 6, 7, 11, 12, 16): each
// failed on the code before the fix, as its comment says.

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/threader/guard/internal/atomicfile"
	"github.com/threader/guard/internal/fielderr"
)

// Item 4: a 70 KB reason was written, then read back as corrupt (the
// reader stopped at 64 KiB), then as unlocked 15 minutes later.
func TestOverlongReasonAndOwnerAreRefused(t *testing.T) {
	g, _ := newGuard(t)
	for _, opts := range []LockOptions{
		{Duration: time.Minute, Reason: strings.Repeat("r", 70<<10)},
		{Duration: time.Minute, Owner: strings.Repeat("o", MaxTextBytes+1)},
		{Duration: time.Minute, Reason: "\xff\xfe"},
	} {
		_, err := g.Lock(opts)
		var fe *fielderr.Error
		if !errors.As(err, &fe) || (fe.Field != FieldReason && fe.Field != FieldOwner) {
			t.Errorf("Lock(reason %d bytes, owner %d bytes): %v, want a *fielderr.Error naming reason or owner", len(opts.Reason), len(opts.Owner), err)
		}
	}
	if _, err := g.Unlock(UnlockOptions{Reason: strings.Repeat("r", MaxTextBytes+1)}); err == nil {
		t.Error("Unlock accepted an overlong reason")
	}
	if _, err := os.Stat(g.Path); !os.IsNotExist(err) {
		t.Error("a refused request wrote the lock file")
	}
}

// Item 4: every file the writer can produce reads back whole. The largest
// record has every text field at its bound, made of the characters JSON
// escapes to six bytes each.
func TestLargestRecordReadsBackWhole(t *testing.T) {
	g, _ := newGuard(t)
	worst := func(c string) string { return strings.Repeat(c, MaxTextBytes) }
	g.Host = worst("\x01")
	opts := LockOptions{Duration: MaxLockMinutes * time.Minute, Reason: worst("\x00"), Owner: worst("<")}
	if _, err := g.Lock(opts); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(g.Path)
	if len(data) > maxLockFile/2 {
		t.Errorf("largest record is %d bytes; the reader reads %d: keep a wide margin", len(data), maxLockFile)
	}
	st := status(t, g)
	if st.Format != FormatJSON || st.Reason != opts.Reason || st.Owner != opts.Owner || st.Host != g.Host {
		t.Fatalf("largest record read back as %s (warning %q)", st.Format, st.Warning)
	}
}

func TestOversizedFileIsCorrupt(t *testing.T) {
	g, _ := newGuard(t)
	rec := fmt.Sprintf(`{"version":1,"expires_at":"2999-01-01T00:00:00Z","pad":%q}`, strings.Repeat("x", maxLockFile))
	os.WriteFile(g.Path, []byte(rec), 0o644)
	os.Chtimes(g.Path, t0, t0)
	if st := status(t, g); st.Format != FormatCorrupt || !st.Locked || !strings.Contains(st.Warning, "larger than") {
		t.Fatalf("oversized file = %+v, want corrupt (fail closed) saying it is too large", st)
	}
}

// Item 5: int64 max read as unlocked (time.Unix overflowed); a number too
// big for int64 fell through to the JSON parser and read as corrupt, then
// unlocked after 15 minutes.
func TestLegacyEpochOutOfRangeLocksWithNoEnd(t *testing.T) {
	for _, text := range []string{"9223372036854775807", "99999999999999999999999", "-1", "-9223372036854775808", "253402300800"} {
		g, fc := newGuard(t)
		os.WriteFile(g.Path, []byte(text+"\n"), 0o644)
		os.Chtimes(g.Path, t0, t0)
		fc.Advance(time.Hour)
		st := status(t, g)
		if !st.Locked || st.Format != FormatLegacy || !st.ExpiresAt.Equal(farFuture) || !strings.Contains(st.Warning, "out of range") {
			t.Errorf("legacy %s: %+v, want locked with no end and a warning", text, st)
		}
	}
	// The last second of year 9999 is still a time.
	g, _ := newGuard(t)
	os.WriteFile(g.Path, []byte("253402300799"), 0o644)
	if st := status(t, g); !st.Locked || st.Warning != "" {
		t.Errorf("legacy 253402300799: %+v", st)
	}
}

// Item 6: 307445735 minutes overflowed time.Duration into a 25-second lock.
func TestMinutesAreBounded(t *testing.T) {
	for _, n := range []float64{0, -1, MaxLockMinutes + 1, 307445735, 1 << 62, 0.01, math.NaN(), math.Inf(1)} {
		var fe *fielderr.Error
		if _, err := MinutesDuration(n); !errors.As(err, &fe) || fe.Field != FieldDuration {
			t.Errorf("MinutesDuration(%v): %v, want a *fielderr.Error on the duration", n, err)
		}
	}
	if d, err := MinutesDuration(MaxLockMinutes); err != nil || d != MaxLockMinutes*time.Minute {
		t.Errorf("MinutesDuration(max) = %v, %v", d, err)
	}
	for minutes, want := range map[float64]time.Duration{0.1: 6 * time.Second, 0.05: 3 * time.Second, 1.0 / 60: time.Second, 2.5: 150 * time.Second} {
		if d, err := MinutesDuration(minutes); err != nil || d != want {
			t.Errorf("MinutesDuration(%v) = %v, %v; want %v", minutes, d, err, want)
		}
	}
	g, _ := newGuard(t)
	if _, err := g.Lock(LockOptions{Duration: MaxLockMinutes*time.Minute + time.Second}); err == nil {
		t.Error("Lock accepted a duration beyond the bound")
	}
}

// Item 7: a lock file that could not be read is an error naming the file
// and the missing access, never a state with a grace period. Root reads
// every file, so the failing read itself is caused in the integration test
// that runs qos_guard as nobody (TestQosGuardUnreadableLockFailsClosed);
// this checks the error's words for EACCES and EIO.
func TestReadErrorNamesPathAndAccess(t *testing.T) {
	err := readError("/run/g", "open", &os.PathError{Op: "open", Path: "/run/g", Err: syscall.EACCES})
	for _, want := range []string{"cannot open the lock file /run/g: permission denied", "read access to /run/g is needed", "counts as locked"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q lacks %q", err, want)
		}
	}
	err = readError("/run/g", "read", &os.PathError{Op: "read", Path: "/run/g", Err: syscall.EIO})
	if !strings.Contains(err.Error(), "cannot read the lock file /run/g: input/output error") {
		t.Errorf("EIO: %q", err)
	}
}

// Item 7: a corrupt file warns every time it is read, and locks only until
// its mtime plus the grace.
func TestCorruptFileWarnsOnEveryRead(t *testing.T) {
	g, _ := newGuard(t)
	os.WriteFile(g.Path, []byte("garbage"), 0o644)
	os.Chtimes(g.Path, t0, t0)
	for range 2 {
		if st := status(t, g); st.Warning == "" || !st.Locked {
			t.Fatalf("corrupt read without a warning: %+v", st)
		}
	}
}

// Item 11: another process holding PATH.lock blocked lock forever.
func TestWritersLockTimesOutNamingTheLockFile(t *testing.T) {
	g, _ := newGuard(t)
	f, _ := os.OpenFile(g.Path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	g.LockTimeout = time.Millisecond
	_, err := g.Lock(LockOptions{Duration: time.Minute})
	var timeout *atomicfile.LockTimeoutError
	if !errors.As(err, &timeout) || !strings.Contains(err.Error(), g.Path+".lock") {
		t.Fatalf("Lock while PATH.lock is held: %v, want a timeout naming %s.lock", err, g.Path)
	}
	if _, err := g.Unlock(UnlockOptions{}); !errors.As(err, &timeout) {
		t.Fatalf("Unlock while PATH.lock is held: %v", err)
	}
	g.LockTimeout = 2 * MaxLockTimeout
	var fe *fielderr.Error
	if _, err := g.Lock(LockOptions{Duration: time.Minute}); !errors.As(err, &fe) || fe.Field != FieldLockTimeout {
		t.Fatalf("LockTimeout beyond the bound: %v", err)
	}
}

// Item 12: temporary files of killed writers were never removed.
func TestStaleTempFilesOfKilledWritersAreRemoved(t *testing.T) {
	g, _ := newGuard(t)
	dir := filepath.Dir(g.Path)
	old := time.Now().Add(-2 * time.Minute)
	stale := filepath.Join(dir, ".threader.qos.guard.123456.tmp")
	os.WriteFile(stale, []byte("half a lo"), 0o600)
	os.Chtimes(stale, old, old)
	fresh := filepath.Join(dir, ".threader.qos.guard.777.tmp") // a writer may be mid-write
	os.WriteFile(fresh, nil, 0o600)
	lock(t, g, 5)
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Error("the stale temporary file is still there")
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Error("a fresh temporary file was removed")
	}
}

// Item 16: duplicate or differently-cased keys let the last one win, so a
// file could say two things; it must read as corrupt (fail closed).
func TestDuplicateAndRecasedKeysAreCorrupt(t *testing.T) {
	past, future := `"2000-01-01T00:00:00Z"`, `"2999-01-01T00:00:00Z"`
	for _, content := range []string{
		`{"version":1,"expires_at":` + future + `,"expires_at":` + past + `}`,
		`{"version":1,"expires_at":` + future + `,"Expires_At":` + past + `}`,
		`{"version":1,"EXPIRES_AT":` + past + `}`,
		`{"version":1,"revision":3,"Revision":0,"expires_at":` + past + `}`,
		`{"version":2,"expires_at":` + past + `}`,
		`{"version":1,"revision":-1,"expires_at":` + past + `}`,
		`{"version":1,"expires_at":` + past + `} {}`,
		`{"version":1,"expires_at":` + future + `,"unlocked_at":` + past + `}`,
	} {
		g, _ := newGuard(t)
		os.WriteFile(g.Path, []byte(content), 0o644)
		os.Chtimes(g.Path, t0, t0)
		if st := status(t, g); st.Format != FormatCorrupt || !st.Locked || st.Revision != 0 {
			t.Errorf("%s: %+v, want corrupt (locked for the grace, revision 0)", content, st)
		}
	}
	// Unknown keys are tolerated: they change nothing this reader uses.
	g, _ := newGuard(t)
	os.WriteFile(g.Path, []byte(`{"version":1,"expires_at":`+future+`,"note":"x"}`), 0o644)
	if st := status(t, g); st.Format != FormatJSON || !st.Locked {
		t.Errorf("unknown key: %+v", st)
	}
}

func TestRecordRoundTrip(t *testing.T) {
	rec := Record{Version: 1, Revision: 9, LockedAt: t0, ExpiresAt: t0.Add(time.Hour), Reason: "r", Owner: "o", Host: "h"}
	data, _ := json.Marshal(rec)
	got, err := decodeRecord(data)
	if err != nil || got != rec {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
}

// A directory every user may write, without the sticky bit, lets anyone
// replace a lock by a released record: the guard refuses it. (On main it
// was used.) A sticky one such as /tmp is accepted.
func TestWorldWritableDirectoryIsRefused(t *testing.T) {
	g, _ := newGuard(t)
	dir := filepath.Dir(g.Path)
	os.Chmod(dir, 0o777)
	if _, err := g.Lock(LockOptions{Duration: time.Minute}); err == nil || !strings.Contains(err.Error(), "writable by every user and not sticky") {
		t.Fatalf("Lock in a 0777 directory: %v", err)
	}
	if _, err := g.Status(); err == nil {
		t.Fatal("Status in a 0777 directory read a lock anyone could have written")
	}
	os.Chmod(dir, 0o777|os.ModeSticky)
	if _, err := g.Lock(LockOptions{Duration: time.Minute}); err != nil {
		t.Fatalf("Lock in a sticky 0777 directory: %v", err)
	}
}
