package retrycommand

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/threader/guard/internal/backoff"
	"github.com/threader/guard/internal/fielderr"
	"github.com/threader/guard/internal/runner"
	"github.com/threader/guard/internal/seconds"
	"github.com/threader/guard/internal/strictyaml"
)

// policySpec is one retry policy as the retry_policies option, a
// --policies-file entry and a --policy flag spell it. An unset number or
// jitter is the task's own.
type policySpec struct {
	Name        string   `yaml:"name"`
	MatchOutput *string  `yaml:"match_output"`
	MatchRC     []int    `yaml:"match_rc"`
	Action      string   `yaml:"action"`
	Attempts    *int     `yaml:"attempts"`
	Base        *float64 `yaml:"base_seconds"`
	Factor      *float64 `yaml:"factor"`
	MaxDelay    *float64 `yaml:"max_delay_seconds"`
	Jitter      *string  `yaml:"jitter"`
}

// buildPolicies turns the specs into rules for job, filling what a policy
// leaves unset from the task's attempts and schedule. A bad value is a
// *backoff.RuleError: the front end says where the policy came from.
func buildPolicies(specs []policySpec, task runner.Retry) ([]backoff.Rule, error) {
	rules := make([]backoff.Rule, 0, len(specs))
	for i, s := range specs {
		r, err := s.rule(task)
		if err != nil {
			if fe, ok := fielderr.As(err); ok {
				return nil, &backoff.RuleError{Index: i, Err: fe}
			}
			return nil, err
		}
		rules = append(rules, r)
	}
	// Names unique, ranges: the rules' own validation, with the index.
	if err := (backoff.Policy{Attempts: 1, Rules: rules}).Validate(); err != nil {
		return nil, err
	}
	return rules, nil
}

func (s policySpec) rule(task runner.Retry) (backoff.Rule, error) {
	r := backoff.Rule{Name: s.Name, MatchRC: s.MatchRC, Attempts: task.Attempts, Schedule: task.Schedule}
	var err error
	if r.Action, err = backoff.ParseAction(s.Action); err != nil {
		return r, err
	}
	if s.MatchOutput != nil {
		if r.MatchOutput, err = regexp.Compile(*s.MatchOutput); err != nil {
			return r, fielderr.Errorf(backoff.FieldMatchOutput, "is not a valid regular expression (Go RE2 syntax): %v", err)
		}
	}
	if s.Attempts != nil {
		r.Attempts = *s.Attempts
		if r.Attempts < 1 {
			return r, fielderr.Errorf(backoff.FieldAttempts, "must be 1 or greater, got: %d", r.Attempts)
		}
	}
	if s.Base != nil {
		if r.Schedule.Base, err = seconds.Duration(backoff.FieldBase, *s.Base); err != nil {
			return r, err
		}
	}
	if s.Factor != nil {
		r.Schedule.Factor = *s.Factor
		if !(r.Schedule.Factor >= 1) || math.IsInf(r.Schedule.Factor, 0) {
			return r, fielderr.Errorf(backoff.FieldFactor, "must be a finite number, 1 or greater, got: %v", *s.Factor)
		}
	}
	if s.MaxDelay != nil {
		if r.Schedule.MaxDelay, err = seconds.Duration(backoff.FieldMaxDelay, *s.MaxDelay); err != nil {
			return r, err
		}
	}
	if s.Jitter != nil {
		if r.Schedule.Jitter, err = backoff.ParseJitter(*s.Jitter); err != nil {
			return r, fielderr.Errorf(backoff.FieldJitter, "must be none, full or equal, got: %q", *s.Jitter)
		}
	}
	return r, nil
}

// moduleSpecs reads the retry_policies option, already checked against its
// sub-spec (types, choices, name required).
func moduleSpecs(list []any) []policySpec {
	specs := make([]policySpec, 0, len(list))
	for _, item := range list {
		d, _ := item.(map[string]any)
		s := policySpec{}
		s.Name, _ = d["name"].(string)
		s.Action, _ = d["action"].(string)
		if v, ok := d["match_output"].(string); ok {
			s.MatchOutput = &v
		}
		if l, ok := d["match_rc"].([]any); ok {
			for _, rc := range l {
				if n, ok := rc.(int); ok {
					s.MatchRC = append(s.MatchRC, n)
				}
			}
		}
		if v, ok := d["attempts"].(int); ok {
			s.Attempts = &v
		}
		s.Base, s.Factor, s.MaxDelay = floatField(d, "base_seconds"), floatField(d, "factor"), floatField(d, "max_delay_seconds")
		if v, ok := d["jitter"].(string); ok {
			s.Jitter = &v
		}
		specs = append(specs, s)
	}
	return specs
}

func floatField(d map[string]any, key string) *float64 {
	if v, ok := d[key].(float64); ok {
		return &v
	}
	return nil
}

// policyFlag parses one --policy NAME:REGEX:ACTION[:attempts[:base[:factor]]].
// The regular expression may hold colons: the name is up to the first colon
// and the action is the last field that is retry or stop.
func policyFlag(v string) (policySpec, error) {
	name, rest, ok := strings.Cut(v, ":")
	if !ok {
		return policySpec{}, errors.New("want NAME:REGEX:ACTION[:attempts[:base_seconds[:factor]]]")
	}
	fields := strings.Split(rest, ":")
	at := -1
	for i := len(fields) - 1; i >= 1 && i >= len(fields)-4; i-- {
		if a := strings.ToLower(fields[i]); a == "retry" || a == "stop" {
			at = i
			break
		}
	}
	if at < 0 {
		return policySpec{}, errors.New("want NAME:REGEX:ACTION[:attempts[:base_seconds[:factor]]] with ACTION retry or stop")
	}
	re := strings.Join(fields[:at], ":")
	s := policySpec{Name: name, MatchOutput: &re, Action: fields[at]}
	numbers := fields[at+1:]
	if len(numbers) > 0 {
		n, err := strconv.Atoi(numbers[0])
		if err != nil {
			return s, fmt.Errorf("attempts: want a whole number, got %q", numbers[0])
		}
		s.Attempts = &n
	}
	for i, dst := range []**float64{&s.Base, &s.Factor} {
		if len(numbers) > i+1 {
			f, err := strconv.ParseFloat(numbers[i+1], 64)
			if err != nil {
				return s, fmt.Errorf("%s: want a number, got %q", []string{"base_seconds", "factor"}[i], numbers[i+1])
			}
			*dst = &f
		}
	}
	return s, nil
}

// readPoliciesFile reads a YAML list of policies with the keys of the
// retry_policies option; unknown keys are refused.
func readPoliciesFile(path string) ([]policySpec, error) {
	text, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	// A second document would be ignored, and its policies with it.
	if _, err := strictyaml.Document(text); errors.Is(err, strictyaml.ErrManyDocuments) {
		return nil, err
	}
	var specs []policySpec
	dec := yaml.NewDecoder(bytes.NewReader(text))
	dec.KnownFields(true)
	if err := dec.Decode(&specs); err != nil {
		return nil, fmt.Errorf("want a YAML list of policies (name, match_output, match_rc, action, attempts, base_seconds, factor, max_delay_seconds, jitter): %v", err)
	}
	if len(specs) == 0 {
		return nil, errors.New("holds no policy")
	}
	return specs, nil
}

// policyError names where a bad policy came from, once: "value of
// retry_policies[1].match_output ..." for the module option, "--policy #2:
// match_output ..." for the flags, "--policies-file F: entry 0: ..." for a file.
func policyError(where string, err error) error {
	var re *backoff.RuleError
	if !errors.As(err, &re) {
		return err
	}
	switch {
	case where == "--policy":
		return fmt.Errorf("--policy #%d: %v", re.Index+1, re.Err)
	case strings.HasPrefix(where, "--"):
		return fmt.Errorf("%s: entry %d: %v", where, re.Index, re.Err)
	}
	return fmt.Errorf("value of %s[%d].%v", where, re.Index, re.Err)
}
