package testenv

// Real Loki cannot run in these tests (no Debian package, AGPL code), so this
// file holds the smallest stand-in that answers the query API exactly as
// grafana/loki docs/sources/reference/loki-http-api.md and
// pkg/util/server/error.go describe it:
//
//   - GET or POST /loki/api/v1/query (instant; metric queries only) and
//     /loki/api/v1/query_range (matrix, or streams for a log query).
//   - Every request needs X-Scope-OrgID (auth_enabled defaults to true);
//     without it: 401 "no org id", text/plain.
//   - Errors are always text/plain bodies, never a JSON envelope; a log query
//     at the instant endpoint is 400 with Loki's exact message.
//   - Vector: {"metric":{…},"value":[<seconds>,"<value>"]}; matrix: values
//     oldest first; streams: ["<ns>","<line>"].
//   - A count over no matching lines gives no series, not 0; SetNullResults
//     makes empty results "result": null, as real Loki sometimes sends.
//
// It evaluates a small LogQL subset, enough for SLO gates:
//
//	[sum [by|without (l, …)]] ( count_over_time|rate ( {l="v", l=~"re", …} [|= "s"] [|~ "re"] … [range] ) ) [by (…)] [/|* number]
//
// Anything else is answered 400 "parse error …" with the text "not supported
// by the fake Loki" so a test never mistakes a gap in the fake for Loki's
// behaviour.

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// FakeLoki is a running stand-in Loki. Create it with StartFakeLoki.
type FakeLoki struct {
	// URL is the base URL, e.g. http://127.0.0.1:41234.
	URL string

	srv        *httptest.Server
	mu         sync.Mutex
	streams    map[string][]*lokiStream // by tenant
	faults     []LokiFault
	nullEmpty  bool
	requests   []LokiRequest
	noAuthMode bool
}

// LokiFault is a canned answer that replaces the next query's real one.
type LokiFault struct {
	Status     int           // e.g. 400, 429, 500, 504
	Body       string        // plain text; Loki's default text for Status when empty
	RetryAfter string        // Retry-After header value, if any
	Delay      time.Duration // wait before answering (cut short if the client goes away)
}

// LokiRequest records one request the fake received.
type LokiRequest struct {
	Path, Tenant, Query, Time, Authorization string
}

type lokiStream struct {
	labels  map[string]string
	entries []lokiEntry
}

type lokiEntry struct {
	ts   time.Time
	line string
}

// lokiDefaultErrors are Loki's texts for the fault statuses.
var lokiDefaultErrors = map[int]string{
	http.StatusBadRequest:          "parse error at line 1, col 1: syntax error: unexpected IDENTIFIER",
	http.StatusTooManyRequests:     "too many outstanding requests",
	http.StatusInternalServerError: "rpc error: code = Internal desc = internal error",
	http.StatusGatewayTimeout: "request timed out, decrease the duration of the request or add more label matchers " +
		"(prefer exact match over regex match) to reduce the amount of data processed",
}

// StartFakeLoki starts the stand-in on a free loopback port and stops it when
// the test ends.
func StartFakeLoki(t testing.TB) *FakeLoki {
	t.Helper()
	f := &FakeLoki{streams: map[string][]*lokiStream{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	f.URL = f.srv.URL
	t.Cleanup(f.srv.Close)
	return f
}

// Push stores one log line for tenant in the stream with these labels.
func (f *FakeLoki) Push(tenant string, labels map[string]string, ts time.Time, line string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range f.streams[tenant] {
		if sameLabels(s.labels, labels) {
			s.entries = append(s.entries, lokiEntry{ts, line})
			return
		}
	}
	cp := make(map[string]string, len(labels))
	for k, v := range labels {
		cp[k] = v
	}
	f.streams[tenant] = append(f.streams[tenant], &lokiStream{labels: cp, entries: []lokiEntry{{ts, line}}})
}

// FailNext makes the next len(faults) queries get these answers, in order.
func (f *FakeLoki) FailNext(faults ...LokiFault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults = append(f.faults, faults...)
}

// SetNullResults makes empty results "result": null instead of [] (real Loki
// does this for some metric queries, grafana/loki#4449).
func (f *FakeLoki) SetNullResults(on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nullEmpty = on
}

// SetAuthDisabled mimics auth_enabled: false: no header needed, one tenant "fake".
func (f *FakeLoki) SetAuthDisabled(off bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.noAuthMode = off
}

// Requests returns the requests received so far.
func (f *FakeLoki) Requests() []LokiRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]LokiRequest(nil), f.requests...)
}

func (f *FakeLoki) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	tenant := r.Header.Get("X-Scope-OrgID")
	f.mu.Lock()
	f.requests = append(f.requests, LokiRequest{Path: r.URL.Path, Tenant: tenant, Query: r.Form.Get("query"),
		Time: r.Form.Get("time"), Authorization: r.Header.Get("Authorization")})
	noAuth := f.noAuthMode
	var fault *LokiFault
	if len(f.faults) > 0 {
		fault = &f.faults[0]
		f.faults = f.faults[1:]
	}
	f.mu.Unlock()

	if noAuth {
		tenant = "fake"
	} else if tenant == "" {
		http.Error(w, "no org id", http.StatusUnauthorized)
		return
	}
	if fault != nil {
		writeFault(w, r, *fault)
		return
	}
	switch r.URL.Path {
	case "/loki/api/v1/query":
		f.instant(w, r, tenant)
	case "/loki/api/v1/query_range":
		f.rangeQuery(w, r, tenant)
	default:
		http.Error(w, "404 page not found", http.StatusNotFound)
	}
}

func writeFault(w http.ResponseWriter, r *http.Request, fl LokiFault) {
	if fl.Delay > 0 {
		select {
		case <-time.After(fl.Delay):
		case <-r.Context().Done():
			return
		}
	}
	body := fl.Body
	if body == "" {
		body = lokiDefaultErrors[fl.Status]
	}
	if fl.RetryAfter != "" {
		w.Header().Set("Retry-After", fl.RetryAfter)
	}
	http.Error(w, body, fl.Status)
}

func (f *FakeLoki) instant(w http.ResponseWriter, r *http.Request, tenant string) {
	at, err := parseLokiTime(r.Form.Get("time"), time.Now())
	if err != nil {
		http.Error(w, fmt.Sprintf("invalid time: %v", err), http.StatusBadRequest)
		return
	}
	expr, err := parseLogQL(r.Form.Get("query"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if expr.logOnly() {
		http.Error(w, "log queries are not supported as an instant query type, please change your query to a range query type",
			http.StatusBadRequest)
		return
	}
	vec := f.evaluate(tenant, expr, at)
	items := make([]map[string]any, 0, len(vec))
	for _, s := range vec {
		items = append(items, map[string]any{"metric": s.labels, "value": []any{lokiSeconds(at), lokiValue(s.value)}})
	}
	f.writeData(w, "vector", items)
}

func (f *FakeLoki) rangeQuery(w http.ResponseWriter, r *http.Request, tenant string) {
	now := time.Now()
	end, err := parseLokiTime(r.Form.Get("end"), now)
	if err != nil {
		http.Error(w, fmt.Sprintf("invalid end: %v", err), http.StatusBadRequest)
		return
	}
	start, err := parseLokiTime(r.Form.Get("start"), end.Add(-time.Hour))
	if err != nil {
		http.Error(w, fmt.Sprintf("invalid start: %v", err), http.StatusBadRequest)
		return
	}
	if end.Before(start) {
		http.Error(w, "end timestamp must not be before or equal to start time", http.StatusBadRequest)
		return
	}
	expr, err := parseLogQL(r.Form.Get("query"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if expr.logOnly() {
		f.writeData(w, "streams", f.selectLines(tenant, expr.rng.sel, start, end))
		return
	}
	step, err := parseLokiStep(r.Form.Get("step"), start, end)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	series := map[string]map[string]any{}
	var order []string
	for t := start; !t.After(end); t = t.Add(step) {
		for _, s := range f.evaluate(tenant, expr, t) {
			key := labelKey(s.labels)
			if series[key] == nil {
				series[key] = map[string]any{"metric": s.labels, "values": []any{}}
				order = append(order, key)
			}
			series[key]["values"] = append(series[key]["values"].([]any), []any{lokiSeconds(t), lokiValue(s.value)})
		}
	}
	sort.Strings(order)
	items := make([]map[string]any, 0, len(order))
	for _, k := range order {
		items = append(items, series[k])
	}
	f.writeData(w, "matrix", items)
}

func (f *FakeLoki) writeData(w http.ResponseWriter, resultType string, items any) {
	f.mu.Lock()
	nullEmpty := f.nullEmpty
	f.mu.Unlock()
	var result any = items
	if nullEmpty && reflectLen(items) == 0 {
		result = nil
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"status": "success",
		"data": map[string]any{
			"resultType": resultType,
			"result":     result,
			// Real answers carry far more stats; clients must treat them as optional.
			"stats": map[string]any{"summary": map[string]any{"execTime": 0.001, "queueTime": 0, "totalBytesProcessed": 0}},
		},
	})
}

func reflectLen(items any) int {
	switch v := items.(type) {
	case []map[string]any:
		return len(v)
	}
	return -1
}

type lokiSample struct {
	labels map[string]string
	value  float64
}

// evaluate runs a metric expression at t over tenant's lines.
func (f *FakeLoki) evaluate(tenant string, e *logqlExpr, t time.Time) []lokiSample {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []lokiSample
	from := t.Add(-e.rng.window)
	for _, s := range f.streams[tenant] {
		if !e.rng.sel.matchLabels(s.labels) {
			continue
		}
		n := 0
		for _, en := range s.entries {
			// Range vectors cover (t-range, t].
			if en.ts.After(from) && !en.ts.After(t) && e.rng.sel.matchLine(en.line) {
				n++
			}
		}
		if n == 0 {
			continue // no lines: no series, not 0
		}
		v := float64(n)
		if e.rng.fn == "rate" {
			v /= e.rng.window.Seconds()
		}
		out = append(out, lokiSample{labels: s.labels, value: v})
	}
	if e.agg != nil {
		out = e.agg.apply(out)
	}
	if e.op != "" {
		for i := range out {
			switch e.op {
			case "/":
				out[i].value /= e.operand
			case "*":
				out[i].value *= e.operand
			}
		}
	}
	return out
}

// selectLines answers a log query: matching lines in [start, end), newest first.
func (f *FakeLoki) selectLines(tenant string, sel logSelector, start, end time.Time) []map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	var items []map[string]any
	for _, s := range f.streams[tenant] {
		if !sel.matchLabels(s.labels) {
			continue
		}
		var values [][2]string
		for i := len(s.entries) - 1; i >= 0; i-- {
			en := s.entries[i]
			if !en.ts.Before(start) && en.ts.Before(end) && sel.matchLine(en.line) {
				values = append(values, [2]string{strconv.FormatInt(en.ts.UnixNano(), 10), en.line})
			}
		}
		if len(values) > 0 {
			items = append(items, map[string]any{"stream": s.labels, "values": values})
		}
	}
	if items == nil {
		items = []map[string]any{}
	}
	return items
}

// parseLokiTime follows Loki's parser: empty → def; with a '.' → float
// seconds; an integer of at most 10 digits → seconds, longer → nanoseconds;
// otherwise RFC3339Nano.
func parseLokiTime(v string, def time.Time) (time.Time, error) {
	if v == "" {
		return def, nil
	}
	if strings.Contains(v, ".") {
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			sec, frac := math.Modf(f)
			return time.Unix(int64(sec), int64(math.Round(frac*1000)/1000*1e9)), nil
		}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		t, perr := time.Parse(time.RFC3339Nano, v)
		if perr != nil {
			return time.Time{}, fmt.Errorf("cannot parse %q to a valid timestamp", v)
		}
		return t, nil
	}
	if len(v) <= 10 {
		return time.Unix(n, 0), nil
	}
	return time.Unix(0, n), nil
}

// parseLokiStep accepts a duration or float seconds; the default is Loki's
// dynamic step, (end-start)/250 but at least 1s.
func parseLokiStep(v string, start, end time.Time) (time.Duration, error) {
	if v == "" {
		return max(end.Sub(start)/250/time.Second*time.Second, time.Second), nil
	}
	if d, err := time.ParseDuration(v); err == nil && d > 0 {
		return d, nil
	}
	if f, err := strconv.ParseFloat(v, 64); err == nil && f > 0 {
		return time.Duration(f * float64(time.Second)), nil
	}
	return 0, fmt.Errorf("invalid step: zero or negative query resolution step widths are not accepted. Try a positive integer")
}

func lokiSeconds(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }

func lokiValue(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

func labelKey(l map[string]string) string {
	keys := make([]string, 0, len(l))
	for k := range l {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k + "\x00" + l[k] + "\x00")
	}
	return b.String()
}

func sameLabels(a, b map[string]string) bool { return labelKey(a) == labelKey(b) }

// --- the LogQL subset ---

type logqlExpr struct {
	agg     *logqlAgg
	rng     logqlRange
	op      string // "", "/" or "*"
	operand float64
	logQry  bool // a bare log query (selector and filters only)
}

func (e *logqlExpr) logOnly() bool { return e.logQry }

type logqlAgg struct {
	by      []string
	without bool
}

func (a *logqlAgg) apply(in []lokiSample) []lokiSample {
	groups := map[string]*lokiSample{}
	var order []string
	for _, s := range in {
		labels := map[string]string{}
		if a.without {
			for k, v := range s.labels {
				labels[k] = v
			}
			for _, k := range a.by {
				delete(labels, k)
			}
		} else {
			for _, k := range a.by {
				if v, ok := s.labels[k]; ok {
					labels[k] = v
				}
			}
		}
		key := labelKey(labels)
		if g, ok := groups[key]; ok {
			g.value += s.value
			continue
		}
		groups[key] = &lokiSample{labels: labels, value: s.value}
		order = append(order, key)
	}
	out := make([]lokiSample, 0, len(order))
	for _, k := range order {
		out = append(out, *groups[k])
	}
	return out
}

type logqlRange struct {
	fn     string
	sel    logSelector
	window time.Duration
}

type logSelector struct {
	matchers []labelMatcher
	filters  []lineFilter
}

type labelMatcher struct {
	name, op, value string
	re              *regexp.Regexp
}

type lineFilter struct {
	op, text string
	re       *regexp.Regexp
}

func (s logSelector) matchLabels(l map[string]string) bool {
	for _, m := range s.matchers {
		v := l[m.name]
		var ok bool
		switch m.op {
		case "=":
			ok = v == m.value
		case "!=":
			ok = v != m.value
		case "=~":
			ok = m.re.MatchString(v)
		case "!~":
			ok = !m.re.MatchString(v)
		}
		if !ok {
			return false
		}
	}
	return true
}

func (s logSelector) matchLine(line string) bool {
	for _, f := range s.filters {
		var ok bool
		switch f.op {
		case "|=":
			ok = strings.Contains(line, f.text)
		case "!=":
			ok = !strings.Contains(line, f.text)
		case "|~":
			ok = f.re.MatchString(line)
		case "!~":
			ok = !f.re.MatchString(line)
		}
		if !ok {
			return false
		}
	}
	return true
}

// logqlParser is a tiny recursive-descent parser over a hand-rolled lexer.
type logqlParser struct {
	src string
	pos int
}

func parseLogQL(src string) (*logqlExpr, error) {
	if strings.TrimSpace(src) == "" {
		return nil, fmt.Errorf("query parameter is required")
	}
	p := &logqlParser{src: src}
	e, err := p.expr()
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.pos < len(p.src) {
		return nil, p.errorf("unexpected %q", p.src[p.pos:])
	}
	return e, nil
}

func (p *logqlParser) errorf(format string, args ...any) error {
	return fmt.Errorf("parse error at line 1, col %d: syntax error: %s", p.pos+1, fmt.Sprintf(format, args...))
}

func (p *logqlParser) unsupported(what string) error {
	return fmt.Errorf("parse error at line 1, col %d: %s is not supported by the fake Loki", p.pos+1, what)
}

func (p *logqlParser) skipSpace() {
	for p.pos < len(p.src) && strings.ContainsRune(" \t\r\n", rune(p.src[p.pos])) {
		p.pos++
	}
}

func (p *logqlParser) peek(tok string) bool {
	p.skipSpace()
	return strings.HasPrefix(p.src[p.pos:], tok)
}

func (p *logqlParser) accept(tok string) bool {
	if p.peek(tok) {
		p.pos += len(tok)
		return true
	}
	return false
}

func (p *logqlParser) expect(tok string) error {
	if !p.accept(tok) {
		if p.pos >= len(p.src) {
			return p.errorf("unexpected end of query, expected %q", tok)
		}
		return p.errorf("unexpected %q, expected %q", p.src[p.pos:p.pos+1], tok)
	}
	return nil
}

func (p *logqlParser) ident() string {
	p.skipSpace()
	start := p.pos
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		if c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || p.pos > start && c >= '0' && c <= '9' {
			p.pos++
			continue
		}
		break
	}
	return p.src[start:p.pos]
}

func (p *logqlParser) str() (string, error) {
	p.skipSpace()
	if p.pos >= len(p.src) {
		return "", p.errorf("unexpected end of query, expected a string")
	}
	quote := p.src[p.pos]
	if quote != '"' && quote != '`' {
		return "", p.errorf("unexpected %q, expected a string", p.src[p.pos:p.pos+1])
	}
	end := p.pos + 1
	for end < len(p.src) && p.src[end] != quote {
		if quote == '"' && p.src[end] == '\\' {
			end++
		}
		end++
	}
	if end >= len(p.src) {
		return "", p.errorf("unterminated string")
	}
	raw := p.src[p.pos : end+1]
	p.pos = end + 1
	if quote == '`' {
		return raw[1 : len(raw)-1], nil
	}
	s, err := strconv.Unquote(raw)
	if err != nil {
		return "", p.errorf("invalid string %s", raw)
	}
	return s, nil
}

func (p *logqlParser) expr() (*logqlExpr, error) {
	p.skipSpace()
	save := p.pos
	name := p.ident()
	var e *logqlExpr
	var err error
	switch name {
	case "sum":
		e, err = p.aggregation()
	case "count_over_time", "rate":
		p.pos = save
		e = &logqlExpr{}
		e.rng, err = p.rangeAgg()
	case "":
		if p.peek("{") {
			sel, serr := p.selector()
			if serr != nil {
				return nil, serr
			}
			return &logqlExpr{rng: logqlRange{sel: sel}, logQry: true}, nil
		}
		return nil, p.errorf("unexpected %q", p.src[p.pos:])
	default:
		return nil, p.unsupported(fmt.Sprintf("%q", name))
	}
	if err != nil {
		return nil, err
	}
	for _, op := range []string{"/", "*"} {
		if p.accept(op) {
			n, nerr := p.number()
			if nerr != nil {
				return nil, nerr
			}
			e.op, e.operand = op, n
		}
	}
	if p.peek("+") || p.peek("-") || p.peek("o") || p.peek("a") || p.peek("u") {
		return nil, p.unsupported("this binary operation")
	}
	return e, nil
}

func (p *logqlParser) number() (float64, error) {
	p.skipSpace()
	start := p.pos
	for p.pos < len(p.src) && (p.src[p.pos] >= '0' && p.src[p.pos] <= '9' || p.src[p.pos] == '.') {
		p.pos++
	}
	if start == p.pos {
		return 0, p.unsupported("a binary operation with a non-number operand")
	}
	return strconv.ParseFloat(p.src[start:p.pos], 64)
}

func (p *logqlParser) aggregation() (*logqlExpr, error) {
	agg := &logqlAgg{}
	grouping := func() error {
		if p.accept("by") || func() bool {
			if p.accept("without") {
				agg.without = true
				return true
			}
			return false
		}() {
			labels, err := p.labelList()
			if err != nil {
				return err
			}
			agg.by = labels
		}
		return nil
	}
	if err := grouping(); err != nil {
		return nil, err
	}
	if err := p.expect("("); err != nil {
		return nil, err
	}
	rng, err := p.rangeAgg()
	if err != nil {
		return nil, err
	}
	if err := p.expect(")"); err != nil {
		return nil, err
	}
	if agg.by == nil {
		if err := grouping(); err != nil {
			return nil, err
		}
	}
	return &logqlExpr{agg: agg, rng: rng}, nil
}

func (p *logqlParser) labelList() ([]string, error) {
	if err := p.expect("("); err != nil {
		return nil, err
	}
	labels := []string{}
	for !p.accept(")") {
		if len(labels) > 0 {
			if err := p.expect(","); err != nil {
				return nil, err
			}
		}
		name := p.ident()
		if name == "" {
			return nil, p.errorf("expected a label name")
		}
		labels = append(labels, name)
	}
	return labels, nil
}

func (p *logqlParser) rangeAgg() (logqlRange, error) {
	var r logqlRange
	r.fn = p.ident()
	if r.fn != "count_over_time" && r.fn != "rate" {
		if r.fn == "" {
			return r, p.errorf("expected a range aggregation")
		}
		return r, p.unsupported(fmt.Sprintf("%q", r.fn))
	}
	if err := p.expect("("); err != nil {
		return r, err
	}
	sel, err := p.selector()
	if err != nil {
		return r, err
	}
	r.sel = sel
	if err := p.expect("["); err != nil {
		return r, err
	}
	p.skipSpace()
	end := strings.IndexByte(p.src[p.pos:], ']')
	if end < 0 {
		return r, p.errorf("unterminated range")
	}
	d, err := time.ParseDuration(strings.TrimSpace(p.src[p.pos : p.pos+end]))
	if err != nil || d <= 0 {
		return r, p.errorf("invalid range %q", p.src[p.pos:p.pos+end])
	}
	r.window = d
	p.pos += end + 1
	return r, p.expect(")")
}

func (p *logqlParser) selector() (logSelector, error) {
	var s logSelector
	if err := p.expect("{"); err != nil {
		return s, err
	}
	for !p.accept("}") {
		if len(s.matchers) > 0 {
			if err := p.expect(","); err != nil {
				return s, err
			}
		}
		m := labelMatcher{name: p.ident()}
		if m.name == "" {
			return s, p.errorf("expected a label name")
		}
		for _, op := range []string{"=~", "!~", "!=", "="} {
			if p.accept(op) {
				m.op = op
				break
			}
		}
		if m.op == "" {
			return s, p.errorf("expected a label matcher operator")
		}
		v, err := p.str()
		if err != nil {
			return s, err
		}
		m.value = v
		if m.op == "=~" || m.op == "!~" {
			if m.re, err = regexp.Compile("^(?:" + v + ")$"); err != nil {
				return s, p.errorf("invalid regex %q: %v", v, err)
			}
		}
		s.matchers = append(s.matchers, m)
	}
	if len(s.matchers) == 0 {
		return s, fmt.Errorf("parse error : queries require at least one regexp or equality matcher that does not have an empty-compatible value. For instance, app=~\".*\" does not meet this requirement, but app=~\".+\" will")
	}
	for {
		var op string
		for _, candidate := range []string{"|=", "!=", "|~", "!~"} {
			if p.accept(candidate) {
				op = candidate
				break
			}
		}
		if op == "" {
			if p.peek("|") {
				return s, p.unsupported("this pipeline stage")
			}
			return s, nil
		}
		text, err := p.str()
		if err != nil {
			return s, err
		}
		f := lineFilter{op: op, text: text}
		if op == "|~" || op == "!~" {
			if f.re, err = regexp.Compile(text); err != nil {
				return s, p.errorf("invalid regex %q: %v", text, err)
			}
		}
		s.filters = append(s.filters, f)
	}
}
