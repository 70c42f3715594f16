package guard

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/threader/guard/internal/guard/etcdstore"
	"github.com/threader/guard/internal/testenv"
)

// Benchmarks of the two stores, for make bench (bench/etcd.sh records them
// in bench/RESULTS.md): median and p99 latency of status and of a lock
// that writes, and the wall time of 100 concurrent locker processes. They
// measure; they assert only that the guard ends valid.

// BenchmarkGuardLatency: status and lock, file vs the 3-member loopback
// etcd cluster (one client, kept open, as a module run would within one
// task).
func BenchmarkGuardLatency(b *testing.B) {
	cluster := testenv.StartEtcd(b, testenv.EtcdOptions{})
	stores := map[string]func(b *testing.B) *Guard{
		"file": func(b *testing.B) *Guard { return &Guard{Path: filepath.Join(b.TempDir(), "guard")} },
		"etcd": func(b *testing.B) *Guard {
			st, err := OpenEtcd(etcdstore.Config{Endpoints: cluster.Endpoints(), Scope: "bench-" + strings.ReplaceAll(b.Name(), "/", "-")})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { st.Close() })
			return &Guard{Store: st}
		},
	}
	for _, name := range []string{"file", "etcd"} {
		b.Run(name+"/status", func(b *testing.B) {
			g := stores[name](b)
			latency(b, func(int) error { _, err := g.Status(); return err })
		})
		b.Run(name+"/lock", func(b *testing.B) {
			g := stores[name](b)
			// Alternate 10 and 20 minutes with force: every lock writes.
			latency(b, func(i int) error {
				_, err := g.Lock(LockOptions{Duration: time.Duration(10+10*(i%2)) * time.Minute, Owner: "bench", Force: true})
				return err
			})
		})
	}
}

// latency runs op b.N times and reports the median and p99 in ms.
func latency(b *testing.B, op func(i int) error) {
	samples := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		start := time.Now()
		if err := op(i); err != nil {
			b.Fatal(err)
		}
		samples = append(samples, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(samples)
	b.ReportMetric(ms(samples[len(samples)/2]), "p50-ms")
	b.ReportMetric(ms(samples[min(len(samples)-1, len(samples)*99/100)]), "p99-ms")
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// BenchmarkConcurrentLockers: 100 qos_guard lock processes at once (each
// its own client, through the members in turn for etcd), minutes 2 apart;
// the guard must end with the longest lock.
func BenchmarkConcurrentLockers(b *testing.B) {
	cluster := testenv.StartEtcd(b, testenv.EtcdOptions{})
	bin := testenv.BuildCLI(b, "qos_guard")
	const lockers = 100
	for _, name := range []string{"file", "etcd"} {
		b.Run(name, func(b *testing.B) {
			var walls []time.Duration
			for round := range b.N {
				where := func(i int) []string {
					if name == "file" {
						return []string{"--path", filepath.Join(b.TempDir(), "guard")}
					}
					return []string{"--backend", "etcd", "--etcd-endpoints", cluster.Endpoints()[i%3], "--scope", fmt.Sprint("lockers-", round), "--etcd-timeout", "120s"}
				}
				file := where(0) // one file per round for the file backend
				args := func(i int) []string {
					if name == "file" {
						return file
					}
					return where(i)
				}
				var wg sync.WaitGroup
				start := time.Now()
				for i := range lockers {
					wg.Add(1)
					go func() {
						defer wg.Done()
						cmd := exec.Command(bin, append(args(i), "--no-syslog", "--reason", fmt.Sprint(2*(i+1)), "lock", fmt.Sprint(2*(i+1)))...)
						if out, err := cmd.CombinedOutput(); err != nil {
							b.Errorf("locker %d: %v %s", i, err, out)
						}
					}()
				}
				wg.Wait()
				walls = append(walls, time.Since(start))
				out, _ := exec.Command(bin, append(args(0), "--no-syslog", "--json", "status")...).Output()
				if !strings.Contains(string(out), fmt.Sprintf(`"reason":"%d"`, 2*lockers)) {
					b.Fatalf("after %d lockers: %s; want the %d-minute lock", lockers, out, 2*lockers)
				}
			}
			slices.Sort(walls)
			b.ReportMetric(ms(walls[len(walls)/2]), "wall-ms")
		})
	}
}
