// Command runner is the threader.guard benchmark suite (make bench, via
// bench/run.sh). It installs the built collection, starts its own sshd on a
// loopback port with generated keys and its own Prometheus, runs every
// variant side by side in interleaved rounds, and prints a Markdown table of
// medians and ratios (written to -results as well).
//
// Playbook variants are timed by bench/callback/bench_timer.py from the
// start of the first task named "timed..." to the end of the play, so
// ansible-playbook's own start-up (the same for every variant) does not dilute
// the ratios. Each play first runs one untimed raw task, so the SSH
// connection (ControlPersist) is up before timing starts.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/threader/guard/internal/testenv"
)

type config struct {
	tasks, rounds, fleetHosts, fleetTasks, forks, gates, lockers int
	results, tarball, only                                       string
}

func main() {
	var c config
	flag.IntVar(&c.tasks, "tasks", 50, "tasks per play in the per-task comparisons")
	flag.IntVar(&c.rounds, "rounds", 3, "interleaved rounds; tables show medians over them")
	flag.IntVar(&c.fleetHosts, "fleet-hosts", 20, "inventory hosts (aliases of 127.0.0.1) in the fleet run")
	flag.IntVar(&c.fleetTasks, "fleet-tasks", 10, "tasks per host in the fleet run")
	flag.IntVar(&c.forks, "forks", 10, "forks in the fleet run")
	flag.IntVar(&c.gates, "gates", 10, "SLO gates per play (one slo_check with three checks, or three uri tasks)")
	flag.IntVar(&c.lockers, "lockers", 100, "concurrent qos_guard lock processes on one file")
	flag.StringVar(&c.results, "results", "", "also write the results (Markdown) to this file")
	flag.StringVar(&c.tarball, "tarball", "", "the built collection (default: the one dist/threader-guard-*.tar.gz)")
	flag.StringVar(&c.only, "only", "", "run only the variants whose \"group / name\" matches this regular expression")
	flag.Parse()
	if err := run(c); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// bench holds what every variant shares: the installed collection, the
// servers and the generated files.
type bench struct {
	cfg   config
	root  string // repository
	work  string // temporary directory of this run
	sshd  *testenv.SSHD
	prom  string // Prometheus URL
	cache string // threader_guard_cache_dir on the target
	env   []string
}

// variant is one playbook measured in every round.
type variant struct {
	group, name string
	inventory   string
	playbook    string
	env         []string
	per         int // divide the timed seconds by this (tasks or gates); 0 = report the total
	samples     []float64
}

func run(c config) error {
	root := testenv.RepoRoot()
	work, err := os.MkdirTemp("", "threader-guard-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	b := &bench{cfg: c, root: root, work: work, cache: filepath.Join(work, "cache")}
	if err := b.install(); err != nil {
		return err
	}
	port, release, err := testenv.ReservePort()
	if err != nil {
		return err
	}
	defer release()
	os.MkdirAll(filepath.Join(work, "sshd"), 0o700)
	if b.sshd, err = testenv.LaunchSSHD(filepath.Join(work, "sshd"), port); err != nil {
		return err
	}
	defer b.sshd.Stop()
	stopProm, err := b.startPrometheus()
	if err != nil {
		return err
	}
	defer stopProm()

	variants := b.variants()
	if c.only != "" {
		re, err := regexp.Compile(c.only)
		if err != nil {
			return fmt.Errorf("-only: %v", err)
		}
		var kept []*variant
		for _, v := range variants {
			if re.MatchString(v.group + " / " + v.name) {
				kept = append(kept, v)
			}
		}
		if len(kept) == 0 {
			return fmt.Errorf("-only %q matches no variant", c.only)
		}
		variants = kept
	}
	sends, err := b.warmUp(variants)
	if err != nil {
		return err
	}
	identity, err := cacheIdentity(b.cache)
	if err != nil {
		return err
	}
	for r := 0; r < c.rounds; r++ {
		// Rotate the order each round, so no variant always runs first.
		for i := range variants {
			v := variants[(i+r)%len(variants)]
			fmt.Fprintf(os.Stderr, "round %d/%d, %d/%d: %s / %s\n", r+1, c.rounds, i+1, len(variants), v.group, v.name)
			s, err := b.play(v, false)
			if err != nil {
				return fmt.Errorf("%s / %s: %v", v.group, v.name, err)
			}
			v.samples = append(v.samples, s)
		}
	}
	after, err := cacheIdentity(b.cache)
	if err != nil {
		return err
	}
	lock, err := b.lockers()
	if err != nil {
		return err
	}
	checks, err := b.verifyCosts()
	if err != nil {
		return err
	}
	report := b.report(variants, sends, identity == after, lock, checks)
	fmt.Print(report)
	if c.results != "" {
		return os.WriteFile(c.results, []byte(report), 0o644)
	}
	return nil
}

func (b *bench) install() error {
	tarball := b.cfg.tarball
	if tarball == "" {
		matches, _ := filepath.Glob(filepath.Join(b.root, "dist", "threader-guard-*.tar.gz"))
		if len(matches) != 1 {
			return fmt.Errorf("want exactly one dist/threader-guard-*.tar.gz, found %d: run make collection", len(matches))
		}
		tarball = matches[0]
	}
	collections := filepath.Join(b.work, "collections")
	if out, err := exec.Command("ansible-galaxy", "collection", "install", "-p", collections, tarball).CombinedOutput(); err != nil {
		return fmt.Errorf("ansible-galaxy collection install: %v\n%s", err, out)
	}
	// The module as it shipped before the action plugins: a plain binary
	// module, copied to the target by ansible-core on every task.
	library := filepath.Join(b.work, "library")
	os.MkdirAll(library, 0o755)
	plain, err := os.ReadFile(filepath.Join(b.root, "bin", "qos_guard"))
	if err != nil {
		return fmt.Errorf("bin/qos_guard (make build): %v", err)
	}
	if err := os.WriteFile(filepath.Join(library, "qos_guard_plain"), plain, 0o755); err != nil {
		return err
	}
	b.env = []string{
		"ANSIBLE_COLLECTIONS_PATH=" + collections,
		"ANSIBLE_LIBRARY=" + library,
		"ANSIBLE_CALLBACK_PLUGINS=" + filepath.Join(b.root, "bench", "callback"),
		"ANSIBLE_CALLBACKS_ENABLED=bench_timer",
		"ANSIBLE_CONFIG=" + filepath.Join(b.work, "none.cfg"),
		"ANSIBLE_LOCAL_TEMP=" + filepath.Join(b.work, "local-tmp"),
		"ANSIBLE_REMOTE_TEMP=" + filepath.Join(b.work, "remote-tmp"),
		"ANSIBLE_SSH_CONTROL_PATH_DIR=" + filepath.Join(b.work, "cp"),
		"ANSIBLE_PYTHON_INTERPRETER=/usr/bin/python3",
		"ANSIBLE_NOCOLOR=1",
		"ANSIBLE_RETRY_FILES_ENABLED=0",
		"ANSIBLE_LOCALHOST_WARNING=0",
		"ANSIBLE_INVENTORY_UNPARSED_WARNING=0",
		"ANSIBLE_DEPRECATION_WARNINGS=0",
	}
	status := "#!/bin/sh\n# qos_guard.sh status, the way deployments checked the guard before the module:\n" +
		"f=$1\n[ -f \"$f\" ] || { echo unlocked; exit 0; }\nexp=$(cat \"$f\"); now=$(date +%s)\n" +
		"if [ \"$exp\" -gt \"$now\" ]; then echo \"locked ($((exp - now))s left)\"; exit 1; fi\necho unlocked\n"
	return os.WriteFile(filepath.Join(b.work, "qos_guard_status.sh"), []byte(status), 0o755)
}

func (b *bench) file(name, content string) string {
	p := filepath.Join(b.work, name)
	os.WriteFile(p, []byte(content), 0o644)
	return p
}

func (b *bench) inventories() (sshInv, localInv, fleetInv string) {
	common := fmt.Sprintf("threader_guard_cache_dir=%s", b.cache)
	sshInv = b.file("ssh.ini", fmt.Sprintf("target %s %s\n", b.sshd.HostVars(), common))
	localInv = b.file("local.ini", fmt.Sprintf("target ansible_connection=local %s\n", common))
	var fleet strings.Builder
	for i := 1; i <= b.cfg.fleetHosts; i++ {
		fmt.Fprintf(&fleet, "host%02d %s %s\n", i, b.sshd.HostVars(), common)
	}
	fleetInv = b.file("fleet.ini", fleet.String())
	return
}

// playbook repeats the tasks n times after one untimed raw task.
func (b *bench) playbook(name string, n int, tasks ...string) string {
	var s strings.Builder
	fmt.Fprintf(&s, "---\n- name: %s\n  hosts: all\n  gather_facts: false\n  vars:\n    guard: %s\n    status_script: %s\n    prom: %s\n  tasks:\n    - name: connect\n      ansible.builtin.raw: \"true\"\n",
		name, filepath.Join(b.work, "guard"), filepath.Join(b.work, "qos_guard_status.sh"), b.prom)
	for i := 1; i <= n; i++ {
		for j, task := range tasks {
			fmt.Fprintf(&s, "    - name: timed %d.%d\n%s", i, j+1, indent(task, "      "))
		}
	}
	return b.file(strings.NewReplacer(" ", "_", "/", "_", "(", "", ")", "", ",", "").Replace(name)+".yml", s.String())
}

func indent(text, prefix string) string {
	var out strings.Builder
	for _, line := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		out.WriteString(prefix + line + "\n")
	}
	return out.String()
}

const (
	taskRaw    = "ansible.builtin.raw: \"true\"\n"
	taskPing   = "ansible.builtin.ping:\n"
	taskOldWay = "ansible.builtin.command: sh {{ status_script }} {{ guard }}\n"
	taskGuard  = "threader.guard.qos_guard: {state: status, path: \"{{ guard }}\"}\n"
	taskPlain  = "qos_guard_plain: {state: status, path: \"{{ guard }}\"}\n"
	// The fallback for connections that cannot pipe stdin.
	taskGuardFile = "threader.guard.qos_guard: {state: status, path: \"{{ guard }}\"}\nvars: {threader_guard_args_on_stdin: false}\n"
	taskSLO       = `threader.guard.slo_check:
  prometheus_url: "{{ prom }}"
  default_checks: false
  checks:
    - {name: prometheus up, query: 'up{job="prometheus"}', min: 1}
    - {name: head series, query: 'prometheus_tsdb_head_series', min: 1}
    - {name: build info, query: 'count(prometheus_build_info)', min: 1}
`
)

func uriTask(query string) string {
	return fmt.Sprintf(`ansible.builtin.uri:
  url: "{{ prom }}/api/v1/query?query={{ q | urlencode }}"
  return_content: true
vars:
  q: '%s'
register: answer
failed_when: answer.json.data.result | length == 0 or (answer.json.data.result[0].value[1] | float) < 1
`, query)
}

func (b *bench) variants() []*variant {
	sshInv, localInv, fleetInv := b.inventories()
	off, on := []string{"ANSIBLE_PIPELINING=0"}, []string{"ANSIBLE_PIPELINING=1"}
	n := b.cfg.tasks
	var vs []*variant
	for _, conn := range []struct{ group, inv string }{
		{fmt.Sprintf("1. %d tasks over SSH", n), sshInv},
		{fmt.Sprintf("1. %d tasks on the local connection", n), localInv},
	} {
		vs = append(vs,
			&variant{group: conn.group, name: "ansible.builtin.raw: true (one round trip)", inventory: conn.inv, env: off, per: n, playbook: b.playbook(conn.group+" raw", n, taskRaw)},
			&variant{group: conn.group, name: "threader.guard.qos_guard state=status", inventory: conn.inv, env: off, per: n, playbook: b.playbook(conn.group+" qos_guard", n, taskGuard)},
			&variant{group: conn.group, name: "threader.guard.qos_guard, args in a file (threader_guard_args_on_stdin=false)", inventory: conn.inv, env: off, per: n, playbook: b.playbook(conn.group+" qos_guard args file", n, taskGuardFile)},
			&variant{group: conn.group, name: "ansible.builtin.ping, pipelining on", inventory: conn.inv, env: on, per: n, playbook: b.playbook(conn.group+" ping", n, taskPing)},
			&variant{group: conn.group, name: "ansible.builtin.ping, pipelining off", inventory: conn.inv, env: off, per: n, playbook: b.playbook(conn.group+" ping", n, taskPing)},
			&variant{group: conn.group, name: "old way: ansible.builtin.command + status script (pipelining off)", inventory: conn.inv, env: off, per: n, playbook: b.playbook(conn.group+" old", n, taskOldWay)},
			&variant{group: conn.group, name: "before: qos_guard as a plain binary module", inventory: conn.inv, env: off, per: n, playbook: b.playbook(conn.group+" plain", n, taskPlain)},
		)
	}
	fleet := fmt.Sprintf("2. fleet: %d hosts × %d tasks, forks %d (whole play)", b.cfg.fleetHosts, b.cfg.fleetTasks, b.cfg.forks)
	forks := []string{fmt.Sprintf("ANSIBLE_FORKS=%d", b.cfg.forks)}
	ft := b.cfg.fleetTasks
	vs = append(vs,
		&variant{group: fleet, name: "ansible.builtin.raw: true", inventory: fleetInv, env: append(off, forks...), playbook: b.playbook("fleet raw", ft, taskRaw)},
		&variant{group: fleet, name: "threader.guard.qos_guard state=status", inventory: fleetInv, env: append(off, forks...), playbook: b.playbook("fleet qos_guard", ft, taskGuard)},
		&variant{group: fleet, name: "ansible.builtin.ping, pipelining on", inventory: fleetInv, env: append(on, forks...), playbook: b.playbook("fleet ping", ft, taskPing)},
		&variant{group: fleet, name: "old way: ansible.builtin.command + status script (pipelining off)", inventory: fleetInv, env: append(off, forks...), playbook: b.playbook("fleet old", ft, taskOldWay)},
	)
	slo := fmt.Sprintf("3. SLO gate over SSH, per gate of three checks (%d gates)", b.cfg.gates)
	var uris []string
	for _, q := range []string{`up{job="prometheus"}`, `prometheus_tsdb_head_series`, `count(prometheus_build_info)`} {
		uris = append(uris, uriTask(q))
	}
	vs = append(vs,
		&variant{group: slo, name: "threader.guard.slo_check, three checks", inventory: sshInv, env: off, per: b.cfg.gates, playbook: b.playbook("slo slo_check", b.cfg.gates, taskSLO)},
		&variant{group: slo, name: "three ansible.builtin.uri tasks, pipelining on", inventory: sshInv, env: on, per: b.cfg.gates, playbook: b.playbook("slo uri", b.cfg.gates, uris...)},
		&variant{group: slo, name: "three ansible.builtin.uri tasks, pipelining off", inventory: sshInv, env: off, per: b.cfg.gates, playbook: b.playbook("slo uri", b.cfg.gates, uris...)},
	)
	return vs
}

// warmUp runs every variant once, untimed, at -v: the first qos_guard and
// slo_check plays send the binary to the target (once per host; the fleet's
// aliases all share one cache). It returns the sends it saw.
func (b *bench) warmUp(vs []*variant) (int, error) {
	sends := 0
	for i, v := range vs {
		fmt.Fprintf(os.Stderr, "warm-up %d/%d: %s / %s\n", i+1, len(vs), v.group, v.name)
		out, err := b.runPlaybook(v, true)
		if err != nil {
			return 0, fmt.Errorf("warm-up %s / %s: %v", v.group, v.name, err)
		}
		sends += strings.Count(out, "threader.guard: sent ")
	}
	return sends, nil
}

func (b *bench) play(v *variant, verbose bool) (float64, error) {
	times := filepath.Join(b.work, "times.json")
	os.Remove(times)
	if _, err := b.runPlaybook(v, verbose); err != nil {
		return 0, err
	}
	data, err := os.ReadFile(times)
	if err != nil {
		return 0, fmt.Errorf("no timing from bench_timer: %v", err)
	}
	var t struct {
		Seconds float64
	}
	if err := json.Unmarshal(data, &t); err != nil {
		return 0, err
	}
	if v.per > 0 {
		return t.Seconds / float64(v.per), nil
	}
	return t.Seconds, nil
}

func (b *bench) runPlaybook(v *variant, verbose bool) (string, error) {
	args := []string{"-i", v.inventory, v.playbook}
	if verbose {
		args = append([]string{"-v"}, args...)
	}
	cmd := exec.Command("ansible-playbook", args...)
	cmd.Env = append(append(append(os.Environ(), b.env...), "THREADER_BENCH_TIMES="+filepath.Join(b.work, "times.json")), v.env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("ansible-playbook %s: %v\n%s", filepath.Base(v.playbook), err, tailLines(string(out), 30))
	}
	return string(out), nil
}

func tailLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// cacheIdentity is the inode and change time of every cached binary in a
// threader_guard_cache_dir (the plugins keep to its subdirectory
// threader.guard-UID): equal before and after the rounds means nothing was
// sent again.
func cacheIdentity(cacheDir string) (string, error) {
	matches, _ := filepath.Glob(filepath.Join(cacheDir, "threader.guard-*", "*", "threader-guard"))
	if len(matches) == 0 {
		return "", errors.New("no binary in the target's cache after the warm-up")
	}
	var ids []string
	for _, m := range matches {
		var st syscall.Stat_t
		if err := syscall.Stat(m, &st); err != nil {
			return "", err
		}
		ids = append(ids, fmt.Sprintf("%s:%d:%d.%d", filepath.Base(filepath.Dir(m)), st.Ino, st.Ctim.Sec, st.Ctim.Nsec))
	}
	return strings.Join(ids, ","), nil
}

func (b *bench) startPrometheus() (func(), error) {
	port, release, err := testenv.ReservePort()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(b.work, "prometheus")
	os.MkdirAll(filepath.Join(dir, "data"), 0o755)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cfg := fmt.Sprintf("global: {scrape_interval: 1s, evaluation_interval: 1s}\nscrape_configs:\n  - job_name: prometheus\n    static_configs: [{targets: ['%s']}]\n", addr)
	os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o644)
	log, err := os.Create(filepath.Join(dir, "log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("prometheus", "--config.file="+filepath.Join(dir, "prometheus.yml"), "--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+addr)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		release()
		return nil, fmt.Errorf("prometheus (apt-get install -y prometheus): %v", err)
	}
	stop := func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM); cmd.Wait(); log.Close(); release() }
	b.prom = "http://" + addr
	// Ready when every query of the SLO gate has data.
	deadline := time.Now().Add(60 * time.Second)
	for _, q := range []string{`up{job="prometheus"}`, `prometheus_tsdb_head_series`} {
		for !hasData(b.prom, q) {
			if time.Now().After(deadline) {
				stop()
				return nil, fmt.Errorf("prometheus has no %s after 60s", q)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	return stop, nil
}

func hasData(prom, query string) bool {
	resp, err := http.Get(prom + "/api/v1/query?query=" + url.QueryEscape(query))
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var r struct {
		Data struct {
			Result []any `json:"result"`
		} `json:"data"`
	}
	return json.Unmarshal(body, &r) == nil && len(r.Data.Result) > 0
}

// lockResult is scenario 4: many qos_guard lock processes on one file.
type lockResult struct {
	wall  []float64
	valid bool
	note  string
}

func (b *bench) lockers() (lockResult, error) {
	bin := filepath.Join(b.work, "library", "qos_guard_plain") // bin/qos_guard, copied at install
	var res lockResult
	res.valid = true
	for r := 0; r < b.cfg.rounds; r++ {
		path := filepath.Join(b.work, fmt.Sprintf("lock-%d", r))
		start := time.Now()
		var wg sync.WaitGroup
		errs := make(chan error, b.cfg.lockers)
		// Minutes 2, 4, 6...: lock never moves an expiry by less than 60 s
		// (a re-run within a minute is "no change"), so the steps are wider.
		for i := 2; i <= 2*b.cfg.lockers; i += 2 {
			wg.Add(1)
			go func(minutes int) {
				defer wg.Done()
				out, err := exec.Command(bin, "--path", path, "--reason", fmt.Sprint(minutes), "lock", fmt.Sprint(minutes)).CombinedOutput()
				if err != nil {
					errs <- fmt.Errorf("lock %d: %v %s", minutes, err, out)
				}
			}(i)
		}
		wg.Wait()
		res.wall = append(res.wall, time.Since(start).Seconds())
		close(errs)
		for err := range errs {
			return res, err
		}
		out, _ := exec.Command(bin, "--path", path, "--json", "status").Output()
		var st map[string]any
		// Every locker gives its own reason, so every one writes: the
		// file must be at revision lockers, with the longest expiry.
		if err := json.Unmarshal(out, &st); err != nil || st["format"] != "json" || st["revision"] != float64(b.cfg.lockers) {
			res.valid = false
			res.note = fmt.Sprintf("round %d: %s", r+1, strings.TrimSpace(string(out)))
		} else if rs, _ := st["remaining_seconds"].(float64); rs < float64(2*b.cfg.lockers*60-60) {
			res.valid = false
			res.note = fmt.Sprintf("round %d: expiry is not the latest: %v s left", r+1, rs)
		}
	}
	return res, nil
}

// verifyCosts measures the two ways to check the cached binary before each
// run: a full SHA-256 of it, or the stat identity recorded after one.
func (b *bench) verifyCosts() (map[string]float64, error) {
	bin := filepath.Join(b.work, "collections", "ansible_collections", "threader", "guard", "files", "bin", "threader-guard_linux_"+runtime.GOARCH)
	out := map[string]float64{}
	for name, args := range map[string][]string{
		"sha256sum": {"sha256sum", bin},
		"stat":      {"stat", "-c", "%d:%i:%s:%Y:%z", bin},
	} {
		var samples []float64
		for i := 0; i < 21; i++ {
			start := time.Now()
			if err := exec.Command(args[0], args[1:]...).Run(); err != nil {
				return nil, fmt.Errorf("%s: %v", name, err)
			}
			samples = append(samples, time.Since(start).Seconds())
		}
		out[name] = median(samples)
	}
	if fi, err := os.Stat(bin); err == nil {
		out["size"] = float64(fi.Size())
	}
	return out, nil
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func (b *bench) report(vs []*variant, sends int, cacheUnchanged bool, lock lockResult, checks map[string]float64) string {
	var out strings.Builder
	fmt.Fprintf(&out, "# threader.guard benchmark results\n\nGenerated by `make bench` (bench/run.sh → bench/runner) on %s. Medians of %d interleaved rounds; "+
		"per-task times run from the start of the first timed task to the end of the play (ansible-playbook start-up excluded).\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), b.cfg.rounds)
	out.WriteString("## Machine\n\n")
	for _, line := range machine() {
		fmt.Fprintf(&out, "- %s\n", line)
	}
	groups := []string{}
	byGroup := map[string][]*variant{}
	for _, v := range vs {
		if _, ok := byGroup[v.group]; !ok {
			groups = append(groups, v.group)
		}
		byGroup[v.group] = append(byGroup[v.group], v)
	}
	for _, g := range groups {
		list := byGroup[g]
		unit := "per task"
		if list[0].per == 0 {
			unit = "whole play"
		} else if strings.HasPrefix(g, "3.") {
			unit = "per gate"
		}
		base := median(list[0].samples)
		var ping float64
		for _, v := range list {
			if strings.HasPrefix(v.name, "ansible.builtin.ping, pipelining on") {
				ping = median(v.samples)
			}
		}
		fmt.Fprintf(&out, "\n## %s\n\n| variant | median %s | × %s | × ping (pipelined) | min – max |\n|---|---:|---:|---:|---:|\n", g, unit, shortName(list[0].name))
		for _, v := range list {
			m := median(v.samples)
			pingRatio := "—"
			if ping > 0 {
				pingRatio = fmt.Sprintf("%.2f", m/ping)
			}
			lo, hi := minMax(v.samples)
			fmt.Fprintf(&out, "| %s | %s | %.2f | %s | %s – %s |\n", v.name, ms(m), m/base, pingRatio, ms(lo), ms(hi))
		}
	}
	out.WriteString(goals(byGroup, groups))
	fmt.Fprintf(&out, "\n## 4. %d concurrent `qos_guard lock` CLI processes on one file\n\n| median wall time | min – max | file valid, latest expiry |\n|---:|---:|---|\n", b.cfg.lockers)
	lo, hi := minMax(lock.wall)
	valid := "yes (every round)"
	if !lock.valid {
		valid = "NO: " + lock.note
	}
	fmt.Fprintf(&out, "| %s | %s – %s | %s |\n", ms(median(lock.wall)), ms(lo), ms(hi), valid)
	unchanged := "yes: not sent again"
	if !cacheUnchanged {
		unchanged = "NO: the cached binary changed during the rounds"
	}
	fmt.Fprintf(&out, "\n## Binary transfers\n\n- Sent during the warm-up (first contact, every variant once): %d time(s) for one target machine and user "+
		"(the fleet's %d inventory hosts are aliases of it and share its cache).\n- After the warm-up, cached binary unchanged through all rounds: %s.\n",
		sends, b.cfg.fleetHosts, unchanged)
	fmt.Fprintf(&out, "\n## Checking the cached binary before each run (%.1f MB)\n\n| check | median |\n|---|---:|\n| full `sha256sum` | %s |\n| `stat` identity recorded after a full check (used) | %s |\n",
		checks["size"]/1e6, ms(checks["sha256sum"]), ms(checks["stat"]))
	return out.String()
}

// goals checks issue #6's targets against the medians.
func goals(byGroup map[string][]*variant, groups []string) string {
	find := func(group, prefix string) float64 {
		for _, v := range byGroup[group] {
			if strings.HasPrefix(v.name, prefix) {
				return median(v.samples)
			}
		}
		return 0
	}
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "NOT MET"
	}
	var out strings.Builder
	out.WriteString("\n## Goals (issue #6)\n\n| goal | measured | |\n|---|---:|---|\n")
	for _, g := range groups {
		guard, raw := find(g, "threader.guard.qos_guard state=status"), find(g, "ansible.builtin.raw")
		pingOn, pingOff := find(g, "ansible.builtin.ping, pipelining on"), find(g, "ansible.builtin.ping, pipelining off")
		if guard == 0 || raw == 0 || pingOn == 0 {
			continue
		}
		fastestPing := pingOn
		if pingOff > 0 && pingOff < pingOn {
			fastestPing = pingOff
		}
		switch {
		case strings.Contains(g, "over SSH"):
			fmt.Fprintf(&out, "| over SSH, a task ≤ 1.3 × raw | %.2f × raw | %s |\n", guard/raw, verdict(guard/raw <= 1.3))
			fmt.Fprintf(&out, "| over SSH, faster than pipelined ping | %.2f × ping | %s |\n", guard/pingOn, verdict(guard < pingOn))
		case strings.Contains(g, "local connection"):
			fmt.Fprintf(&out, "| local connection, ≤ 0.5 × ping (the faster of pipelining on/off) | %.2f × ping | %s |\n", guard/fastestPing, verdict(guard/fastestPing <= 0.5))
		}
	}
	return out.String()
}

// shortName is a variant's name up to its first space or comma, for headers.
func shortName(name string) string {
	if i := strings.IndexAny(name, " ,:"); i > 0 {
		return name[:i]
	}
	return name
}

func minMax(xs []float64) (float64, float64) {
	if len(xs) == 0 {
		return 0, 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return s[0], s[len(s)-1]
}

func ms(seconds float64) string { return fmt.Sprintf("%.1f ms", seconds*1000) }

func machine() []string {
	cpu := "unknown"
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	first := func(name string, args ...string) string {
		out, err := exec.Command(name, args...).CombinedOutput()
		if err != nil {
			return "unknown"
		}
		return strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0])
	}
	return []string{
		fmt.Sprintf("nproc: %d; CPU: %s", runtime.NumCPU(), cpu),
		"kernel: " + first("uname", "-sr"),
		"ansible-core: " + first("ansible", "--version"),
		"OpenSSH: " + first("ssh", "-V"),
		"Go: " + runtime.Version(),
	}
}
