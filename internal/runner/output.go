package runner

import (
	"io"
	"sync"
	"unicode/utf8"
)

// DefaultOutputLimit is how many bytes of each stream Run keeps when
// Command.OutputLimit is zero: the end of the output, where errors are.
const DefaultOutputLimit = 64 << 10

// tail keeps the last limit bytes written to it. Memory stays below 2*limit:
// the buffer is compacted only when it doubles, so each byte is copied O(1)
// times however much the command prints.
type tail struct {
	mu      sync.Mutex
	limit   int
	buf     []byte
	written int64
}

func newTail(limit int) *tail { return &tail{limit: limit} }

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.written += int64(len(p))
	if len(p) >= t.limit {
		t.buf = append(t.buf[:0], p[len(p)-t.limit:]...)
		return len(p), nil
	}
	t.buf = append(t.buf, p...)
	if len(t.buf) > 2*t.limit {
		n := copy(t.buf, t.buf[len(t.buf)-t.limit:])
		t.buf = t.buf[:n]
	}
	return len(p), nil
}

// String returns the kept end of the output. When the output was cut, a
// multi-byte UTF-8 character split by the cut is dropped, so the text does
// not start with broken bytes.
func (t *tail) String() (s string, truncated bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.buf
	if len(b) > t.limit {
		b = b[len(b)-t.limit:]
	}
	truncated = t.written > int64(len(b))
	if truncated {
		for i := 0; i < utf8.UTFMax-1 && len(b) > 0 && !utf8.RuneStart(b[0]); i++ {
			b = b[1:]
		}
	}
	return string(b), truncated
}

// teeWriter copies output to the capture and to an optional live writer. A
// failing live writer (a closed terminal, a broken pipe) is dropped so it
// never disturbs the command or the capture.
type teeWriter struct {
	capture *tail
	mu      sync.Mutex
	live    io.Writer
}

func (w *teeWriter) Write(p []byte) (int, error) {
	w.capture.Write(p)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.live != nil {
		if _, err := w.live.Write(p); err != nil {
			w.live = nil
		}
	}
	return len(p), nil
}
