package testenv

import (
	"fmt"
	"os"
	"testing"
)

// FreePort's ports lie outside the kernel's ephemeral range (where bind to
// port 0 and outgoing connections of any process take theirs) and stay
// reserved against other test processes until the test ends: another
// process's reservation (here: another open file description's flock, as in
// another process) of the same port fails until then.
func TestFreePortReservesAcrossProcessesUntilTheTestEnds(t *testing.T) {
	var port int
	t.Run("holder", func(t *testing.T) {
		port = FreePort(t)
		data, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
		if err != nil {
			t.Skipf("no ephemeral range to compare with: %v", err)
		}
		var lo, hi int
		if _, err := fmt.Sscan(string(data), &lo, &hi); err == nil && port >= lo && port <= hi {
			t.Errorf("port %d is in the ephemeral range %d-%d", port, lo, hi)
		}
		if f, ok, _ := reservePort(stateDirOf(t), port); ok {
			f.Close()
			t.Errorf("port %d could be reserved again while its test runs", port)
		}
	})
	f, ok, err := reservePort(stateDirOf(t), port)
	if err != nil || !ok {
		t.Fatalf("port %d is still reserved after its test ended (%v)", port, err)
	}
	f.Close()
	if again := FreePort(t); again == port {
		t.Errorf("port %d handed out twice by one process", port)
	}
}

func stateDirOf(t *testing.T) string {
	t.Helper()
	dir, err := UserStateDir()
	if err != nil {
		t.Fatal(err)
	}
	return dir
}
