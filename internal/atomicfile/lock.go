package atomicfile

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
	"time"

	"github.com/threader/guard/internal/clock"
)

// LockPoll is how often Lock retries a flock another process holds.
const LockPoll = 20 * time.Millisecond

// LockTimeoutError says that another process held the lock for longer
// than the caller was willing to wait.
type LockTimeoutError struct {
	Path    string
	Timeout time.Duration
}

func (e *LockTimeoutError) Error() string {
	return fmt.Sprintf("timed out after %s waiting for %s: another writer holds it", e.Timeout, e.Path)
}

// LockOptions tune Lock. The zero value waits as long as the context allows
// on the wall clock, creating the lock file with mode 0600.
type LockOptions struct {
	// Timeout bounds the wait for another holder; 0 means only ctx bounds it.
	Timeout time.Duration
	// Mode of the lock file when Lock creates it; default 0600.
	Mode fs.FileMode
	// Clock paces the retries; default the wall clock. Pass a fake only
	// when every holder in the test is controlled: the holders are real
	// processes or goroutines running in real time.
	Clock clock.Clock
}

// Lock takes an exclusive flock on lockPath, creating the file if needed,
// and returns the function that releases it. The file is opened O_NOFOLLOW
// and O_CLOEXEC (a child process never inherits the lock) and is never
// removed.
func Lock(ctx context.Context, lockPath string, opts LockOptions) (unlock func(), err error) {
	mode, clk := opts.Mode, opts.Clock
	if mode == 0 {
		mode = 0o600
	}
	if clk == nil {
		clk = clock.Real{}
	}
	f, err := os.OpenFile(lockPath, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, mode)
	if err != nil {
		return nil, &Error{Op: "create or open the writers' lock", Path: lockPath, Err: err}
	}
	deadline := clk.Now().Add(opts.Timeout)
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil // closing releases the flock
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return nil, &Error{Op: "flock", Path: lockPath, Err: err}
		}
		nap := LockPoll
		if opts.Timeout > 0 {
			left := deadline.Sub(clk.Now())
			if left <= 0 {
				f.Close()
				return nil, &LockTimeoutError{Path: lockPath, Timeout: opts.Timeout}
			}
			nap = min(nap, left)
		}
		if err := clk.Sleep(ctx, nap); err != nil {
			f.Close()
			return nil, fmt.Errorf("waiting for %s, held by another writer: %w", lockPath, context.Cause(ctx))
		}
	}
}
