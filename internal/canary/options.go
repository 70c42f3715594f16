package canary

import (
	"fmt"
	"math"
	"sort"
	"strconv"

	"github.com/threader/guard/internal/fielderr"
)

// The defaults of Options.
const (
	DefaultConfidence    = 0.98
	DefaultPassScore     = 95.0
	DefaultMarginalScore = 75.0
)

// DefaultOptions returns the options with every default filled in.
func DefaultOptions() Options {
	return Options{Confidence: DefaultConfidence, PassScore: DefaultPassScore, MarginalScore: DefaultMarginalScore}
}

// withDefaults fills the zero values: Confidence 0 is 0.98, and PassScore
// and MarginalScore both 0 (neither set) are 95 and 75. A PassScore set
// alone keeps MarginalScore 0: no marginal band below it.
func (o Options) withDefaults() Options {
	if o.Confidence == 0 {
		o.Confidence = DefaultConfidence
	}
	if o.PassScore == 0 && o.MarginalScore == 0 {
		o.PassScore, o.MarginalScore = DefaultPassScore, DefaultMarginalScore
	}
	return o
}

// Validate checks the options and the metrics as Judge does, returning a
// *fielderr.Error naming the first bad field ("confidence",
// "metrics[2].direction", "group_weights.latency"), so a front end can
// refuse a configuration before it fetches any data.
func Validate(opts Options, metrics []Metric) error {
	o := opts.withDefaults()
	if err := o.validate(); err != nil {
		return err
	}
	if len(metrics) == 0 {
		return fielderr.New("metrics", "must list at least one metric")
	}
	seen := map[string]int{}
	for i, m := range metrics {
		if err := m.validate(i, seen); err != nil {
			return err
		}
	}
	return validateWeights(o.GroupWeights, metrics)
}

func (o Options) validate() error {
	if !(o.Confidence > 0 && o.Confidence < 1) {
		return fielderr.New("confidence", "must be between 0 and 1 (exclusive), got "+num(o.Confidence))
	}
	if err := checkScore("pass_score", o.PassScore); err != nil {
		return err
	}
	if err := checkScore("marginal_score", o.MarginalScore); err != nil {
		return err
	}
	if o.MarginalScore > o.PassScore {
		return fielderr.New("marginal_score", fmt.Sprintf("must not be above pass_score (%s), got %s", num(o.PassScore), num(o.MarginalScore)))
	}
	return nil
}

func checkScore(field string, v float64) error {
	if !(v >= 0 && v <= 100) {
		return fielderr.New(field, "must be between 0 and 100, got "+num(v))
	}
	return nil
}

func (m Metric) validate(i int, seen map[string]int) error {
	field := func(name string) string { return fmt.Sprintf("metrics[%d].%s", i, name) }
	if m.Name == "" {
		return fielderr.New(field("name"), "must not be empty")
	}
	if j, dup := seen[m.Name]; dup {
		return fielderr.New(field("name"), fmt.Sprintf("%q is already the name of metrics[%d]", m.Name, j))
	}
	seen[m.Name] = i
	if err := checkEnum(field("direction"), string(m.Direction), Increase, Decrease, Either); err != nil {
		return err
	}
	if err := checkEnum(field("nan_strategy"), string(m.NaNStrategy), RemoveNaN, ReplaceNaN); err != nil {
		return err
	}
	if err := checkEnum(field("outliers"), string(m.Outliers), KeepOutliers, RemoveOutliers); err != nil {
		return err
	}
	if m.MaxCanaryValue != nil && !finite(*m.MaxCanaryValue) {
		return fielderr.New(field("max_canary_value"), "must be a finite number, got "+num(*m.MaxCanaryValue))
	}
	return m.EffectSize.validate(field("effect_size."))
}

// checkEnum accepts "" (the default) and the listed values.
func checkEnum[T ~string](field, got string, allowed ...T) error {
	if got == "" {
		return nil
	}
	names := ""
	for k, a := range allowed {
		if string(a) == got {
			return nil
		}
		switch {
		case k == 0:
		case k == len(allowed)-1:
			names += " or "
		default:
			names += ", "
		}
		names += string(a)
	}
	return fielderr.New(field, fmt.Sprintf("must be %s, got %q", names, got))
}

func (e EffectSize) validate(prefix string) error {
	if err := checkEnum(prefix+"measure", string(e.Measure), MeanRatio, CLES); err != nil {
		return err
	}
	for _, b := range []struct {
		name string
		v    *float64
	}{
		{"allowed_increase", e.AllowedIncrease}, {"allowed_decrease", e.AllowedDecrease},
		{"critical_increase", e.CriticalIncrease}, {"critical_decrease", e.CriticalDecrease},
	} {
		if err := checkBound(prefix+b.name, b.v, e.Measure == CLES); err != nil {
			return err
		}
	}
	r := e.resolve()
	if r.criticalIncrease < r.allowedIncrease {
		return fielderr.New(prefix+"critical_increase", fmt.Sprintf("must not be below allowed_increase (%s), got %s", num(r.allowedIncrease), num(r.criticalIncrease)))
	}
	if r.criticalDecrease > r.allowedDecrease {
		return fielderr.New(prefix+"critical_decrease", fmt.Sprintf("must not be above allowed_decrease (%s), got %s", num(r.allowedDecrease), num(r.criticalDecrease)))
	}
	return nil
}

// checkBound refuses a non-finite bound, and a CLES bound outside [0, 1]
// (CLES is a probability).
func checkBound(field string, v *float64, cles bool) error {
	switch {
	case v == nil:
		return nil
	case !finite(*v):
		return fielderr.New(field, "must be a finite number, got "+num(*v))
	case cles && (*v < 0 || *v > 1):
		return fielderr.New(field, "must be between 0 and 1 for measure cles, got "+num(*v))
	}
	return nil
}

// validateWeights checks each weight, that they add up to at most 100 and
// that each names a group some metric is in. When every group has a weight
// they must add up to 100, or no canary could ever reach a score of 100.
func validateWeights(weights map[string]float64, metrics []Metric) error {
	groups := map[string]bool{}
	for _, m := range metrics {
		groups[m.Group] = true
	}
	names := make([]string, 0, len(weights))
	for g := range weights {
		names = append(names, g)
	}
	sort.Strings(names) // the first bad one named is always the same
	sum := 0.0
	for _, g := range names {
		w := weights[g]
		if !(w >= 0 && w <= 100) {
			return fielderr.New("group_weights."+g, "must be between 0 and 100, got "+num(w))
		}
		if !groups[g] {
			return fielderr.New("group_weights."+g, fmt.Sprintf("names group %q, which no metric is in", g))
		}
		sum += w
	}
	// Weights like 33.3 + 33.3 + 33.4 do not add up to exactly 100 in
	// floating point; a billionth of a point is no configuration's intent.
	const slack = 1e-9
	if sum > 100+slack {
		return fielderr.New("group_weights", "must add up to at most 100, got "+num(sum))
	}
	if len(weights) > 0 && len(weights) == len(groups) && sum < 100-slack {
		return fielderr.New("group_weights", "must add up to 100 when every group has a weight, got "+num(sum))
	}
	return nil
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// num formats a number for a message: shortest form that reads back the
// same, so 0.1 is "0.1" and NaN is "NaN".
func num(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
