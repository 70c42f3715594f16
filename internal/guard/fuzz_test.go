package guard

import (
	"encoding/json"
	"testing"
	"time"
)

// FuzzParseLockFile: any content reads as some state without panicking,
// and the state fails closed: a file that holds no valid lock is locked
// until mtime + grace with a warning; an unlocked legacy file names a
// time in range that has passed; a JSON lock round-trips through the
// writer's encoding.
func FuzzParseLockFile(f *testing.F) {
	// Seeds: testdata/fuzz/FuzzParseLockFile.
	mtime := t0.Add(-time.Minute)
	f.Fuzz(func(t *testing.T, data []byte) {
		st := parseLockFile("/g", data, mtime, t0)
		if st.Revision < 0 || st.Revision > MaxRevision {
			t.Fatalf("revision %d out of range", st.Revision)
		}
		switch st.Format {
		case FormatCorrupt:
			if !st.Locked || st.Warning == "" || !st.ExpiresAt.Equal(mtime.Add(CorruptLockGrace)) || st.Revision != 0 {
				t.Fatalf("corrupt file read as %+v, want locked until mtime+grace with a warning", st)
			}
		case FormatLegacy:
			if st.Revision != 0 || (!st.Locked && (st.ExpiresAt.After(t0) || st.ExpiresAt.Before(time.Unix(0, 0)))) {
				t.Fatalf("legacy file read as %+v", st)
			}
		case FormatJSON:
			rec, err := decodeRecord(data)
			if err != nil {
				t.Fatalf("read as JSON but decodeRecord fails: %v", err)
			}
			out, _ := json.Marshal(rec)
			again, err := decodeRecord(out)
			if err != nil || !again.ExpiresAt.Equal(rec.ExpiresAt) || again.Revision != rec.Revision || again.Reason != rec.Reason {
				t.Fatalf("record does not round-trip: %+v -> %s -> %+v, %v", rec, out, again, err)
			}
		default:
			t.Fatalf("format %q", st.Format)
		}
	})
}

// FuzzLegacyEpoch: any integer text reads as locked or as an expiry in
// 1970..9999 that has passed; never as unlocked by overflow.
func FuzzLegacyEpoch(f *testing.F) {
	// Seeds: testdata/fuzz/FuzzLegacyEpoch.
	f.Fuzz(func(t *testing.T, text string) {
		if !legacyNumber.MatchString(text) {
			return
		}
		st := parseLegacy("/g", text, t0)
		if !st.Locked && (st.ExpiresAt.After(t0) || st.ExpiresAt.Year() < 1970 || st.ExpiresAt.Year() > 9999) {
			t.Fatalf("%q read as unlocked with expiry %v", text, st.ExpiresAt)
		}
		if st.Locked && st.Remaining <= 0 {
			t.Fatalf("%q locked with remaining %v", text, st.Remaining)
		}
	})
}
