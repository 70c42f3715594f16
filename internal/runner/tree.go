package runner

// Descendants: a command's process group is not all it started. A grandchild
// that calls setsid() (a daemon, "setsid cmd &", nohup under some shells)
// leaves the group, and one that ignores SIGTERM outlives any signal sent to
// the group. So Run follows every process the command starts:
//
//   - A process belongs to the command when it descends from the command's
//     first process (the leader), or from a process already known to belong;
//     once known, a process stays known wherever it is reparented. Processes
//     are told apart by pid and start time, so a reused pid is never taken
//     for the process that had it before.
//   - Run walks the tree in /proc while the command runs (trackInterval), so
//     it learns of grandchildren before their parents exit.
//   - When the process is a child subreaper (BecomeSubreaper), the orphans of
//     the command's tree are reparented to it instead of init, so they stay
//     within reach even when they were started and orphaned between two
//     scans. Such an orphan (a child of ours that is no leader, did not exist
//     when the command started, and started after the leader) belongs to the
//     command. As a subreaper the process must also reap them: Run reaps, with
//     wait4 on each pid, only the zombies it attributed to the command, never
//     the leader (os/exec's Wait reaps that one) nor any other child.
//   - When the command exits, times out or is interrupted, every remaining
//     member gets SIGTERM and SIGCONT, then SIGKILL after the kill grace; a
//     member in a session the command made gets them with its whole process
//     group (signalMember), and a scan that caught a member exiting is not
//     taken as proof that nothing is left (its children may be in flight).
//
// Out of reach: a process handed to another service manager (systemd-run,
// systemctl start, a container runtime: it is that manager's child, never
// ours); one of another user (a command run through sudo), which we may not
// signal; one in a pid namespace that ours does not contain (started through
// a daemon such as a container runtime, so again not ours); and anything
// orphaned while the process is not a subreaper (prctl refused) that no scan
// saw, or after it died (retry_command itself SIGKILLed).
// BecomeSubreaper assumes the process starts children only through Run while
// a command runs: any other child of ours that started after the command's
// leader would be taken for one of the command's orphans.

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// trackInterval is how often Run scans /proc for the command's descendants
// while it runs (and reaps the command's orphans that exited).
const trackInterval = 100 * time.Millisecond

// treePollInterval is how often a tree being stopped is checked, so that Run
// returns as soon as it is gone, before the kill grace is over.
const treePollInterval = 20 * time.Millisecond

// subreaper is set once BecomeSubreaper succeeded: only then are new
// children of ours taken for the command's orphans.
var subreaper atomic.Bool

// procInfo is one line of /proc/PID/stat, the fields Run needs.
type procInfo struct {
	pid, ppid, pgid, sid int
	state                byte
	start                uint64 // clock ticks after boot: with pid, identifies the process
}

// procKey identifies a process across pid reuse.
type procKey struct {
	pid   int
	start uint64
}

func (p procInfo) key() procKey { return procKey{p.pid, p.start} }

// exited reports a zombie (or a process being torn down).
func (p procInfo) exited() bool { return p.state == 'Z' || p.state == 'X' }

// parseStat reads "pid (comm) state ppid pgrp ... starttime ..."; comm may
// hold spaces and parentheses, so the fields are counted after the last ')'.
func parseStat(stat []byte) (procInfo, bool) {
	open, end := bytes.IndexByte(stat, '('), bytes.LastIndexByte(stat, ')')
	if open < 1 || end < open {
		return procInfo{}, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(stat[:open])))
	if err != nil {
		return procInfo{}, false
	}
	f := strings.Fields(string(stat[end+1:]))
	if len(f) < 20 || len(f[0]) != 1 {
		return procInfo{}, false
	}
	ppid, err1 := strconv.Atoi(f[1])
	pgid, err2 := strconv.Atoi(f[2])
	sid, err4 := strconv.Atoi(f[3])
	start, err3 := strconv.ParseUint(f[19], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil {
		return procInfo{}, false
	}
	return procInfo{pid: pid, ppid: ppid, pgid: pgid, sid: sid, state: f[0][0], start: start}, true
}

func readProc(pid int) (procInfo, bool) {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procInfo{}, false
	}
	return parseStat(stat)
}

// procView answers the two questions a walk down a process tree asks.
type procView interface {
	stat(pid int) (procInfo, bool)
	children(pid int) []int
}

// currentView reads /proc on demand where the kernel lists each task's
// children (CONFIG_PROC_CHILDREN, on in the usual distribution kernels), so
// a scan costs in proportion to the command's tree, not to the machine;
// elsewhere it reads all of /proc once.
func currentView() procView {
	if haveChildrenFiles() {
		return liveView{}
	}
	return readAllProcs()
}

var haveChildrenFiles = sync.OnceValue(func() bool {
	_, err := os.Stat("/proc/self/task/" + strconv.Itoa(os.Getpid()) + "/children")
	return err == nil
})

// liveView reads /proc/PID/stat and /proc/PID/task/*/children when asked.
type liveView struct{}

func (liveView) stat(pid int) (procInfo, bool) { return readProc(pid) }

// children lists the children of every thread of pid (a child belongs to
// the thread that forked it, or to any thread of a subreaper).
func (liveView) children(pid int) []int {
	dir := "/proc/" + strconv.Itoa(pid) + "/task/"
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []int
	for _, task := range tasks {
		list, err := os.ReadFile(dir + task.Name() + "/children")
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(list)) {
			if n, err := strconv.Atoi(f); err == nil {
				out = append(out, n)
			}
		}
	}
	return out
}

// fullView is one read of every process in /proc.
type fullView struct {
	procs map[int]procInfo
	kids  map[int][]int
}

func (v fullView) stat(pid int) (procInfo, bool) { p, ok := v.procs[pid]; return p, ok }
func (v fullView) children(pid int) []int        { return v.kids[pid] }

func readAllProcs() fullView {
	v := fullView{procs: map[int]procInfo{}, kids: map[int][]int{}}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if p, ok := readProc(pid); ok { // a process that exited meanwhile is skipped
			v.procs[pid] = p
			v.kids[p.ppid] = append(v.kids[p.ppid], pid)
		}
	}
	return v
}

// tree is what Run knows of one command's processes.
type tree struct {
	self   int
	leader procKey
	// before are our children when the command started: never its orphans.
	before map[procKey]bool

	mu    sync.Mutex
	known map[procKey]bool // every live member seen by the last scan
}

// activeTrees are the commands running in this process, so that one Run
// never takes another's leader or known processes for its own orphans.
var activeTrees struct {
	sync.Mutex
	all map[*tree]bool
}

// newTree records our children before the command starts; start adds the
// leader once it runs.
func newTree() *tree {
	t := &tree{self: os.Getpid(), before: map[procKey]bool{}, known: map[procKey]bool{}}
	v := currentView()
	for _, pid := range v.children(t.self) {
		if p, ok := v.stat(pid); ok {
			t.before[p.key()] = true
		}
	}
	return t
}

// start registers the command's leader. A leader that cannot be read (it
// exited and /proc is gone) leaves the tree empty.
func (t *tree) start(pid int) {
	p, ok := readProc(pid)
	if !ok {
		p = procInfo{pid: pid}
	}
	t.leader = p.key()
	activeTrees.Lock()
	if activeTrees.all == nil {
		activeTrees.all = map[*tree]bool{}
	}
	activeTrees.all[t] = true
	activeTrees.Unlock()
}

// finish unregisters the tree.
func (t *tree) finish() {
	activeTrees.Lock()
	delete(activeTrees.all, t)
	activeTrees.Unlock()
}

// scan walks the command's processes down from the leader, from the
// orphans it left us and from those already known, wherever they are now
// (leader excluded). It remembers the live ones and reaps those that are our
// zombies. leaderAlive says whether the leader itself still runs. moving
// says that a member was caught exiting: its children may be on their way
// to us between two reads of /proc, so a scan that found nothing else is
// not proof that nothing is left.
func (t *tree) scan() (live []procInfo, leaderAlive, moving bool) {
	v := currentView()
	t.mu.Lock()
	defer t.mu.Unlock()
	seen := map[int]bool{t.leader.pid: true}
	var queue []procInfo
	// add queues child of parent, unless its pid was reused after the scan
	// of the parent began (a child never starts before its parent).
	add := func(pid int, parent procInfo) {
		if p, ok := v.stat(pid); ok && !seen[pid] && p.start >= parent.start {
			seen[pid] = true
			queue = append(queue, p)
		}
	}
	if l, ok := v.stat(t.leader.pid); ok && l.start == t.leader.start {
		leaderAlive = !l.exited()
		for _, pid := range v.children(l.pid) {
			add(pid, l)
		}
	}
	for _, pid := range v.children(t.self) {
		if p, ok := v.stat(pid); ok && p.key() != t.leader && t.isOrphan(p) {
			add(pid, procInfo{})
		}
	}
	for k := range t.known {
		if p, ok := v.stat(k.pid); ok && p.start == k.start {
			add(k.pid, p)
		}
	}
	known := map[procKey]bool{}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if p.exited() { // its own children went to a reaper when it exited
			moving = true
			if p.ppid == t.self {
				reap(p)
			}
			continue
		}
		known[p.key()] = true
		live = append(live, p)
		for _, pid := range v.children(p.pid) {
			add(pid, p)
		}
	}
	t.known = known
	return live, leaderAlive, moving
}

// isOrphan reports whether p, a child of ours that is not the leader, is an
// orphan of the command's tree reparented to us; t.mu is held.
func (t *tree) isOrphan(p procInfo) bool {
	if !subreaper.Load() || t.before[p.key()] || p.start < t.leader.start {
		return false
	}
	activeTrees.Lock()
	defer activeTrees.Unlock()
	for o := range activeTrees.all {
		if o == t {
			continue
		}
		if o.leader == p.key() || o.knows(p.key()) {
			return false // another command's
		}
	}
	return true
}

func (t *tree) knows(k procKey) bool {
	if !t.mu.TryLock() {
		return true // being scanned right now: do not claim what may be its
	}
	defer t.mu.Unlock()
	return t.known[k]
}

// stop ends the command's remaining processes and its process group: sig
// (and SIGCONT, so stopped processes can act on it) to each, then SIGKILL
// to whatever is left after grace. It returns once they are gone, or a
// bounded time after SIGKILL (a process in uninterruptible sleep dies only
// when it wakes; one of another user cannot be signalled at all). pgid 0
// leaves the group out; hardKill, if set, runs with the SIGKILL. It returns
// how many of the command's processes, the leader aside, it found running.
func (t *tree) stop(pgid int, sig unix.Signal, grace time.Duration, hardKill func()) int {
	signaled := map[procKey]bool{}
	graceOver := time.Now().Add(grace)
	if pgid > 0 { // first, as it is quick: most of the command is usually there
		signalGroup(pgid, sig)
		signalGroup(pgid, unix.SIGCONT)
	}
	for first := true; ; first = false {
		live, _, moving := t.scan()
		if len(live) == 0 && !moving && !(pgid > 0 && groupAlive(pgid)) {
			return len(signaled)
		}
		for _, p := range live {
			if first && pgid > 0 && p.pgid == pgid {
				signaled[p.key()] = true // got it through the group: a second SIGINT means "abort now" to some
			}
			if !signaled[p.key()] { // including processes started since
				signaled[p.key()] = true
				signalMember(p, sig)
				signalMember(p, unix.SIGCONT)
			}
		}
		if !time.Now().Before(graceOver) {
			break
		}
		time.Sleep(treePollInterval)
	}
	if pgid > 0 {
		signalGroup(pgid, unix.SIGKILL)
	}
	if hardKill != nil {
		hardKill()
	}
	for end := time.Now().Add(killSettleTimeout); ; {
		live, _, moving := t.scan()
		group := pgid > 0 && groupAlive(pgid)
		if len(live) == 0 && !moving && !group || !time.Now().Before(end) {
			return len(signaled)
		}
		for _, p := range live {
			signalMember(p, unix.SIGKILL)
		}
		time.Sleep(treePollInterval)
	}
}

// reap collects one exited orphan of ours. Only this pid is waited for:
// wait4(-1) would steal the exit status of os/exec's children.
func reap(p procInfo) {
	var ws unix.WaitStatus
	unix.Wait4(p.pid, &ws, unix.WNOHANG, nil)
}

// signalMember sends sig to p and, when p is in a session the command made
// (it or an ancestor below us called setsid), to p's whole process group:
// every process of such a session descends from its leader, so the group is
// the command's. A process that forks and exits as fast as it can lives
// less than a scan takes, so a signal to the pid a scan saw finds it gone;
// a group signal reaches every member at once, forks in progress included.
// Groups in our own session (the caller's, the shell's) are never signalled.
func signalMember(p procInfo, sig unix.Signal) {
	signalProc(p, sig)
	if own := ownSession(); p.sid > 1 && own > 0 && p.sid != own && p.pgid > 1 {
		signalGroup(p.pgid, sig)
	}
}

// ownSession is this process's session id (0 if unknown).
var ownSession = sync.OnceValue(func() int {
	sid, err := unix.Getsid(0)
	if err != nil {
		return 0
	}
	return sid
})
